"""Meetings: create (starting the process), feedback, sign-in, reads."""
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import false, or_, select, true

from ..database import lock_row, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Attendance, Meeting, Member, Minutes, Org, ProcessInstance, TaskEvent, User
from ..actions import meeting_data
from . import access, runtime
from .definitions import latest_enabled

# Who is invited by default, per bundled meeting type; other types invite the whole branch.
INVITEES = {"committee_meeting": "committee", "group_meeting": "group"}
# A meeting's phase follows from which actions are open (so any BPMN composed of these actions works).
PHASES = [("meeting.reschedule", "quorum_failed"), ("review.decide", "under_review"),
          ("review.acknowledge", "under_review"), ("review.confirm", "under_review"),
          ("review.submit", "minutes_recorded"), ("meeting.record_minutes", "in_progress"),
          ("meeting.close_check_in", "in_progress"), ("meeting.close_feedback", "notified"),
          ("meeting.notify", "created")]


class MeetingSubject:
    """How the runtime routes and reacts for meetings."""

    lanes = frozenset({"branch_admin", "superior_admin"})

    def load(self, subject_id: int) -> Meeting:
        return db.session.get(Meeting, subject_id)

    def resolve_lane(self, meeting: Meeting, lane: str):
        org = access.branch_of(db.session.get(Org, meeting.org_id))
        if lane == "branch_admin":
            return org.id, None
        if lane == "superior_admin":
            superior = access.superior_of(org)
            if superior is None:
                raise ApiError("no_superior", 409, f"Organisation {org.id} has no reviewing superior.")
            return superior.id, None
        raise ApiError("unroutable_lane", 409, f"Lane '{lane}' cannot be routed for a meeting.")

    def after_advance(self, meeting: Meeting, instance, open_actions: set[str]) -> None:
        was_checking_in = meeting.check_in_open
        meeting.status = _phase(meeting, instance, open_actions)
        meeting.feedback_open = "meeting.close_feedback" in open_actions
        meeting.check_in_open = "meeting.close_check_in" in open_actions or (
            "meeting.record_minutes" in open_actions and not _has_minutes(meeting))
        if meeting.check_in_open and not was_checking_in:
            meeting_data.check_in_organiser(meeting, _organiser_member(meeting))
        if meeting.status == "completed" and meeting.completed_at is None:
            meeting.completed_at = utcnow()


runtime.SUBJECTS["meeting"] = MeetingSubject()


def _has_minutes(meeting: Meeting) -> bool:
    return db.session.scalars(select(Minutes.id).where(Minutes.meeting_id == meeting.id)).first() is not None


def _phase(meeting: Meeting, instance, open_actions: set[str]) -> str:
    if instance.status == "cancelled" or (instance.status == "completed" and meeting.cancel_reason):
        return "cancelled"
    if instance.status == "completed":
        return "completed"
    return next((phase for action, phase in PHASES if action in open_actions), "in_progress")


def _organiser_member(meeting: Meeting) -> int | None:
    user = db.session.get(User, meeting.organiser_id) if meeting.organiser_id else None
    return user.member_id if user else None


@transactional
def create_meeting(user, data: dict) -> Meeting:
    """Create a meeting and start its process; refuses meetings in the past (不可补录)."""
    org = access.get_org(data["org_id"])
    access.require_admin(user, org)
    definition = latest_enabled(data["process_key"], category="meeting")
    if data["scheduled_at"] <= utcnow():
        raise ApiError("backdated_meeting", 422, "Meetings cannot be recorded after the fact; "
                       "scheduled_at must be in the future.")
    invitees = _invitees(org, definition.key, data.get("invitee_ids"))
    meeting = Meeting(process_key=definition.key, process_version=definition.version, org_id=org.id,
                      title=data["title"], scheduled_at=data["scheduled_at"], location=data.get("location"),
                      online=bool(data.get("online")), organiser_id=user.id)
    db.session.add(meeting)
    db.session.flush()
    db.session.add_all(Attendance(meeting_id=meeting.id, member_id=m.id, voting=m.category == "full")
                       for m in invitees)
    db.session.flush()
    # Timers in the BPMN (e.g. "advance at the meeting time") read scheduled_at.
    meeting.instance_id = runtime.start_instance(definition, "meeting", meeting, user,
                                                 {"scheduled_at": meeting.scheduled_at.isoformat()}).id
    return meeting


def _invitees(org: Org, process_key: str, invitee_ids) -> list[Member]:
    branch = access.branch_of(org)
    members = list(db.session.scalars(select(Member).where(
        Member.org_id == branch.id, Member.deleted_at.is_(None)).order_by(Member.id)))
    if invitee_ids:
        chosen = [m for m in members if m.id in set(invitee_ids)]
        missing = sorted(set(invitee_ids) - {m.id for m in chosen})
        if missing:
            raise ApiError("invalid_invitees", 422, f"Not members of organisation {branch.id}: {missing}.",
                           errors={"invitee_ids": missing})
        return chosen
    rule = INVITEES.get(process_key)
    if rule == "committee":
        members = [m for m in members if m.committee_role]
    elif rule == "group" or org.kind == "group":
        members = [m for m in members if m.group_id == org.id]
    if not members:
        raise ApiError("no_invitees", 422, "Nobody would be invited to this meeting.")
    return members


def get_visible(user, meeting_id: int) -> Meeting:
    """The meeting, if the caller administers its org or is invited; else 404."""
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or not _can_see(user, meeting):
        raise ApiError("meeting_not_found", 404, f"Meeting {meeting_id} does not exist.")
    return meeting


def _can_see(user, meeting: Meeting) -> bool:
    if access.administers(user, db.session.get(Org, meeting.org_id)):
        return True
    return _invitation(user, meeting) is not None


def _invitation(user, meeting: Meeting) -> Attendance | None:
    if user.member_id is None:
        return None
    return db.session.scalars(select(Attendance).where(
        Attendance.meeting_id == meeting.id, Attendance.member_id == user.member_id)).first()


def _require_organiser(user, meeting: Meeting) -> None:
    access.require_admin(user, db.session.get(Org, meeting.org_id))


def list_meetings(user, filters: dict) -> list[Meeting]:
    """Meetings the caller may see, filtered by org (and its subtree), type and status; newest first, paged."""
    query = select(Meeting).where(_visible_clause(user)).order_by(Meeting.scheduled_at.desc(), Meeting.id.desc())
    if filters.get("process_key"):
        query = query.where(Meeting.process_key == filters["process_key"])
    if filters.get("status"):
        query = query.where(Meeting.status == filters["status"])
    if filters.get("org_id"):
        query = query.where(Meeting.org_id.in_(_subtree_ids([access.get_org(filters["org_id"]).id])))
    return list(db.session.scalars(query.limit(filters.get("limit") or 100).offset(filters.get("offset") or 0)))


def _visible_clause(user):
    """SQL for what _can_see decides one meeting at a time."""
    if access.is_platform_admin(user):
        return true()
    clauses = []
    if access.admin_org_ids(user):
        clauses.append(Meeting.org_id.in_(_subtree_ids(list(access.admin_org_ids(user)))))
    if user.member_id is not None:
        clauses.append(Meeting.id.in_(select(Attendance.meeting_id).where(Attendance.member_id == user.member_id)))
    return or_(*clauses) if clauses else false()


def _subtree_ids(root_ids: list[int]) -> list[int]:
    ids, frontier = list(root_ids), list(root_ids)
    while frontier:
        frontier = list(db.session.scalars(select(Org.id).where(Org.parent_id.in_(frontier))))
        ids.extend(frontier)
    return ids


def _own_invitation(user, meeting_id: int) -> tuple[Meeting, Attendance]:
    """The caller's invitation: 404 if no such meeting, 403 not_invited if it is not theirs."""
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        raise ApiError("meeting_not_found", 404, f"Meeting {meeting_id} does not exist.")
    row = _invitation(user, meeting)
    if row is None:
        raise ApiError("not_invited", 403, "You are not invited to this meeting.")
    return meeting, row


@transactional
def give_feedback(user, meeting_id: int, attend: bool, reason: str | None) -> Attendance:
    """A member answers the notice (反馈)."""
    meeting, row = _own_invitation(user, meeting_id)
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
    _require_organiser(user, meeting)
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
    meeting, row = _own_invitation(user, meeting_id)
    return _sign_in(meeting, row, "code", code)


@transactional
def proxy_check_in(user, meeting_id: int, member_id: int) -> Attendance:
    """The organiser signs in a member flagged as unable to use a smartphone."""
    meeting = get_visible(user, meeting_id)
    _require_organiser(user, meeting)
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
def cancel_meeting(user, meeting_id: int, reason: str) -> Meeting:
    """The organiser cancels a meeting that has not finished."""
    meeting = get_visible(user, meeting_id)
    _require_organiser(user, meeting)
    # Same lock order as a task completion (instance, then meeting), and decide only under the lock.
    instance = lock_row(ProcessInstance, meeting.instance_id, undefer=(ProcessInstance.state,))
    db.session.refresh(meeting)
    if instance.status != "running":
        raise ApiError("meeting_finished", 409, f"The meeting is already {meeting.status}.")
    meeting_data.mark_cancelled(meeting, reason)
    runtime.cancel_instance(instance, user, reason)
    return meeting


def meeting_view(meeting: Meeting, user) -> dict:
    """What the meeting page shows this caller: admins see everything, a member their own row."""
    if access.administers(user, db.session.get(Org, meeting.org_id)):
        return _view(meeting, meeting_data.attendance_rows(meeting),
                     runtime.open_tasks(meeting.instance_id) if meeting.instance_id else [])
    own = _invitation(user, meeting)
    return _view(meeting, [own] if own else [], [])


def _view(meeting: Meeting, invitees: list, open_tasks: list) -> dict:
    minutes = db.session.scalars(select(Minutes).where(Minutes.meeting_id == meeting.id)).first()
    events = db.session.execute(select(TaskEvent, User.username).outerjoin(User, User.id == TaskEvent.actor_id)
                                .where(TaskEvent.instance_id == meeting.instance_id).order_by(TaskEvent.id))
    columns = {c.key: getattr(meeting, c.key) for c in Meeting.__table__.columns}
    return {**columns, "attendance": meeting_data.attendance_summary(meeting), "open_tasks": open_tasks,
            "timeline": [_timeline_entry(e, name) for e, name in events], "minutes": minutes,
            "invitees": invitees}


def _timeline_entry(event: TaskEvent, actor_name: str | None) -> dict:
    return {"at": event.at, "actor_id": event.actor_id, "actor_name": actor_name, "kind": event.kind,
            "task_name": event.task_name, "action": event.action, "comment": event.comment}
