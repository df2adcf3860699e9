"""Minutes (会议记录): written by the record task, summarised after a 党课, edited by an admin afterwards."""
from sqlalchemy import select

from ..database import utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Meeting, Member, Minutes
from .attachment_data import require_for_meeting
from .meeting_data import attendance_rows

# What an admin may change after completion, and what a revision snapshots.
EDITABLE = ("host", "recorder", "topics", "content", "decisions", "votes", "summary", "attachment_ids")


def minutes_of(meeting: Meeting) -> Minutes | None:
    """The meeting's minutes, if recorded."""
    return db.session.scalars(select(Minutes).where(Minutes.meeting_id == meeting.id)).first()


def save_minutes(meeting: Meeting, user, data: dict) -> Minutes:
    """Write (or rewrite, after a return) the minutes; attendees and absentees come from sign-in."""
    minutes = minutes_of(meeting) or Minutes(meeting_id=meeting.id, summary=None)
    apply(meeting, minutes, {**data, "summary": minutes.summary})
    _fill_attendance(meeting, minutes)
    minutes.updated_at, minutes.updated_by = utcnow(), user.id
    db.session.add(minutes)  # only now: the checks above query, and a half-filled row must not autoflush
    return minutes


def apply(meeting: Meeting, minutes: Minutes, data: dict) -> None:
    """Set the given editable fields, checking attachments and tallying votes."""
    if "attachment_ids" in data:
        require_for_meeting(meeting, data["attachment_ids"] or [])
    if "votes" in data:
        data = {**data, "votes": tally_votes(meeting, data["votes"] or [])}
    for name in EDITABLE:
        if name in data:
            value = data[name]
            setattr(minutes, name, value.strip() if isinstance(value, str) else value)


def tally_votes(meeting: Meeting, votes: list[dict]) -> list[dict]:
    """A motion passes with more than half of those expected to vote (the invited full members)."""
    rows = attendance_rows(meeting)
    expected = sum(1 for r in rows if r.voting)
    present = sum(1 for r in rows if r.voting and r.checked_in_at)
    tallied = []
    for vote in votes:
        cast = vote["yes"] + vote["no"] + vote["abstain"]
        if cast > present:
            raise ApiError("invalid_votes", 422, f"'{vote['motion']}': {cast} votes cast but only {present} "
                           "voting members signed in.", errors={"votes": [vote["motion"]]})
        tallied.append({**vote, "expected": expected, "present": present, "passed": vote["yes"] * 2 > expected})
    return tallied


def _fill_attendance(meeting: Meeting, minutes: Minutes) -> None:
    rows = attendance_rows(meeting)
    names = dict(db.session.execute(select(Member.id, Member.name).where(
        Member.id.in_([r.member_id for r in rows]))).all())
    entry = lambda r: {"member_id": r.member_id, "name": names.get(r.member_id), "method": r.check_in_method}
    minutes.attendees = [entry(r) for r in rows if r.checked_in_at]
    minutes.absentees = [{"member_id": r.member_id, "name": names.get(r.member_id)} for r in rows if not r.checked_in_at]


def save_summary(meeting: Meeting, user, summary: str) -> None:
    """党课: the summary goes with the minutes."""
    minutes = minutes_of(meeting)
    if minutes is None:
        raise ApiError("minutes_missing", 409, "Record the minutes before the summary.")
    minutes.summary, minutes.updated_at, minutes.updated_by = summary, utcnow(), user.id


def snapshot(minutes: Minutes) -> dict:
    """The editable fields as plain data."""
    return {name: getattr(minutes, name) for name in EDITABLE}
