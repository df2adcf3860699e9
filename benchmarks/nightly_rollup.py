"""Synthetic province on Postgres: time the nightly roll-up, compliance snapshot, leaderboards and on-demand reads.

usage (an EMPTY Postgres database; the data is COPYed in):
    createdb -h 127.0.0.1 -U postgres orglife_nightly
    .venv/bin/python benchmarks/nightly_rollup.py postgresql+psycopg2://postgres@127.0.0.1:5432/orglife_nightly \
        100000 20 10000000            # BRANCHES MEMBERS_PER_BRANCH LEDGER_ROWS [--load-only|--no-load] [--reads-only]
    (--reads-only skips the nightly snapshots and times the on-demand reads, paged compliance included)
    dropdb -h 127.0.0.1 -U postgres orglife_nightly
"""
import io
import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from service import create_app  # noqa: E402
from service.extensions import db  # noqa: E402

URL, BRANCHES, PER, LEDGER = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
FLAGS = set(sys.argv[5:])
GROUPS_PER_BRANCH = 2
BRANCHES_PER_GENERAL = 50
GENERALS_PER_COMMITTEE = 10
UTC = timezone.utc
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime.now(UTC)
SPAN = (NOW - YEAR_START).total_seconds()
rnd = random.Random(7)


def copy(cursor, table, columns, rows):
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def ts(at):
    return at.strftime("%Y-%m-%d %H:%M:%S")


def load(conn):
    cur = conn.cursor()
    now = ts(NOW)
    orgs, branches, groups = [], [], []
    next_id = 1
    root = next_id; next_id += 1
    orgs.append((root, "省委", "committee", None, now))
    generals = BRANCHES // BRANCHES_PER_GENERAL
    committees = max(1, generals // GENERALS_PER_COMMITTEE)
    cids = []
    for c in range(committees):
        orgs.append((next_id, f"市委{c}", "committee", root, now)); cids.append(next_id); next_id += 1
    gids = []
    for g in range(generals):
        orgs.append((next_id, f"总支{g}", "general_branch", cids[g % committees], now)); gids.append(next_id); next_id += 1
    for b in range(BRANCHES):
        orgs.append((next_id, f"支部{b}", "branch", gids[b % generals], now)); branches.append(next_id); next_id += 1
    for b in branches:
        for _ in range(GROUPS_PER_BRANCH):
            orgs.append((next_id, f"小组{next_id}", "group", b, now)); groups.append((next_id, b)); next_id += 1
    copy(cur, "org", ("id", "name", "kind", "parent_id", "created_at"), orgs)
    members = []
    mid = 1
    for i, b in enumerate(branches):
        for j in range(PER):
            group = groups[i * GROUPS_PER_BRANCH + j % GROUPS_PER_BRANCH][0] if j % 2 else None
            exempt = now if mid % 50 == 0 else None
            deleted = now if mid % 100 == 1 else None
            members.append((mid, f"党员{mid}", b, group, "full", "2015-07-01", "false", now, deleted, exempt))
            mid += 1
    copy(cur, "member", ("id", "name", "org_id", "group_id", "category", "joined_at", "smartphone_exempt",
                         "created_at", "deleted_at", "smartphone_exempt_approved_at"), members)
    cats = ("education", "education", "education", "pioneer")
    for chunk in range(0, LEDGER, 1_000_000):
        entries = []
        for k in range(chunk, min(LEDGER, chunk + 1_000_000)):
            at = ts(YEAR_START + timedelta(seconds=rnd.random() * SPAN))
            if k % 20 == 0:
                entries.append(("org", rnd.choice(branches), "meeting_x", "organizational_life", 10, at, "meeting", now))
            else:
                entries.append(("member", rnd.randint(1, mid - 1), "read", rnd.choice(cats), rnd.randint(1, 3), at,
                                "event", now))
        copy(cur, "score_entry", ("target", "target_id", "rule_id", "category", "points", "occurred_at", "source",
                                  "created_at"), entries)
    meetings = []
    months = NOW.month
    for b in branches:
        for m in range(1, months + 1):
            for key in ("committee_meeting", "theme_day"):
                if rnd.random() < 0.8:
                    at = ts(datetime(2026, m, rnd.randint(1, 20), 2, tzinfo=UTC))
                    meetings.append((key, 1, b, key, at, "completed", now, "false", "false", "false"))
        for q in range(1, (months - 1) // 3 + 2):
            for key in ("branch_congress", "party_class"):
                at = ts(datetime(2026, 3 * q - 2, 10, 2, tzinfo=UTC))
                meetings.append((key, 1, b, key, at, "completed", now, "false", "false", "false"))
    for g, _ in groups:
        for m in range(1, months + 1):
            if rnd.random() < 0.7:
                meetings.append(("group_meeting", 1, g, "g", ts(datetime(2026, m, 15, 2, tzinfo=UTC)), "completed", now, "false", "false", "false"))
    copy(cur, "meeting", ("process_key", "process_version", "org_id", "title", "scheduled_at", "status", "created_at", "online", "feedback_open", "check_in_open"),
         meetings)
    for table in ("org", "member", "score_entry", "meeting"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    conn.commit()
    cur.execute("ANALYZE")
    conn.commit()
    print(f"loaded: orgs {len(orgs)} (branches {BRANCHES}, groups {len(groups)}), members {len(members)}, "
          f"ledger {LEDGER}, meetings {len(meetings)}")


def timed(label, fn):
    start = time.perf_counter()
    result = fn()
    print(f"{label:45s} {time.perf_counter() - start:8.2f} s   -> {result}")
    return result


def main():
    app = create_app({"SQLALCHEMY_DATABASE_URI": URL, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        if "--no-load" not in FLAGS:
            from flask_migrate import upgrade
            upgrade()
            raw = db.engine.raw_connection()
            try:
                load(raw.driver_connection)
            finally:
                raw.close()
        if "--load-only" in FLAGS:
            return
        from service.services import compliance, leaderboards, rollups
        from service.models import User
        admin = User(id=0, username="x", password_hash="x")
        admin.grants = []
        from service.models import RoleGrant
        admin.grants = [RoleGrant(role="platform_admin", org_id=None)]
        if "--reads-only" not in FLAGS:
            timed("roll-up snapshot (OrgScore)", rollups.snapshot_totals)
            timed("compliance snapshot (ComplianceRow)", compliance.snapshot)
            timed("leaderboards snapshot", leaderboards.snapshot_boards)
            timed("roll-up snapshot again (idempotent)", rollups.snapshot_totals)
        db.session.rollback()
        timed("on demand: one branch total (year)", lambda: rollups.org_total(admin, 1 + 1 + 1 + 1, "2026")["total"])
        branch = db.session.execute(db.text("SELECT min(id) FROM org WHERE kind='branch'")).scalar()
        timed("on demand: one branch total (year)", lambda: rollups.org_total(admin, branch, "2026")["total"])
        timed("on demand: one branch compliance (year)",
              lambda: len(compliance.report(admin, branch, "2026")["rows"]))
        city = db.session.execute(db.text("SELECT min(id) FROM org WHERE kind='committee' AND parent_id IS NOT NULL")).scalar()
        timed("on demand: city committee total (year)", lambda: rollups.org_total(admin, city, "2026")["total"])
        timed("on demand: city committee compliance (month)",
              lambda: len(compliance.report(admin, city, "2026-11")["rows"]))
        paged_compliance(admin, compliance)
        timed("on demand: province total (year)", lambda: rollups.org_total(admin, 1, "2026")["total"])
        timed("province compliance (year), whole, unpaged", lambda: len(compliance.rows_for(1, ["2026"])["2026"]))


def paged_compliance(admin, compliance):
    """The province's year of compliance a page at a time: the first, a middle one, the largest; the export's refusal."""
    from service.errors import ApiError
    from service.models import Org
    from service.schemas.rollups import ComplianceOut
    first = {}
    timed("province compliance (year), page 1 of 2000 units",
          lambda: len(first.setdefault("body", compliance.report(admin, 1, "2026"))["rows"]))
    total = first["body"]["units_total"]
    middle = (total // 2 // 2000) * 2000
    timed(f"  again (units_total {total})", lambda: len(compliance.report(admin, 1, "2026")["rows"]))
    timed(f"  middle page (offset {middle})", lambda: len(compliance.report(admin, 1, "2026", middle)["rows"]))
    timed("  middle page of 5000 units", lambda: len(compliance.report(admin, 1, "2026", middle, 5000)["rows"]))
    timed("  month, middle page", lambda: len(compliance.report(admin, 1, "2026-11", middle)["rows"]))
    timed("  of a page: the tree read", lambda: len(compliance.read_scope(db.session.get(Org, 1)).units))
    timed("  of a page: dumped to JSON (marshmallow)",
          lambda: len(json.dumps(ComplianceOut().dump(first["body"]), ensure_ascii=False).encode()))

    def refused():
        try:
            compliance.export(admin, 1, "2026")
        except ApiError as error:
            return f"{error.status} {error.code} ({error.ext['rows']} rows)"
    timed("province export (year): refused", refused)


main()
