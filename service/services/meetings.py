"""Meetings: create (starting the process), list, read, cancel; who may see and run them."""
from datetime import datetime, timedelta

from sqlalchemy import false, or_, select, true

from rules.periods import CHINA

from ..database import lock_row, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Attendance, HumanTask, Meeting, Member, Minutes, Org, ProcessInstance
from ..actions import meeting_data, minutes_data
from . import access, notifications, process_types, runtime, scoring
from .definitions import held_by, latest_enabled

# Who is invited by default, per bundled meeting type; other types invite the whole branch, or whom their
# camunda:property "invitees" names (committee: the 支委 only).
INVITEES = {"committee_meeting": "committee", "group_meeting": "group"}
# A meeting's phase follows from which actions are open (so any BPMN composed of these actions works).
PHASES = [("meeting.reschedule", "quorum_failed"), ("review.decide", "under_review"),
          ("review.acknowledge", "under_review"), ("review.confirm", "under_review"),
          ("review.submit", "minutes_recorded"), ("appraisal.rate", "appraising"),
          ("appraisal.close_peer", "appraising"), ("appraisal.close_self", "appraising"),
          ("meeting.summarize", "minutes_recorded"), ("meeting.record_minutes", "in_progress"),
          ("meeting.close_check_in", "in_progress"), ("meeting.close_feedback", "notified"),
          ("meeting.notify", "created")]
# Opening one of these windows tells every invitee what is asked of them.
WINDOW_NOTICES = {"appraisal.close_self": ("appraisal_self", "民主评议：请提交个人自评"),
                  "appraisal.close_peer": ("appraisal_peer", "民主评议：请对其他党员进行互评")}


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

    def due_base(self, meeting: Meeting, now):
        # Minutes are due a week after the meeting, not a week after feedback closed weeks before it.
        return max(now, meeting.scheduled_at)

    def after_advance(self, meeting: Meeting, instance, open_actions: set[str], opened: set[str]) -> None:
        was_checking_in = meeting.check_in_open
        meeting.status = _phase(meeting, instance, open_actions)
        meeting.feedback_open = _feedback_open(meeting, instance, open_actions)
        meeting.check_in_open = "meeting.close_check_in" in open_actions or (
            "meeting.record_minutes" in open_actions and not _has_minutes(meeting))
        if meeting.check_in_open and not was_checking_in:
            meeting_data.check_in_organiser(meeting, meeting_data.organiser_member(meeting))
        if meeting.status == "completed" and meeting.completed_at is None:
            meeting.completed_at = utcnow()
            scoring.award_meeting(meeting)  # organisational-life points, in this same transaction
        for action in opened & WINDOW_NOTICES.keys():
            meeting_data.notify_invitees(meeting, *WINDOW_NOTICES[action])


def _feedback_open(meeting: Meeting, instance, open_actions: set[str]) -> bool:
    """Open from the notice until feedback is closed, or (types without a ratio) until the meeting time."""
    if "meeting.close_feedback" in open_actions:
        return True
    if open_actions or instance.status != "running":
        return False
    return meeting.feedback_open  # waiting on the meeting-time timer: as the notice left it


runtime.SUBJECTS["meeting"] = MeetingSubject()


def _has_minutes(meeting: Meeting) -> bool:
    return db.session.scalars(select(Minutes.id).where(Minutes.meeting_id == meeting.id)).first() is not None


def _phase(meeting: Meeting, instance, open_actions: set[str]) -> str:
    if instance.status == "cancelled" or (instance.status == "completed" and meeting.cancel_reason):
        return "cancelled"
    if instance.status == "completed":
        return "completed"
    if not open_actions:  # waiting on a timer (the meeting time)
        return "notified" if meeting.notified_at else "created"
    return next((phase for action, phase in PHASES if action in open_actions), "in_progress")


@transactional
def create_meeting(user, data: dict) -> Meeting:
    """Create a meeting and start its process; refuses meetings in the past (不可补录)."""
    org = access.get_org(data["org_id"])
    access.require_admin(user, org)
    access.require_active(org)
    definition = latest_enabled(data["process_key"], category="meeting")
    _require_holder(org, definition)
    process_types.require_allowed(org, definition.key)
    if data["scheduled_at"] <= utcnow():
        raise ApiError("backdated_meeting", 422, "Meetings cannot be recorded after the fact; "
                       "scheduled_at must be in the future.")
    invitees = _invitees(org, definition, data.get("invitee_ids"))
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


def _require_holder(org: Org, definition) -> None:
    kind = held_by(definition)
    if org.kind != kind:
        holder = {"group": "a party group (党小组)", "branch": "a branch (党支部)"}[kind]
        raise ApiError("invalid_org", 422, f"A {definition.name} is held by {holder}; organisation {org.id} "
                       f"is a {org.kind}.", errors={"org_id": [f"must be {holder}"]})


def _invitees(org: Org, definition, invitee_ids) -> list[Member]:
    branch = access.branch_of(org)
    members = list(db.session.scalars(select(Member).where(
        Member.org_id == branch.id, Member.deleted_at.is_(None)).order_by(Member.id)))
    if org.kind == "group":  # a group's meeting is for the group's members
        members = [m for m in members if m.group_id == org.id]
    if invitee_ids:
        chosen = [m for m in members if m.id in set(invitee_ids)]
        missing = sorted(set(invitee_ids) - {m.id for m in chosen})
        if missing:
            raise ApiError("invalid_invitees", 422, f"Not members of organisation {org.id}: {missing}.",
                           errors={"invitee_ids": missing})
        return chosen
    invited = (definition.properties or {}).get("invitees") or INVITEES.get(definition.key)
    if invited == "committee":
        members = [m for m in members if m.committee_role]
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
    return invitation(user, meeting) is not None


def invitation(user, meeting: Meeting) -> Attendance | None:
    if user.member_id is None:
        return None
    return db.session.scalars(select(Attendance).where(
        Attendance.meeting_id == meeting.id, Attendance.member_id == user.member_id)).first()


def require_organiser(user, meeting: Meeting) -> None:
    access.require_admin(user, db.session.get(Org, meeting.org_id))


def list_meetings(user, filters: dict, paged: bool = True) -> list[Meeting]:
    """Meetings the caller may see, filtered; newest first, paged (the export takes them all)."""
    query = _filtered(select(Meeting).where(_visible_clause(user)), filters)
    query = query.order_by(Meeting.scheduled_at.desc(), Meeting.id.desc())
    if paged:
        query = query.limit(filters.get("limit") or 100).offset(filters.get("offset") or 0)
    return list(db.session.scalars(query))


def _filtered(query, filters: dict):
    """Org (with its subtree), type, status, China-date range of scheduled_at, and overdue."""
    if filters.get("process_key"):
        query = query.where(Meeting.process_key == filters["process_key"])
    if filters.get("status"):
        query = query.where(Meeting.status == filters["status"])
    if filters.get("org_id"):
        query = query.where(Meeting.org_id.in_(access.subtree_ids([access.get_org(filters["org_id"]).id])))
    if filters.get("date_from"):
        query = query.where(Meeting.scheduled_at >= _china_midnight(filters["date_from"]))
    if filters.get("date_to"):
        query = query.where(Meeting.scheduled_at < _china_midnight(filters["date_to"] + timedelta(days=1)))
    if filters.get("overdue") is not None:
        late = select(HumanTask.id).where(HumanTask.subject_kind == "meeting", HumanTask.subject_id == Meeting.id,
                                          HumanTask.state == "open", HumanTask.due_at < utcnow())
        query = query.where(late.exists() if filters["overdue"] else ~late.exists())
    return query


def _china_midnight(day) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def _visible_clause(user):
    """SQL for what _can_see decides one meeting at a time."""
    if access.is_platform_admin(user):
        return true()
    clauses = []
    if access.admin_org_ids(user):
        clauses.append(Meeting.org_id.in_(access.subtree_ids(list(access.admin_org_ids(user)))))
    if user.member_id is not None:
        clauses.append(Meeting.id.in_(select(Attendance.meeting_id).where(Attendance.member_id == user.member_id)))
    return or_(*clauses) if clauses else false()



def lock_meeting(meeting: Meeting) -> None:
    """Lock the meeting's instance (the order task completions use) and re-read the meeting under it."""
    if meeting.instance_id is not None:
        lock_row(ProcessInstance, meeting.instance_id)
        db.session.refresh(meeting)


def own_invitation(user, meeting_id: int) -> tuple[Meeting, Attendance]:
    """The caller's invitation: 404 if no such meeting, 403 not_invited if it is not theirs.

    The meeting's instance is locked first, so an answer and the task closing its window never interleave:
    an answer is either counted by the close or refused as late.
    """
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        raise ApiError("meeting_not_found", 404, f"Meeting {meeting_id} does not exist.")
    lock_meeting(meeting)
    row = invitation(user, meeting)
    if row is None:
        raise ApiError("not_invited", 403, "You are not invited to this meeting.")
    return meeting, row


@transactional
def cancel_meeting(user, meeting_id: int, reason: str) -> Meeting:
    """The organiser cancels a meeting that has not finished."""
    meeting = get_visible(user, meeting_id)
    require_organiser(user, meeting)
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
    own = invitation(user, meeting)
    return _view(meeting, [own] if own else [], [])


def _view(meeting: Meeting, invitees: list, open_tasks: list) -> dict:
    minutes = minutes_data.minutes_of(meeting)
    columns = {c.key: getattr(meeting, c.key) for c in Meeting.__table__.columns}
    reads = notifications.reads_for("meeting", meeting.id, "meeting_notice")
    attendance = {**meeting_data.attendance_summary(meeting), "notice_read": sum(1 for r in reads.values() if r)}
    return {**columns, "attendance": attendance, "open_tasks": open_tasks,
            "timeline": runtime.timeline(meeting.instance_id), "minutes": minutes,
            "invitees": _invitee_rows(invitees, reads)}


def _invitee_rows(rows: list[Attendance], reads: dict) -> list[dict]:
    """Invitations with the member's name and when they read the notice (签阅), for the organiser."""
    names = dict(db.session.execute(select(Member.id, Member.name).where(
        Member.id.in_([r.member_id for r in rows]))).all())
    columns = [c.key for c in Attendance.__table__.columns]
    return [{**{c: getattr(r, c) for c in columns}, "name": names.get(r.member_id),
             "notice_read_at": reads.get(r.member_id)} for r in rows]
