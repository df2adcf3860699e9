"""民主评议 from the members' side: self-assessment (自评) and peer assessment (互评), and the branch's overview."""
from collections import Counter

from sqlalchemy import select

from ..actions.appraisal import RATINGS
from ..database import transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Meeting, Member, PeerAssessment
from ..actions import meeting_data
from . import access, runtime
from .meetings import get_visible, invitation, own_invitation


def _require_window(meeting: Meeting, action: str, what: str) -> None:
    if meeting.instance_id is None or action not in {t.action for t in runtime.open_tasks(meeting.instance_id)}:
        raise ApiError("appraisal_closed", 422, f"{what} is not open for this meeting.")


@transactional
def self_assess(user, meeting_id: int, text: str):
    """The calling member's self-assessment; may be revised while the window is open."""
    meeting, row = own_invitation(user, meeting_id)
    _require_window(meeting, "appraisal.close_self", "Self-assessment (自评)")
    row.self_assessment, row.self_assessed_at = text.strip(), utcnow()
    return row


@transactional
def peer_assess(user, meeting_id: int, ratings: list[dict]) -> list[PeerAssessment]:
    """The calling member rates other invitees; rating someone again replaces the earlier rating."""
    meeting, row = own_invitation(user, meeting_id)
    _require_window(meeting, "appraisal.close_peer", "Peer assessment (互评)")
    invited = {r.member_id for r in meeting_data.attendance_rows(meeting)} - {row.member_id}
    wrong = sorted({r["member_id"] for r in ratings} - invited)
    if wrong:
        raise ApiError("invalid_ratee", 422, "Rate other invited members only (not yourself).",
                       errors={"member_id": wrong})
    existing = {p.ratee_id: p for p in db.session.scalars(select(PeerAssessment).where(
        PeerAssessment.meeting_id == meeting.id, PeerAssessment.rater_id == row.member_id))}
    for given in ratings:
        peer = existing.get(given["member_id"]) or PeerAssessment(
            meeting_id=meeting.id, rater_id=row.member_id, ratee_id=given["member_id"])
        peer.rating, peer.comment, peer.at = given["rating"], given.get("comment"), utcnow()
        db.session.add(peer)
    return _mine(meeting, row.member_id)


def _mine(meeting: Meeting, member_id: int) -> list[PeerAssessment]:
    db.session.flush()
    return list(db.session.scalars(select(PeerAssessment).where(
        PeerAssessment.meeting_id == meeting.id, PeerAssessment.rater_id == member_id).order_by(PeerAssessment.ratee_id)))


def overview(user, meeting_id: int) -> dict:
    """Admins see everyone's self-assessment, peer tallies and rating; a member sees only their own part."""
    meeting = get_visible(user, meeting_id)
    rows = meeting_data.attendance_rows(meeting)
    admin = access.administers(user, access.get_org(meeting.org_id))
    if not admin:
        own = invitation(user, meeting)
        rows = [own] if own else []
    names = dict(db.session.execute(select(Member.id, Member.name).where(
        Member.id.in_([r.member_id for r in rows]))).all())
    tallies = _tallies(meeting) if admin else {}  # who rated whom how stays with the branch
    return {"meeting_id": meeting.id, "ratings": list(RATINGS),
            "members": [_entry(r, names, tallies) for r in rows],
            "given": _mine(meeting, user.member_id) if user.member_id else []}


def _tallies(meeting: Meeting) -> dict[int, Counter]:
    tallies: dict[int, Counter] = {}
    for ratee, rating in db.session.execute(select(PeerAssessment.ratee_id, PeerAssessment.rating).where(
            PeerAssessment.meeting_id == meeting.id)):
        tallies.setdefault(ratee, Counter())[rating] += 1
    return tallies


def _entry(row, names: dict, tallies: dict) -> dict:
    peer = tallies.get(row.member_id, Counter())
    return {"member_id": row.member_id, "name": names.get(row.member_id), "voting": row.voting,
            "self_assessment": row.self_assessment, "self_assessed_at": row.self_assessed_at,
            "peer": {rating: peer.get(rating, 0) for rating in RATINGS},
            "rating": row.rating, "rating_comment": row.rating_comment}
