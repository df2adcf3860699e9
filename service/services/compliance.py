"""Compliance supervision (督办达标): did each branch (and group) hold its required meetings in a period?

Requirements are data (rules/data/compliance.json) with platform admins' changes (compliance_settings). A meeting counts as held when its status is completed, in
the China month its scheduled_at falls in, for the unit that held it (group meetings: the group). Counts come
from grouped queries over the meetings of the units asked about and the period; `rules.evaluate` turns them into
green/red rows. Retired (merged) branches are left out. On demand is always current and paged by unit (a
province's year is millions of rows): each page reads the tree (for order and names) and counts only its own
units' meetings. The clock snapshots the nightly periods of every unit; the export takes a whole scope, bounded.
"""
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import and_, case, func, or_, select

from rules import COMPLIANCE_PERIODS, evaluate, months_in, parse_period

from ..database import utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import ComplianceRow, Meeting, OrgProcessSetting
from . import access, compliance_settings, rollups
from .registry import append_text_row

UNIT_KINDS = ("branch", "group")
HEADERS = ("组织编号", "组织", "会议类型", "期间", "应开次数", "已开次数", "状态")
STATUS_NAMES = {"green": "达标", "red": "未达标"}
PAGE_UNITS = 2000  # units per page unless asked (the API takes 1..5000)
IDS_PER_QUERY = 500  # unit ids per IN list: SQLite binds at most 999 variables before 3.32, bounds included
# An xlsx sheet holds 1,048,576 rows, but openpyxl needs about 8 s and 350 MB for 100,000 of ours: larger
# scopes are refused before any row is built.
EXPORT_MAX_ROWS = 100_000
MONTHS_PER = {"month": 1, "quarter": 3, "year": 12}


@dataclass
class Scope:
    """One read of a subtree: its CTE and tree, its units in tree order and the types switched off for them."""

    root_id: int | None
    cte: object = None
    tree: rollups.Tree = field(default_factory=rollups.Tree)
    units: list = field(default_factory=list)
    off: dict = field(default_factory=dict)


def report(user, org_id: int, period: str | None, offset: int = 0, limit: int = PAGE_UNITS) -> dict:
    """Rows of one page of the org's units (tree order) in the period (default this month), computed now."""
    org, period = _asked(user, org_id, period)
    scope = read_scope(org)
    rows = page_rows(scope, period, scope.units[offset:offset + limit])
    following = offset + limit
    return {"org_id": org.id, "period": period, "computed_at": utcnow(), "rows": rows,
            "units_total": len(scope.units), "offset": offset, "limit": limit,
            "next_offset": following if following < len(scope.units) else None, "summary": summary(rows)}


def export(user, org_id: int, period: str | None) -> bytes:
    """Every row of the scope as an xlsx workbook (text cells are never formulas); 422 when too many to export."""
    org, period = _asked(user, org_id, period)
    scope = read_scope(org)
    expected = row_count(scope, period)
    if expected > EXPORT_MAX_ROWS:
        raise ApiError("export_too_large", 422,
                       f"{expected} rows are more than an export holds ({EXPORT_MAX_ROWS}); export a smaller "
                       "organisation or a shorter period, or page through GET /api/compliance.",
                       rows=expected, max_rows=EXPORT_MAX_ROWS)
    return workbook({"period": period, "rows": scope_rows(scope, [period])[period]})


def _asked(user, org_id: int, period: str | None):
    """The org (admins over it only) and the period label asked about."""
    org = access.get_org(org_id)
    access.require_admin(user, org)
    return org, rollups.period_label(period, rollups.SNAPSHOT_PERIODS)


def summary(rows: list[dict]) -> dict:
    """{green, red}: how many of the rows are which."""
    counts = Counter(row["status"] for row in rows)
    return {"green": counts["green"], "red": counts["red"]}


def read_scope(org) -> Scope:
    """The subtree of an org (every org's when None), read once; a retired org's is empty."""
    root_id = org.id if org is not None else None
    if org is not None and org.retired_at is not None:
        return Scope(root_id)
    cte = rollups.scope(root_id)
    tree = rollups.load_tree(cte)
    return Scope(root_id, cte, tree, _units(tree), _switched_off(tree, root_id))


def rows_for(root_id: int | None, labels: list[str], own_period_only: bool = False) -> dict[str, list[dict]]:
    """{label: rows} for the scope's units (every org's when None); rows carry org_name.

    `own_period_only`: a label's rows are only those about the label itself (no months inside a quarter).
    """
    return scope_rows(read_scope(access.get_org(root_id) if root_id is not None else None), labels, own_period_only)


def scope_rows(scope: Scope, labels: list[str], own_period_only: bool = False) -> dict[str, list[dict]]:
    """{label: rows} for all of a scope's units, counted in one grouped query (joined to the tree, or a scan)."""
    plan = _plan(labels, own_period_only)
    where = rollups.narrow(scope.cte, scope.root_id, scope.tree)
    return _evaluated(scope, plan, scope.units, held_counts(where, _needs(plan)))  # counts outside are never looked up


def page_rows(scope: Scope, label: str, units: list[tuple[int, str]]) -> list[dict]:
    """The rows of some of a scope's units: only their meetings are counted. Equal to their rows in scope_rows."""
    plan = _plan([label], False)
    held = held_counts(None, _needs(plan), [org_id for org_id, _ in units])
    return _evaluated(scope, plan, units, held)[label]


def _evaluated(scope: Scope, plan: dict[str, list], units: list, held: dict) -> dict[str, list[dict]]:
    """`rules.evaluate` per label, named, without the types switched off for a unit."""
    names, off = scope.tree.names, scope.off  # a unit is not held to a type its superiors switched off for it
    return {label: [{**row, "org_name": names[row["org_id"]]} for row in evaluate(label, held, units, wanted)
                    if row["org_id"] not in off.get(row["process_key"], ())]
            for label, wanted in plan.items()}


def row_count(scope: Scope, label: str) -> int:
    """How many rows the scope has in the period, from its units and the plan (no meeting is read)."""
    units, kinds = Counter(kind for _, kind in scope.units), scope.tree.kinds
    months, total = len(months_in(label)), 0
    for requirement in _plan([label], False)[label]:
        off = sum(1 for org_id in scope.off.get(requirement.process_key, ()) if kinds[org_id] == requirement.held_by)
        total += (units[requirement.held_by] - off) * (months // MONTHS_PER[requirement.period])
    return total


def _switched_off(tree, root_id: int | None) -> dict[str, set[int]]:
    """{process_key: the orgs of the scope under a 党委/党总支 that switched the meeting type off}."""
    settings = db.session.execute(select(OrgProcessSetting.org_id, OrgProcessSetting.process_key).where(
        OrgProcessSetting.enabled.is_(False))).all()
    if not settings:
        return {}
    children = defaultdict(list)
    for org_id, parent in tree.parents.items():
        children[parent].append(org_id)
    above = {a.id for a in access.ancestors(access.get_org(root_id))} if root_id is not None else set()
    off = defaultdict(set)
    for org_id, key in settings:
        if org_id in above:
            off[key].update(tree.parents)
        elif org_id in tree.parents:
            stack = [org_id]
            while stack:
                node = stack.pop()
                off[key].add(node)
                stack.extend(children[node])
    return off


def _plan(labels: list[str], own_period_only: bool) -> dict[str, list]:
    """The requirements each label evaluates: those no longer than it (or only its own length)."""
    plan, in_force = {}, compliance_settings.requirements()
    for label in labels:
        depth = COMPLIANCE_PERIODS.index(parse_period(label))
        plan[label] = [r for r in in_force if (COMPLIANCE_PERIODS.index(r.period) == depth if own_period_only
                                               else COMPLIANCE_PERIODS.index(r.period) <= depth)]
    return plan


def _needs(plan: dict[str, list]) -> dict[str, list[str]]:
    """{process_key: the months whose counts the plan reads}, so the query reads no more meetings than that."""
    needs = defaultdict(set)
    for label, requirements in plan.items():
        for requirement in requirements:
            needs[requirement.process_key].update(months_in(label))
    return {key: sorted(months) for key, months in needs.items()}


def _units(tree) -> list[tuple[int, str]]:
    """(org_id, kind) of the branches and groups, in tree order: each branch followed by its groups."""
    children, kinds = {}, tree.kinds
    for org_id, parent in tree.parents.items():  # shallowest first, by id within a level
        children.setdefault(parent, []).append(org_id)  # leaves get no list: a province has 200,000 groups
    order, stack = [], children.get(None, [])[::-1]
    while stack:
        org_id = stack.pop()
        if kinds[org_id] in UNIT_KINDS:
            order.append((org_id, kinds[org_id]))
        stack.extend(reversed(children.get(org_id, ())))
    return order


def held_counts(tree_cte, needs: dict[str, list[str]], org_ids: list[int] | None = None) -> dict[tuple, int]:
    """{(org_id, process_key, China month): completed meetings} of the scope (None: all) or of the org ids.

    `needs` gives the months wanted per process key; each key is read over the span of its months. One grouped
    query, or one per IDS_PER_QUERY org ids.
    """
    if not needs or org_ids == []:
        return {}
    if org_ids is None:
        return _grouped(_held(needs, tree_cte))
    counts = {}
    for start in range(0, len(org_ids), IDS_PER_QUERY):
        counts.update(_grouped(_held(needs, None).where(Meeting.org_id.in_(org_ids[start:start + IDS_PER_QUERY]))))
    return counts


def _held(needs: dict[str, list[str]], tree_cte):
    """(org_id, process_key, China month) of each completed meeting the needs read (joined to the tree if given)."""
    bounds = rollups.bounds_of(sorted({month for months in needs.values() for month in months}))
    month = case(*[(and_(Meeting.scheduled_at >= start, Meeting.scheduled_at < end), label)
                   for label, (start, end) in bounds.items()])
    spans = [and_(Meeting.process_key == key, Meeting.scheduled_at >= bounds[months[0]][0],
                  Meeting.scheduled_at < bounds[months[-1]][1]) for key, months in needs.items()]
    held = select(Meeting.org_id, Meeting.process_key, month.label("month")).where(
        Meeting.status == "completed", or_(*spans))
    return held.join(tree_cte, tree_cte.c.id == Meeting.org_id) if tree_cte is not None else held


def _grouped(held) -> dict[tuple, int]:
    held = held.subquery()
    query = (select(held.c.org_id, held.c.process_key, held.c.month, func.count())
             .group_by(held.c.org_id, held.c.process_key, held.c.month))
    return {(org_id, key, label): count for org_id, key, label, count in db.session.execute(query)}


def workbook(report_data: dict) -> bytes:
    """One sheet: a row per unit, meeting type and period, status in words."""
    names = {r.process_key: r.label or r.process_key for r in compliance_settings.requirements()}
    book = Workbook()
    sheet = book.active
    sheet.title = f"督办达标 {report_data['period']}"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for number, row in enumerate(report_data["rows"], start=2):
        append_text_row(sheet, number, [row["org_id"], row["org_name"], names.get(row["process_key"]), row["period"],
                                        row["required"], row["held"], STATUS_NAMES[row["status"]]])
    sheet.freeze_panes = "A2"
    for column, width in zip("ABCDEFG", (10, 30, 24, 10, 10, 10, 8)):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def snapshot(now: datetime | None = None) -> int:
    """Write ComplianceRow for every unit and each nightly period (replacing that period's rows); how many rows."""
    labels = rollups.nightly_periods(now)
    rollups.roomy()
    stamp = utcnow()
    rows = [{"org_id": row["org_id"], "process_key": row["process_key"], "period": row["period"],
             "required": row["required"], "held": row["held"], "status": row["status"], "computed_at": stamp}
            for found in rows_for(None, labels, own_period_only=True).values() for row in found]
    return rollups.replace_periods(ComplianceRow.__table__, labels, [rows])
