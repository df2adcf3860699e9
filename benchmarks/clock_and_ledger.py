"""Benchmark: the clock's notice jobs and the meeting ledger export over a province-sized load.

What it does:
  1. builds the app with ``service.create_app`` on ``--database-url`` (default: a fresh SQLite file in a temp
     dir), runs the migrations (``flask_migrate.upgrade``, as tests/conftest.py does) and deploys the bundled BPMN;
     refuses to run on a database that already holds orgs, meetings or tasks;
  2. bulk-inserts synthetic data with ``db.session.execute(insert(Model), rows)`` (executemany), untimed:
     one 党委 > 党支部, N*K members, an ``org_admin`` user on the branch, N ``branch_congress`` meetings
     (status ``notified``, ``notified_at`` set, no reminder yet, ``scheduled_at`` spread over the next 12 hours)
     with K invitees each, N minimal ``process_instance`` rows and N open ``meeting.record_minutes`` tasks
     (role ``branch_admin``, on the branch) whose ``due_at`` is in the past;
  3. times, inside the app context, with ``time.perf_counter``:
       - ``service.scheduler.mark_overdue_tasks()``      over the N tasks     (N ``task_overdue`` notices)
       - ``service.scheduler.send_meeting_reminders()``  over the N meetings  (one ``meeting_reminder`` per
         invitee whose feedback is not False)
       - the xlsx ledger of all N meetings: select them, then ``meeting_export.workbook(meetings)``
       - both jobs a second time (idempotence: nothing left to do, no new notices);
  4. checks the results (counts, recipients, marks on every row, the workbook's rows) and prints a table.

Members: every meeting gets its own K members (N*K in all), as N branches of K members each would in a province,
so the member and notification tables and their indexes have the size the real load gives them. Every 10th
invitee declined (feedback False, gets no reminder), every 3rd of the rest said yes, the others have not answered;
every 10th member is probationary (voting False).

Usage (from the repository root):
    .venv/bin/python benchmarks/clock_and_ledger.py                          # SQLite, N=2000, K=30
    createdb -h 127.0.0.1 -U postgres orglife_bench_clock
    .venv/bin/python benchmarks/clock_and_ledger.py \\
        --database-url postgresql+psycopg2://postgres@127.0.0.1:5432/orglife_bench_clock --meetings 10000
    dropdb -h 127.0.0.1 -U postgres orglife_bench_clock
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DECLINE_EVERY = 10   # invitee j with j % 10 == 9 said no: no reminder
YES_EVERY = 3        # of the others, j % 3 == 0 said yes; the rest have not answered (both get a reminder)
PROBATIONARY_EVERY = 10
PROCESS_KEY = "branch_congress"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meetings", type=int, default=2000, help="N meetings, tasks and instances (2000)")
    parser.add_argument("--invitees", type=int, default=30, help="K invitees a meeting (30)")
    parser.add_argument("--database-url", default=None,
                        help="an EMPTY database (default: a fresh SQLite file in a temp dir); e.g. "
                             "postgresql+psycopg2://postgres@127.0.0.1:5432/<db> made with createdb")
    parser.add_argument("--chunk", type=int, default=5000, help="rows per executemany while seeding (5000)")
    args = parser.parse_args()
    if args.meetings < 1 or args.invitees < 1:
        parser.error("--meetings and --invitees must be at least 1")
    return args


def declined(j: int) -> bool:
    return j % DECLINE_EVERY == DECLINE_EVERY - 1


def feedback_of(j: int) -> bool | None:
    return False if declined(j) else True if j % YES_EVERY == 0 else None


class StatementCounter:
    """Counts statements sent to the database (an executemany counts once)."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args, **_kwargs):
        self.count += 1


def main() -> int:
    args = parse_args()
    n, k = args.meetings, args.invitees
    tmp = tempfile.mkdtemp(prefix="orglife-bench-clock-")
    # The instance dir holds the generated secret key and attachments: keep them out of the repository's instance/.
    os.environ.setdefault("ORGLIFE_INSTANCE_DIR", tmp)
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(url, n, k, args.chunk)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(url: str, n: int, k: int, chunk: int) -> int:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from service import create_app
    from service.extensions import db
    from service.models import HumanTask, Meeting, Notification, Org

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        engine = db.engine
        print(f"database: {engine.dialect.name} {engine.url.render_as_string(hide_password=True)}")
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; N={n} meetings, K={k} invitees")
        t0 = time.perf_counter()
        upgrade()
        db.session.remove()
        for model in (Org, Meeting, HumanTask):
            if db.session.scalar(select(func.count()).select_from(model)):
                print(f"refusing to run: table {model.__tablename__} is not empty (give a fresh database)")
                return 2
        from service.services.definitions import deploy_bundled
        deploy_bundled()
        db.session.commit()
        t_schema = time.perf_counter() - t0

        t0 = time.perf_counter()
        seeded = seed(db, n, k, chunk)
        t_seed = time.perf_counter() - t0
        print(f"schema + BPMN: {t_schema:.1f} s; seeding {n * k} members/invitations, {n} meetings/tasks: "
              f"{t_seed:.1f} s (untimed)")

        counter = StatementCounter(engine)
        results, failures = [], []

        def notices(kind: str) -> int:
            return db.session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == kind))

        def step(name: str, rows: int, fn, kind: str | None):
            db.session.remove()  # every step starts with an empty identity map, as a fresh clock tick would
            before = notices(kind) if kind else 0
            statements = counter.count
            t = time.perf_counter()
            value = fn()
            seconds = time.perf_counter() - t
            statements = counter.count - statements
            db.session.remove()
            created = notices(kind) - before if kind else None
            results.append((name, rows, seconds, statements, created))
            return value, created

        from service import scheduler
        from service.services import meeting_export

        expected_reminders = n * sum(1 for j in range(k) if not declined(j))

        marked, created = step("mark_overdue_tasks", n, scheduler.mark_overdue_tasks, "task_overdue")
        check(failures, "overdue: tasks marked", marked, n)
        check(failures, "overdue: notices created", created, n)

        reminded, created = step("send_meeting_reminders", n, scheduler.send_meeting_reminders, "meeting_reminder")
        check(failures, "reminders: meetings reminded", reminded, n)
        check(failures, "reminders: notices created", created, expected_reminders)

        def ledger() -> bytes:
            meetings = list(db.session.scalars(select(Meeting).order_by(Meeting.id)))
            return meeting_export.workbook(meetings)

        book, _ = step("ledger xlsx (select + workbook)", n, ledger, None)

        again, created = step("mark_overdue_tasks again", n, scheduler.mark_overdue_tasks, "task_overdue")
        check(failures, "overdue again: tasks marked", again, 0)
        check(failures, "overdue again: notices created", created, 0)
        again, created = step("send_meeting_reminders again", n, scheduler.send_meeting_reminders,
                              "meeting_reminder")
        check(failures, "reminders again: meetings reminded", again, 0)
        check(failures, "reminders again: notices created", created, 0)

        verify(db, failures, seeded, n, k, expected_reminders, book)
        print_table(results)
        print(f"ledger: {len(book) / 1024:.0f} KiB xlsx; expected notices: {n} task_overdue, "
              f"{expected_reminders} meeting_reminder ({k - sum(map(declined, range(k)))} of {k} invitees a meeting)")
        db.session.remove()
        engine.dispose()
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("all checks passed")
    return 0


def seed(db, n: int, k: int, chunk: int) -> dict:
    """Bulk-insert the synthetic load; returns the ids the checks need."""
    from sqlalchemy import insert, select, update

    from service.auth import hash_password
    from service.database import utcnow
    from service.models import (Attendance, HumanTask, Meeting, Member, Org, ProcessInstance, RoleGrant,
                                User)

    def bulk(model, rows):
        # render_nulls: the ORM otherwise drops None values, and rows whose keys differ cannot share one batch
        statement = insert(model).execution_options(render_nulls=True)
        for i in range(0, len(rows), chunk):
            db.session.execute(statement, rows[i:i + chunk])

    now = utcnow()
    committee = Org(name="基准测试党委", kind="committee", parent_id=None, created_at=now)
    db.session.add(committee)
    db.session.flush()
    branch = Org(name="基准测试党支部", kind="branch", parent_id=committee.id, created_at=now)
    db.session.add(branch)
    db.session.flush()
    admin = User(username="bench_branch_admin", password_hash=hash_password("Bench#2026"),
                 must_change_password=False, failed_logins=0, created_at=now)
    admin.grants = [RoleGrant(role="org_admin", org_id=branch.id)]
    db.session.add(admin)
    db.session.flush()
    branch_id, admin_id = branch.id, admin.id

    bulk(Member, [{"name": f"党员{i:07d}", "phone": None, "org_id": branch_id, "group_id": None,
                   "category": "probationary" if i % PROBATIONARY_EVERY == PROBATIONARY_EVERY - 1 else "full",
                   "joined_at": date(2000 + i % 25, 1 + i % 12, 1 + i % 28), "smartphone_exempt": False,
                   "created_at": now} for i in range(n * k)])
    member_ids = list(db.session.scalars(select(Member.id).order_by(Member.id)))
    horizon = timedelta(hours=12)
    bulk(Meeting, [{"process_key": PROCESS_KEY, "process_version": 1, "org_id": branch_id,
                    "title": f"第{i + 1}次支部党员大会", "location": f"党员活动室{i % 7 + 1}", "online": i % 5 == 0,
                    # strictly inside (now, now + 12 h], still ahead when the reminder job runs a little later
                    "scheduled_at": now + timedelta(minutes=30) + (horizon - timedelta(minutes=30)) * (i + 1) / n,
                    "status": "notified", "feedback_open": True, "check_in_open": False, "organiser_id": admin_id,
                    "notified_at": now - timedelta(days=1), "reminder_sent_at": None, "created_at": now - timedelta(days=2)}
                   for i in range(n)])
    meeting_ids = list(db.session.scalars(select(Meeting.id).order_by(Meeting.id)))
    bulk(ProcessInstance, [{"process_key": PROCESS_KEY, "process_version": 1, "state": "", "serializer_version": "1",
                            "subject_kind": "meeting", "subject_id": m, "status": "running", "has_timers": False,
                            "created_at": now, "updated_at": now} for m in meeting_ids])
    instance_of = dict(db.session.execute(select(ProcessInstance.subject_id, ProcessInstance.id)).all())
    db.session.execute(update(Meeting), [{"id": m, "instance_id": instance_of[m]} for m in meeting_ids])
    bulk(HumanTask, [{"instance_id": instance_of[m], "spiff_task_id": str(uuid.uuid4()), "spec_id": "record_minutes",
                      "name": "上传会议记录", "action": "meeting.record_minutes", "role": "branch_admin",
                      "org_id": branch_id, "process_key": PROCESS_KEY, "subject_kind": "meeting", "subject_id": m,
                      "assignee_id": None, "state": "open", "created_at": now - timedelta(days=8),
                      "due_at": now - timedelta(days=1, seconds=i)} for i, m in enumerate(meeting_ids)])
    bulk(Attendance, [{"meeting_id": m, "member_id": member_ids[i * k + j],
                       "voting": (i * k + j) % PROBATIONARY_EVERY != PROBATIONARY_EVERY - 1,
                       "feedback": feedback_of(j), "feedback_at": now if feedback_of(j) is not None else None,
                       "evidence_ids": []}
                      for i, m in enumerate(meeting_ids) for j in range(k)])
    db.session.commit()
    db.session.remove()
    return {"admin_id": admin_id, "meeting_ids": meeting_ids}


def check(failures: list, what: str, got, expected) -> None:
    if got != expected:
        failures.append(f"{what}: got {got}, expected {expected}")


def verify(db, failures, seeded, n, k, expected_reminders, book: bytes) -> None:
    """Who got what, and that every row carries its mark."""
    from openpyxl import load_workbook
    from sqlalchemy import distinct, func, select

    from service.models import HumanTask, Meeting, Notification

    def scalar(query):
        return db.session.scalar(query)

    overdue = Notification.kind == "task_overdue"
    check(failures, "overdue notices to the branch admin", scalar(select(func.count()).where(
        overdue, Notification.user_id == seeded["admin_id"], Notification.member_id.is_(None))), n)
    check(failures, "overdue notices about distinct meetings", scalar(select(func.count(distinct(
        Notification.subject_id))).where(overdue)), n)
    check(failures, "tasks without overdue_notified_at", scalar(select(func.count()).select_from(HumanTask).where(
        HumanTask.overdue_notified_at.is_(None))), 0)
    reminder = Notification.kind == "meeting_reminder"
    check(failures, "reminders to members", scalar(select(func.count()).where(
        reminder, Notification.member_id.is_not(None), Notification.user_id.is_(None))), expected_reminders)
    check(failures, "reminders about distinct meetings", scalar(select(func.count(distinct(
        Notification.subject_id))).where(reminder)), n)
    check(failures, "meetings without reminder_sent_at", scalar(select(func.count()).select_from(Meeting).where(
        Meeting.reminder_sent_at.is_(None))), 0)
    check(failures, "notices of other kinds", scalar(select(func.count()).select_from(Notification).where(
        Notification.kind.not_in(("task_overdue", "meeting_reminder")))), 0)
    sheet = load_workbook(io.BytesIO(book), read_only=True).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    check(failures, "ledger rows", len(rows), n)
    check(failures, "ledger ids", [r[0] for r in rows], seeded["meeting_ids"])
    check(failures, "ledger invited counts", {r[9] for r in rows}, {k})
    check(failures, "ledger said-yes counts", {r[10] for r in rows}, {sum(feedback_of(j) is True for j in range(k))})
    db.session.remove()


def print_table(results) -> None:
    print()
    print(f"{'step':<34} {'rows':>7} {'seconds':>9} {'rows/s':>9} {'ms/row':>8} {'SQL':>7} {'notices':>8}")
    for name, rows, seconds, statements, created in results:
        rate = rows / seconds if seconds else float("inf")
        print(f"{name:<34} {rows:>7} {seconds:>9.3f} {rate:>9.0f} {1000 * seconds / rows:>8.3f} {statements:>7} "
              f"{'-' if created is None else created:>8}")
    print()


if __name__ == "__main__":
    sys.exit(main())
