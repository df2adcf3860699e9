"""Org totals by the 三晋先锋 formulas: on demand for one subtree, and the clock's nightly snapshot of every org.

Both paths run the same set-based reads (one GROUP BY over members and their ledger entries, one over the orgs'
own entries, every period of a run summed in the same scan) and hand the numbers to `rules.roll_up`, so a
snapshot and an on-demand answer for the same data are equal. A large scope (above SNAPSHOT_ABOVE orgs: a
county or city 党委, the province) is answered from the snapshot when it holds the period; anything else, or
`fresh`, is computed on demand.

Points follow the tree as it is now: a member counts in the branch they belong to (all their points of the
period, earned before a transfer too), an org's own points roll up through its current parent. Retired
(merged) orgs and what hangs below them are left out of the tree, with their own points; deleted members are
left out; members with an approved smartphone exemption are left out of their branch's average by
`rules.roll_up`.
"""
import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter

from sqlalchemy import and_, case, delete, func, insert, literal, select, text
from sqlalchemy.orm import aliased

from rules import NOTICE, parse_period, period_bounds, period_key, roll_up

from ..database import transaction, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Member, Org, OrgScore, ScoreEntry
from . import access

SNAPSHOT_PERIODS = ("month", "quarter", "year")
READ_PERIODS = ("day", "month", "quarter", "year")  # what member scores take too
EXAMPLES = {"day": "2026-11-18", "month": "2026-11", "quarter": "2026-Q4", "year": "2026"}
CHUNK = 5000  # rows per executemany of a snapshot (not Postgres: it takes COPY)
NIGHTLY_WORK_MEM = "256MB"
LEARNING = "education"  # 甘肃 ranks members by 教育学习 points only
# A scope with more orgs than SCAN_ABOVE and more than a SCAN_SHARE of all orgs is read like the nightly run
# (whole-table scans, rows outside dropped in Python): walking millions of index entries one member at a time is
# slower than one scan. A scope that is a small part of the province is read through the index whatever its size
# (20,000-branch province: a county of 3,524 orgs 0.57 s by index against 7.8 s by scan, a city of 7,204 orgs
# 0.86 s against 7.2 s, the whole province 9.3 s against 8.5 s).
SCAN_ABOVE = 2000
STREAM_ROWS = 20_000  # member rows fetched at a time
SCAN_SHARE = 0.5
# A scope with more orgs than this is answered from the nightly row of the period when there is one: such a
# scope is read by scanning (above), seconds to tens of seconds live; the nightly row equals the formula as of
# its run. Only periods the nightly run still refreshes are served so: a closed period's late corrections show.
SNAPSHOT_ABOVE = SCAN_ABOVE


@dataclass
class Tree:
    """The orgs of one scope: parent (None for the scope's root), kind and name, shallowest first."""

    parents: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)


def nightly_periods(now: datetime | None = None) -> list[str]:
    """Month, quarter and year labels of today and yesterday (China time): a period just ended gets its last day."""
    now = now or utcnow()
    labels = [period_key(at, kind) for at in (now - timedelta(days=1), now) for kind in SNAPSHOT_PERIODS]
    return list(dict.fromkeys(labels))


def current_month(now: datetime | None = None) -> str:
    """This month's label in China time."""
    return period_key(now or utcnow(), "month")


def period_label(label: str | None, kinds: tuple = READ_PERIODS) -> str:
    """The period asked for (default this month, China time); 422 invalid_period for another kind or a bad label."""
    if label is None:
        return current_month()
    try:
        kind = parse_period(label)
    except ValueError:
        kind = None
    if kind not in kinds:
        choices = ", ".join(f"a {kind} {EXAMPLES[kind]}" for kind in kinds)
        raise ApiError("invalid_period", 422, f"Not a period here: {label!r}; use {choices}.",
                       errors={"period": [f"one of: {', '.join(kinds)}"]})
    return label


def bounds_of(labels) -> dict[str, tuple[datetime, datetime]]:
    """[start, end) of each period label."""
    return {label: period_bounds(label, parse_period(label)) for label in labels}


def rounded(value: float) -> float:
    """A total as org_score stores it (4 decimal places), so served and stored values compare equal."""
    return float(f"{value:.4f}")


def scope(root_id: int | None):
    """A recursive CTE (id, parent_id, kind, name, depth) of the root and its subtree, every root's when None.

    Retired orgs below the root, and everything under them, are left out; an explicitly asked root is kept.
    """
    anchor = select(Org.id, Org.parent_id, Org.kind, Org.name, literal(0).label("depth"))
    anchor = (anchor.where(Org.id == root_id) if root_id is not None
              else anchor.where(Org.parent_id.is_(None), Org.retired_at.is_(None)))
    tree = anchor.cte("subtree", recursive=True)
    child = aliased(Org)
    return tree.union_all(select(child.id, child.parent_id, child.kind, child.name, tree.c.depth + 1)
                          .where(child.parent_id == tree.c.id, child.retired_at.is_(None)))


def load_tree(tree_cte) -> Tree:
    """The scope's orgs, shallowest first; the root's parent is None."""
    tree = Tree()
    rows = db.session.execute(select(tree_cte.c.id, tree_cte.c.parent_id, tree_cte.c.kind, tree_cte.c.name,
                                     tree_cte.c.depth).order_by(tree_cte.c.depth, tree_cte.c.id))
    for org_id, parent_id, kind, name, depth in rows:
        tree.parents[org_id] = parent_id if depth else None
        tree.kinds[org_id], tree.names[org_id] = kind, name
    return tree


def _period_sums(bounds: dict, category: str | None = None) -> list:
    """SUM(points) of the entries inside each period (and category, if given), one column per label."""
    only = [ScoreEntry.category == category] if category else []
    return [func.sum(case((and_(ScoreEntry.occurred_at >= start, ScoreEntry.occurred_at < end, *only),
                           ScoreEntry.points), else_=0)) for start, end in bounds.values()]


def _in_range(bounds: dict):
    return and_(ScoreEntry.occurred_at >= min(s for s, _ in bounds.values()),
                ScoreEntry.occurred_at < max(e for _, e in bounds.values()))


def member_points(tree_cte, bounds: dict, learning: bool = False) -> list[tuple]:
    """(member_id, org_id, group_id, exempt, points per label[, learning points per label]) of present members.

    `tree_cte` None reads every member: the ledger is aggregated once and joined (hash or merge joins); a
    subtree's members are read with their entries through the (target, target_id, occurred_at) index.
    """
    sums = _period_sums(bounds) + (_period_sums(bounds, LEARNING) if learning else [])
    entries = (ScoreEntry.target == "member", _in_range(bounds))
    member = (Member.id, Member.org_id, Member.group_id, Member.smartphone_exempt_approved_at.is_not(None))
    if tree_cte is None:
        per_member = select(ScoreEntry.target_id, *sums).where(*entries).group_by(ScoreEntry.target_id).subquery()
        query = (select(*member, *(func.coalesce(column, 0) for column in list(per_member.c)[1:]))
                 .outerjoin(per_member, per_member.c.target_id == Member.id))
    else:
        query = (select(*member, *(func.coalesce(column, 0) for column in sums))
                 .join(tree_cte, tree_cte.c.id == Member.org_id)
                 .outerjoin(ScoreEntry, and_(ScoreEntry.target_id == Member.id, *entries)).group_by(Member.id))
    # Streamed (a server-side cursor on Postgres) into plain tuples: a province's 2,000,000 rows are never held
    # twice, once as the driver's result and once as Row objects.
    if db.session.get_bind().dialect.name == "postgresql":  # plan the cursor for all its rows, not the first 10%
        db.session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
    rows = db.session.execute(query.where(Member.deleted_at.is_(None)),
                              execution_options={"stream_results": True, "yield_per": STREAM_ROWS})
    return [tuple(row) for row in rows]


def own_points(tree_cte, bounds: dict) -> dict[int, tuple]:
    """{org_id: points per label} of the orgs' own ledger entries (orgs without any are absent)."""
    query = select(ScoreEntry.target_id, *_period_sums(bounds)).where(ScoreEntry.target == "org", _in_range(bounds))
    if tree_cte is not None:
        query = query.join(tree_cte, tree_cte.c.id == ScoreEntry.target_id)
    return {row[0]: tuple(row[1:]) for row in db.session.execute(query.group_by(ScoreEntry.target_id))}


@dataclass
class Points:
    """What one run read: the scope's tree, its members' rows (see member_points) and the orgs' own points."""

    tree: Tree
    labels: list
    members: list
    own: dict


def read_points(root_id: int | None, labels: list[str], learning: bool = False) -> Points:
    """Read a scope (every org when root_id is None) once for all the periods."""
    tree_cte, bounds = scope(root_id), bounds_of(labels)
    tree = load_tree(tree_cte)
    where = narrow(tree_cte, root_id, tree)
    return Points(tree, list(labels), member_points(where, bounds, learning), own_points(where, bounds))


def narrow(tree_cte, root_id: int | None, tree: Tree):
    """The CTE to join a read to, or None to scan everything (rows outside the tree are dropped afterwards)."""
    if root_id is None:
        return None
    size = len(tree.kinds)
    if size <= SCAN_ABOVE:
        return tree_cte
    every = db.session.scalar(select(func.count()).select_from(Org).where(Org.retired_at.is_(None)))
    return tree_cte if size <= SCAN_SHARE * every else None


def totals(points: Points) -> dict[str, dict]:
    """{label: {org_id: OrgTotal}} for every org of the tree: rules.roll_up once per period."""
    tree = points.tree
    present = [(unit_of(tree, row[1], row[2]), row[3], row[4:]) for row in points.members if row[1] in tree.kinds]
    result = {}
    for i, label in enumerate(points.labels):
        own = {org_id: sums[i] for org_id, sums in points.own.items()}
        counted = [(unit, sums[i], exempt) for unit, exempt, sums in present]
        result[label] = roll_up(tree.parents, tree.kinds, own, counted)
    return result


def unit_of(tree: Tree, org_id: int, group_id: int | None) -> int:
    """Where a member counts: their group (which folds into the branch), else their branch."""
    return group_id if group_id in tree.kinds and tree.parents.get(group_id) == org_id else org_id


def org_total(user, org_id: int, period: str | None, fresh: bool = False) -> dict:
    """One org's {own, members_average, total} for a period (default this month) by the formulas.

    A large scope gets the nightly row when there is one (`source` nightly, `computed_at` of that run); a small
    one, or `fresh`, is computed now (`source` live).
    """
    org = access.get_org(org_id)
    access.require_admin(user, org)
    period = period_label(period)
    # A group's row needs its branch above it (rules.roll_up hangs groups under branches).
    root = access.branch_of(org)
    stored = None if fresh else stored_total(org.id, root.id, period)
    if stored is not None:
        numbers = (float(stored.own), float(stored.members_average), float(stored.total))
        return _answer(org.id, period, numbers, stored.computed_at, "nightly")
    return _answer(org.id, period, totals(read_points(root.id, [period]))[period][org.id], utcnow(), "live")


def _answer(org_id: int, period: str, numbers: tuple, computed_at: datetime, source: str) -> dict:
    own, average, total = numbers
    return {"org_id": org_id, "period": period, "own": rounded(own), "members_average": rounded(average),
            "total": rounded(total), "computed_at": computed_at, "source": source, "notice": NOTICE}


def stored_total(org_id: int, root_id: int, period: str) -> OrgScore | None:
    """The nightly row to serve for the org, or None: a small scope, a period no longer refreshed, no row yet."""
    if period not in nightly_periods():
        return None
    row = db.session.get(OrgScore, (org_id, period))
    if row is None or row.computed_at < last_nightly_start():  # the clock missed a night: compute it now
        return None
    return row if scope_size(root_id, SNAPSHOT_ABOVE + 1) > SNAPSHOT_ABOVE else None


def last_nightly_start(now: datetime | None = None) -> datetime:
    """The start of yesterday, China time: a nightly row older than that is at least a run behind."""
    yesterday = period_key((now or utcnow()) - timedelta(days=1), "day")
    return period_bounds(yesterday, "day")[0]


def scope_size(root_id: int, at_most: int) -> int:
    """How many orgs the root's scope holds, counting no further than at_most (the tree is walked that far)."""
    tree = scope(root_id)
    return db.session.scalar(select(func.count()).select_from(select(tree.c.id).limit(at_most).subquery()))


def snapshot_totals(now: datetime | None = None) -> int:
    """Write OrgScore for every org and each nightly period (replacing that period's rows); how many rows."""
    labels = nightly_periods(now)
    roomy()
    by_label = totals(read_points(None, labels))
    stamp = utcnow()
    rows = [{"org_id": org_id, "period": label, "own": _decimal(t.own), "members_average": _decimal(t.members_average),
             "total": _decimal(t.total), "computed_at": stamp}
            for label, by_org in by_label.items() for org_id, t in by_org.items()]
    return replace_periods(OrgScore.__table__, labels, [rows])


def _decimal(value: float) -> Decimal:
    return Decimal(f"{value:.4f}")  # the digits rounded() gives


def roomy() -> None:
    """Give this transaction's sorts and hashes room on Postgres (the nightly reads group millions of rows)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"SET LOCAL work_mem = '{NIGHTLY_WORK_MEM}'"))


def replace_periods(table, labels: list[str], batches) -> int:
    """Replace a snapshot table's rows of these periods with the batches (lists of rows), in one transaction.

    Readers see the old rows or the new ones, never a mix; batches may be computed lazily, one at a time.
    """
    written = 0
    with transaction():
        if db.session.get_bind().dialect.name == "postgresql":
            # Writers of the table wait until this run commits (a first request storing a leaderboard would
            # otherwise land between the delete and the insert and fail the run on the unique key); reads go on.
            db.session.execute(text(f"LOCK TABLE {table.name} IN SHARE ROW EXCLUSIVE MODE"))
        db.session.execute(delete(table).where(table.c.period.in_(labels)))
        for rows in batches:
            bulk_insert(table, rows)
            written += len(rows)
    return written


def bulk_insert(table, rows: list[dict]) -> None:
    """INSERT many rows in the current transaction: COPY on Postgres (5x executemany), executemany elsewhere.

    Values must not be None or empty strings (CSV would read them as NULL).
    """
    if not rows:
        return
    if db.session.get_bind().dialect.name != "postgresql":
        for start in range(0, len(rows), CHUNK):
            db.session.execute(insert(table), rows[start:start + CHUNK])
        return
    columns = list(rows[0])
    buffer = io.StringIO()
    csv.writer(buffer).writerows(_copy_rows(rows, columns))
    buffer.seek(0)
    cursor = db.session.connection().connection.cursor()
    cursor.copy_expert(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)


def _copy_rows(rows: list[dict], columns: list[str]):
    """Tuples in column order; only columns holding times or JSON are converted (a million rows a night)."""
    pick = itemgetter(*columns)
    special = [i for i, column in enumerate(columns) if isinstance(rows[0][column], (datetime, list, dict))]
    if not special:
        return map(pick, rows)
    return (_converted(pick(row), special) for row in rows)


def _converted(values: tuple, special: list[int]) -> list:
    values = list(values)
    for i in special:
        values[i] = _copy_value(values[i])
    return values


@lru_cache(maxsize=16)  # a snapshot stamps every row with the same time
def _copy_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")


def _copy_value(value):
    if isinstance(value, datetime):  # UTCDateTime columns hold naive UTC
        return _copy_time(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value
