"""Attendance: feedback on the notice (反馈), sign-in by code (签到), by proxy (代签), and by video (焦作)."""
import hashlib
import hmac
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import select

from ..database import transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Attendance, Meeting, Member
from . import attachments
from .meetings import get_visible, lock_meeting, own_invitation, require_organiser


@transactional
def give_feedback(user, meeting_id: int, attend: bool, reason: str | None) -> Attendance:
    """A member answers the notice (反馈)."""
    meeting, row = own_invitation(user, meeting_id)
    if not meeting.feedback_open:
        raise ApiError("feedback_closed", 422, "Feedback is not open for this meeting.")
    row.feedback, row.feedback_reason, row.feedback_at = attend, reason, utcnow()
    return row


def _window(now: datetime) -> int:
    return int(now.timestamp()) // current_app.config["CHECK_IN_CODE_WINDOW_SECONDS"]


def _code_for(meeting: Meeting, window: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    mac = hmac.new(key, f"check-in:{meeting.id}:{window}".encode(), hashlib.sha256).hexdigest()
    return str(int(mac[:12], 16) % 10**8).zfill(8)


def check_in_code(user, meeting_id: int) -> dict:
    """The rotating sign-in code for the organiser to show (as text or QR)."""
    meeting = get_visible(user, meeting_id)
    require_organiser(user, meeting)
    window = _window(utcnow())
    seconds = current_app.config["CHECK_IN_CODE_WINDOW_SECONDS"]
    expires = datetime.fromtimestamp((window + 2) * seconds, tz=timezone.utc)
    return {"code": _code_for(meeting, window), "expires_at": expires, "meeting_id": meeting.id,
            "check_in_open": meeting.check_in_open}


def qr_payload(meeting_id: int, code: str) -> str:
    """What the QR image encodes: only the product's own scanner understands it."""
    return f"orglife:check-in:{meeting_id}:{code}"


@transactional
def check_in(user, meeting_id: int, code: str) -> Attendance:
    """A member signs in with the code, while the meeting is in progress."""
    meeting, row = own_invitation(user, meeting_id)
    return _sign_in(meeting, row, "code", code)


@transactional
def proxy_check_in(user, meeting_id: int, member_id: int) -> Attendance:
    """The organiser signs in a member flagged as unable to use a smartphone."""
    meeting = get_visible(user, meeting_id)
    require_organiser(user, meeting)
    lock_meeting(meeting)
    row = db.session.scalars(select(Attendance).where(
        Attendance.meeting_id == meeting.id, Attendance.member_id == member_id)).first()
    member = db.session.get(Member, member_id)
    if row is None or member is None:
        raise ApiError("not_invited", 403, f"Member {member_id} is not invited to this meeting.")
    if not member.smartphone_exempt:
        raise ApiError("proxy_not_allowed", 422, "Proxy sign-in is only for members flagged as unable "
                       "to use a smartphone.")
    return _sign_in(meeting, row, "proxy")


def _sign_in(meeting: Meeting, row: Attendance, method: str, code: str | None = None) -> Attendance:
    if not meeting.check_in_open:
        raise ApiError("check_in_closed", 422, "Sign-in is open only while the meeting is in progress.")
    window = _window(utcnow())
    if code is not None and code not in {_code_for(meeting, window), _code_for(meeting, window - 1)}:
        raise ApiError("invalid_code", 422, "The sign-in code is wrong or has expired.")
    if row.checked_in_at is None:  # signing in twice keeps the first time
        row.checked_in_at, row.check_in_method = utcnow(), method
    return row




@transactional
def video_attendance(user, meeting_id: int, member_ids: list[int], evidence_ids: list[int]) -> list[Attendance]:
    """焦作: the organiser adds members who attended an online meeting by video, with screenshots as evidence."""
    meeting = get_visible(user, meeting_id)
    require_organiser(user, meeting)
    lock_meeting(meeting)
    if not meeting.online:
        raise ApiError("not_online_meeting", 422, "Video attendance is only for online meetings.")
    if not evidence_ids:
        raise ApiError("evidence_required", 422, "Attach the video-meeting screenshots (time and participants).",
                       errors={"evidence_ids": ["At least one screenshot is required."]})
    attachments.require_for_meeting(meeting, evidence_ids, kinds="image")
    rows = _invitations(meeting, member_ids)
    for row in rows:
        _sign_in(meeting, row, "video")
        row.evidence_ids = sorted(set(row.evidence_ids or []) | set(evidence_ids))
    return rows


def _invitations(meeting: Meeting, member_ids: list[int]) -> list[Attendance]:
    rows = list(db.session.scalars(select(Attendance).where(
        Attendance.meeting_id == meeting.id, Attendance.member_id.in_(member_ids))))
    missing = sorted(set(member_ids) - {r.member_id for r in rows})
    if missing:
        raise ApiError("not_invited", 403, f"Not invited to this meeting: {missing}.", errors={"member_ids": missing})
    return rows
