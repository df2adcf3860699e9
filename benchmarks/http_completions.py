"""Benchmark: HTTP task completions per second (gunicorn + Postgres) side by side with `pgbench -N`.

What it does, all against 127.0.0.1 only:
  1. creates a fresh Postgres database, runs `flask --app service init` on it and seeds one 党委 > branch
     (10 members), a secretary with org_admin on the branch and N `branch_congress` meetings, each with one
     open `meeting.notify` task;
  2. starts gunicorn (`-w WORKERS wsgi:app`) on a free loopback port;
  3. logs in once, then K client threads (http.client, keep-alive where the server allows it) complete
     distinct open tasks (`POST /api/tasks/{id}/complete`, body `{}`) for a fixed time after a warm-up;
  4. `pgbench -i -s 10` into a second fresh database, then `pgbench -N -c K -j 2 -T SECONDS`;
  5. alternates HTTP and pgbench rounds, prints every round, the medians and the ratio
     completions/s / pgbench tps (target >= 0.10); drops both databases and stops gunicorn on exit.

`--profile` instead runs completions in-process (Flask test client, same seeded Postgres database) and
prints where the time of one completion goes: exclusive wall time and SQL statements per step, the
statements of one completion, and a cProfile summary by package.

Usage:
    .venv/bin/python benchmarks/http_completions.py                      # 3 rounds x 15 s, 4 clients
    .venv/bin/python benchmarks/http_completions.py --rounds 5 --clients 8 --workers 3
    .venv/bin/python benchmarks/http_completions.py --profile
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import dataclasses
import functools
import http.client
import json
import os
import pstats
import re
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
ADMIN_PASSWORD = "Admin#2026"
SECRETARY, SECRETARY_PASSWORD = "bench_sec", "Bench#2026"
TARGET = 0.10
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- databases

def _admin_execute(sql: str) -> None:
    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def create_database(name: str) -> None:
    _admin_execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlalchemy_url(name: str) -> str:
    return f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def query_ids(name: str, limit: int) -> list[int]:
    """Open `meeting.notify` task ids, straight from the database (no API row limit)."""
    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=name, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM human_task WHERE state = 'open' AND action = 'meeting.notify' "
                        "ORDER BY id LIMIT %s", (limit,))
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def postgres_version() -> str:
    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            return cur.fetchone()[0]
    finally:
        conn.close()


# --------------------------------------------------------------------------- schema and seed

def app_env(url: str, secret: str) -> dict:
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=secret, PYTHONPATH=str(ROOT))
    env.pop("ORGLIFE_ENV", None)
    return env


def init_schema(url: str, secret: str) -> None:
    """`flask --app service init`: migrations, bundled BPMN, the platform admin."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "service", "init", "--admin-password", ADMIN_PASSWORD],
                   cwd=ROOT, env=app_env(url, secret), check=True, timeout=180, stdout=subprocess.DEVNULL)


def make_app(url: str, secret: str):
    from service import create_app
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret})


class Seeder:
    """One 党委 > branch with 10 members and the secretary; then branch congresses on demand."""

    def __init__(self, app):
        from service.auth import hash_password
        from service.database import transaction
        from service.extensions import db
        from service.models import Member, Org, RoleGrant, User

        self.app, self.made = app, 0
        self.base = datetime.now(timezone.utc) + timedelta(days=30)
        with app.app_context():
            with transaction():
                committee = Org(name="基准党委", kind="committee")
                db.session.add(committee)
                db.session.flush()
                branch = Org(name="基准支部", kind="branch", parent_id=committee.id)
                db.session.add(branch)
                db.session.flush()
                members = []
                for i in range(10):
                    member = Member(name=f"党员{i + 1:02d}", phone=f"1370000{i:04d}", org_id=branch.id,
                                    category="full" if i < 8 else "probationary", joined_at=date(2012, 7, 1),
                                    committee_role="secretary" if i == 0 else None)
                    db.session.add(member)
                    members.append(member)
                db.session.flush()
                user = User(username=SECRETARY, password_hash=hash_password(SECRETARY_PASSWORD),
                            must_change_password=False, failed_logins=0, member_id=members[0].id)
                user.grants = [RoleGrant(role="org_admin", org_id=branch.id),
                               RoleGrant(role="member", org_id=branch.id)]
                db.session.add(user)
            self.user_id, self.branch_id = user.id, branch.id
            db.session.remove()

    def meetings(self, count: int, batch: int = 250) -> float:
        """Create `count` more meetings through `create_meeting` (each opens one meeting.notify task)."""
        from service.database import transaction
        from service.extensions import db
        from service.models import User
        from service.services.meetings import create_meeting

        started = time.perf_counter()
        with self.app.app_context():
            end = self.made + count
            while self.made < end:
                with transaction():  # batches: the nested service transactions commit with the outer one
                    user = db.session.get(User, self.user_id)
                    for i in range(self.made, min(end, self.made + batch)):
                        create_meeting(user, {"process_key": "branch_congress", "org_id": self.branch_id,
                                              "title": f"基准支部党员大会 {i + 1}", "location": "党员活动室",
                                              "scheduled_at": self.base + timedelta(hours=i)})
                self.made = min(end, self.made + batch)
                db.session.expunge_all()
            db.session.remove()
            db.engine.dispose()
        return time.perf_counter() - started


# --------------------------------------------------------------------------- gunicorn

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    def __init__(self, url: str, secret: str, workers: int, worker_class: str, threads: int):
        self.port = free_port()
        exe = Path(sys.executable).with_name("gunicorn")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gunicorn"]
        cmd += ["-w", str(workers), "-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "5",
                "--log-level", "warning"]
        if worker_class != "sync":
            cmd += ["-k", worker_class, "--threads", str(threads)]
        self.cmd = cmd + ["wsgi:app"]
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=app_env(url, secret), start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/openapi.json")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer in time")

    def pids(self) -> list[int]:
        """The master and its workers."""
        return [self.proc.pid] + children_of(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


# --------------------------------------------------------------------------- CPU accounting from /proc

def _stat(pid: int) -> tuple[str, int, float] | None:
    """(comm, ppid, utime+stime seconds) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def children_of(ppid: int) -> list[int]:
    return [pid for pid in _all_pids() if (s := _stat(pid)) and s[1] == ppid]


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine (all but idle and iowait), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK


def _pg_backends() -> dict[int, str | None]:
    """Postgres server pid -> database name (None for background processes)."""
    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pid, datname FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
            return dict(cur.fetchall())
    finally:
        conn.close()


class CpuMeter:
    """CPU used during a round: ours (gunicorn, our database's backends, this process) and everyone else's.

    'others' counts every process alive at the end of the round that is not ours (other databases'
    backends included), so it is a lower bound of the competing load; 'machine' is /proc/stat.
    """

    def __init__(self, own_pids: list[int], database: str):
        self.own, self.database = set(own_pids), database
        self.procs = {pid: s[2] for pid in _all_pids() if (s := _stat(pid))}
        self.machine, self.wall = _machine_busy(), time.monotonic()
        self.client = self._self_cpu()

    @staticmethod
    def _self_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def stop(self) -> dict:
        wall = time.monotonic() - self.wall
        machine = _machine_busy() - self.machine
        backends = _pg_backends()
        used = collections.defaultdict(float)
        me = os.getpid()
        for pid in _all_pids():
            s = _stat(pid)
            if s is None or pid == me:
                continue
            delta = s[2] - self.procs.get(pid, 0.0)
            if pid in self.own:
                used["gunicorn"] += delta
            elif pid in backends:
                used["postgres" if backends[pid] == self.database else
                     "postgres aux" if backends[pid] is None else "others"] += delta
            else:
                used["others"] += delta
        used["client"] = self._self_cpu() - self.client
        return {"wall": wall, "machine": machine, **used}


def wait_until_quiet(own_pids: list[int], database: str, limit: float, threshold: float = 0.3) -> float:
    """Wait (at most `limit` s) for a 1-s window in which other processes use < `threshold` cores."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        meter = CpuMeter(own_pids, database)
        time.sleep(1.0)
        if meter.stop()["others"] < threshold:
            break
    return time.monotonic() - started


# --------------------------------------------------------------------------- HTTP load

@dataclasses.dataclass
class HttpRound:
    rate: float
    ok: int
    errors: int
    elapsed: float
    p50_ms: float
    p95_ms: float
    ran_out: bool
    error_samples: list
    cpu_ms: dict  # CPU milliseconds per completion by process group, plus cores busy


def drive(port: int, token: str, ids: list[int], clients: int, seconds: float, warmup: float) -> HttpRound:
    """K threads complete distinct tasks; count the 200s that finish inside the measured window."""
    queue = collections.deque(ids)
    lock = threading.Lock()
    results: list[tuple[float, int, float]] = []  # (finished at, status, latency)
    samples: list[str] = []
    ran_out = threading.Event()
    start = time.monotonic()
    t0, t1 = start + warmup, start + warmup + seconds
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local = []
        try:
            while time.monotonic() < t1:
                with lock:
                    task_id = queue.popleft() if queue else None
                if task_id is None:
                    ran_out.set()
                    break
                began = time.monotonic()
                try:
                    conn.request("POST", f"/api/tasks/{task_id}/complete", body=b"{}", headers=headers)
                    response = conn.getresponse()
                    body = response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    status, body = -1, repr(exc).encode()
                    time.sleep(0.05)
                done = time.monotonic()
                local.append((done, status, done - began))
                if status != 200 and len(samples) < 5:
                    samples.append(f"task {task_id}: {status} {body[:200]!r}")
        finally:
            conn.close()
            with lock:
                results.extend(local)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=warmup + seconds + 60)
    end = min(t1, max((r[0] for r in results), default=t1)) if ran_out.is_set() else t1
    window = [r for r in results if t0 <= r[0] <= t1]
    ok = [r for r in window if r[1] == 200]
    elapsed = max(end - t0, 1e-9)
    latencies = sorted(r[2] * 1000 for r in ok) or [float("nan")]
    return HttpRound(rate=len(ok) / elapsed, ok=len(ok), errors=len(window) - len(ok), elapsed=elapsed,
                     p50_ms=latencies[len(latencies) // 2], p95_ms=latencies[int(len(latencies) * 0.95)],
                     ran_out=ran_out.is_set(), error_samples=samples, cpu_ms={})


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps({"username": SECRETARY, "password": SECRETARY_PASSWORD}).encode()
        conn.request("POST", "/api/auth/login", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"login failed: {response.status} {payload[:300]!r}")
        return json.loads(payload)["access_token"]
    finally:
        conn.close()


def http_round(server: Gunicorn, token: str, db_name: str, args) -> HttpRound:
    # Every open task there is (the client stops at the deadline); fresh ids each round.
    ids = query_ids(db_name, 10_000_000)
    meter = CpuMeter(server.pids(), db_name)
    result = drive(server.port, token, ids, args.clients, args.seconds, args.warmup)
    cpu = meter.stop()
    # CPU over the whole round (warm-up included) divided by every completion in it.
    total_done = max(1, len(ids) - len(query_ids(db_name, 10_000_000)))
    result.cpu_ms = {k: cpu.get(k, 0.0) * 1000 / total_done for k in ("gunicorn", "postgres", "client")}
    result.cpu_ms["ours"] = sum(cpu.get(k, 0.0) for k in ("gunicorn", "postgres", "client", "postgres aux")) / cpu["wall"]
    result.cpu_ms["others"] = cpu.get("others", 0.0) / cpu["wall"]
    result.cpu_ms["machine"] = cpu["machine"] / cpu["wall"]
    return result


# --------------------------------------------------------------------------- pgbench

def pgbench_base() -> list[str]:
    return ["pgbench", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER]


def pgbench_init(name: str) -> None:
    subprocess.run(pgbench_base() + ["-i", "-q", "-s", "10", name], check=True, timeout=600,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pgbench_round(name: str, clients: int, seconds: int) -> tuple[float, dict]:
    jobs = max(1, min(2, clients))
    meter = CpuMeter([], name)
    out = subprocess.run(pgbench_base() + ["-N", "-c", str(clients), "-j", str(jobs), "-T", str(seconds), name],
                         check=True, timeout=seconds + 120, capture_output=True, text=True).stdout
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if not match:
        raise RuntimeError(f"no tps in pgbench output:\n{out}")
    cpu = meter.stop()
    return float(match.group(1)), {"machine": cpu["machine"] / cpu["wall"], "others": cpu.get("others", 0.0) / cpu["wall"]}


# --------------------------------------------------------------------------- profile mode

class StepTimer:
    """Exclusive wall time and SQL statements per labelled step (nested steps subtract from their parent)."""

    def __init__(self):
        self.stack: list[str] = []
        self.mark = 0.0
        self.wall = collections.defaultdict(float)
        self.sql_n = collections.defaultdict(int)
        self.sql_t = collections.defaultdict(float)
        self.order: list[str] = []
        self.statements: list[str] | None = None
        self._sql_start = 0.0

    def push(self, label: str) -> None:
        now = time.perf_counter()
        if self.stack:
            self.wall[self.stack[-1]] += now - self.mark
        if label not in self.order:
            self.order.append(label)
        self.stack.append(label)
        self.mark = now

    def pop(self) -> None:
        now = time.perf_counter()
        self.wall[self.stack.pop()] += now - self.mark
        self.mark = now

    def wrap(self, label: str, fn):
        @functools.wraps(fn)
        def inner(*a, **k):
            self.push(label)
            try:
                return fn(*a, **k)
            finally:
                self.pop()
        return inner

    def before_sql(self, conn, cursor, statement, *rest) -> None:
        self._sql_start = time.perf_counter()

    def after_sql(self, conn, cursor, statement, *rest) -> None:
        label = self.stack[-1] if self.stack else "(outside)"
        self.sql_n[label] += 1
        self.sql_t[label] += time.perf_counter() - self._sql_start
        if self.statements is not None:
            self.statements.append(f"[{label}] " + " ".join(statement.split())[:110])


@contextlib.contextmanager
def patched(timer: StepTimer):
    """Wrap the steps of one completion in timers; restore everything afterwards."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    import service.auth as auth
    from service import actions
    from service.extensions import db
    from service.services import runtime, tasks
    from workflows.engine import Instance

    meeting_subject = type(runtime.SUBJECTS["meeting"])
    notify = actions.REGISTRY["meeting.notify"]
    targets = [
        (auth, "_user_from_token", "auth: verify token + load user"),
        (tasks, "complete", "transaction wrapper (tasks.complete)"),
        (tasks, "_load_for_action", "load task + candidate check (grants)"),
        (runtime, "complete", "runtime.complete glue (schema, ctx, wf.data)"),
        (runtime, "lock_row", "lock instance (SELECT ... FOR UPDATE)"),
        (runtime, "_claim_for_completion", "claim task (conditional UPDATE + refresh)"),
        (meeting_subject, "load", "load meeting"),
        (runtime, "load_workflow", "engine load (state -> workflow)"),
        (Instance, "complete", "engine complete (run task + engine steps)"),
        (runtime, "record_event", "audit row"),
        (runtime, "_store", "store glue (_store)"),
        (Instance, "dumps", "engine dumps (state without spec)"),
        (Instance, "ready_tasks", "engine ready_tasks"),
        (runtime, "_sync_tasks", "inbox sync (autoflush of state UPDATE + audit INSERT, SELECT open, INSERT next task)"),
        (meeting_subject, "after_advance", "meeting after_advance (status, minutes)"),
        (runtime, "open_tasks", "next open tasks query"),
        (Session, "commit", "commit (flush + COMMIT)"),
    ]
    saved = [(obj, name, obj.__dict__[name]) for obj, name, _ in targets]
    try:
        for obj, name, label in targets:
            setattr(obj, name, timer.wrap(label, obj.__dict__[name]))
        actions.REGISTRY["meeting.notify"] = dataclasses.replace(
            notify, handler=timer.wrap("action meeting.notify (reset feedback rows)", notify.handler))
        event.listen(db.engine, "before_cursor_execute", timer.before_sql)
        event.listen(db.engine, "after_cursor_execute", timer.after_sql)
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", timer.before_sql)
        event.remove(db.engine, "after_cursor_execute", timer.after_sql)
        actions.REGISTRY["meeting.notify"] = notify
        for obj, name, original in saved:
            setattr(obj, name, original)


def _package(filename: str, funcname: str) -> str:
    if filename == "~":
        return "psycopg2 C calls (DB round trips)" if "psycopg2" in funcname else "builtins / C"
    if filename.startswith("<"):
        return "sqlalchemy" if "sqlalchemy" in filename else "builtins / C"
    path = Path(filename)
    if "site-packages" in path.parts:
        parts = path.parts[path.parts.index("site-packages") + 1:]
        return parts[0].split(".")[0] if parts else filename
    try:
        return "project: " + path.resolve().relative_to(ROOT).parts[0]
    except ValueError:
        return "stdlib"


def profile(app, db_name: str, count: int) -> None:
    from service.extensions import db

    client = app.test_client()
    response = client.post("/api/auth/login", json={"username": SECRETARY, "password": SECRETARY_PASSWORD})
    token = response.get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    ids = query_ids(db_name, 30 + count * 3)
    if len(ids) < 30 + count * 2 + count // 2:
        raise RuntimeError("not enough open tasks for the profile; raise --meetings")

    def complete(task_id: int) -> None:
        r = client.post(f"/api/tasks/{task_id}/complete", json={}, headers=headers)
        if r.status_code != 200:
            raise RuntimeError(f"task {task_id}: {r.status_code} {r.get_data()[:300]!r}")

    with app.app_context():
        for task_id in ids[:30]:  # warm-up: spec cache, connection pool, imports
            complete(task_id)
        ids = ids[30:]

        plain = []
        for task_id in ids[:count]:
            started = time.perf_counter()
            complete(task_id)
            plain.append(time.perf_counter() - started)
        ids = ids[count:]

        timer = StepTimer()
        with patched(timer):
            for n, task_id in enumerate(ids[:count]):
                timer.statements = [] if n == count - 1 else None
                timer.push("HTTP layer: WSGI, routing, JSON, response schema")
                complete(task_id)
                timer.pop()
        ids = ids[count:]

        prof = cProfile.Profile()
        prof.enable()
        for task_id in ids[:count // 2]:
            complete(task_id)
        prof.disable()
        db.session.remove()
        db.engine.dispose()

    total = sum(timer.wall.values())
    print(f"\n## In-process profile: {count} completions of meeting.notify (Flask test client, Postgres, 1 thread)\n")
    print(f"un-instrumented: median {statistics.median(plain) * 1000:.2f} ms, mean {statistics.fmean(plain) * 1000:.2f} ms"
          f" per completion (= {1 / statistics.fmean(plain):.0f} completions/s on one thread)\n")
    print("| step (exclusive time) | ms / completion | share | SQL stmts | SQL ms |")
    print("|---|---:|---:|---:|---:|")
    for label in sorted(timer.order, key=lambda lb: -timer.wall[lb]):
        print(f"| {label} | {timer.wall[label] / count * 1000:.3f} | {timer.wall[label] / total:5.1%} "
              f"| {timer.sql_n[label] / count:.1f} | {timer.sql_t[label] / count * 1000:.3f} |")
    n_sql, t_sql = sum(timer.sql_n.values()), sum(timer.sql_t.values())
    print(f"| **total (instrumented)** | **{total / count * 1000:.3f}** | 100% | **{n_sql / count:.1f}** "
          f"| **{t_sql / count * 1000:.3f}** |")
    print(f"\nSQL (round trip as seen by the driver): {n_sql / count:.1f} statements plus COMMIT, "
          f"{t_sql / total:.0%} of the wall time without COMMIT; Python: the rest.")
    print("\nStatements of one completion (BEGIN is implicit in psycopg2):")
    for i, statement in enumerate(timer.statements or [], start=1):
        print(f"  {i:2d}. {statement}")

    stats = pstats.Stats(prof)
    by_package = collections.defaultdict(float)
    for (filename, _line, funcname), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        by_package[_package(filename, funcname)] += tottime
    grand = sum(by_package.values())
    print(f"\ncProfile, {count // 2} completions, own time by package (profiler overhead inflates Python parts):\n")
    print("| package | ms / completion | share |")
    print("|---|---:|---:|")
    for name, t in sorted(by_package.items(), key=lambda kv: -kv[1])[:14]:
        print(f"| {name} | {t / (count // 2) * 1000:.3f} | {t / grand:5.1%} |")


# --------------------------------------------------------------------------- main

def _median(values):
    return statistics.median(values) if values else float("nan")


def run(args) -> int:
    suffix = f"{os.getpid()}_{secrets.token_hex(3)}"
    app_db, bench_db = f"orglife_bench_{suffix}", f"pgbench_bench_{suffix}"
    secret = secrets.token_hex(16)
    url = sqlalchemy_url(app_db)
    created: list[str] = []
    server: Gunicorn | None = None
    print(f"machine: nproc={os.cpu_count()}, PostgreSQL {postgres_version()}, Python {sys.version.split()[0]}")
    try:
        create_database(app_db)
        created.append(app_db)
        init_schema(url, secret)
        seeder = Seeder(make_app(url, secret))
        print(f"seeded {args.meetings} meetings in {seeder.meetings(args.meetings):.1f} s (database {app_db})",
              flush=True)
        if args.profile:
            profile(seeder.app, app_db, args.profile_count)
            return 0

        create_database(bench_db)
        created.append(bench_db)
        started = time.perf_counter()
        pgbench_init(bench_db)
        print(f"pgbench -i -s 10 in {time.perf_counter() - started:.1f} s (database {bench_db})", flush=True)

        server = Gunicorn(url, secret, args.workers, args.worker_class, args.threads)
        server.wait_ready()
        token = login(server.port)
        print(f"gunicorn: {' '.join(server.cmd[1:])} (pid {server.proc.pid})", flush=True)

        rows, best = [], 250.0 * max(1.0, args.clients / 4)
        for n in range(1, args.rounds + 1):
            # Top up between rounds (unmeasured) so no round runs out: 1.3 x the best rate seen (>= the guess).
            best = max([best] + [h.rate for h, _ in rows])
            short = int(best * (args.seconds + args.warmup) * 1.3) - len(query_ids(app_db, 10_000_000))
            if short > 0:
                print(f"    topped up {short} meetings in {seeder.meetings(short):.1f} s", flush=True)
            waited = wait_until_quiet(server.pids(), app_db, args.settle)
            h = http_round(server, token, app_db, args)
            print(f"round {n} HTTP: {h.rate:7.1f} completions/s ({h.ok} ok, {h.errors} errors in {h.elapsed:.1f} s;"
                  f" p50 {h.p50_ms:.1f} ms, p95 {h.p95_ms:.1f} ms; settled {waited:.0f} s)\n"
                  f"    CPU ms per completion: gunicorn {h.cpu_ms['gunicorn']:.2f}, postgres backends "
                  f"{h.cpu_ms['postgres']:.2f}, client {h.cpu_ms['client']:.2f}; cores busy: ours "
                  f"{h.cpu_ms['ours']:.2f}, other processes >= {h.cpu_ms['others']:.2f}, machine "
                  f"{h.cpu_ms['machine']:.2f} of {os.cpu_count()}", flush=True)
            for sample in h.error_samples:
                print(f"    error: {sample}")
            if h.ran_out:
                print("    ran out of open tasks: raise --meetings")
            waited = wait_until_quiet(server.pids(), app_db, args.settle)
            tps, cpu = pgbench_round(bench_db, args.clients, args.seconds)
            print(f"round {n} pgbench -N: {tps:9.1f} tps (settled {waited:.0f} s; cores busy: other processes >= "
                  f"{cpu['others']:.2f}, machine {cpu['machine']:.2f})", flush=True)
            rows.append((h, tps))

        rates, tpss = [h.rate for h, _ in rows], [t for _, t in rows]
        med_rate, med_tps = _median(rates), _median(tpss)
        ratio = med_rate / med_tps
        errors = sum(h.errors for h, _ in rows)
        print(f"\n## HTTP completions vs pgbench -N ({args.rounds} rounds x {args.seconds} s, {args.clients} clients, "
              f"gunicorn -w {args.workers} {args.worker_class})\n")
        print("| round | completions/s | p50 ms | p95 ms | errors | pgbench -N tps | ratio |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for n, (h, tps) in enumerate(rows, start=1):
            print(f"| {n} | {h.rate:.1f} | {h.p50_ms:.1f} | {h.p95_ms:.1f} | {h.errors} | {tps:.1f} | {h.rate / tps:.3f} |")
        print(f"| **median** | **{med_rate:.1f}** | | | {errors} | **{med_tps:.1f}** | **{ratio:.3f}** |")
        verdict = "meets" if ratio >= TARGET else "misses"
        print(f"\nratio of medians = {ratio:.3f} ({verdict} the {TARGET:.2f} target)")
        return 0 if errors == 0 else 1
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept databases: {', '.join(created)}")
        else:
            for name in created:
                try:
                    drop_database(name)
                except Exception as exc:  # keep cleaning the others
                    print(f"could not drop {name}: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15, help="measured seconds per HTTP and pgbench round")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each HTTP round")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients and pgbench -c")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn -w")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"], help="gunicorn -k")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn --threads (gthread only)")
    parser.add_argument("--meetings", type=int, help="meetings seeded up front (= open tasks); default: one "
                        "round at 250/s x clients/4; later rounds are topped up from the rates seen")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="before each measurement wait up to this long for other load to drop below 0.3 cores")
    parser.add_argument("--keep", action="store_true", help="do not drop the databases")
    parser.add_argument("--profile", action="store_true", help="only the in-process per-step profile")
    parser.add_argument("--profile-count", type=int, default=200)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds < 1 or args.clients < 1 or args.workers < 1:
        parser.error("rounds, seconds, clients and workers must be positive")
    if args.meetings is None:
        per_round = (args.seconds + args.warmup) * 250 * max(1.0, args.clients / 4) * 1.3
        args.meetings = 100 + args.profile_count * 3 if args.profile else int(per_round)

    def _terminate(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, _terminate)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
