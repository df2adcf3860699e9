"""Meeting data operations shared by actions and services (no transactions of their own)."""
from sqlalchemy import select

from rules.periods import CHINA

from ..database import utcnow
from ..extensions import db
from ..models import Attendance, Meeting, PeerAssessment, User
from ..services import notifications


def attendance_rows(meeting: Meeting) -> list[Attendance]:
    """Every invitation of the meeting."""
    return list(db.session.scalars(select(Attendance).where(Attendance.meeting_id == meeting.id)
                                   .order_by(Attendance.member_id)))


def send_notice(meeting: Meeting) -> None:
    """Notify every invitee and open feedback; a new notice (after rescheduling) asks everyone again."""
    rows = attendance_rows(meeting)
    for row in rows:  # only answers count toward a gate: nobody, not even the organiser, is "yes" by default
        row.feedback = row.feedback_reason = row.feedback_at = None
    meeting.notified_at, meeting.feedback_open, meeting.reminder_sent_at = utcnow(), True, None
    when = meeting.scheduled_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    notifications.to_members([r.member_id for r in rows], "meeting_notice", f"会议通知：{meeting.title}",
                             f"{when}{'，' + meeting.location if meeting.location else ''}。请反馈是否参加。",
                             ("meeting", meeting.id))


def organiser_member(meeting: Meeting) -> int | None:
    """The organiser's member id, if their account belongs to a member."""
    user = db.session.get(User, meeting.organiser_id) if meeting.organiser_id else None
    return user.member_id if user else None


def notify_invitees(meeting: Meeting, kind: str, title: str) -> None:
    """Tell every invitee that something is asked of them in this meeting."""
    notifications.to_members([r.member_id for r in attendance_rows(meeting)], kind, f"{title}（{meeting.title}）",
                             None, ("meeting", meeting.id))


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def feedback_ratios(meeting: Meeting) -> dict:
    """feedback_ratio over all invitees; voting_feedback_ratio over invited full members only."""
    rows = attendance_rows(meeting)
    voting = [r for r in rows if r.voting]
    return {"feedback_ratio": ratio(sum(1 for r in rows if r.feedback), len(rows)),
            "voting_feedback_ratio": ratio(sum(1 for r in voting if r.feedback), len(voting))}


def presence_ratios(meeting: Meeting) -> dict:
    """checked_in_ratio over all invitees; voting_present_ratio over invited full members."""
    rows = attendance_rows(meeting)
    voting = [r for r in rows if r.voting]
    return {"checked_in_ratio": ratio(sum(1 for r in rows if r.checked_in_at), len(rows)),
            "voting_present_ratio": ratio(sum(1 for r in voting if r.checked_in_at), len(voting))}


def attendance_summary(meeting: Meeting) -> dict:
    """The counts the meeting view shows."""
    rows = attendance_rows(meeting)
    return {"invited": len(rows),
            "expected_voting": sum(1 for r in rows if r.voting),
            "feedback_yes": sum(1 for r in rows if r.feedback is True),
            "feedback_no": sum(1 for r in rows if r.feedback is False),
            "checked_in": sum(1 for r in rows if r.checked_in_at),
            "checked_in_voting": sum(1 for r in rows if r.checked_in_at and r.voting)}


def check_in_organiser(meeting: Meeting, member_id: int | None) -> None:
    """The organiser attends by default and never scans a code (三晋先锋)."""
    row = db.session.scalars(select(Attendance).where(
        Attendance.meeting_id == meeting.id, Attendance.member_id == member_id)).first()
    if row is not None and row.checked_in_at is None:
        row.checked_in_at, row.check_in_method = utcnow(), "organiser"


def peer_raters(meeting: Meeting) -> set[int]:
    """Members who have rated at least one other member."""
    return set(db.session.scalars(select(PeerAssessment.rater_id).where(PeerAssessment.meeting_id == meeting.id)))


def mark_cancelled(meeting: Meeting, reason: str) -> None:
    """Record why the meeting will not be held."""
    meeting.cancel_reason = reason


def all_rated(meeting: Meeting) -> bool:
    """Whether the branch has rated every invited full member (so a returned meeting need not appraise again)."""
    rows = [r for r in attendance_rows(meeting) if r.voting]
    return bool(rows) and all(r.rating for r in rows)
