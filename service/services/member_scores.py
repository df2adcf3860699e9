"""A member's points in a China-time period, read straight from the ledger (real time)."""
from sqlalchemy import select

import rules

from ..database import CHINA, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Member, Org, ScoreEntry
from . import access


PERIOD_KINDS = ("day", "month", "quarter", "year")


def parse_period(label: str | None) -> tuple[str, str]:
    """(label, kind) of a member-score period; default the current China month; 422 invalid_period."""
    if label is None:
        return utcnow().astimezone(CHINA).strftime("%Y-%m"), "month"
    try:
        kind = rules.parse_period(label)
    except ValueError:
        kind = None
    if kind not in PERIOD_KINDS:
        raise ApiError("invalid_period", 422, f"Not a period: {label!r}; use a day 2026-11-18, a month 2026-11, "
                       "a quarter 2026-Q4 or a year 2026.", errors={"period": ["invalid"]})
    return label, kind


def member_score(user, member_id: int, period: str | None) -> dict:
    """A member's points in a China-time period, straight from the ledger (real time); 404 unless visible."""
    member = db.session.get(Member, member_id)
    if member is None or not _may_read(user, member):
        raise ApiError("member_not_found", 404, f"Member {member_id} does not exist.")
    label, kind = parse_period(period)
    start, end = rules.period_bounds(label, kind)
    entries = list(db.session.scalars(select(ScoreEntry).where(
        ScoreEntry.target == "member", ScoreEntry.target_id == member.id, ScoreEntry.occurred_at >= start,
        ScoreEntry.occurred_at < end).order_by(ScoreEntry.occurred_at, ScoreEntry.id)))
    by_category = dict.fromkeys(rules.CATEGORIES, 0)
    for entry in entries:
        by_category[entry.category] = by_category.get(entry.category, 0) + entry.points
    return {"member_id": member.id, "period": label, "total": sum(by_category.values()),
            "by_category": by_category, "entries": entries}


def _may_read(user, member: Member) -> bool:
    """The member themself, and admins over the member's branch (its admins, superiors, platform admins)."""
    return user.member_id == member.id or access.administers(user, db.session.get(Org, member.org_id))
