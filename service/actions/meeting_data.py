"""Meeting data operations shared by actions and services (no transactions of their own)."""
from sqlalchemy import select

from ..database import utcnow
from ..extensions import db
from ..models import Attendance, Meeting, Member, Minutes


def attendance_rows(meeting: Meeting) -> list[Attendance]:
    """Every invitation of the meeting."""
    return list(db.session.scalars(select(Attendance).where(Attendance.meeting_id == meeting.id)
                                   .order_by(Attendance.member_id)))


def reset_feedback_window(meeting: Meeting) -> None:
    """A new notice (after rescheduling) asks everyone again."""
    for row in attendance_rows(meeting):
        row.feedback = row.feedback_reason = row.feedback_at = None


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def feedback_ratios(meeting: Meeting) -> dict:
    """feedback_ratio over all invitees; voting_feedback_ratio over invited full members only."""
    rows = attendance_rows(meeting)
    voting = [r for r in rows if r.voting]
    return {"feedback_ratio": _ratio(sum(1 for r in rows if r.feedback), len(rows)),
            "voting_feedback_ratio": _ratio(sum(1 for r in voting if r.feedback), len(voting))}


def presence_ratios(meeting: Meeting) -> dict:
    """checked_in_ratio over all invitees; voting_present_ratio over invited full members."""
    rows = attendance_rows(meeting)
    voting = [r for r in rows if r.voting]
    return {"checked_in_ratio": _ratio(sum(1 for r in rows if r.checked_in_at), len(rows)),
            "voting_present_ratio": _ratio(sum(1 for r in voting if r.checked_in_at), len(voting))}


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


def save_minutes(meeting: Meeting, user, data: dict) -> Minutes:
    """Write (or revise) the minutes; attendees/absentees come from sign-in."""
    rows = attendance_rows(meeting)
    names = dict(db.session.execute(select(Member.id, Member.name).where(
        Member.id.in_([r.member_id for r in rows]))).all())
    minutes = db.session.scalars(select(Minutes).where(Minutes.meeting_id == meeting.id)).first()
    if minutes is None:
        minutes = Minutes(meeting_id=meeting.id)
        db.session.add(minutes)
    minutes.host, minutes.recorder = data["host"].strip(), data["recorder"].strip()
    minutes.topics, minutes.content = data["topics"], data["content"]
    minutes.decisions, minutes.attachment_ids = data.get("decisions"), data.get("attachment_ids") or []
    minutes.attendees = [{"member_id": r.member_id, "name": names.get(r.member_id)} for r in rows if r.checked_in_at]
    minutes.absentees = [{"member_id": r.member_id, "name": names.get(r.member_id)} for r in rows if not r.checked_in_at]
    minutes.updated_at, minutes.updated_by = utcnow(), user.id
    return minutes


def mark_cancelled(meeting: Meeting, reason: str) -> None:
    """Record why the meeting will not be held."""
    meeting.cancel_reason = reason
