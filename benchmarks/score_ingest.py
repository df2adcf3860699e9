"""Benchmark: score-event ingest, 10,000-event batches through the caps into the ledger.

What it does:
  1. builds the app with ``service.create_app`` on ``--database-url`` (default: a fresh SQLite file in a temp
     dir), runs the migrations (``flask_migrate.upgrade``, as tests/conftest.py does) and refuses to run on a
     database that already holds orgs, members or any scoring rows;
  2. seeds, untimed, a synthetic province of ``--members`` members with ``benchmarks/province.py``'s ``generate``
     (branches of 20 on average under 党总支 / county / city 党委; COPY on Postgres), optionally with
     ``--history N`` older ledger entries and their counters (a year of 教育学习 points before today, so the
     ledger's indexes are not tiny; they never share a cap cell with the events below);
  3. generates, untimed, one warm-up batch and ``--batches`` batches of ``--size`` events (seeded, reproducible):
       - actions by weight: login, read (seconds on screen, some 30 s or less, which earn nothing), video (one of
         300 videos, the saved position walking forward per member and video, sometimes rewound), like, favorite,
         comment, share, exam, third_party and the pioneer actions donation_published, donation_completed,
         wish_fulfilled, snapshot_approved;
       - members: 30 % of the events from the most active 1 % of members (they hit the daily caps), the rest
         uniform over all members;
       - times: batch b covers the 6 China-time hours from (today 00:00 China time) + 6 h * b, so four batches
         share a China day and later batches read the counters earlier ones wrote;
       - ids: random 64-bit hex with a platform prefix (index inserts land all over the B-tree, as UUIDs would);
         ~2 % of a batch repeats an id of the same batch and ~1 % an id accepted in an earlier batch; half of the
         copies are exact resends, half conflict (another member, a later time) and must earn nothing;
  4. times each batch (``time.perf_counter``), after ``db.session.remove()`` as a fresh request would start:
       - ``--mode service``: ``service.services.scoring.apply_events(events, entries=False)`` + ``commit()``,
         events prebuilt as ``rules.Event`` (building them is the caller's work and is reported apart);
       - ``--path`` (Postgres): ``copy``, the service's bulk path (COPY, each statement in a worker thread beside
         the Python work), ``copy-serial`` (the same statements, one after the other with the Python work), or
         ``generic``, the unnest statements bulk ingest used before (``scoring.COPY_INGEST = False``), so old and
         new can be compared on one machine in one sitting;
       - ``--mode http``: ``POST /api/score-events`` through Flask's test client with the batch as prebuilt
         JSON bytes and an integration token (``--auth integration``, the default) or a platform admin's access
         token (``--auth admin``): auth guard, request schema, member check, scoring, commit, response;
  5. prints per-batch times, the median and p95 (nearest rank: with 10 batches, the slowest) ms per batch and the
     events/s they mean, the process and (Postgres, when /proc shows it) server-backend CPU, and with ``--phases``
     the median time per batch of each phase — rules in force, advisory locks, event ids (claim), state keys,
     state load, ``rules.score``, counter upsert (counters + video rows), ledger insert, commit, and in HTTP mode
     the request schema and member check — each split into time inside ``cursor.execute`` (SQL) and the rest
     (Python: building arrays, converting values, the ORM; COMMIT counts as SQL). The copy path's phases are its
     four steps, "statement | Python beside it": locks + ids | state keys, load | the new ids' COPY text, COPY
     ids | score, ledger COPY | counter rows (then the counter writes); SQL is the time inside the raw cursor's
     execute/copy_expert in either thread, and Python only what did not overlap with it. On SQLite the SQL column
     under-counts reads: sqlite3 steps a SELECT's rows while they are fetched, which shows as Python; the phases
     add a dozen wrapper calls a batch, nothing measurable;
  6. checks, untimed, and exits 1 when one fails:
       - reported accepted/duplicates per batch equal the generator's counts, ``score_event`` holds exactly the
         distinct ids sent;
       - the ledger's points equal the sum of ``points_awarded`` over all batches;
       - every ``score_counter`` cell is at most its rule's cap and equals the ledger's sum over that cell's
         (member, rule, China day);
       - duplicates awarded nothing: no (event id, rule) twice in the ledger, and no entry carries a conflicting
         copy's member or time;
       - the ledger, counters and video rows equal a pure ``rules.score`` run over the same batches in order.

Usage (from the repository root):
    .venv/bin/python benchmarks/score_ingest.py                              # SQLite, 100,000 members, 10 x 10,000
    .venv/bin/python benchmarks/score_ingest.py --mode http --phases
    createdb -h 127.0.0.1 -U postgres orglife_ingest_bench
    .venv/bin/python benchmarks/score_ingest.py --phases \\
        --database-url postgresql+psycopg2://postgres@127.0.0.1:5432/orglife_ingest_bench
    dropdb -h 127.0.0.1 -U postgres orglife_ingest_bench                     # a fresh database for every run
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import logging
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHINA = timezone(timedelta(hours=8))
ACTION_WEIGHTS = {  # a learning platform's mix: logins, reading and video dominate
    "login": 12, "read": 20, "video": 15, "like": 10, "favorite": 7, "comment": 6, "share": 6, "exam": 4,
    "third_party": 7, "donation_published": 3, "donation_completed": 1, "wish_fulfilled": 1, "snapshot_approved": 4,
}
VIDEOS = 300
HOT_SHARE = 0.30            # share of events from the most active members
HOT_MEMBERS = 0.01          # ... who are this share of all members
BATCH_HOURS = 6             # China-time hours a batch covers; 4 batches a China day
DUPLICATE_SHARE = 0.02      # ids repeated inside the batch
REPLAY_SHARE = 0.01         # ids accepted in an earlier batch
PLATFORM = "xxqg"           # event id prefix
MEMBERS_PER_BRANCH = 20
SCORING_TABLES = ("score_event", "score_entry", "score_counter", "video_progress", "video_day")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None,
                        help="an EMPTY database (default: a fresh SQLite file in a temp dir); e.g. "
                             "postgresql+psycopg2://postgres@127.0.0.1:5432/<db> made with createdb")
    parser.add_argument("--members", type=int, default=100_000, help="members in the seeded province (100000)")
    parser.add_argument("--batches", type=int, default=10, help="timed batches, after one warm-up batch (10)")
    parser.add_argument("--size", type=int, default=10_000, help="events a batch (10000, the API's maximum)")
    parser.add_argument("--mode", choices=("service", "http"), default="service",
                        help="service: scoring.apply_events + commit; http: POST /api/score-events (service)")
    parser.add_argument("--auth", choices=("integration", "admin"), default="integration",
                        help="http mode: an integration token or a platform admin's access token (integration)")
    parser.add_argument("--path", choices=("copy", "copy-serial", "generic"), default="copy",
                        help="Postgres: scoring's COPY path (copy, the service's), the same without running its "
                             "statements beside the Python work (copy-serial), or the generic statements it "
                             "replaced for bulk ingest (generic), for a comparison on one database (copy)")
    parser.add_argument("--phases", action="store_true", help="time the phases of every batch (SQL vs Python)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the timed batches (this thread): top 30 cumulative, top 25 by own time")
    parser.add_argument("--history", type=int, default=0,
                        help="older ledger entries (and their counters) seeded before the run (0)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-progress", action="store_true", help="no seeding progress bars on stderr")
    args = parser.parse_args()
    if args.members < 100 or args.batches < 1 or not 100 <= args.size <= 10_000 or args.history < 0:
        parser.error("--members >= 100, --batches >= 1, 100 <= --size <= 10000, --history >= 0")
    return args


def main() -> int:
    args = parse_args()
    tmp = tempfile.mkdtemp(prefix="orglife-bench-ingest-")
    # The instance dir holds the generated secret key: keep it out of the repository's instance/.
    os.environ.setdefault("ORGLIFE_INSTANCE_DIR", tmp)
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(url, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- the events -----------------------------------------------------------------------------------------------

class Generator:
    """Reproducible batches of raw events (the JSON a platform posts, occurred_at still a datetime)."""

    def __init__(self, member_ids: list[int], size: int, day0: datetime, seed: int):
        self.rng = random.Random(seed)
        self.members, self.size, self.day0 = member_ids, size, day0
        self.hot = member_ids[:max(1, int(len(member_ids) * HOT_MEMBERS))]
        self.actions, self.weights = list(ACTION_WEIGHTS), list(ACTION_WEIGHTS.values())
        self.positions: dict[tuple[int, str], int] = {}
        self.ids: set[str] = set()
        self.accepted: list[dict] = []      # first copy of every id sent so far, for replays
        self.original: dict[str, dict] = {}  # id -> the copy that scores

    def _member(self) -> int:
        rng = self.rng
        return rng.choice(self.hot) if rng.random() < HOT_SHARE else rng.choice(self.members)

    def _fresh(self, start: datetime) -> dict:
        rng = self.rng
        while True:
            event_id = f"{PLATFORM}-{rng.getrandbits(64):016x}"
            if event_id not in self.ids:
                self.ids.add(event_id)
                break
        action = rng.choices(self.actions, self.weights)[0]
        member = self._member()
        event = {"id": event_id, "member_id": member, "action": action,
                 "occurred_at": start + timedelta(seconds=rng.randrange(BATCH_HOURS * 3600)),
                 "object_id": None, "seconds": None}
        if action == "read":
            event["seconds"] = rng.randrange(5, 600)
        elif action == "video":
            video = f"video-{rng.randrange(VIDEOS)}"
            last = self.positions.get((member, video), 0)
            position = max(0, last + rng.randrange(-120, 900))  # mostly forward, sometimes rewound
            self.positions[(member, video)] = max(last, position)
            event["object_id"], event["seconds"] = video, position
        return event

    def _copy(self, original: dict) -> dict:
        """An exact resend, or (half the time) a conflicting one: another member, a later time."""
        copy = dict(original)
        if self.rng.random() < 0.5:
            copy["member_id"] = self._member()
            copy["occurred_at"] = original["occurred_at"] + timedelta(seconds=self.rng.randrange(1, 600))
        return copy

    def batch(self, b: int) -> tuple[list[dict], int]:
        """(events, expected duplicates) of batch b (b = 0 is the warm-up)."""
        start = self.day0 + timedelta(hours=BATCH_HOURS * b)
        replays = round(self.size * REPLAY_SHARE) if self.accepted else 0
        repeats = round(self.size * DUPLICATE_SHARE)
        fresh = [self._fresh(start) for _ in range(self.size - replays - repeats)]
        copies = [self._copy(self.rng.choice(fresh)) for _ in range(repeats)]
        copies += [self._copy(self.rng.choice(self.accepted)) for _ in range(replays)]
        for event in fresh:
            self.original[event["id"]] = event
        self.accepted.extend(fresh)
        events = fresh + copies
        self.rng.shuffle(events)
        return events, repeats + replays


def to_event(raw: dict):
    from rules import Event
    return Event(id=raw["id"], action=raw["action"], occurred_at=raw["occurred_at"], member_id=raw["member_id"],
                 object_id=raw["object_id"], seconds=raw["seconds"])


def to_json(raw_events: list[dict]) -> bytes:
    return json.dumps({"events": [{k: (v.isoformat() if k == "occurred_at" else v) for k, v in e.items()
                                   if v is not None} for e in raw_events]}).encode()


# --- phases: timers around scoring's steps, split into SQL (cursor.execute) and the rest ------------------------

class Phases:
    """Wraps module functions with timers; SQL time inside a phase is taken from the engine's cursor events."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.total: dict[str, float] = {}
        self.sql: dict[str, float] = {}
        self.current: str | None = None
        self._restore: list = []
        self._sql_started = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_args):
        self._sql_started = time.perf_counter()

    def _after(self, *_args):
        if self.current is not None:
            self.sql[self.current] = self.sql.get(self.current, 0.0) + time.perf_counter() - self._sql_started

    def wrap(self, owner, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)
        phases = self

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if phases.current is not None:  # nested: counted in the outer phase
                return original(*args, **kwargs)
            phases.current = label
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                phases.total[label] = phases.total.get(label, 0.0) + time.perf_counter() - started
                phases.current = None

        setattr(owner, attribute, timed)
        self._restore.append((owner, attribute, original))

    def take(self) -> tuple[dict, dict]:
        """The times since the last take (seconds by phase), then reset."""
        total, sql = self.total, self.sql
        self.total, self.sql = {}, {}
        return total, sql

    def unwrap(self) -> None:
        for owner, attribute, original in reversed(self._restore):
            setattr(owner, attribute, original)
        self._restore.clear()


PHASE_ORDER = ("request schema", "member check", "rules in force", "advisory locks", "event ids (claim)",
               "locks + ids | keys", "state keys", "state load", "load | ids text", "rules.score", "COPY ids | score",
               "counter upsert", "ledger insert", "ledger | counters", "commit")


def timed_cursor_class(phases: Phases):
    """A psycopg2 cursor class whose execute and copy_expert count as the current phase's SQL (in any thread)."""
    import psycopg2.extensions

    class TimedCursor(psycopg2.extensions.cursor):
        def execute(self, *args, **kwargs):
            phases._before()
            try:
                return super().execute(*args, **kwargs)
            finally:
                phases._after()

        def copy_expert(self, *args, **kwargs):
            phases._before()
            try:
                return super().copy_expert(*args, **kwargs)
            finally:
                phases._after()

    return TimedCursor


def install_phases(engine, mode: str) -> Phases:
    import rules
    from sqlalchemy.orm import Session

    from service.extensions import db
    from service.schemas import scoring as scoring_schemas
    from service.services import score_rules, scoring
    phases = Phases(engine)
    phases.wrap(score_rules, "effective_rules", "rules in force")
    # the COPY path: a step runs a statement (worker thread) beside Python work; its raw cursor's calls count as SQL
    phases.wrap(scoring, "_find_copy", "locks + ids | keys")
    phases.wrap(scoring, "_load_copy", "load | ids text")
    phases.wrap(scoring, "_claim_and_score", "COPY ids | score")
    phases.wrap(scoring, "_write_copy", "ledger | counters")
    timed_cursor = timed_cursor_class(phases)
    phases._restore.append((scoring, "_raw_cursor", scoring._raw_cursor))
    scoring._raw_cursor = lambda: db.session.connection().connection.dbapi_connection.cursor(
        cursor_factory=timed_cursor)
    phases.wrap(scoring, "_lock_targets", "advisory locks")
    phases.wrap(scoring, "_claim_ids", "event ids (claim)")
    phases.wrap(rules, "state_keys", "state keys")        # scoring calls rules.state_keys / rules.score
    phases.wrap(scoring, "_load_state", "state load")
    phases.wrap(rules, "score", "rules.score")
    phases.wrap(scoring, "_write_state", "counter upsert")
    phases.wrap(scoring, "_append", "ledger insert")
    phases.wrap(Session, "commit", "commit")
    if mode == "http":
        phases.wrap(scoring_schemas.ScoreEventList, "_deserialize", "request schema")
        phases.wrap(scoring, "_require_known", "member check")
    return phases


# --- CPU of this process and of the Postgres backend -----------------------------------------------------------

def backend_pid(db) -> int | None:
    if db.engine.dialect.name != "postgresql":
        return None
    pid = db.session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    db.session.remove()
    return pid


def backend_cpu(pid: int | None) -> float | None:
    """utime + stime of a local server process from /proc, seconds (None when not visible)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the run --------------------------------------------------------------------------------------------------

def run(url: str, args: argparse.Namespace) -> int:
    from flask_migrate import upgrade
    from sqlalchemy import func, select, table

    from benchmarks import province
    from service import create_app
    from service.extensions import db
    from service.models import Member
    from service.services import ledger, scoring

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        engine = db.engine
        print(f"database: {engine.dialect.name} {engine.url.render_as_string(hide_password=True)}")
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; mode={args.mode}"
              f"{' (' + args.auth + ' token)' if args.mode == 'http' else ''}, path={args.path}; {args.members} "
              f"members, "
              f"1 warm-up + {args.batches} timed batches of {args.size} events; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        t0 = time.perf_counter()
        upgrade()
        db.session.remove()
        for name in ("org", "member") + SCORING_TABLES:
            if db.session.scalar(select(func.count()).select_from(table(name))):
                print(f"refusing to run: table {name} is not empty (give a fresh database)")
                return 2
        db.session.remove()
        t_schema = time.perf_counter() - t0

        t0 = time.perf_counter()
        branches = max(1, round(args.members / MEMBERS_PER_BRANCH))
        sizes = province.Sizes(branches=branches, members_per_branch=max(1, args.members // branches),
                               ledger_rows=args.history, counters=args.history > 0, seed=args.seed)
        seeded = province.generate(engine, sizes, progress=not args.no_progress)
        member_ids = list(db.session.scalars(select(Member.id).order_by(Member.id)))
        db.session.remove()
        t_seed = time.perf_counter() - t0
        print(f"schema: {t_schema:.1f} s; seeding (untimed): {seeded.members} members in {branches} branches, "
              f"{sum(seeded.orgs.values())} orgs, {seeded.ledger_rows} older ledger rows: {t_seed:.1f} s")

        today = datetime.now(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
        generator = Generator(member_ids, args.size, today, args.seed)
        t0 = time.perf_counter()
        batches = [generator.batch(b) for b in range(args.batches + 1)]
        t_gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        events = [[to_event(raw) for raw in raws] for raws, _ in batches]
        t_events = (time.perf_counter() - t0) / len(batches)
        bodies = [to_json(raws) for raws, _ in batches] if args.mode == "http" else None
        print(f"generating {len(batches)} batches: {t_gen:.1f} s; building {args.size} rules.Event: "
              f"{1000 * t_events:.0f} ms a batch (untimed, the caller's work)"
              + (f"; JSON body {len(bodies[0]) / 1e6:.2f} MB" if bodies else ""))

        scoring.COPY_INGEST, ledger.OVERLAP = args.path != "generic", args.path == "copy"
        results = ingest_all(app, db, args, batches, events, bodies)
        if results is None:
            return 1
        failures = verify(db, batches, events, generator, results, today)
        db.session.remove()
        engine.dispose()
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("all checks passed")
    return 0


def ingest_all(app, db, args, batches, events, bodies) -> list[dict] | None:
    """The warm-up batch, then the timed ones; prints the table; [{accepted, duplicates, points_awarded, s}]."""
    from service.services import scoring
    client = headers = None
    if args.mode == "http":
        client, headers = app.test_client(), {"Authorization": f"Bearer {http_token(db, args.auth)}"}
    phases = install_phases(db.engine, args.mode) if args.phases else None
    profile = None
    if args.profile:
        import cProfile
        profile = cProfile.Profile()
    pid = backend_pid(db)
    gc.collect()
    gc.freeze()  # the seeding's objects: no gen-2 collection over them inside a timed batch

    results, per_phase = [], []
    cpu0, backend0, wall0 = time.process_time(), None, 0.0
    for b in range(len(batches)):
        if b == 1:  # after the warm-up
            cpu0, backend0, wall0 = time.process_time(), backend_cpu(pid), time.perf_counter()
        db.session.remove()
        if phases:
            phases.take()
        if profile and b:
            profile.enable()
        started = time.perf_counter()
        if args.mode == "service":
            accepted, duplicates, points, _ = scoring.apply_events(events[b], entries=False)
            db.session.commit()
            result = {"accepted": accepted, "duplicates": duplicates, "points_awarded": points}
        else:
            response = client.post("/api/score-events", data=bodies[b], headers=headers,
                                   content_type="application/json")
            result = response.get_json()
            if response.status_code != 200:
                print(f"batch {b}: HTTP {response.status_code} {str(result)[:500]}")
                return None
        seconds = time.perf_counter() - started
        if profile and b:
            profile.disable()
        result["s"] = seconds
        results.append(result)
        if phases and b:
            per_phase.append(phases.take())
        print(f"{'warm-up' if b == 0 else f'batch {b}':>9}: {1000 * seconds:7.1f} ms {len(events[b]) / seconds:>9,.0f} "
              f"events/s  accepted {result['accepted']}, duplicates {result['duplicates']}, "
              f"points {result['points_awarded']}")
    wall = time.perf_counter() - wall0
    cpu, backend1 = time.process_time() - cpu0, backend_cpu(pid)
    if phases:
        phases.unwrap()
    same_backend = pid is not None and backend_pid(db) == pid

    timed = [r["s"] for r in results[1:]]
    median, p95 = statistics.median(timed), nearest_rank(timed, 95)
    print()
    print(f"{db.engine.dialect.name} mode={args.mode}, {len(timed)} timed batches of {args.size} events:")
    print(f"  ms per batch:  median {1000 * median:.1f}, p95 {1000 * p95:.1f}, min {1000 * min(timed):.1f}")
    print(f"  events/s:      median {args.size / median:,.0f}, at the p95 batch {args.size / p95:,.0f}, "
          f"overall {args.size * len(timed) / sum(timed):,.0f}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    line = f"  CPU:           this process {cpu:.2f} s of {wall:.2f} s wall over the timed batches"
    if backend0 is not None and backend1 is not None and same_backend:
        line += f"; Postgres backend {backend1 - backend0:.2f} s"
    print(line + f"; load average now {load}")
    if per_phase:
        print_phases(per_phase, timed)
    if profile:
        import pstats
        print()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    return results


def http_token(db, auth: str) -> str:
    """An integration token, or the access token of a platform admin (one extra user, seeded untimed)."""
    import hashlib

    from service.auth import hash_password, issue_token
    from service.database import utcnow
    from service.models import IntegrationToken, RoleGrant, User
    if auth == "integration":
        token = "itk_bench-score-ingest"
        db.session.add(IntegrationToken(name="score_ingest benchmark", token_hash=hashlib.sha256(token.encode())
                                        .hexdigest(), created_at=utcnow()))
        db.session.commit()
        return token
    admin = User(username="bench_platform_admin", password_hash=hash_password("Bench#2026"),
                 must_change_password=False, failed_logins=0, created_at=utcnow())
    admin.grants = [RoleGrant(role="platform_admin", org_id=None)]
    db.session.add(admin)
    db.session.commit()
    token = issue_token(admin)
    db.session.remove()
    return token


def nearest_rank(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def print_phases(per_phase: list[tuple[dict, dict]], timed: list[float]) -> None:
    median_batch = statistics.median(timed)
    names = [n for n in PHASE_ORDER if any(n in total for total, _ in per_phase)]
    print()
    print(f"  {'phase (median ms per batch)':<28} {'total':>8} {'SQL':>8} {'Python':>8} {'share':>6} "
          f"{'first':>7} {'last':>7}")
    in_phases = []
    for name in names:
        totals = [1000 * total.get(name, 0.0) for total, _ in per_phase]
        # COMMIT is no cursor.execute but it is the database's work (the WAL flush): counted as SQL
        sqls = totals if name == "commit" else [1000 * sql.get(name, 0.0) for _, sql in per_phase]
        pythons = [t - s for t, s in zip(totals, sqls)]
        m = statistics.median(totals)
        print(f"  {name:<28} {m:>8.1f} {statistics.median(sqls):>8.1f} {statistics.median(pythons):>8.1f} "
              f"{m / (1000 * median_batch):>6.0%} {totals[0]:>7.1f} {totals[-1]:>7.1f}")
    for (total, _), seconds in zip(per_phase, timed):
        in_phases.append(1000 * (seconds - sum(total.values())))
    rest = statistics.median(in_phases)
    print(f"  {'other (outside the phases)':<28} {rest:>8.1f} {'':>8} {'':>8} {rest / (1000 * median_batch):>6.0%} "
          f"{in_phases[0]:>7.1f} {in_phases[-1]:>7.1f}")
    sql_all = statistics.median([1000 * (sum(sql.values()) + total.get("commit", 0.0)) for total, sql in per_phase])
    print(f"  {'batch':<28} {1000 * median_batch:>8.1f} {sql_all:>8.1f} {1000 * median_batch - sql_all:>8.1f} "
          f"{'':>6} {1000 * timed[0]:>7.1f} {1000 * timed[-1]:>7.1f}")


# --- checks ---------------------------------------------------------------------------------------------------

def verify(db, batches, events, generator: Generator, results, day0: datetime) -> list[str]:
    """Counts, caps, duplicates, and equality with a pure rules.score run over the same batches."""
    import rules
    from sqlalchemy import func, select

    from service.models import ScoreCounter, ScoreEntry, ScoreEvent, VideoDay, VideoProgress
    from service.services import score_rules

    failures = []

    def check(what, got, expected):
        if got != expected:
            failures.append(f"{what}: got {got}, expected {expected}")

    t0 = time.perf_counter()
    db.session.remove()
    rule_list = score_rules.effective_rules()
    by_id = {r.id: r for r in rule_list}

    # reported counts
    for b, ((raws, dupes), result) in enumerate(zip(batches, results)):
        check(f"batch {b} duplicates", result["duplicates"], dupes)
        check(f"batch {b} accepted", result["accepted"], len(raws) - dupes)
    sent_ids = {e["id"] for raws, _ in batches for e in raws}
    run_ids = select(ScoreEvent.event_id).where(ScoreEvent.event_id.like(f"{PLATFORM}-%"))
    check("score_event rows (distinct ids sent)", db.session.scalar(select(func.count()).select_from(
        run_ids.subquery())), len(sent_ids))

    # the run's ledger rows (older history, if any, lies before day0)
    since = day0.astimezone(timezone.utc)
    ledger = db.session.execute(select(ScoreEntry.target, ScoreEntry.target_id, ScoreEntry.rule_id, ScoreEntry.points,
                                       ScoreEntry.occurred_at, ScoreEntry.source, ScoreEntry.source_id)
                                .where(ScoreEntry.occurred_at >= since)).all()
    awarded = sum(r["points_awarded"] for r in results)
    check("ledger points = sum of points_awarded", sum(row.points for row in ledger), awarded)
    check("ledger rows of other sources", sum(row.source != "event" for row in ledger), 0)

    # caps: every counter cell <= cap, and = the ledger's sum over the cell
    cells: Counter = Counter()
    for row in ledger:
        rule = by_id[row.rule_id]
        if rule.cap_period is not None:
            cells[(row.target, row.target_id, row.rule_id, rules.period_key(row.occurred_at, rule.cap_period))] += \
                row.points
    labels = sorted({key[3] for key in cells})
    counters = {(c.target, c.target_id, c.rule_id, c.period): c.points for c in db.session.scalars(
        select(ScoreCounter).where(ScoreCounter.period.in_(labels or [""])))}
    def over_cap(key, points) -> bool:
        return by_id[key[2]].cap is not None and points > by_id[key[2]].cap  # cap_period alone: counted, uncapped

    check("counter cells over their cap", [(k, p) for k, p in counters.items() if over_cap(k, p)][:5], [])
    check("ledger sums over the cap", [(k, p) for k, p in cells.items() if over_cap(k, p)][:5], [])
    check("counter cells = ledger sums per (member, rule, China day)", counters == dict(cells), True)
    full = sum(points == by_id[key[2]].cap for key, points in counters.items())

    # duplicates earned nothing
    pairs = Counter((row.source_id, row.rule_id) for row in ledger)
    check("(event id, rule) twice in the ledger", [k for k, n in pairs.items() if n > 1][:5], [])
    wrong = [row.source_id for row in ledger if (row.target_id, row.occurred_at) != (
        generator.original[row.source_id]["member_id"], generator.original[row.source_id]["occurred_at"])]
    check("ledger entries from a conflicting copy", wrong[:5], [])

    # a pure rules.score run over the same batches, in order, from an empty state
    state = rules.ScoreState()
    reference: Counter = Counter()
    for batch in events:
        for award in rules.score(batch, rule_list, state):
            reference[(award.target, award.target_id, award.rule_id, award.points, award.occurred_at,
                       award.event_id)] += 1
    stored = Counter((row.target, row.target_id, row.rule_id, row.points, row.occurred_at, row.source_id)
                     for row in ledger)
    check("ledger = pure rules.score (entries differing)", sum(((stored - reference) + (reference - stored))
                                                               .values()), 0)
    check("counters = pure rules.score", counters == {(by_id[k[1]].target,) + k: v for k, v in state.points.items()},
          True)
    members = {e["member_id"] for raws, _ in batches for e in raws}
    positions = {(v.member_id, v.object_id): v.position for v in db.session.scalars(select(VideoProgress))
                 if v.member_id in members}
    check("video_progress = pure rules.score", positions == state.video_positions, True)
    days = {(v.member_id, v.day): v.seconds for v in db.session.scalars(select(VideoDay))}
    check("video_day = pure rules.score", days == state.video_seconds, True)
    db.session.remove()

    by_rule = Counter()
    for row in ledger:
        by_rule[row.rule_id] += row.points
    print()
    print(f"checks ({time.perf_counter() - t0:.1f} s): {len(sent_ids)} distinct ids, {len(ledger)} ledger rows, "
          f"{awarded} points, {len(counters)} counter cells ({full} at their cap), {len(positions)} video positions; "
          f"duplicates sent {sum(d for _, d in batches)}")
    print("  points by rule: " + ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in by_rule.most_common()))
    return failures


if __name__ == "__main__":
    sys.exit(main())
