"""Compliance supervision (督办达标): did each branch (and group) hold its required meetings in a period?

Requirements are data (rules/data/compliance.json) with platform admins' changes (compliance_settings). A meeting counts as held when its status is completed, in
the China month its scheduled_at falls in, for the unit that held it (group meetings: the group). Counts come
from one GROUP BY over the meetings of the scope and period; `rules.evaluate` turns them into green/red rows.
Retired (merged) branches are left out. On demand is always current; the clock also snapshots the nightly periods.
"""
import io
from collections import defaultdict
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import and_, case, func, or_, select

from rules import COMPLIANCE_PERIODS, evaluate, months_in, parse_period

from ..database import utcnow
from ..extensions import db
from ..models import ComplianceRow, Meeting, OrgProcessSetting
from . import access, compliance_settings, rollups
from .registry import append_text_row

UNIT_KINDS = ("branch", "group")
HEADERS = ("组织编号", "组织", "会议类型", "期间", "应开次数", "已开次数", "状态")
STATUS_NAMES = {"green": "达标", "red": "未达标"}


def report(user, org_id: int, period: str | None) -> dict:
    """Rows for every branch and group of the org's subtree in the period (default this month), computed now."""
    org = access.get_org(org_id)
    access.require_admin(user, org)
    period = rollups.period_label(period, rollups.SNAPSHOT_PERIODS)
    rows = [] if org.retired_at is not None else rows_for(org.id, [period])[period]
    return {"org_id": org.id, "period": period, "computed_at": utcnow(), "rows": rows}


def export(user, org_id: int, period: str | None) -> bytes:
    """The report as an xlsx workbook (text cells are never formulas)."""
    return workbook(report(user, org_id, period))


def rows_for(root_id: int | None, labels: list[str], own_period_only: bool = False) -> dict[str, list[dict]]:
    """{label: rows} for the scope's units (every org's when None); rows carry org_name.

    `own_period_only`: a label's rows are only those about the label itself (no months inside a quarter).
    """
    tree_cte = rollups.scope(root_id)
    tree = rollups.load_tree(tree_cte)
    units, plan = _units(tree), _plan(labels, own_period_only)
    held = held_counts(rollups.narrow(tree_cte, root_id, tree), _needs(plan))  # counts outside are never looked up
    off = _switched_off(tree, root_id)  # a unit is not held to a type its superiors switched off for it
    return {label: [{**row, "org_name": tree.names[row["org_id"]]} for row in evaluate(label, held, units, wanted)
                    if row["org_id"] not in off.get(row["process_key"], ())]
            for label, wanted in plan.items()}


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
    children, order = defaultdict(list), []
    for org_id, parent in tree.parents.items():  # shallowest first, by id within a level
        children[parent].append(org_id)
    stack = list(reversed(children[None]))
    while stack:
        org_id = stack.pop()
        order.append(org_id)
        stack.extend(reversed(children[org_id]))
    return [(org_id, tree.kinds[org_id]) for org_id in order if tree.kinds[org_id] in UNIT_KINDS]


def held_counts(tree_cte, needs: dict[str, list[str]]) -> dict[tuple, int]:
    """{(org_id, process_key, China month): completed meetings} of the scope (None: all), in one grouped query.

    `needs` gives the months wanted per process key; each key is read over the span of its months.
    """
    if not needs:
        return {}
    bounds = rollups.bounds_of(sorted({month for months in needs.values() for month in months}))
    month = case(*[(and_(Meeting.scheduled_at >= start, Meeting.scheduled_at < end), label)
                   for label, (start, end) in bounds.items()])
    spans = [and_(Meeting.process_key == key, Meeting.scheduled_at >= bounds[months[0]][0],
                  Meeting.scheduled_at < bounds[months[-1]][1]) for key, months in needs.items()]
    held = select(Meeting.org_id, Meeting.process_key, month.label("month")).where(
        Meeting.status == "completed", or_(*spans))
    if tree_cte is not None:
        held = held.join(tree_cte, tree_cte.c.id == Meeting.org_id)
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
