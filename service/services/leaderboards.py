"""Leaderboards (排行榜): members by learning points (教育学习), branches by total; computed nightly and stamped.

A board lists the top rows of an org's subtree. Ties share a rank (1, 1, 3); among equal points the lower id
comes first, so the cut at TOP rows is deterministic. Boards are built bottom-up: an org's top rows are the
best of its children's top rows, so one pass over the tree serves every org. A stored board holds ids and
points; names are read when it is served, so a purged member's name never outlives the purge. Points are a
reference only.
"""
import heapq
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select

from ..database import dialect_insert, transaction, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Leaderboard, Member, Org
from . import access, rollups

TOP = 100
BOARDS_PER_BATCH = 2000  # boards built and written at a time (a province has about 100,000 a period)
# What the clock computes for every org of these kinds; other boards are computed when first asked for.
NIGHTLY = {"member": ("committee", "general_branch", "branch"), "branch": ("committee", "general_branch")}


def get_board(user, org_id: int, kind: str, period: str | None) -> dict:
    """The latest stored board of the org for the period (default this month); computed and stored when none."""
    org = access.get_org(org_id)
    _require_viewer(user, org, kind)
    period = rollups.period_label(period)
    board = _latest(org.id, kind, period)
    if board is None:
        with transaction():
            [(_, boards)] = compute_boards(access.branch_of(org).id, [period], {(org.id, kind)})
            # Of two first requests at once, the second keeps the first's board (one board per org, kind, period).
            db.session.execute(dialect_insert(Leaderboard.__table__).values(
                org_id=org.id, kind=kind, period=period, rows=boards[(org.id, kind)], computed_at=utcnow())
                .on_conflict_do_nothing(index_elements=["org_id", "kind", "period"]))
        board = _latest(org.id, kind, period)
    return {"org_id": board.org_id, "kind": board.kind, "period": board.period, "computed_at": board.computed_at,
            "notice": rollups.NOTICE, "rows": _named(board.rows, kind)}


def _named(rows: list[dict], kind: str) -> list[dict]:
    """The stored rows with today's names: a renamed member shows as renamed, a purged one as purged."""
    model, key = (Member, "member_id") if kind == "member" else (Org, "org_id")
    ids = [row[key] for row in rows]
    names = dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all()) if ids else {}
    return [{**row, "name": names.get(row[key])} for row in rows]


def _require_viewer(user, org, kind: str) -> None:
    """Admins over the org; a member sees the member board of their own branch."""
    if access.administers(user, org):
        return
    member = db.session.get(Member, user.member_id) if user.member_id is not None else None
    if kind == "member" and member is not None and member.deleted_at is None and member.org_id == org.id:
        return
    raise ApiError("forbidden", 403, f"You may not see the leaderboards of organisation {org.id}.")


def _latest(org_id: int, kind: str, period: str) -> Leaderboard | None:
    return db.session.scalars(select(Leaderboard).where(
        Leaderboard.org_id == org_id, Leaderboard.kind == kind, Leaderboard.period == period)
        .execution_options(populate_existing=True)).first()


def compute_boards(root_id: int | None, labels: list[str], wanted: set | None = None):
    """Yield (label, {(org_id, kind): rows}) for the wanted pairs of the scope (None: the nightly set).

    One read serves every period; the boards come one period at a time, at most BOARDS_PER_BATCH at once (a
    province's do not fit in memory at once).
    """
    points = rollups.read_points(root_id, labels, learning=True)
    tree, totals = points.tree, rollups.totals(points)
    wanted = wanted if wanted is not None else {(org_id, kind) for kind, kinds in NIGHTLY.items()
                                                for org_id, org_kind in tree.kinds.items() if org_kind in kinds}
    placed = [(rollups.unit_of(tree, org_id, group_id), member_id, sums[len(labels):])
              for member_id, org_id, group_id, _, *sums in points.members if org_id in tree.kinds]
    del points
    keys = sorted(wanted)
    for i, label in enumerate(labels):
        tops = {"member": _merge_up(tree, _member_entries(placed, i)),
                "branch": _merge_up(tree, _branch_entries(tree, totals.pop(label)))}
        for start in range(0, len(keys), BOARDS_PER_BATCH):
            yield label, {(org_id, kind): _ranked(tops[kind].get(org_id, []), kind)
                          for org_id, kind in keys[start:start + BOARDS_PER_BATCH]}


def _member_entries(placed: list[tuple], index: int) -> dict:
    """(-learning points, member_id) per member, at their group or branch, for the index-th period."""
    buckets = defaultdict(list)
    for unit, member_id, learning in placed:
        buckets[unit].append((-learning[index], member_id))
    return buckets


def _branch_entries(tree, totals: dict) -> dict:
    """(-total, org_id) per branch, at the branch itself."""
    return {org_id: [(-rollups.rounded(totals[org_id].total), org_id)]
            for org_id, kind in tree.kinds.items() if kind == "branch"}


def _merge_up(tree, buckets: dict) -> dict[int, list]:
    """Every org's best TOP entries, sorted, deepest orgs first so that a parent merges its children's."""
    tops = {}
    for org_id in reversed(list(tree.parents)):
        tops[org_id] = heapq.nsmallest(TOP, buckets.get(org_id, []))
        parent = tree.parents[org_id]
        if parent is not None and tops[org_id]:
            buckets.setdefault(parent, []).extend(tops[org_id])
    return tops


def _ranked(entries: list[tuple], kind: str) -> list[dict]:
    """Rows with competition ranks: equal points share a rank, the next rank skips (1, 1, 3)."""
    rows, rank, previous = [], 0, None
    id_key = "member_id" if kind == "member" else "org_id"
    for position, (negative, row_id) in enumerate(entries, start=1):
        if negative != previous:
            rank, previous = position, negative
        rows.append({"rank": rank, id_key: row_id, "points": -negative})
    return rows


def snapshot_boards(now: datetime | None = None) -> int:
    """Recompute the nightly boards of the nightly periods, replacing what was stored for them; how many."""
    labels = rollups.nightly_periods(now)
    rollups.roomy()
    stamp = utcnow()
    batches = ([{"org_id": org_id, "kind": kind, "period": label, "rows": board, "computed_at": stamp}
                for (org_id, kind), board in boards.items()] for label, boards in compute_boards(None, labels))
    # Boards computed on demand for these periods go too: the next request computes them afresh.
    return rollups.replace_periods(Leaderboard.__table__, labels, batches)
