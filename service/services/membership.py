"""A member's history of organisations: every move opens and closes a period (no Flask here)."""
from sqlalchemy import select

from ..database import utcnow
from ..extensions import db
from ..errors import ApiError
from ..models import Member, MembershipPeriod, Transfer


def open_period(member: Member, reason: str, transfer_id: int | None = None, at=None) -> MembershipPeriod:
    """The member starts belonging to their current org."""
    period = MembershipPeriod(member_id=member.id, org_id=member.org_id, started_at=at or utcnow(),
                              start_reason=reason, transfer_id=transfer_id)
    db.session.add(period)
    return period


def close_period(member: Member, reason: str, at=None) -> None:
    """The member stops belonging to their current org (moved, deleted, left the system)."""
    for period in db.session.scalars(select(MembershipPeriod).where(
            MembershipPeriod.member_id == member.id, MembershipPeriod.ended_at.is_(None))):
        period.ended_at, period.end_reason = at or utcnow(), reason


def move(member: Member, to_org_id: int, reason: str, transfer_id: int | None = None) -> None:
    """Move a member to another branch, closing one period and opening the next at the same instant."""
    now = utcnow()
    close_period(member, reason, now)
    member.org_id, member.group_id, member.committee_role = to_org_id, None, None
    db.session.flush()
    open_period(member, reason, transfer_id, now)


def history(member: Member) -> list[MembershipPeriod]:
    """Every organisation the member belonged to, oldest first."""
    return list(db.session.scalars(select(MembershipPeriod).where(MembershipPeriod.member_id == member.id)
                                   .order_by(MembershipPeriod.started_at, MembershipPeriod.id)))


def require_no_pending_transfer(member_id: int) -> None:
    """409 while the member is being transferred (call with the member row locked)."""
    pending = db.session.scalars(select(Transfer.id).where(
        Transfer.member_id == member_id, Transfer.status == "pending")).first()
    if pending is not None:
        raise ApiError("transfer_pending", 409, f"The member has a pending transfer ({pending}); finish or cancel "
                       "it first.", transfer_id=pending)
