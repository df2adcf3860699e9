"""督办达标: green/red per branch and group, quarter and year expansion, China months, pages, export, nightly snapshot."""
import io
import time
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from service import scheduler
from service.database import transaction, utcnow
from service.extensions import db
from service.models import ComplianceRow, Meeting, Org
from service.services import compliance, rollups

from .helpers import assert_problem
from .test_congress import MINUTES, complete

UTC = timezone.utc


def _held(app, org_id, key, at, status="completed"):
    """A meeting row as its flow leaves it (the flows themselves are tested elsewhere)."""
    with app.app_context(), transaction():
        db.session.add(Meeting(process_key=key, process_version=1, org_id=org_id, title=f"{key} 测试", scheduled_at=at,
                               status=status, completed_at=at if status == "completed" else None))


def _org(world, name, kind, parent):
    return world.admin.ok("post", "/api/orgs", {"name": name, "kind": kind, "parent_id": parent}, 201)["id"]


def _report(api, org_id, period, paging=""):
    return api.ok("get", f"/api/compliance?org_id={org_id}&period={period}{paging}")


def _table(body):
    return {(r["org_id"], r["process_key"], r["period"]): (r["held"], r["status"]) for r in body["rows"]}


@pytest.fixture()
def groups(world):
    world.ids["group_1"] = _org(world, "第一党小组", "group", world.ids["branch_a"])
    world.ids["group_2"] = _org(world, "第二党小组", "group", world.ids["branch_a"])
    world.admin.ok("post", "/api/members", {"name": "组员", "phone": "13800009101", "org_id": world.ids["branch_a"],
                                            "group_id": world.ids["group_1"], "category": "full",
                                            "joined_at": "2015-07-01"}, 201)
    return world


def test_a_month_is_green_when_held_in_that_china_month(groups, clean_app):
    w, a = groups, groups.ids["branch_a"]
    _held(clean_app, a, "committee_meeting", datetime(2025, 10, 31, 16, 30, tzinfo=UTC))  # 11-01 00:30 China time
    _held(clean_app, a, "theme_day", datetime(2025, 11, 30, 16, 30, tzinfo=UTC))  # 12-01 00:30 China: December's
    _held(clean_app, a, "theme_day", datetime(2025, 11, 12, 2, 0, tzinfo=UTC), status="in_progress")  # not held yet
    _held(clean_app, w.ids["group_1"], "group_meeting", datetime(2025, 11, 5, 2, 0, tzinfo=UTC))
    body = _report(w.users["zongzhi"], w.ids["general"], "2025-11")
    assert body["org_id"] == w.ids["general"] and body["period"] == "2025-11" and body["computed_at"]
    assert _table(body) == {
        (a, "committee_meeting", "2025-11"): (1, "green"), (a, "theme_day", "2025-11"): (0, "red"),
        (w.ids["group_1"], "group_meeting", "2025-11"): (1, "green"),
        (w.ids["group_2"], "group_meeting", "2025-11"): (0, "red")}
    assert {r["org_name"] for r in body["rows"]} == {"A支部", "第一党小组", "第二党小组"}
    assert all(r["required"] == 1 for r in body["rows"])
    assert _table(_report(w.admin, a, "2025-12"))[(a, "theme_day", "2025-12")] == (1, "green")


def test_a_quarter_checks_its_own_requirements_and_each_month_inside_it(groups, clean_app):
    w, a, b = groups, groups.ids["branch_a"], groups.ids["branch_b"]
    _held(clean_app, a, "branch_congress", datetime(2025, 11, 20, 2, 0, tzinfo=UTC))
    _held(clean_app, a, "committee_meeting", datetime(2025, 10, 9, 2, 0, tzinfo=UTC))
    _held(clean_app, a, "committee_meeting", datetime(2025, 10, 19, 2, 0, tzinfo=UTC))
    table = _table(_report(w.users["dangwei"], w.ids["committee"], "2025-Q4"))
    assert table[(a, "branch_congress", "2025-Q4")] == (1, "green")
    assert table[(b, "branch_congress", "2025-Q4")] == (0, "red")
    assert table[(a, "party_class", "2025-Q4")] == (0, "red")
    assert [table[(a, "committee_meeting", m)] for m in ("2025-10", "2025-11", "2025-12")] == [
        (2, "green"), (0, "red"), (0, "red")]
    assert {p for (_, key, p) in table if key == "group_meeting"} == {"2025-10", "2025-11", "2025-12"}
    assert not any(key == "org_life_meeting" for (_, key, _) in table)  # yearly: only in a year
    # per branch: 2 quarterly + 2 monthly x 3; per group: 1 monthly x 3
    assert len(table) == 2 * (2 + 2 * 3) + 2 * 3
    year = _table(_report(w.admin, a, "2025"))
    assert year[(a, "org_life_meeting", "2025")] == (0, "red")
    assert year[(a, "branch_congress", "2025-Q4")] == (1, "green") and (a, "theme_day", "2025-01") in year


def test_a_large_scope_is_counted_by_scanning_with_the_same_rows(groups, clean_app, monkeypatch):
    w, a = groups, groups.ids["branch_a"]
    _held(clean_app, a, "theme_day", datetime(2025, 11, 5, 2, 0, tzinfo=UTC))
    _held(clean_app, w.ids["branch_b"], "theme_day", datetime(2025, 11, 5, 2, 0, tzinfo=UTC))  # outside the 党总支
    indexed = _report(w.admin, w.ids["general"], "2025-Q4")["rows"]
    monkeypatch.setattr(rollups, "SCAN_ABOVE", 0)
    monkeypatch.setattr(rollups, "SCAN_SHARE", 0)
    assert _report(w.admin, w.ids["general"], "2025-Q4")["rows"] == indexed
    assert {r["org_id"] for r in indexed} == {a, w.ids["group_1"], w.ids["group_2"]}
    assert _table({"rows": indexed})[(a, "theme_day", "2025-11")] == (1, "green")


def test_group_meetings_are_rows_per_group_and_retired_branches_are_left_out(groups, clean_app):
    w = groups
    retired = _org(w, "已合并支部", "branch", w.ids["committee"])
    with clean_app.app_context(), transaction():
        db.session.execute(update(Org).where(Org.id == retired).values(retired_at=utcnow()))
    table = _table(_report(w.admin, w.ids["committee"], "2025-11"))
    assert {org for (org, _, _) in table} == {w.ids["branch_a"], w.ids["branch_b"], w.ids["group_1"], w.ids["group_2"]}
    assert {key for (org, key, _) in table if org in (w.ids["group_1"], w.ids["group_2"])} == {"group_meeting"}
    assert not any(key == "group_meeting" for (org, key, _) in table if org == w.ids["branch_a"])
    assert _report(w.admin, retired, "2025-11")["rows"] == []
    group = _table(_report(w.admin, w.ids["group_2"], "2025-11"))
    assert list(group) == [(w.ids["group_2"], "group_meeting", "2025-11")]


def test_a_group_meeting_completed_through_its_flow_counts_for_the_group(groups, clean_app):
    w, sec = groups, groups.users["sec_a"]
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    meeting = sec.ok("post", "/api/meetings", {"process_key": "group_meeting", "org_id": w.ids["group_1"],
                                               "title": "党小组会", "scheduled_at": at.isoformat()}, 201)
    complete(sec, meeting["open_tasks"][0]["id"])  # notify
    period = rollups.current_month(at)
    key = (w.ids["group_1"], "group_meeting", period)
    assert _table(_report(sec, w.ids["branch_a"], period))[key] == (0, "red")
    time.sleep(1.6)
    with clean_app.app_context():
        scheduler.fire_due_timers()
    record = sec.ok("get", f"/api/meetings/{meeting['id']}")["open_tasks"][0]
    confirm = complete(sec, record["id"], MINUTES)["next_tasks"][0]
    complete(sec, confirm["id"])
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "completed"
    assert _table(_report(sec, w.ids["branch_a"], period))[key] == (1, "green")


def test_compliance_is_for_admins_over_the_org(groups):
    w = groups
    assert_problem(w.users["sec_a"].get(f"/api/compliance?org_id={w.ids['committee']}&period=2025-11"), 403,
                   "forbidden")
    assert_problem(w.users["m1"].get(f"/api/compliance?org_id={w.ids['branch_a']}&period=2025-11"), 403,
                   "forbidden")
    assert_problem(w.users["sec_b"].get(f"/api/compliance/export.xlsx?org_id={w.ids['branch_a']}"), 403, "forbidden")
    assert_problem(w.admin.get("/api/compliance?org_id=99999&period=2025-11"), 404, "org_not_found")
    body = assert_problem(w.admin.get(f"/api/compliance?org_id={w.ids['branch_a']}&period=2025-11-03"), 422,
                          "invalid_period")
    assert "period" in body["errors"] and "a month 2026-11" in body["detail"] and "2026-11-18" not in body["detail"]
    assert _report(w.users["sec_a"], w.ids["branch_a"], "2025-11")["rows"]
    assert _report(w.users["sec_a"], w.ids["branch_a"], rollups.current_month())["period"] == rollups.current_month()


def test_the_export_opens_and_holds_text_never_formulas(groups, clean_app):
    w = groups
    odd = _org(w, "=HYPERLINK(\"http://x\",\"点我\")", "branch", w.ids["committee"])
    _held(clean_app, odd, "theme_day", datetime(2025, 11, 5, 2, 0, tzinfo=UTC))
    response = w.users["dangwei"].get(f"/api/compliance/export.xlsx?org_id={w.ids['committee']}&period=2025-11")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("组织编号", "组织", "会议类型", "期间", "应开次数", "已开次数", "状态")
    assert len(rows) - 1 == len(_report(w.admin, w.ids["committee"], "2025-11")["rows"])
    assert (odd, "=HYPERLINK(\"http://x\",\"点我\")", "主题党日", "2025-11", 1, 1, "达标") in rows
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_the_nightly_snapshot_matches_on_demand_and_is_idempotent(groups, clean_app):
    w, a = groups, groups.ids["branch_a"]
    _held(clean_app, a, "theme_day", utcnow() - timedelta(minutes=5))
    labels = rollups.nightly_periods()
    with clean_app.app_context():
        written = scheduler.snapshot_compliance()
        assert scheduler.snapshot_compliance() == written
        stored = {(r.org_id, r.process_key, r.period): (r.held, r.status) for r in db.session.scalars(
            select(ComplianceRow))}
        assert db.session.scalar(select(func.count()).select_from(ComplianceRow)) == written == len(stored)
    assert {p for (_, _, p) in stored} == set(labels)
    for label in labels:
        on_demand = {k: v for k, v in _table(_report(w.admin, w.ids["committee"], label)).items() if k[2] == label}
        assert on_demand == {k: v for k, v in stored.items() if k[2] == label}
    assert stored[(a, "theme_day", rollups.current_month())] == (1, "green")


@pytest.fixture()
def wide(groups, clean_app):
    """Three more branches (two with groups), meetings over Q4, theme_day switched off under the 党总支."""
    w, general = groups, groups.ids["general"]
    w.ids["more"] = [_org(w, f"{n}支部", "branch", general if n != "E" else w.ids["committee"]) for n in "CDE"]
    w.ids["more_groups"] = [_org(w, f"{n}组", "group", parent) for n, parent in
                            (("C1", w.ids["more"][0]), ("E1", w.ids["more"][2]), ("E2", w.ids["more"][2]))]
    units = [w.ids["branch_a"], w.ids["branch_b"], w.ids["group_1"], *w.ids["more"], *w.ids["more_groups"]]
    for i, org in enumerate(units):
        for month in range(10, 13)[: 1 + i % 3]:
            for key in ("theme_day", "committee_meeting", "group_meeting", "branch_congress"):
                _held(clean_app, org, key, datetime(2025, month, 3 + i, 2, 0, tzinfo=UTC))
    w.admin.ok("put", f"/api/orgs/{general}/meeting-types/theme_day", {"enabled": False})
    return w


def _pages(api, org_id, period, limit):
    bodies, offset = [], 0
    while offset is not None:
        bodies.append(_report(api, org_id, period, f"&limit={limit}&offset={offset}"))
        assert bodies[-1]["offset"] == offset and bodies[-1]["limit"] == limit
        offset = bodies[-1]["next_offset"]
    return bodies


@pytest.mark.parametrize("period", ["2025-Q4", "2025", "2025-11"])
def test_pages_of_units_concatenate_to_the_unpaged_rows(wide, clean_app, monkeypatch, period):
    w, committee = wide, wide.ids["committee"]
    with clean_app.app_context():
        unpaged = compliance.rows_for(committee, [period])[period]
        monkeypatch.setattr(rollups, "SCAN_ABOVE", 0)
        monkeypatch.setattr(rollups, "SCAN_SHARE", 0)
        assert compliance.rows_for(committee, [period])[period] == unpaged  # the scan path, as the export at size
    monkeypatch.setattr(compliance, "IDS_PER_QUERY", 3)  # a page counts its units a few ids at a time
    whole = _report(w.admin, committee, period, "&limit=5000")
    assert whole["rows"] == unpaged and whole["units_total"] == 10 and whole["next_offset"] is None
    off = {org for org in (w.ids["branch_a"], *w.ids["more"][:2])}  # under the 党总支
    assert not any(r["process_key"] == "theme_day" and r["org_id"] in off for r in unpaged)
    assert any(r["process_key"] == "theme_day" for r in unpaged)  # B and E are under the 党委 directly
    assert {r["status"] for r in unpaged} == {"green", "red"}
    for limit in (1, 2, 3, 4, 9):
        bodies = _pages(w.admin, committee, period, limit)
        assert len(bodies) == -(-10 // limit) and all(b["units_total"] == 10 for b in bodies)
        assert [r for b in bodies for r in b["rows"]] == unpaged
        for body in bodies:
            assert len({r["org_id"] for r in body["rows"]}) <= limit  # a unit is never split over two pages
            assert body["summary"] == {"green": sum(r["status"] == "green" for r in body["rows"]),
                                       "red": sum(r["status"] == "red" for r in body["rows"])}
    units = [r["org_id"] for r in unpaged]
    assert units.index(w.ids["group_2"]) < units.index(w.ids["more"][0])  # each branch, then its groups


def test_a_small_subtree_is_one_page_and_switched_off_above_the_root_still_applies(wide):
    w, general = wide, wide.ids["general"]
    w.admin.ok("put", f"/api/orgs/{w.ids['committee']}/meeting-types/party_class", {"enabled": False})
    body = _report(w.users["zongzhi"], general, "2025-Q4")
    assert (body["units_total"], body["offset"], body["limit"], body["next_offset"]) == (6, 0, 2000, None)
    assert body["summary"]["green"] + body["summary"]["red"] == len(body["rows"])
    assert not {r["process_key"] for r in body["rows"]} & {"party_class", "theme_day"}
    # per branch (A, C, D): branch_congress + committee_meeting x 3; per group (1, 2, C1): group_meeting x 3
    assert len(body["rows"]) == 3 * (1 + 3) + 3 * 3
    past_end = _report(w.users["zongzhi"], general, "2025-Q4", "&offset=6")
    assert past_end["rows"] == [] and past_end["next_offset"] is None and past_end["summary"] == {"green": 0, "red": 0}


def test_paging_arguments_are_checked(groups):
    w = groups
    for paging in ("&limit=0", "&limit=5001", "&offset=-1", "&limit=x"):
        body = assert_problem(w.admin.get(f"/api/compliance?org_id={w.ids['committee']}&period=2025-11{paging}"),
                              422, "validation_error")
        assert set(body["errors"]) <= {"limit", "offset"}


def test_an_export_too_large_is_refused_before_any_row_is_built(wide, clean_app, monkeypatch):
    w, committee = wide, wide.ids["committee"]
    with clean_app.app_context():
        rows = len(compliance.rows_for(committee, ["2025"])["2025"])
        scope = compliance.read_scope(db.session.get(Org, committee))
        assert compliance.row_count(scope, "2025") == rows  # switched-off types left out of the estimate too
    url = f"/api/compliance/export.xlsx?org_id={committee}&period=2025"
    monkeypatch.setattr(compliance, "EXPORT_MAX_ROWS", rows)
    assert w.admin.get(url).status_code == 200
    monkeypatch.setattr(compliance, "EXPORT_MAX_ROWS", rows - 1)
    monkeypatch.setattr(compliance, "held_counts", lambda *a, **k: pytest.fail("counted meetings"))
    body = assert_problem(w.admin.get(url), 422, "export_too_large")
    assert (body["rows"], body["max_rows"]) == (rows, rows - 1) and "shorter period" in body["detail"]
    monkeypatch.undo()
    assert _report(w.admin, committee, "2025", "&limit=1")["units_total"] == 10  # pages still work
