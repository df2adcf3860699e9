"""Benchmark: the inbox query (``service.services.tasks.list_tasks``) over 1,000,000 human_task rows.

What it does:
  1. builds the app with ``service.create_app`` on ``--database-url``, runs the migrations and deploys the bundled
     BPMN; refuses a database that already holds tasks; generates the synthetic province (benchmarks/province.py,
     ``--branches`` x ``--members-per-branch``) when the database has no orgs, or reuses the one it finds with
     ``--reuse-province`` (a database province.py filled and left in place);
  2. seeds, by COPY on Postgres (executemany elsewhere), timed apart from the queries: meeting process instances
     on random branches (process key by DOMAIN.md's yearly frequencies) whose tasks follow the BPMN stages
     (发通知 ... 提交报审 as ``branch_admin`` on the branch, 审核/审阅 as ``superior_admin`` on the branch's parent
     党总支 or 党委, 党小组会's 支部确认 on the branch), until ``--tasks`` rows: a running instance has its earlier
     stages completed and one stage open, a completed one all stages completed; the running share is chosen per
     process so that ``--open-share`` (20 %) of the rows are open; ``--claimed-share`` (10 %) of the tasks were
     claimed by (assigned to) their org's admin; completed ones carry ``completed_by`` = that admin; then
     ``VACUUM (ANALYZE)`` (autovacuum's work, done now so the timed reads do not set hint bits);
  3. draws ``--users`` admin accounts by ``--mix`` (branch, 党总支, county 党委, city/province 党委 admins; a kind
     with fewer accounts than its share is drawn with repeats) and, after a warm-up, times for each, in the app
     context with a fresh session (``db.session.remove()``) as a request has, ``list_tasks(user, "open", {})``
     and then, in a second pass, ``list_tasks(user, "completed", {})``; loading the user (one query, grants
     joined) is timed apart; a kind with no tasks (city/province 党委: branches report to their 党总支 or county)
     still costs its index look-ups; then, as a stress case beside the target, ``--wide-users`` new accounts
     each holding ``org_admin`` on every org of one county's subtree (about 1,200 grants, so a 1,200-id IN list)
     time their open list 5 times each;
  4. checks every list (only the user's candidate tasks, open and unclaimed or claimed by them, or completed by
     them newest first, as many as were seeded up to the limit of 200), prints p50/p95/p99/max by kind and the
     ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest call of each pass; exits 1 if a check fails.

Usage (from the repository root):
    createdb -h 127.0.0.1 -U postgres orglife_inbox
    .venv/bin/python benchmarks/inbox_scale.py \\
        --database-url postgresql+psycopg2://postgres@127.0.0.1:5432/orglife_inbox          # province + 1M tasks
    .venv/bin/python benchmarks/inbox_scale.py --reuse-province --database-url ...          # on province.py's output
    dropdb -h 127.0.0.1 -U postgres orglife_inbox
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import bulkload, province  # noqa: E402

B, S = "branch_admin", "superior_admin"
_MEETING = [("notify", "发通知", "meeting.notify", B), ("close_feedback", "截止反馈", "meeting.close_feedback", B),
            ("record_minutes", "上传会议记录", "meeting.record_minutes", B)]
_REVIEW = [("submit", "提交报审", "review.submit", B), ("decide", "审核", "review.decide", S)]
_FILED = [("submit", "报备", "review.submit", B), ("acknowledge", "审阅", "review.acknowledge", S)]
STAGES = {  # the user tasks of bpmn/*.bpmn in the order a meeting meets them (no returns, no reschedules)
    "branch_congress": _MEETING + _REVIEW,
    "committee_meeting": _MEETING + _REVIEW,
    "org_life_meeting": _MEETING + [("close_self", "截止自评", "appraisal.close_self", B),
                                    ("close_peer", "截止互评", "appraisal.close_peer", B),
                                    ("rate", "支部评定等次", "appraisal.rate", B)] + _REVIEW,
    "group_meeting": [_MEETING[0], _MEETING[2], ("confirm", "支部确认", "review.confirm", B)],
    "party_class": [_MEETING[0], _MEETING[2], ("summarize", "党课总结", "meeting.summarize", B)] + _FILED,
    "theme_day": _MEETING + _FILED,
}
DUE_DAYS = {"record_minutes": 7, "submit": 3, "decide": 7, "acknowledge": 7, "confirm": 7}
KINDS = ("branch", "general_branch", "county_committee", "upper_committee")
LIMIT = 200  # list_tasks's default page
INSTANCE_COLUMNS = ("id", "process_key", "process_version", "state", "serializer_version", "subject_kind",
                    "subject_id", "status", "has_timers", "created_at", "updated_at")
TASK_COLUMNS = ("id", "instance_id", "spiff_task_id", "spec_id", "name", "action", "role", "org_id", "process_key",
                "subject_kind", "subject_id", "assignee_id", "state", "created_at", "due_at", "completed_at",
                "completed_by")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000, help="human_task rows (1,000,000)")
    parser.add_argument("--open-share", type=float, default=0.2, help="share of open rows (0.2)")
    parser.add_argument("--claimed-share", type=float, default=0.1, help="share claimed by their org's admin (0.1)")
    parser.add_argument("--users", type=int, default=1000, help="admin accounts to time (1000)")
    parser.add_argument("--mix", default="0.6,0.2,0.15,0.05",
                        help="shares of branch, 党总支, county 党委, city/province 党委 admins (0.6,0.2,0.15,0.05)")
    parser.add_argument("--wide-users", type=int, default=20,
                        help="extra accounts granted org_admin on every org of one county's subtree, each timed "
                             "5 times on its open list (20)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed calls per pass first (100)")
    parser.add_argument("--branches", type=int, default=100_000, help="province size when generating (100000)")
    parser.add_argument("--members-per-branch", type=int, default=20, help="province size when generating (20)")
    parser.add_argument("--reuse-province", action="store_true", help="use the orgs and admins already there")
    parser.add_argument("--target-ms", type=float, default=15.0, help="p95 target (15 ms)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file in a temp dir")
    args = parser.parse_args()
    args.mix = [float(x) for x in args.mix.split(",")]
    if len(args.mix) != len(KINDS) or args.tasks < 1 or args.users < 1 or not 0 < args.open_share < 1:
        parser.error("--mix needs 4 shares; --tasks and --users at least 1; --open-share in (0, 1)")
    return args


def main() -> int:
    args = parse_args()
    tmp = tempfile.mkdtemp(prefix="orglife-bench-inbox-")
    os.environ.setdefault("ORGLIFE_INSTANCE_DIR", tmp)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args.database_url or f"sqlite:///{tmp}/inbox.sqlite3", args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(url: str, args) -> int:
    from flask_migrate import upgrade

    from service import create_app
    from service.extensions import db
    from service.services.definitions import deploy_bundled

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        engine = db.engine
        print(f"database: {engine.dialect.name} {engine.url.render_as_string(hide_password=True)}")
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; {args.tasks:,} tasks, "
              f"{args.users} users, mix {args.mix}")
        upgrade()
        db.session.remove()
        refusal = prepare(engine, args)
        if refusal:
            print(f"refusing to run: {refusal}")
            return 2
        deploy_bundled()
        db.session.commit()
        db.session.remove()
        admins = load_admins(engine)
        expected = seed_tasks(engine, admins, args)
        failures = []
        users = sample_users(admins, args)
        # The seeding's garbage and the plan's tuples would otherwise make a gen-2 collection land inside a timed
        # call now and then (tens of ms); a server freezes its start-up heap the same way (gc.freeze before fork).
        gc.collect()
        gc.freeze()
        results = {state: measure(db, state, users, admins, expected[state], failures, args.warmup)
                   for state in ("open", "completed")}
        if args.wide_users:
            wide, expected_wide = add_wide_users(db, admins, expected["unclaimed"], args)
            results["open, wide"] = measure(db, "open", wide, admins, expected_wide, failures, len(wide) // 5)
        print_results(results, args.target_ms)
        for state, rows in results.items():
            explain(db, state, max(rows, key=lambda r: r[3]))
        db.session.remove()
        engine.dispose()
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures[:20]))
        return 1
    print("all checks passed")
    return 0


def prepare(engine, args) -> str | None:
    """Generate the province, or check the one to reuse; a reason to refuse, or None."""
    with engine.connect() as connection:
        if connection.exec_driver_sql("SELECT 1 FROM human_task LIMIT 1").first():
            return "table human_task is not empty (give a fresh database, or one only province.py filled)"
        has_orgs = connection.exec_driver_sql("SELECT 1 FROM org LIMIT 1").first() is not None
    if has_orgs and not args.reuse_province:
        return "the database already holds orgs (pass --reuse-province to use them)"
    if not has_orgs:
        sizes = province.Sizes(branches=args.branches, members_per_branch=args.members_per_branch, seed=args.seed)
        result = province.generate(engine, sizes, progress=not args.no_progress)
        print(f"province: {dict(result.orgs)}, {result.members:,} members, {result.admins:,} admins in "
              f"{result.seconds:.1f} s (untimed)")
    return None


class Admins:
    """Admin accounts by kind, each branch's superior, and each org's admin."""

    def __init__(self, rows):
        parent = {org: (kind, parent_id) for _user, org, kind, parent_id in rows}
        self.by_kind = defaultdict(list)
        self.admin_of, self.org_of, self.superior, self.kind_of_user = {}, {}, {}, {}
        self.children = defaultdict(list)
        for user, org, kind, parent_id in rows:
            self.admin_of[org], self.org_of[user] = user, org
            self.children[parent_id].append(org)
            level = kind if kind != "committee" else (
                "county_committee" if parent_id is not None and parent.get(parent_id, (None, None))[1] is not None
                else "upper_committee")
            self.by_kind[level].append(user)
            self.kind_of_user[user] = level
            if kind == "branch":
                self.superior[org] = parent_id
        self.branches = sorted(self.superior)


def load_admins(engine) -> Admins:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT g.user_id, g.org_id, o.kind, o.parent_id FROM role_grant g JOIN org o ON o.id = g.org_id "
            "WHERE g.role = 'org_admin' AND o.retired_at IS NULL ORDER BY g.user_id").all()
    admins = Admins(rows)
    missing = [b for b in admins.branches if admins.superior[b] not in admins.admin_of]
    if not admins.branches or missing:
        raise SystemExit(f"every branch needs an admin and an administered superior ({len(missing)} do not)")
    return admins


def running_share(stages: int, open_share: float) -> float:
    """P(running) so that open / all tasks = open_share: a running instance has (stages + 1) / 2 tasks, one open."""
    return min(1.0, open_share * stages / (1 + open_share * (stages - 1) / 2))


def plan_instances(admins: Admins, args, now: datetime) -> list:
    """(instance id, key, branch, open stage or None, created) until ``--tasks`` rows."""
    rng = random.Random(args.seed)
    plan = province.meeting_plan()
    keys = [key for key, *_ in plan]
    weights = [count * (2 if by_group else 1) for _key, _label, count, by_group in plan]  # about 2 groups a branch
    instances, tasks = [], 0
    while tasks < args.tasks:
        key = rng.choices(keys, weights)[0]
        stages = len(STAGES[key])
        running = rng.random() < running_share(stages, args.open_share)
        open_stage = rng.randrange(stages) if running else None
        age = timedelta(days=30 if running else 365) * rng.random()
        instances.append((len(instances) + 1, key, rng.choice(admins.branches), open_stage, now - age))
        tasks += stages if open_stage is None else open_stage + 1
    return instances


def instance_rows(instances, versions: dict, now: datetime):
    for iid, key, _branch, open_stage, created in instances:
        yield (iid, key, versions.get(key, 1), "", "1", "meeting", iid, "running" if open_stage is not None
               else "completed", False, created, now)


def task_rows(instances, admins: Admins, args, now: datetime, expected: dict):
    """The tasks of every instance, stage by stage; counts what each admin's lists must show into ``expected``."""
    rng, task_id = random.Random(args.seed + 1), 0
    for iid, key, branch, open_stage, created in instances:
        stages = STAGES[key]
        last = len(stages) - 1 if open_stage is None else open_stage
        step = (now - created) / (len(stages) + 1)
        for j, (spec, name, action, role) in enumerate(stages[:last + 1]):
            task_id += 1
            if task_id > args.tasks:
                return
            org = branch if role == B else admins.superior[branch]
            admin = admins.admin_of[org]
            at = created + step * j
            is_open = j == open_stage
            claimed = admin if rng.random() < args.claimed_share else None
            due = at + timedelta(days=DUE_DAYS[spec]) if spec in DUE_DAYS else None
            expected["open" if is_open else "completed"][admin] += 1  # only the org's admin ever claims
            expected["unclaimed"][org] += is_open and claimed is None
            yield (task_id, iid, str(uuid.UUID(int=rng.getrandbits(128), version=4)), spec, name, action, role, org,
                   key, "meeting", iid, claimed, "open" if is_open else "completed", at, due,
                   None if is_open else at + step, None if is_open else admin)


def seed_tasks(engine, admins: Admins, args) -> dict:
    """COPY the instances and tasks (one transaction), ANALYZE; returns the expected list sizes."""
    from service.models import HumanTask, ProcessInstance
    bar = bulkload.bar_factory(not args.no_progress)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    expected = {"open": Counter(), "completed": Counter(), "unclaimed": Counter()}
    instances = plan_instances(admins, args, now)
    started = time.perf_counter()
    with engine.begin() as connection:
        versions = province.process_versions(connection)
        n_instances = bulkload.bulk_write(connection, ProcessInstance.__table__, INSTANCE_COLUMNS,
                                          instance_rows(instances, versions, now), len(instances),
                                          bar("process_instance", len(instances)))
        t_instances = time.perf_counter() - started
        n_tasks = bulkload.bulk_write(connection, HumanTask.__table__, TASK_COLUMNS,
                                      task_rows(instances, admins, args, now, expected), args.tasks,
                                      bar("human_task", args.tasks))
        t_tasks = time.perf_counter() - started - t_instances
        bulkload.reset_sequences(connection, ("process_instance", "human_task"))
    t = time.perf_counter()
    vacuum_analyze(engine, ("process_instance", "human_task"))
    t_analyze = time.perf_counter() - t
    open_rows = sum(expected["open"].values())
    print(f"seeded {n_instances:,} instances in {t_instances:.1f} s ({n_instances / t_instances:,.0f} rows/s), "
          f"{n_tasks:,} tasks in {t_tasks:.1f} s ({n_tasks / t_tasks:,.0f} rows/s; {open_rows:,} open = "
          f"{open_rows / n_tasks:.1%}), VACUUM ANALYZE {t_analyze:.1f} s; {time.perf_counter() - started:.1f} s in all")
    return expected


def vacuum_analyze(engine, tables) -> None:
    """Postgres: VACUUM (ANALYZE), as autovacuum would soon, so the timed reads do not set hint bits on freshly
    copied pages (first reads of new rows write); elsewhere ANALYZE."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            prefix = "VACUUM (ANALYZE)" if engine.dialect.name == "postgresql" else "ANALYZE"
            connection.exec_driver_sql(f'{prefix} "{table}"')


def add_wide_users(db, admins: Admins, unclaimed: Counter, args) -> tuple[list[int], Counter]:
    """Accounts holding org_admin on a whole county subtree (county, its 党总支, its branches): a long IN list."""
    from service.auth import hash_password
    from service.models import RoleGrant, User
    rng = random.Random(args.seed + 3)
    counties = [admins.org_of[u] for u in admins.by_kind.get("county_committee", [])]
    users, expected, sizes = [], Counter(), []
    for i, county in enumerate(rng.sample(counties, min(args.wide_users, len(counties)))):
        orgs = [county] + admins.children[county]
        orgs += [b for g in admins.children[county] for b in admins.children[g]]
        user = User(username=f"bench_wide_{i}", password_hash=hash_password("Bench#2026x"),
                    must_change_password=False, failed_logins=0)
        user.grants = [RoleGrant(role="org_admin", org_id=org) for org in orgs]
        db.session.add(user)
        db.session.flush()
        users.append(user.id)
        sizes.append(len(orgs))
        admins.kind_of_user[user.id] = "county subtree"
        expected[user.id] = sum(unclaimed[org] for org in orgs)
    db.session.commit()
    db.session.remove()
    print(f"added {len(users)} accounts with org_admin on a county subtree each: {min(sizes, default=0)}-"
          f"{max(sizes, default=0)} grants, {min(expected.values(), default=0)}-{max(expected.values(), default=0)} "
          f"open unclaimed tasks")
    return users * 5, expected


def sample_users(admins: Admins, args) -> list[int]:
    """``--users`` admin ids by ``--mix``; a kind with too few accounts is drawn with repeats."""
    rng = random.Random(args.seed + 2)
    counts = [round(args.users * share) for share in args.mix]
    counts[0] += args.users - sum(counts)
    users = []
    for kind, count in zip(KINDS, counts):
        pool = admins.by_kind.get(kind, [])
        if pool and count:
            users += rng.sample(pool, count) if count <= len(pool) else rng.choices(pool, k=count)
    rng.shuffle(users)
    return users


class LastStatement:
    """Remembers the last statement (and parameters) sent, for EXPLAIN."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.statement = self.parameters = None
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, parameters, _context, _executemany):
        self.statement, self.parameters = statement, parameters


def measure(db, state: str, users: list[int], admins: Admins, expected: Counter, failures: list, warmup: int):
    """Time list_tasks(user, state, {}) for each user with a fresh session; rows (user, kind, load ms, list ms, n)."""
    from service.models import User
    from service.services.tasks import list_tasks
    last = LastStatement(db.engine)
    rows = []
    for i, user_id in enumerate(users[:warmup] + users):
        db.session.remove()
        t0 = time.perf_counter()
        user = db.session.get(User, user_id)
        t1 = time.perf_counter()
        tasks = list_tasks(user, state, {})
        t2 = time.perf_counter()
        if i >= warmup:
            rows.append((user_id, admins.kind_of_user[user_id], 1000 * (t1 - t0), 1000 * (t2 - t1), len(tasks),
                         last.statement, last.parameters))
            check_list(failures, state, user, tasks, min(LIMIT, expected[user_id]))
    db.session.remove()
    return rows


def check_list(failures: list, state: str, user, tasks, expected: int) -> None:
    """Right count, and only what the user may see, in the service's order."""
    mine = {g.org_id for g in user.grants if g.role == "org_admin"}
    if state == "open":
        bad = [t.id for t in tasks if t.state != "open" or t.assignee_id not in (None, user.id)
               or (t.org_id not in mine and t.assignee_id != user.id)]
        ordered = [t.id for t in tasks] == sorted(t.id for t in tasks)
    else:
        bad = [t.id for t in tasks if t.state != "completed" or t.completed_by != user.id]
        ordered = [t.completed_at for t in tasks] == sorted((t.completed_at for t in tasks), reverse=True)
    if len(tasks) != expected or bad or not ordered:
        failures.append(f"{state} list of user {user.id}: {len(tasks)} rows (expected {expected}), "
                        f"{len(bad)} not theirs, {'' if ordered else 'not '}in order")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def print_results(results: dict, target: float) -> None:
    print()
    print(f"{'state':<10} {'admins of':<17} {'calls':>5} {'rows avg':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7}   {'user load p50/p95 ms':>20}")
    for state, rows in results.items():
        present = {r[1] for r in rows}
        for kind in (("all",) if len(present) > 1 else ()) + KINDS + ("county subtree",):
            chosen = [r for r in rows if kind in ("all", r[1])]
            if not chosen:
                continue
            times, loads = [r[3] for r in chosen], [r[2] for r in chosen]
            print(f"{state:<10} {kind:<17} {len(chosen):>5} {sum(r[4] for r in chosen) / len(chosen):>8.1f} "
                  f"{percentile(times, 50):>7.2f} {percentile(times, 95):>7.2f} {percentile(times, 99):>7.2f} "
                  f"{max(times):>7.2f}   {percentile(loads, 50):>9.2f}/{percentile(loads, 95):.2f}")
    for state, rows in results.items():
        p95 = percentile([r[3] for r in rows], 95)
        verdict = ("a stress case beside the target" if state == "open, wide" else
                   f"target <= {target:g} ms {'met' if p95 <= target else 'MISSED'}")
        print(f"{state} inbox p95 {p95:.2f} ms: {verdict}")
    print()


def _shorten(text: str, keep: int = 600) -> str:
    if len(text) <= 2 * keep:
        return text
    return f"{text[:keep]} ... ({len(text) - 2 * keep} characters) ... {text[-keep:]}"


def explain(db, state: str, row) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the slowest call's statement, re-run now (SQLite: its query plan)."""
    user_id, kind, _load, ms, count, statement, parameters = row
    postgres = db.engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    with db.engine.connect() as connection:
        plan = connection.exec_driver_sql(prefix + statement, parameters).all()
    print(f"slowest {state} call: user {user_id} ({kind}), {ms:.2f} ms, {count} rows:")
    print("  " + _shorten(statement).replace("\n", "\n  "))
    print(f"  parameters: {_shorten(str(parameters))}")
    for line in plan:
        print("    " + " | ".join(str(v) for v in line))
    print()


if __name__ == "__main__":
    sys.exit(main())
