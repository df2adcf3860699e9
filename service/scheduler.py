"""The clock process: APScheduler in its own process (never inside gunicorn workers)."""
import functools
import logging
import os
import socket
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from rules.periods import CHINA

from .database import lock_row, transaction, utcnow
from .extensions import db
from .models import Attendance, HumanTask, JobLock, Meeting, Member, MemberFlow, ProcessInstance
from .services import compliance, flows, leaderboards, notifications, rollups, runtime

log = logging.getLogger(__name__)
HOLDER = f"{socket.gethostname()}:{os.getpid()}"
LEASE_SECONDS = 120
BATCH = 200  # ids read per short transaction
MEETING_AHEAD = ("notified", "in_progress")  # announced and not yet held (not rescheduled, cancelled or done)
NIGHTLY_LEASE_SECONDS = 3600  # a province's roll-up takes about a minute; the lease must outlast the run
NIGHTLY_AT = {"hour": 1, "minute": 0}  # China time: after the day's points and meetings are in


def acquire(name: str, lease_seconds: int) -> bool:
    """Take a job's lease unless another live clock holds it (a conditional UPDATE, so it works everywhere)."""
    now = utcnow()
    with transaction():
        if db.session.get(JobLock, name) is None:
            db.session.add(JobLock(name=name, holder=None, locked_until=None))
            try:
                db.session.flush()
            except Exception:  # another clock inserted it first; the UPDATE below decides
                db.session.rollback()
    with transaction():
        taken = db.session.execute(update(JobLock).where(
            JobLock.name == name, or_(JobLock.locked_until.is_(None), JobLock.locked_until < now,
                                      JobLock.holder == HOLDER))
            .values(holder=HOLDER, locked_until=now + timedelta(seconds=lease_seconds)))
    return taken.rowcount == 1


def release(name: str) -> None:
    """Give the lease back early."""
    with transaction():
        db.session.execute(update(JobLock).where(JobLock.name == name, JobLock.holder == HOLDER)
                           .values(locked_until=None))


def leased(name: str, lease_seconds: int = LEASE_SECONDS):
    """Run the decorated job only while holding its lease; the job returns None when another clock holds it."""
    def wrap(fn):
        @functools.wraps(fn)
        def run():
            if not acquire(name, lease_seconds):
                return None
            try:
                return fn()
            finally:
                release(name)
        return run
    return wrap


@leased("fire_due_timers")
def fire_due_timers() -> int | None:
    """Advance every running instance that waits on a timer, one transaction each; None if another clock runs it."""
    ids = list(db.session.scalars(select(ProcessInstance.id).where(
        ProcessInstance.status == "running", ProcessInstance.has_timers.is_(True))))
    for instance_id in ids:
        _refresh_one(instance_id)
    return len(ids)


def _refresh_one(instance_id: int) -> None:
    # One broken instance must not hold up every other timer: log it and stop polling it.
    try:
        with transaction():
            instance = lock_row(ProcessInstance, instance_id, undefer=(ProcessInstance.state,))
            if instance.status == "running":  # a cancel may have committed since the ids were read
                runtime.refresh_instance(instance)
    except Exception:
        log.exception("timer of process instance %s failed; it is parked until someone looks", instance_id)
        with transaction():
            instance = db.session.get(ProcessInstance, instance_id)
            instance.has_timers = False
            runtime.record_event(instance, None, "timer_failed", None, task_name="clock")


@leased("mark_overdue_tasks")
def mark_overdue_tasks() -> int | None:
    """Tell whoever an open task waits for, once, that it is past due; how many were marked (None: another clock)."""
    now = utcnow()
    overdue = (HumanTask.state == "open", HumanTask.due_at.is_not(None), HumanTask.due_at < now,
               HumanTask.overdue_notified_at.is_(None))
    return sum(_once(HumanTask, row_id, overdue, {"overdue_notified_at": now}, _notify_overdue)
               for row_id in _ids(HumanTask, overdue))


@leased("send_meeting_reminders")
def send_meeting_reminders() -> int | None:
    """Remind the invitees of a notified meeting starting soon, once; how many were reminded (None: another clock)."""
    now = utcnow()
    horizon = now + timedelta(hours=current_app.config["MEETING_REMINDER_HOURS"])
    soon = (Meeting.notified_at.is_not(None), Meeting.reminder_sent_at.is_(None), Meeting.status.in_(MEETING_AHEAD),
            Meeting.scheduled_at >= now, Meeting.scheduled_at <= horizon)
    return sum(_once(Meeting, row_id, soon, {"reminder_sent_at": now}, _remind)
               for row_id in _ids(Meeting, soon))


@leased("remind_flow_reports")
def remind_flow_reports() -> int | None:
    """Remind each 流动党员 silent for FLOW_REPORT_DAYS (and their branch's admins) once; how many (None: another clock)."""
    now = utcnow()
    period = timedelta(days=current_app.config["FLOW_REPORT_DAYS"])
    today = now.astimezone(CHINA).date()
    # Silent: the last report, or the start of the flow when there is none, is a whole period back.
    silent = or_(and_(MemberFlow.last_reported_at.is_not(None), MemberFlow.last_reported_at <= now - period),
                 and_(MemberFlow.last_reported_at.is_(None), MemberFlow.from_date <= today - period))
    present = MemberFlow.member_id.in_(select(Member.id).where(Member.deleted_at.is_(None)))
    # report_reminded_at is cleared by the next report (flows.add_report): that re-arms the reminder.
    due = (*flows.active_clause(today), silent, MemberFlow.report_reminded_at.is_(None), present)
    return sum(_once(MemberFlow, row_id, due, {"report_reminded_at": now}, _remind_flow)
               for row_id in _ids(MemberFlow, due))


@leased("roll_up_scores", NIGHTLY_LEASE_SECONDS)
def roll_up_scores() -> int | None:
    """Snapshot every org's totals (OrgScore) for the nightly periods; rows written (None: another clock)."""
    return rollups.snapshot_totals()


@leased("compute_leaderboards", NIGHTLY_LEASE_SECONDS)
def compute_leaderboards() -> int | None:
    """Recompute the stored leaderboards of the nightly periods; boards written (None: another clock)."""
    return leaderboards.snapshot_boards()


@leased("snapshot_compliance", NIGHTLY_LEASE_SECONDS)
def snapshot_compliance() -> int | None:
    """Snapshot 督办达标 rows (ComplianceRow) for the nightly periods; rows written (None: another clock)."""
    return compliance.snapshot()


def _ids(model, conditions):
    """Ids of the matching rows, read in batches by id so that no job holds one long transaction."""
    last = 0
    while True:
        with transaction():
            ids = list(db.session.scalars(select(model.id).where(model.id > last, *conditions)
                                          .order_by(model.id).limit(BATCH)))
        yield from ids
        if len(ids) < BATCH:
            return
        last = ids[-1]


def _once(model, row_id: int, conditions, marks: dict, notify) -> bool:
    """Claim one row and notify in the same transaction; False if another clock claimed it first or it failed."""
    # The conditional UPDATE, not the lease, is what makes a notice go out once: two clocks racing past an
    # expired lease both try it, and only one sees rowcount 1 (the other waits on the row, then matches none).
    try:
        with transaction():
            claimed = db.session.execute(update(model).where(model.id == row_id, *conditions).values(**marks)
                                         .execution_options(synchronize_session=False)).rowcount == 1
            if claimed:
                notify(db.session.get(model, row_id, populate_existing=True))
            return claimed
    except Exception:  # one broken row must not hold up the others; it is tried again on the next tick
        log.exception("clock: %s %s failed", model.__tablename__, row_id)
        return False


def _china_time(at) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _notify_overdue(task: HumanTask) -> None:
    # The assignee if someone claimed it, else everyone the task waits for.
    users = [task.assignee_id] if task.assignee_id else notifications.admins_of(task.org_id) if task.org_id else []
    notifications.to_users(users, "task_overdue", f"任务已逾期：{task.name}",
                           f"办理期限 {_china_time(task.due_at)}（北京时间）已过，请尽快办理。",
                           (task.subject_kind, task.subject_id))


def _remind(meeting: Meeting) -> None:
    # Everyone invited except those who said they will not come.
    members = db.session.scalars(select(Attendance.member_id).where(
        Attendance.meeting_id == meeting.id, Attendance.feedback.is_not(False)))
    where = f"，{meeting.location}" if meeting.location else ""
    notifications.to_members(members, "meeting_reminder", f"会议提醒：{meeting.title}",
                             f"{_china_time(meeting.scheduled_at)}（北京时间）{where}。请准时参加。",
                             ("meeting", meeting.id))


def _remind_flow(flow: MemberFlow) -> None:
    # The member, and the admins of the branch that registered the flow (they follow it up).
    last = (f"上次报告为 {_china_time(flow.last_reported_at)[:10]}（北京时间）" if flow.last_reported_at
            else f"自 {flow.from_date.isoformat()} 流动以来尚未报告")
    body = f"{last}。流动党员每年至少向党组织报告一次思想、工作情况。"
    name = db.session.get(Member, flow.member_id).name
    notifications.to_members([flow.member_id], "flow_report_due", "请向党组织报告思想、工作情况", body,
                             ("flow", flow.id))
    notifications.to_users(notifications.admins_of(flow.org_id), "flow_report_due", f"流动党员待报告：{name}", body,
                           ("flow", flow.id))


def run_clock() -> None:
    """Block forever, running the jobs on their intervals."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    app = current_app._get_current_object()
    scheduler = BlockingScheduler(timezone="Asia/Shanghai")

    def job(fn):
        def run():
            with app.app_context():
                try:
                    fn()
                except Exception:
                    log.exception("clock job %s failed", fn.__name__)
        return run

    for fn in (fire_due_timers, mark_overdue_tasks, send_meeting_reminders, remind_flow_reports):
        scheduler.add_job(job(fn), "interval", seconds=app.config["CLOCK_INTERVAL_SECONDS"],
                          max_instances=1, coalesce=True)
    # A clock that was down at 01:00 still runs them when it comes back the same morning.
    for fn in (roll_up_scores, compute_leaderboards, snapshot_compliance):
        scheduler.add_job(job(fn), "cron", **NIGHTLY_AT, timezone="Asia/Shanghai", id=fn.__name__, name=fn.__name__,
                          max_instances=1, coalesce=True, misfire_grace_time=6 * 3600)
    scheduler.start()
