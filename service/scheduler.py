"""The clock process: APScheduler in its own process (never inside gunicorn workers)."""
import logging
import os
import socket
from datetime import timedelta

from sqlalchemy import or_, select, update

from .database import transaction, utcnow
from .extensions import db
from .models import JobLock, ProcessInstance
from .services import runtime

log = logging.getLogger(__name__)
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


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


def fire_due_timers() -> int | None:
    """Advance every running instance that waits on a timer, one transaction each; None if another clock runs it."""
    if not acquire("fire_due_timers", 120):
        return None
    try:
        ids = list(db.session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.status == "running", ProcessInstance.has_timers.is_(True))))
        for instance_id in ids:
            _refresh_one(instance_id)
        return len(ids)
    finally:
        release("fire_due_timers")


def _refresh_one(instance_id: int) -> None:
    # One broken instance must not hold up every other timer: log it and stop polling it.
    try:
        with transaction():
            runtime.refresh_instance(db.session.get(ProcessInstance, instance_id, with_for_update=True))
    except Exception:
        log.exception("timer of process instance %s failed; it is parked until someone looks", instance_id)
        with transaction():
            instance = db.session.get(ProcessInstance, instance_id)
            instance.has_timers = False
            runtime.record_event(instance, None, "timer_failed", None, task_name="clock")


def run_clock() -> None:
    """Block forever, running the jobs on their intervals."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from flask import current_app
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

    scheduler.add_job(job(fire_due_timers), "interval", seconds=app.config["CLOCK_INTERVAL_SECONDS"],
                      max_instances=1, coalesce=True)
    scheduler.start()
