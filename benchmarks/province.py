"""Synthetic province generator: an org tree, its members and admins, and optionally a year of meetings and points.

What it writes (explicit ids from 1, so the tables must be empty; sequences moved past them afterwards):
  - ``org``: 1 province 党委 > ``--cities`` city 党委 (14, as 甘肃) > county 党委 (``--counties``, default
    branches / 1160 kept between the cities and 86, 甘肃's county-level count) > 党总支 for ``--general-share`` of
    each county's branches (about 8 branches each) > 党支部 (``--branches``, the rest directly under their county)
    > 1 to 3 党小组 each;
  - ``member``: ``--members-per-branch`` on average (branches pair up as mean +/- d, d up to half the mean, so the
    total is exact); 10 % probationary (never a committee member), 2 % ``smartphone_exempt`` and approved (aged
    60+), unique 11-digit phones, a secretary in every branch and a 5-seat committee in branches of 7 or more,
    members spread over their branch's groups; one open ``membership_period`` each (``imported``);
  - ``app_user`` + ``role_grant``: one ``org_admin`` per 党委, 党总支 and 党支部 (a branch's admin is its
    secretary's account), all sharing one precomputed password hash (no hashing cost per account);
  - ``--meetings-per-branch N``: N completed meetings a branch over the last 12 months, the process key drawn by
    the required yearly frequency of DOMAIN.md (rules/data/compliance.json; group meetings once per group);
  - ``--ledger-rows N``: ``score_entry`` rows: one 组织生活 entry for every meeting its cap admits (source
    ``meeting``), the rest members' 教育学习 points, each in its own (member, China day, rule) cell so no daily
    cap is exceeded, spread over the last 365 China days; ``--counters`` adds the matching ``score_counter`` rows.
Postgres (psycopg2) gets ``COPY ... FROM STDIN``; other databases executemany. Then ``ANALYZE``.

As a module: ``generate(engine_or_session_or_connection, Sizes(...), progress=True) -> Province``. With an
Engine it commits; with a Session or Connection the caller owns the transaction.

Usage (from the repository root):
    .venv/bin/python benchmarks/province.py                                  # SQLite, 1 000 branches x 20
    createdb -h 127.0.0.1 -U postgres orglife_province
    .venv/bin/python benchmarks/province.py --branches 100000 --members-per-branch 20 \\
        --database-url postgresql+psycopg2://postgres@127.0.0.1:5432/orglife_province
    dropdb -h 127.0.0.1 -U postgres orglife_province
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import bulkload  # noqa: E402

CITY_NAMES = ("兰州", "嘉峪关", "金昌", "白银", "天水", "武威", "张掖", "平凉", "酒泉", "庆阳", "定西", "陇南", "临夏", "甘南")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("建国", "秀英", "伟", "芳", "军", "敏", "静", "磊", "强", "洋", "艳", "勇", "杰", "娟", "涛", "明", "超", "霞",
         "平", "刚", "桂英", "志强", "海燕", "文博")
COMMITTEE_ROLES = ("secretary", "deputy_secretary", "committee_member", "committee_member", "committee_member")
COMMITTEE_MIN = 7           # a branch of 7 or more members elects a committee; a smaller one has a secretary only
PROBATIONARY_EVERY = 10     # 10 % probationary
EXEMPT_EVERY = 50           # member id % 50 == 25: smartphone_exempt, approved (2 %)
GENERAL_BRANCH_SIZE = 8     # branches under one 党总支
MAX_COUNTIES = 86
BRANCHES_PER_COUNTY = 1160
PER_YEAR = {"month": 12, "quarter": 4, "year": 1}
YEAR_DAYS = 365
WRITTEN = ("org", "member", "membership_period", "app_user", "role_grant", "meeting", "score_entry", "score_counter")


@dataclass
class Sizes:
    """What to generate; ``counties`` None picks branches / 1160 within [cities, 86]."""

    branches: int = 1000
    members_per_branch: int = 20
    cities: int = 14
    counties: int | None = None
    general_share: float = 0.3
    meetings_per_branch: int = 0
    ledger_rows: int = 0
    counters: bool = False
    seed: int = 1
    password_hash: str | None = None  # None: one scrypt hash of a fixed password, made once


@dataclass
class Tree:
    org_rows: list = field(default_factory=list)
    admin_orgs: list = field(default_factory=list)   # every 党委, 党总支 and 党支部 id
    branches: list = field(default_factory=list)     # (branch id, parent id, group ids)
    member_counts: list = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)


@dataclass
class Province:
    """What was written: counts, and (table, rows, seconds) per step."""

    orgs: Counter
    members: int
    admins: int
    meetings: int
    ledger_rows: int
    counters: int
    steps: list
    seconds: float


def build_tree(sizes: Sizes, rng: random.Random, now: datetime) -> Tree:
    """The org rows, parents before children, and the branch list the other tables hang on."""
    counties = sizes.counties or min(MAX_COUNTIES, max(sizes.cities, round(sizes.branches / BRANCHES_PER_COUNTY)))
    counties = max(1, min(counties, sizes.branches))
    cities = max(1, min(sizes.cities, counties))
    tree = Tree()

    def add(name: str, kind: str, parent: int | None) -> int:
        org_id = len(tree.org_rows) + 1
        tree.org_rows.append((org_id, name, kind, parent, now))
        tree.kinds[kind] += 1
        if kind != "group":
            tree.admin_orgs.append(org_id)
        return org_id

    province = add("基准省委", "committee", None)
    city_ids = [add(f"中共{CITY_NAMES[c % len(CITY_NAMES)]}{'' if c < len(CITY_NAMES) else c}市委", "committee",
                    province) for c in range(cities)]
    per_county = [sizes.branches // counties + (c < sizes.branches % counties) for c in range(counties)]
    for c, count in enumerate(per_county):
        name = f"{CITY_NAMES[c % cities % len(CITY_NAMES)]}第{c // cities + 1}县委"
        _county(tree, add, add(name, "committee", city_ids[c % cities]), name, count, sizes.general_share)
    tree.branches = [(b, p, tuple(add(f"第{g + 1}党小组", "group", b) for g in range(rng.randint(1, 3))))
                     for b, p, _ in tree.branches]
    tree.member_counts = _member_counts(len(tree.branches), sizes.members_per_branch, rng)
    return tree


def _county(tree: Tree, add, county: int, name: str, count: int, general_share: float) -> None:
    under_general = round(count * general_share)
    generals = [add(f"{name}第{g + 1}党总支", "general_branch", county)
                for g in range(math.ceil(under_general / GENERAL_BRANCH_SIZE))]
    for i in range(count):
        parent = generals[i % len(generals)] if i < under_general else county
        tree.branches.append((add(f"{name}第{i + 1}党支部", "branch", parent), parent, ()))


def _member_counts(branches: int, mean: int, rng: random.Random) -> list[int]:
    counts = [mean] * branches
    for i in range(0, branches - 1, 2):  # pairs move in opposite directions: the total stays exact
        d = rng.randint(0, mean // 2)
        counts[i], counts[i + 1] = mean + d, mean - d
    return counts


def member_rows(tree: Tree, rng: random.Random, now: datetime):
    """Members branch by branch; ids 1..N in that order."""
    today = (now + timedelta(hours=8)).date().toordinal()
    member_id, due = 0, 0
    approved = now - timedelta(days=30)
    for (branch_id, _parent, groups), count in zip(tree.branches, tree.member_counts):
        roles = COMMITTEE_ROLES if count >= COMMITTEE_MIN else COMMITTEE_ROLES[:1]
        for position in range(count):
            member_id += 1
            role = roles[position] if position < len(roles) else None
            exempt = member_id % EXEMPT_EVERY == EXEMPT_EVERY // 2
            due += 1  # owed probationary members, in tenths: a committee member or exempt one defers the next
            probationary = role is None and not exempt and due >= PROBATIONARY_EVERY
            due -= PROBATIONARY_EVERY * probationary
            birth, joined = _dates(rng, today, probationary, exempt)
            yield (member_id, SURNAMES[member_id % 20] + GIVEN[member_id // 20 % len(GIVEN)],
                   f"1{3 + member_id % 7}{member_id:09d}", branch_id, groups[position % len(groups)],
                   "probationary" if probationary else "full", joined, birth,
                   "female" if member_id % 10 < 3 else "male", role, exempt, approved if exempt else None, now)


MEMBER_COLUMNS = ("id", "name", "phone", "org_id", "group_id", "category", "joined_at", "birth_date", "gender",
                  "committee_role", "smartphone_exempt", "smartphone_exempt_approved_at", "created_at")


def _dates(rng: random.Random, today: int, probationary: bool, exempt: bool) -> tuple[date, date]:
    age = rng.randint(60, 90) if exempt else rng.randint(20, 40) if probationary else rng.randint(22, 85)
    birth = today - age * 365 - rng.randrange(365)
    if probationary:  # 预备期: joined within the last year
        return date.fromordinal(birth), date.fromordinal(today - 1 - rng.randrange(364))
    adult = birth + 18 * 365
    return date.fromordinal(birth), date.fromordinal(adult + rng.randrange(max(1, today - 366 - adult)))


def period_rows(tree: Tree, now: datetime):
    """One open membership period a member, started at the import."""
    member_id = 0
    for (branch_id, _p, _g), count in zip(tree.branches, tree.member_counts):
        for _ in range(count):
            member_id += 1
            yield member_id, member_id, branch_id, now, "imported"


def admin_rows(tree: Tree, password_hash: str, now: datetime):
    """(users, grants): an org_admin per 党委/党总支/党支部; a branch's is its secretary's account."""
    secretary, first = {}, 1
    for (branch_id, _p, _g), count in zip(tree.branches, tree.member_counts):
        secretary[branch_id], first = first, first + count
    users = [(i, f"admin_{org}", password_hash, secretary.get(org), False, 0, now)
             for i, org in enumerate(tree.admin_orgs, 1)]
    grants = [(i, i, "org_admin", org) for i, org in enumerate(tree.admin_orgs, 1)]
    return users, grants


def meeting_plan():
    """[(process_key, label, per-year count, held by group?)] from the compliance requirements."""
    from rules.compliance import load_requirements
    return [(r.process_key, r.label, PER_YEAR[r.period] * r.required, r.held_by == "group")
            for r in load_requirements()]


def meeting_rows(tree: Tree, per_branch: int, rng: random.Random, now: datetime, versions: dict, earners: list):
    """Completed meetings over the last year; appends (branch, rule, meeting id, time, period) to ``earners``
    for each meeting its 组织生活 cap admits (the first of its period, by completion time)."""
    from rules.periods import period_key
    from rules.sets import load_rule_set
    rules = {r.action: r for r in load_rule_set("gansu")}
    plan, meeting_id = meeting_plan(), 0
    span = timedelta(days=YEAR_DAYS - 8)
    start = now - timedelta(days=YEAR_DAYS)
    admin_of = {org: i for i, org in enumerate(tree.admin_orgs, 1)}
    for branch_id, _parent, groups in tree.branches:
        weights = [count * (len(groups) if by_group else 1) for _k, _l, count, by_group in plan]
        chosen = rng.choices(plan, weights, k=per_branch)
        seen = set()
        for at, (key, label, _count, by_group) in sorted(zip((rng.random() for _ in chosen), chosen)):
            meeting_id += 1
            scheduled = start + span * at
            completed = scheduled + timedelta(seconds=rng.randint(3600, 7 * 86400))
            rule = rules[f"meeting.{key}"]
            period = period_key(completed, rule.cap_period)
            if (rule.id, period) not in seen:
                seen.add((rule.id, period))
                earners.append((branch_id, rule, meeting_id, completed, period))
            yield (meeting_id, key, versions.get(key, 1), rng.choice(groups) if by_group else branch_id,
                   f"{label}({(scheduled + timedelta(hours=8)):%Y年%m月})", scheduled, "党员活动室", False, "completed",
                   False, False, admin_of[branch_id], scheduled - timedelta(days=3), scheduled - timedelta(days=5),
                   completed)


MEETING_COLUMNS = ("id", "process_key", "process_version", "org_id", "title", "scheduled_at", "location", "online",
                   "status", "feedback_open", "check_in_open", "organiser_id", "notified_at", "created_at",
                   "completed_at")


class Ledger:
    """Score entries: the meetings' 组织生活 points, then members' learning points in distinct cap cells."""

    def __init__(self, members: int, rows: int, earners: list, now: datetime):
        from rules.periods import CHINA
        from rules.sets import load_rule_set
        self.learning = [r for r in load_rule_set("gansu") if r.target == "member" and r.category == "education"]
        assert all(r.cap_period == "day" for r in self.learning), "learning cells assume daily caps"
        self.earners = earners[:rows]
        self.members, self.learning_rows = members, rows - len(self.earners)
        cells = members * YEAR_DAYS * len(self.learning)
        if self.learning_rows > cells:
            raise ValueError(f"{self.learning_rows} learning entries do not fit {cells} (member, day, rule) cells")
        self.cells, self.stride = cells, 2654435761
        while math.gcd(self.stride, cells) != 1:  # a stride coprime to the cell count visits each cell once
            self.stride += 2
        today = now.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
        days = [today - timedelta(days=YEAR_DAYS - d) for d in range(YEAR_DAYS)]
        self.day_starts = [d.astimezone(timezone.utc) for d in days]
        self.day_labels = [f"{d:%Y-%m-%d}" for d in days]

    def _learning(self):
        m, d = self.members, YEAR_DAYS
        for k in range(self.learning_rows):
            cell = k * self.stride % self.cells
            day = cell // m % d
            rule = self.learning[cell // (m * d)]
            points = 1 + k % rule.cap if rule.kind == "video_progress" else rule.points
            at = self.day_starts[day] + timedelta(seconds=8 * 3600 + k * 7919 % (14 * 3600))
            yield cell % m + 1, rule, points, at, self.day_labels[day], f"bench-{k}"

    def entries(self):
        """(id, target, target_id, rule_id, category, points, occurred_at, source, source_id, created_at)."""
        entry_id = 0
        for branch, rule, meeting_id, at, _period in self.earners:
            entry_id += 1
            yield entry_id, "org", branch, rule.id, rule.category, rule.points, at, "meeting", str(meeting_id), at
        for member, rule, points, at, _day, event in self._learning():
            entry_id += 1
            yield entry_id, "member", member, rule.id, rule.category, points, at, "event", event, at

    def counters(self):
        """The score_counter row of every entry (each entry has a cap cell of its own)."""
        for branch, rule, _meeting, _at, period in self.earners:
            yield "org", branch, rule.id, period, rule.points
        for member, rule, points, _at, day, _event in self._learning():
            yield "member", member, rule.id, day, points


ENTRY_COLUMNS = ("id", "target", "target_id", "rule_id", "category", "points", "occurred_at", "source", "source_id",
                 "created_at")
COUNTER_COLUMNS = ("target", "target_id", "rule_id", "period", "points")


def generate(target, sizes: Sizes, progress=True) -> Province:
    """Write a synthetic province through an Engine (committed), a Session or a Connection (caller commits)."""
    from sqlalchemy.engine import Connection, Engine
    if isinstance(target, Engine):
        with target.begin() as connection:
            return _generate(connection, sizes, progress)
    connection = target if isinstance(target, Connection) else target.connection()
    return _generate(connection, sizes, progress)


def _generate(connection, sizes: Sizes, progress) -> Province:
    from service.models import Meeting, Member, MembershipPeriod, Org, RoleGrant, ScoreCounter, ScoreEntry, User
    bar = bulkload.bar_factory(progress)
    started = time.perf_counter()
    _require_empty(connection)
    rng, now = random.Random(sizes.seed), datetime.now(timezone.utc).replace(microsecond=0)
    steps = []

    def write(table, columns, rows, total, label=None):
        t = time.perf_counter()
        count = bulkload.bulk_write(connection, table, columns, rows, total, bar(label or table.name, total))
        steps.append((label or table.name, count, time.perf_counter() - t))
        return count

    t = time.perf_counter()
    tree = build_tree(sizes, rng, now)
    password_hash = sizes.password_hash or _shared_hash()
    steps.append(("(build tree + hash)", 0, time.perf_counter() - t))
    write(Org.__table__, ("id", "name", "kind", "parent_id", "created_at"), tree.org_rows, len(tree.org_rows))
    members = write(Member.__table__, MEMBER_COLUMNS, member_rows(tree, rng, now), sum(tree.member_counts))
    write(MembershipPeriod.__table__, ("id", "member_id", "org_id", "started_at", "start_reason"),
          period_rows(tree, now), members)
    users, grants = admin_rows(tree, password_hash, now)
    write(User.__table__, ("id", "username", "password_hash", "member_id", "must_change_password", "failed_logins",
                           "created_at"), users, len(users))
    write(RoleGrant.__table__, ("id", "user_id", "role", "org_id"), grants, len(grants))
    earners, meetings = [], 0
    if sizes.meetings_per_branch:
        rows = meeting_rows(tree, sizes.meetings_per_branch, rng, now, process_versions(connection), earners)
        meetings = write(Meeting.__table__, MEETING_COLUMNS, rows, len(tree.branches) * sizes.meetings_per_branch)
    entries = counters = 0
    if sizes.ledger_rows:
        ledger = Ledger(members, sizes.ledger_rows, earners, now)
        entries = write(ScoreEntry.__table__, ENTRY_COLUMNS, ledger.entries(), sizes.ledger_rows)
        if sizes.counters:
            counters = write(ScoreCounter.__table__, COUNTER_COLUMNS, ledger.counters(), sizes.ledger_rows)
    t = time.perf_counter()
    bulkload.reset_sequences(connection, [name for name in WRITTEN if name != "score_counter"])
    bulkload.analyze(connection, WRITTEN)
    steps.append(("(sequences + ANALYZE)", 0, time.perf_counter() - t))
    return Province(tree.kinds, members, len(users), meetings, entries, counters, steps, time.perf_counter() - started)


def _require_empty(connection) -> None:
    for table in WRITTEN:
        if connection.exec_driver_sql(f'SELECT 1 FROM "{table}" LIMIT 1').first():
            raise ValueError(f"table {table} is not empty: the generator writes explicit ids from 1")


def process_versions(connection) -> dict:
    """The newest deployed version of each process key."""
    return dict(connection.exec_driver_sql("SELECT key, max(version) FROM process_definition GROUP BY key").all())


def _shared_hash() -> str:
    from werkzeug.security import generate_password_hash
    return generate_password_hash("Province#2026", method="scrypt")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--branches", type=int, default=1000, help="党支部 (1000)")
    parser.add_argument("--members-per-branch", type=int, default=20, help="average members a branch (20)")
    parser.add_argument("--cities", type=int, default=14, help="city 党委 (14)")
    parser.add_argument("--counties", type=int, default=None, help="county 党委 (branches / 1160 within [cities, 86])")
    parser.add_argument("--general-share", type=float, default=0.3, help="share of branches under a 党总支 (0.3)")
    parser.add_argument("--meetings-per-branch", type=int, default=0, help="completed meetings a branch (0)")
    parser.add_argument("--ledger-rows", type=int, default=0, help="score_entry rows (0)")
    parser.add_argument("--counters", action="store_true", help="also the score_counter row of every entry")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    parser.add_argument("--database-url", default=None,
                        help="an EMPTY database (default: a fresh SQLite file in a temp dir); e.g. "
                             "postgresql+psycopg2://postgres@127.0.0.1:5432/<db> made with createdb")
    args = parser.parse_args()
    if args.branches < 1 or args.members_per_branch < 1 or min(args.meetings_per_branch, args.ledger_rows) < 0:
        parser.error("--branches and --members-per-branch must be at least 1, the optional sizes at least 0")
    return args


def main() -> int:
    args = parse_args()
    sizes = Sizes(branches=args.branches, members_per_branch=args.members_per_branch, cities=args.cities,
                  counties=args.counties, general_share=args.general_share,
                  meetings_per_branch=args.meetings_per_branch, ledger_rows=args.ledger_rows,
                  counters=args.counters, seed=args.seed)
    tmp = tempfile.mkdtemp(prefix="orglife-bench-province-")
    os.environ.setdefault("ORGLIFE_INSTANCE_DIR", tmp)  # keep the generated secret key out of instance/
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args.database_url or f"sqlite:///{tmp}/province.sqlite3", sizes, not args.no_progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(url: str, sizes: Sizes, progress: bool) -> int:
    from flask_migrate import upgrade

    from service import create_app
    from service.extensions import db
    from service.services.definitions import deploy_bundled

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        engine = db.engine
        print(f"database: {engine.dialect.name} {engine.url.render_as_string(hide_password=True)}")
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; {sizes}")
        upgrade()
        db.session.remove()
        with engine.connect() as connection:
            try:
                _require_empty(connection)
            except ValueError as error:
                print(f"refusing to run: {error} (give a fresh database)")
                return 2
        deploy_bundled()
        db.session.commit()
        db.session.remove()
        result = generate(engine, sizes, progress)
        print_table(result)
        failures = verify(engine, sizes, result)
        engine.dispose()
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("all checks passed")
    return 0


def verify(engine, sizes: Sizes, result: Province) -> list[str]:
    """Counts and shapes read back from the database."""
    failures = []

    def check(what, sql, expected):
        got = connection.exec_driver_sql(sql).scalar()
        if got != expected:
            failures.append(f"{what}: got {got}, expected {expected}")

    members = sizes.branches * sizes.members_per_branch
    with engine.connect() as connection:
        check("branches", "SELECT count(*) FROM org WHERE kind = 'branch'", sizes.branches)
        check("members", "SELECT count(*) FROM member", members)
        check("probationary (10 %)", "SELECT count(*) FROM member WHERE category = 'probationary'",
              members // PROBATIONARY_EVERY)
        check("approved smartphone exemptions (2 %)", "SELECT count(*) FROM member WHERE smartphone_exempt "
              "AND smartphone_exempt_approved_at IS NOT NULL", members // EXEMPT_EVERY)
        check("distinct phones", "SELECT count(DISTINCT phone) FROM member", members)
        check("members whose group is not in their branch", "SELECT count(*) FROM member m JOIN org g "
              "ON g.id = m.group_id WHERE g.parent_id <> m.org_id OR g.kind <> 'group'", 0)
        check("branches without 1-3 groups", "SELECT count(*) FROM (SELECT b.id FROM org b LEFT JOIN org g ON "
              "g.parent_id = b.id AND g.kind = 'group' WHERE b.kind = 'branch' GROUP BY b.id "
              "HAVING count(g.id) NOT BETWEEN 1 AND 3) x", 0)
        check("branches without a secretary", "SELECT count(*) FROM org b WHERE b.kind = 'branch' AND NOT EXISTS "
              "(SELECT 1 FROM member m WHERE m.org_id = b.id AND m.committee_role = 'secretary')", 0)
        check("open membership periods", "SELECT count(*) FROM membership_period WHERE ended_at IS NULL", members)
        check("org_admin grants (every 党委/党总支/党支部)", "SELECT count(*) FROM role_grant g JOIN org o ON "
              "o.id = g.org_id WHERE g.role = 'org_admin' AND o.kind <> 'group'",
              sum(n for kind, n in result.orgs.items() if kind != "group"))
        check("meetings", "SELECT count(*) FROM meeting WHERE status = 'completed'",
              sizes.branches * sizes.meetings_per_branch)
        check("ledger rows", "SELECT count(*) FROM score_entry", sizes.ledger_rows)
        check("counter rows", "SELECT count(*) FROM score_counter", sizes.ledger_rows if sizes.counters else 0)
        if sizes.counters:  # the counters' primary key (target, id, rule, period) already refused a second entry a cell
            check("counter points = ledger points", "SELECT (SELECT sum(points) FROM score_counter) = "
                  "(SELECT sum(points) FROM score_entry)", True)
    return failures


def print_table(result: Province) -> None:
    print()
    print(f"{'step':<24} {'rows':>11} {'seconds':>9} {'rows/s':>10}")
    rows = 0
    for name, count, seconds in result.steps:
        rows += count
        rate = f"{count / seconds:>10,.0f}" if count and seconds else f"{'':>10}"
        print(f"{name:<24} {count:>11,} {seconds:>9.2f} {rate}")
    print(f"{'total':<24} {rows:>11,} {result.seconds:>9.2f} {rows / result.seconds:>10,.0f}")
    print(f"orgs: {dict(result.orgs)}; {result.members:,} members, {result.admins:,} admin accounts, "
          f"{result.meetings:,} meetings, {result.ledger_rows:,} ledger rows, {result.counters:,} counters")
    print()


if __name__ == "__main__":
    sys.exit(main())
