"""Benchmark: member import, member transfers end to end, and the task re-routing of an org move.

What it does:
  1. builds the app with ``service.create_app`` on ``--database-url`` (default: a fresh SQLite file in a temp
     dir) with ``PASSWORD_HASH_METHOD`` at its production default (scrypt), runs the migrations
     (``flask_migrate.upgrade``) and deploys the bundled BPMN; refuses a database that already holds orgs,
     members, users or tasks;
  2. seeds, untimed (a few ORM rows for the tree and its admins, executemany for the bulk):
     党委 > 党总支 A > 2 sending branches with T members (accounts, a membership period each, invited to one
     upcoming meeting of their branch); 党委 > 党总支 B > 2 receiving branches; 党委 > 党总支 C > branch X with
     M meetings (``theme_day``, under review) each with an open ``review.acknowledge`` task for C
     (role superior_admin), and a sibling branch Y with S such meetings that must stay with C;
     党委 > 党总支 D, X's new parent; 2 import branches under the 党委; an ``org_admin`` for every org;
  3. times, inside the app context, calling the service functions directly (a fresh session before every
     call, as a request would have), with ``time.perf_counter``:
       - ``member_import.import_members`` of a generated CSV of R rows with a shared ``initial_password``
         (one scrypt hash), then of R_b rows with generated passwords (one fast pbkdf2 hash an account); every 5th row has a valid 18-character ID number (GB 11643 check character) and no
         phone, so its login is the ID number;
       - T in-system transfers: ``transfers.create_transfer``, then ``tasks.complete`` by 党总支 A, 党委 and
         党总支 B (approve) and by the receiving branch (receive);
       - moving branch X under 党总支 D: ``org_transfers.create_org_transfer``, C's approval, then D's
         approval, whose completion re-parents X and re-routes the M open superior tasks to D;
  4. checks the results (counts, accounts, periods, grants, where every task points) and prints a table.
     The SQL column counts statements sent (an executemany counts once).

Usage (from the repository root):
    .venv/bin/python benchmarks/registry_and_transfers.py                 # SQLite, R=2000, R_b=200, T=200, M=2000
    createdb -h 127.0.0.1 -U postgres orglife_bench_reg
    .venv/bin/python benchmarks/registry_and_transfers.py \\
        --database-url postgresql+psycopg2://postgres@127.0.0.1:5432/orglife_bench_reg
    dropdb -h 127.0.0.1 -U postgres orglife_bench_reg
    .venv/bin/python benchmarks/registry_and_transfers.py --profile reroute,import_shared   # cProfile those steps
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import logging
import math
import os
import platform
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ID_EVERY = 5  # row i with i % 5 == 4: an ID number and no phone (an elderly member logs in with the ID number)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
SHARED_PASSWORD = "Bench#2026x"
PROFILE_STEPS = ("import_shared", "import_generated", "transfer_create", "transfer_complete", "reroute")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="R rows imported with a shared password (2000)")
    parser.add_argument("--rows-generated", type=int, default=200,
                        help="R_b rows imported with generated passwords, one pbkdf2 hash each (200)")
    parser.add_argument("--transfers", type=int, default=200, help="T in-system transfers (200)")
    parser.add_argument("--meetings", type=int, default=2000, help="M open superior tasks re-routed (2000)")
    parser.add_argument("--sibling-meetings", type=int, default=500,
                        help="S open superior tasks of a sibling branch that must not move (500)")
    parser.add_argument("--database-url", default=None,
                        help="an EMPTY database (default: a fresh SQLite file in a temp dir); e.g. "
                             "postgresql+psycopg2://postgres@127.0.0.1:5432/<db> made with createdb")
    parser.add_argument("--chunk", type=int, default=5000, help="rows per executemany while seeding (5000)")
    parser.add_argument("--profile", default="", help=f"comma-separated steps to run under cProfile: "
                        f"{', '.join(PROFILE_STEPS)} (their times then include the profiler)")
    args = parser.parse_args()
    if min(args.rows, args.rows_generated, args.transfers, args.meetings) < 1 or args.sibling_meetings < 0:
        parser.error("--rows, --rows-generated, --transfers and --meetings must be at least 1")
    if max(args.rows, args.rows_generated) > 5000:
        parser.error("an import takes at most 5000 rows (member_import.MAX_ROWS)")
    args.profile = {s for s in args.profile.split(",") if s}
    if args.profile - set(PROFILE_STEPS):
        parser.error(f"--profile takes {', '.join(PROFILE_STEPS)}")
    return args


class StatementCounter:
    """Counts statements sent to the database (an executemany counts once)."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args, **_kwargs):
        self.count += 1


class Timings:
    """Timed calls by step: wall seconds and statements each; optional cProfile of chosen steps."""

    def __init__(self, counter: StatementCounter, profile: set[str]):
        self.counter, self.profile = counter, profile
        self.steps: dict[str, dict] = {}
        self.profiles: dict[str, cProfile.Profile] = {}

    def call(self, step: str, fn, *args, profile_as: str | None = None):
        """Time fn(*args); the caller starts each call with a fresh session, as a request would."""
        key = profile_as or step
        profiler = self.profiles.setdefault(key, cProfile.Profile()) if key in self.profile else None
        statements = self.counter.count
        t = time.perf_counter()
        if profiler:
            profiler.enable()
        value = fn(*args)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - t
        entry = self.steps.setdefault(step, {"seconds": [], "statements": 0})
        entry["seconds"].append(seconds)
        entry["statements"] += self.counter.count - statements
        return value


def main() -> int:
    args = parse_args()
    tmp = tempfile.mkdtemp(prefix="orglife-bench-reg-")
    # The instance dir holds the generated secret key and attachments: keep them out of the repository's instance/.
    os.environ.setdefault("ORGLIFE_INSTANCE_DIR", tmp)
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(url, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(url: str, args) -> int:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from service import create_app
    from service.extensions import db
    from service.models import HumanTask, Member, Org, User

    # scrypt stated explicitly so an exported PASSWORD_HASH_METHOD cannot make the import look cheaper.
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
                      "PASSWORD_HASH_METHOD": "scrypt"})
    with app.app_context():
        engine = db.engine
        print(f"database: {engine.dialect.name} {engine.url.render_as_string(hide_password=True)}")
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; R={args.rows}, R_b={args.rows_generated}, "
              f"T={args.transfers}, M={args.meetings}, S={args.sibling_meetings}; "
              f"password hash {app.config['PASSWORD_HASH_METHOD']}")
        t0 = time.perf_counter()
        upgrade()
        db.session.remove()
        for model in (Org, Member, User, HumanTask):
            if db.session.scalar(select(func.count()).select_from(model)):
                print(f"refusing to run: table {model.__tablename__} is not empty (give a fresh database)")
                return 2
        from service.services.definitions import deploy_bundled
        deploy_bundled()
        db.session.commit()
        t_schema = time.perf_counter() - t0

        t0 = time.perf_counter()
        world = seed(db, args)
        print(f"schema + BPMN: {t_schema:.1f} s; seeding: {time.perf_counter() - t0:.1f} s (untimed)")

        timings, failures = Timings(StatementCounter(engine), args.profile), []
        bench_import(db, timings, failures, world, args.rows, args.rows_generated)
        bench_transfers(db, timings, failures, world, args.transfers)
        bench_org_move(db, timings, failures, world, args.meetings, args.sibling_meetings)
        print_table(timings, {"import_shared": args.rows, "import_generated": args.rows_generated,
                              "reroute": args.meetings})
        print_profiles(timings)
        db.session.remove()
        engine.dispose()
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("all checks passed")
    return 0


# --- seeding ----------------------------------------------------------------------------------------------------

def seed(db, args) -> dict:
    """The tree, one admin an org, the transfer members and the meetings of the org move; returns ids."""
    from service.auth import hash_password
    from service.database import utcnow
    from service.models import Org, RoleGrant, User

    now = utcnow()

    def org(key, name, kind, parent):
        row = Org(name=name, kind=kind, parent_id=ids.get(parent), created_at=now)
        db.session.add(row)
        db.session.flush()
        ids[key] = row.id

    ids: dict = {}
    org("committee", "基准党委", "committee", None)
    for g in "ABCD":
        org(f"general_{g}", f"基准第{g}党总支", "general_branch", "committee")
    for key, name, parent in (("send_1", "转出一支部", "general_A"), ("send_2", "转出二支部", "general_A"),
                              ("recv_1", "接收一支部", "general_B"), ("recv_2", "接收二支部", "general_B"),
                              ("branch_X", "迁移支部X", "general_C"), ("branch_Y", "留守支部Y", "general_C"),
                              ("import_a", "导入甲支部", "committee"), ("import_b", "导入乙支部", "committee")):
        org(key, name, "branch", parent)
    password_hash = hash_password("Bench#2026")  # one scrypt hash shared by the seeded accounts
    admins = {"importer": ["import_a", "import_b"], "dangwei": ["committee"], "sec_send": ["send_1", "send_2"],
              "sec_recv": ["recv_1", "recv_2"], "sec_x": ["branch_X"],
              **{f"zongzhi_{g}": [f"general_{g}"] for g in "ABCD"}}
    users = {}
    for name, orgs in admins.items():
        user = User(username=f"bench_{name}", password_hash=password_hash, must_change_password=False,
                    failed_logins=0, created_at=now)
        user.grants = [RoleGrant(role="org_admin", org_id=ids[o]) for o in orgs]
        db.session.add(user)
        db.session.flush()
        users[name] = user.id
    world = {"orgs": ids, "users": users, "now": now}
    world["transfer_members"] = seed_transfer_members(db, world, args.transfers, password_hash, args.chunk)
    world["upcoming"] = seed_upcoming_meetings(db, world, args.chunk)
    world["moved_meetings"] = seed_review_tasks(db, world, "branch_X", args.meetings, args.chunk)
    world["sibling_meetings"] = seed_review_tasks(db, world, "branch_Y", args.sibling_meetings, args.chunk)
    db.session.commit()
    db.session.remove()
    return world


def bulk(db, model, rows, chunk: int) -> None:
    from sqlalchemy import insert
    # render_nulls: the ORM otherwise drops None values, and rows whose keys differ cannot share one batch
    statement = insert(model).execution_options(render_nulls=True)
    for i in range(0, len(rows), chunk):
        db.session.execute(statement, rows[i:i + chunk])


def seed_transfer_members(db, world, t: int, password_hash: str, chunk: int) -> list[int]:
    """T members alternating between the two sending branches, each with an account and an open period."""
    from sqlalchemy import select

    from service.models import Member, MembershipPeriod, RoleGrant, User

    orgs, now = world["orgs"], world["now"]
    bulk(db, Member, [{"name": f"转接党员{i:05d}", "phone": f"1370{i:07d}", "org_id": orgs[f"send_{i % 2 + 1}"],
                       "group_id": None, "category": "full", "joined_at": date(2000 + i % 25, 1 + i % 12, 1),
                       "smartphone_exempt": False, "created_at": now} for i in range(t)], chunk)
    members = list(db.session.scalars(select(Member.id).where(Member.phone.like("1370%")).order_by(Member.id)))
    branch_of = dict(db.session.execute(select(Member.id, Member.org_id).where(Member.id.in_(members))).all())
    bulk(db, MembershipPeriod, [{"member_id": m, "org_id": branch_of[m], "started_at": now - timedelta(days=400),
                                 "ended_at": None, "start_reason": "registered", "end_reason": None,
                                 "transfer_id": None} for m in members], chunk)
    bulk(db, User, [{"username": f"1370{i:07d}", "password_hash": password_hash, "member_id": m,
                     "must_change_password": False, "failed_logins": 0, "created_at": now}
                    for i, m in enumerate(members)], chunk)
    accounts = db.session.execute(select(User.id, User.member_id).where(User.member_id.in_(members))).all()
    bulk(db, RoleGrant, [{"user_id": u, "role": "member", "org_id": branch_of[m]} for u, m in accounts], chunk)
    return members


def seed_upcoming_meetings(db, world, chunk: int) -> list[int]:
    """One notified meeting a sending branch, every member invited: a member who leaves drops out of it."""
    from sqlalchemy import select

    from service.models import Attendance, Meeting, Member

    orgs, now = world["orgs"], world["now"]
    ids = []
    for key in ("send_1", "send_2"):
        meeting = Meeting(process_key="branch_congress", process_version=1, org_id=orgs[key], title="基准支部党员大会",
                          scheduled_at=now + timedelta(days=5), status="notified", feedback_open=True,
                          check_in_open=False, notified_at=now, created_at=now)
        db.session.add(meeting)
        db.session.flush()
        ids.append(meeting.id)
    invited = db.session.execute(select(Member.id, Member.org_id).where(
        Member.id.in_(world["transfer_members"]))).all()
    meeting_of = {orgs["send_1"]: ids[0], orgs["send_2"]: ids[1]}
    bulk(db, Attendance, [{"meeting_id": meeting_of[o], "member_id": m, "voting": True, "feedback": None,
                           "feedback_at": None, "evidence_ids": []} for m, o in invited], chunk)
    return ids


def seed_review_tasks(db, world, branch: str, n: int, chunk: int) -> list[int]:
    """N theme-day meetings of a branch under review, each with an open acknowledge task for 党总支 C."""
    from sqlalchemy import select, update

    from service.models import HumanTask, Meeting, ProcessInstance

    if n == 0:
        return []
    orgs, now = world["orgs"], world["now"]
    bulk(db, Meeting, [{"process_key": "theme_day", "process_version": 1, "org_id": orgs[branch],
                        "title": f"第{i + 1}次主题党日", "location": None, "online": False,
                        "scheduled_at": now - timedelta(days=10, minutes=i), "status": "under_review",
                        "feedback_open": False, "check_in_open": False, "organiser_id": world["users"]["sec_x"],
                        "notified_at": now - timedelta(days=12), "reminder_sent_at": None,
                        "created_at": now - timedelta(days=14)} for i in range(n)], chunk)
    meetings = list(db.session.scalars(select(Meeting.id).where(Meeting.org_id == orgs[branch])
                                       .order_by(Meeting.id)))
    bulk(db, ProcessInstance, [{"process_key": "theme_day", "process_version": 1, "state": "",
                                "serializer_version": "1", "subject_kind": "meeting", "subject_id": m,
                                "status": "running", "has_timers": False, "created_at": now, "updated_at": now}
                               for m in meetings], chunk)
    instance_of = dict(db.session.execute(select(ProcessInstance.subject_id, ProcessInstance.id).where(
        ProcessInstance.subject_kind == "meeting", ProcessInstance.subject_id.in_(meetings))).all())
    db.session.execute(update(Meeting), [{"id": m, "instance_id": instance_of[m]} for m in meetings])
    bulk(db, HumanTask, [{"instance_id": instance_of[m], "spiff_task_id": str(uuid.uuid4()), "spec_id": "acknowledge",
                          "name": "审阅", "action": "review.acknowledge", "role": "superior_admin",
                          "org_id": orgs["general_C"], "process_key": "theme_day", "subject_kind": "meeting",
                          "subject_id": m, "assignee_id": None, "state": "open", "created_at": now,
                          "due_at": now + timedelta(days=7)} for m in meetings], chunk)
    return meetings


# --- 1. member import -------------------------------------------------------------------------------------------

def id_number(area: str, i: int) -> str:
    """A valid 18-character ID number: area code, birth date, sequence and the GB 11643 check character."""
    born = date(1950, 1, 1) + timedelta(days=i // 1000)
    body = f"{area}{born:%Y%m%d}{i % 1000:03d}"
    return body + ID_CHECK_CHARS[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS)) % 11]


def member_csv(rows: int, batch: int) -> tuple[bytes, list[str]]:
    """A CSV UTF-8 file (with BOM, as Excel saves it) in the template's columns, and its rows' usernames."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["姓名", "手机号", "身份证号", "党小组", "人员类别", "入党日期", "性别"])
    usernames = []
    for i in range(rows):
        with_id = i % ID_EVERY == ID_EVERY - 1
        phone = "" if with_id else f"139{batch}{i:07d}"
        number = id_number(f"1{batch}0105", i) if with_id else ""
        joined = date(1980 + i % 40, 1 + i % 12, 1 + i % 28)
        writer.writerow([f"导入党员{batch}-{i:05d}", phone, number, "", "预备党员" if i % 10 == 9 else "正式党员",
                         joined.isoformat() if i % 2 else f"{joined.year}/{joined.month}/{joined.day}", "男女"[i % 2]])
        usernames.append(phone or number)
    return out.getvalue().encode("utf-8-sig"), usernames


def bench_import(db, timings, failures, world, rows: int, rows_generated: int) -> None:
    from werkzeug.datastructures import FileStorage

    from service.models import User
    from service.services import member_import

    for step, key, batch, n, password in (("import_shared", "import_a", 1, rows, SHARED_PASSWORD),
                                           ("import_generated", "import_b", 2, rows_generated, None)):
        data, usernames = member_csv(n, batch)
        db.session.remove()
        user = db.session.get(User, world["users"]["importer"])
        upload = FileStorage(stream=io.BytesIO(data), filename="members.csv", content_type="text/csv")
        result = timings.call(step, member_import.import_members, user, world["orgs"][key], upload, password)
        accounts = result["accounts"]
        check(failures, f"{step}: created", result["created"], n)
        check(failures, f"{step}: row errors", result["errors"][:3], [])
        check(failures, f"{step}: accounts reported", sorted(a["username"] for a in accounts), sorted(usernames))
        check(failures, f"{step}: generated passwords reported", sum("initial_password" in a for a in accounts),
              0 if password else n)
        db.session.remove()
        verify_import(db, failures, step, world["orgs"][key], usernames,
                      password or next(a["initial_password"] for a in accounts if a["username"] == usernames[0]))


def verify_import(db, failures, step: str, branch: int, usernames: list[str], first_password: str) -> None:
    """Members, accounts, member grants and periods in the branch; one shared scrypt hash, or a fast one each."""
    from sqlalchemy import func, select
    from werkzeug.security import check_password_hash

    from service.models import Member, MembershipPeriod, RoleGrant, User
    from service.services.people import id_number_valid

    n = len(usernames)
    accounts = db.session.execute(select(User.username, User.password_hash, User.must_change_password)
                                  .join(Member, Member.id == User.member_id).where(Member.org_id == branch)).all()
    check(failures, f"{step}: accounts of the branch's members", sorted(a[0] for a in accounts), sorted(usernames))
    check(failures, f"{step}: accounts must change password", sum(bool(a[2]) for a in accounts), n)
    hashes = {a[0]: a[1] for a in accounts}
    check(failures, f"{step}: distinct hashes", len(set(hashes.values())), 1 if step == "import_shared" else n)
    method = "scrypt:" if step == "import_shared" else "pbkdf2:sha256:"  # generated one-time passwords: see _hashes
    check(failures, f"{step}: {method} hashes", sum(h.startswith(method) for h in hashes.values()), n)
    check(failures, f"{step}: first account's password verifies",
          check_password_hash(hashes.get(usernames[0], "x"), first_password), True)

    def count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))

    check(failures, f"{step}: members in the branch", count(Member, Member.org_id == branch), n)
    with_id = list(db.session.scalars(select(Member.id_number).where(
        Member.org_id == branch, Member.id_number.is_not(None), Member.phone.is_(None),
        Member.birth_date.is_not(None))))
    check(failures, f"{step}: ID-number-only members (valid, birth date derived)",
          sum(map(id_number_valid, with_id)), sum(i % ID_EVERY == ID_EVERY - 1 for i in range(n)))
    check(failures, f"{step}: member grants on the branch",
          count(RoleGrant, RoleGrant.role == "member", RoleGrant.org_id == branch), n)
    check(failures, f"{step}: open 'imported' periods", count(MembershipPeriod, MembershipPeriod.org_id == branch,
                                                            MembershipPeriod.start_reason == "imported",
                                                            MembershipPeriod.ended_at.is_(None)), n)


# --- 2. member transfers ----------------------------------------------------------------------------------------

# (step, approver, org the task waits for: None = the receiving branch, data)
TRANSFER_STEPS = (("transfer_approve_1 (党总支 A)", "zongzhi_A", "general_A", {"approved": True}),
                  ("transfer_approve_2 (党委)", "dangwei", "committee", {"approved": True}),
                  ("transfer_approve_3 (党总支 B)", "zongzhi_B", "general_B", {"approved": True}),
                  ("transfer_receive (branch)", "sec_recv", None, {"accepted": True, "comment": "欢迎"}))


def open_tasks(db, instance_id: int) -> list:
    from sqlalchemy import select

    from service.models import HumanTask
    return db.session.execute(select(HumanTask.id, HumanTask.org_id, HumanTask.action).where(
        HumanTask.instance_id == instance_id, HumanTask.state == "open")).all()


def bench_transfers(db, timings, failures, world, t: int) -> None:
    from service.models import User
    from service.services import tasks, transfers

    users, orgs = world["users"], world["orgs"]
    for i, member_id in enumerate(world["transfer_members"]):  # member i sits in send_{i % 2 + 1}
        to_org = orgs[f"recv_{i % 2 + 1}"]
        db.session.remove()
        sender = db.session.get(User, users["sec_send"])
        transfer = timings.call("transfer_create", transfers.create_transfer, sender,
                                {"member_id": member_id, "kind": "in_system", "to_org_id": to_org, "reason": "工作调动"},
                                profile_as="transfer_create")
        instance_id = transfer.instance_id
        for step, approver, org, data in TRANSFER_STEPS:
            waiting = open_tasks(db, instance_id)
            if len(waiting) != 1 or waiting[0].org_id != (orgs[org] if org else to_org):
                failures.append(f"transfer of member {member_id} at {step}: open tasks {waiting}")
                break
            db.session.remove()
            user = db.session.get(User, users[approver])
            timings.call(step, tasks.complete, user, waiting[0].id, data, profile_as="transfer_complete")
        check(failures, f"transfer of member {member_id}: open tasks at the end", open_tasks(db, instance_id), [])
    db.session.remove()
    verify_transfers(db, failures, world, t)


def verify_transfers(db, failures, world, t: int) -> None:
    """Every transfer completed; each member in the receiving branch with two periods, grant and no old invitations."""
    from sqlalchemy import func, select

    from service.models import Attendance, Member, MembershipPeriod, Notification, RoleGrant, Transfer, User

    orgs, members = world["orgs"], world["transfer_members"]
    statuses = dict(db.session.execute(select(Transfer.status, func.count()).group_by(Transfer.status)).all())
    check(failures, "transfers by status", statuses, {"completed": t})
    expected = {m: orgs[f"recv_{i % 2 + 1}"] for i, m in enumerate(members)}
    got = dict(db.session.execute(select(Member.id, Member.org_id).where(Member.id.in_(members))).all())
    check(failures, "members moved to their receiving branch", sum(got[m] == o for m, o in expected.items()), t)
    periods = db.session.execute(select(MembershipPeriod.member_id, MembershipPeriod.org_id, MembershipPeriod.ended_at,
                                        MembershipPeriod.end_reason, MembershipPeriod.transfer_id)
                                 .where(MembershipPeriod.member_id.in_(members))
                                 .order_by(MembershipPeriod.member_id, MembershipPeriod.id)).all()
    history: dict[int, list] = {}
    for row in periods:
        history.setdefault(row.member_id, []).append(row)
    check(failures, "membership histories with exactly 2 periods",
          sum(len(history.get(m, [])) == 2 for m in members), t)
    check(failures, "histories: old branch closed by the transfer, new one open with the transfer id",
          sum(len(h) == 2 and h[0].end_reason == "transfer" and h[0].ended_at is not None and h[1].ended_at is None
              and h[1].org_id == expected[m] and h[1].transfer_id is not None for m, h in history.items()), t)
    grants = db.session.execute(select(RoleGrant.org_id, User.member_id).join(User, User.id == RoleGrant.user_id)
                                .where(User.member_id.in_(members), RoleGrant.role == "member")).all()
    check(failures, "member grants moved with the accounts", sorted(grants),
          sorted((o, m) for m, o in expected.items()))
    check(failures, "invitations left to the sending branches' upcoming meetings", db.session.scalar(
        select(func.count()).select_from(Attendance).where(Attendance.meeting_id.in_(world["upcoming"]))), 0)
    check(failures, "transfer_completed notices (2 admins + the member each)", db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.kind == "transfer_completed")), 3 * t)


# --- 3. org move and task re-routing ----------------------------------------------------------------------------

def bench_org_move(db, timings, failures, world, m: int, s: int) -> None:
    from service.models import User
    from service.services import org_transfers, tasks

    users, orgs = world["users"], world["orgs"]
    db.session.remove()
    requester = db.session.get(User, users["sec_x"])
    move = timings.call("org_move_create", org_transfers.create_org_transfer, requester,
                        {"kind": "move", "org_id": orgs["branch_X"], "new_parent_id": orgs["general_D"],
                         "reason": "机构调整"})
    move_id, instance_id = move.id, move.instance_id
    # The old parent approves first (nothing moves yet); the new parent's approval completes the move.
    for step, approver, org in (("org_move_approve (old parent C)", "zongzhi_C", "general_C"),
                                ("reroute", "zongzhi_D", "general_D")):
        waiting = open_tasks(db, instance_id)
        if len(waiting) != 1 or waiting[0].org_id != orgs[org]:
            failures.append(f"org move at {step}: open tasks {waiting}")
            return
        db.session.remove()
        user = db.session.get(User, users[approver])
        timings.call(step, tasks.complete, user, waiting[0].id, {"approved": True})
    db.session.remove()
    verify_org_move(db, failures, world, move_id, m, s)


def verify_org_move(db, failures, world, move_id: int, m: int, s: int) -> None:
    from sqlalchemy import func, select

    from service.models import HumanTask, Org, OrgTransfer

    orgs = world["orgs"]
    check(failures, "org move status", db.session.get(OrgTransfer, move_id).status, "completed")
    check(failures, "branch X's parent", db.session.get(Org, orgs["branch_X"]).parent_id, orgs["general_D"])

    def tasks_of(meetings):
        return dict(db.session.execute(select(HumanTask.org_id, func.count()).where(
            HumanTask.subject_kind == "meeting", HumanTask.subject_id.in_(meetings), HumanTask.state == "open",
            HumanTask.assignee_id.is_(None)).group_by(HumanTask.org_id)).all())

    moved = world["moved_meetings"]
    counted = {}
    for start in range(0, len(moved), 1000):  # keep the IN lists short
        for org_id, n in tasks_of(moved[start:start + 1000]).items():
            counted[org_id] = counted.get(org_id, 0) + n
    check(failures, "X's open superior tasks by org (all at the new superior D)", counted, {orgs["general_D"]: m})
    if s:
        check(failures, "Y's open superior tasks by org (still at C)", tasks_of(world["sibling_meetings"]),
              {orgs["general_C"]: s})


# --- output -----------------------------------------------------------------------------------------------------

def check(failures: list, what: str, got, expected) -> None:
    if got != expected:
        failures.append(f"{what}: got {got!r:.300}, expected {expected!r:.300}")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]


def print_table(timings: Timings, units: dict[str, int]) -> None:
    steps = dict(timings.steps)
    completions = [k for k in steps if k.startswith("transfer_approve") or k.startswith("transfer_receive")]
    if completions:
        steps["transfer: all completions"] = {
            "seconds": [x for k in completions for x in steps[k]["seconds"]],
            "statements": sum(steps[k]["statements"] for k in completions)}
        per_transfer = zip(steps["transfer_create"]["seconds"], *(steps[k]["seconds"] for k in completions))
        steps["transfer: end to end (create + 4)"] = {
            "seconds": [sum(parts) for parts in per_transfer],
            "statements": steps["transfer_create"]["statements"] + steps["transfer: all completions"]["statements"]}
    print()
    print(f"{'step':<36} {'calls':>6} {'units':>6} {'total s':>8} {'ms/unit':>8} {'units/s':>8} "
          f"{'median ms':>9} {'p95 ms':>8} {'max ms':>8} {'SQL/call':>8}")
    for name, entry in steps.items():
        seconds, calls = entry["seconds"], len(entry["seconds"])
        n, total = units.get(name, calls), sum(seconds)
        print(f"{name:<36} {calls:>6} {n:>6} {total:>8.3f} {1000 * total / n:>8.2f} {n / total:>8.1f} "
              f"{1000 * percentile(seconds, 50):>9.2f} {1000 * percentile(seconds, 95):>8.2f} "
              f"{1000 * max(seconds):>8.2f} {entry['statements'] / calls:>8.1f}")
    print("units: rows for the imports, tasks re-routed for 'reroute', calls otherwise")
    print()


def print_profiles(timings: Timings) -> None:
    for step, profiler in timings.profiles.items():
        print(f"--- cProfile: {step} (cumulative, top 30) ---")
        pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("cumulative").print_stats(30)
        print(f"--- cProfile: {step} (own time, top 15) ---")
        pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    sys.exit(main())
