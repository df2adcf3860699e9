"""督办达标: month, quarter and year evaluation over per-month held counts."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest

from rules import Requirement, count_held, evaluate, load_requirements, months_in, requirements_from_data

UNITS = [("C", "committee"), ("B", "branch"), ("g1", "group"), ("g2", "group")]


def rows_by_key(rows):
    """{(org_id, process_key, period): (required, held, status)}."""
    keyed = {(r["org_id"], r["process_key"], r["period"]): (r["required"], r["held"], r["status"]) for r in rows}
    assert len(keyed) == len(rows)
    return keyed


def test_default_requirements_follow_domain_md():
    assert {(r.process_key, r.period, r.required, r.held_by) for r in load_requirements()} == {
        ("branch_congress", "quarter", 1, "branch"), ("committee_meeting", "month", 1, "branch"),
        ("group_meeting", "month", 1, "group"), ("party_class", "quarter", 1, "branch"),
        ("theme_day", "month", 1, "branch"), ("org_life_meeting", "year", 1, "branch")}


def test_month_checks_monthly_requirements_per_branch_and_group():
    held = {("B", "committee_meeting", "2026-11"): 1, ("g1", "group_meeting", "2026-11"): 2,
            ("B", "theme_day", "2026-10"): 1, ("B", "branch_congress", "2026-11"): 1}
    rows = evaluate("2026-11", held, UNITS)
    assert rows_by_key(rows) == {
        ("B", "committee_meeting", "2026-11"): (1, 1, "green"),
        ("B", "theme_day", "2026-11"): (1, 0, "red"),
        ("g1", "group_meeting", "2026-11"): (1, 2, "green"),
        ("g2", "group_meeting", "2026-11"): (1, 0, "red"),
    }
    assert set(rows[0]) == {"org_id", "process_key", "period", "required", "held", "status"}


def test_quarter_checks_quarterly_requirements_and_each_month():
    held = {("B", "branch_congress", "2026-11"): 1, ("B", "committee_meeting", "2026-10"): 1,
            ("B", "committee_meeting", "2026-12"): 3, ("B", "party_class", "2026-09"): 1,
            ("g1", "group_meeting", "2026-10"): 1}
    keyed = rows_by_key(evaluate("2026-Q4", held, UNITS))
    assert keyed[("B", "branch_congress", "2026-Q4")] == (1, 1, "green")
    assert keyed[("B", "party_class", "2026-Q4")] == (1, 0, "red")        # September is Q3
    assert [keyed[("B", "committee_meeting", m)][2] for m in ("2026-10", "2026-11", "2026-12")] == ["green", "red", "green"]
    assert keyed[("B", "committee_meeting", "2026-12")][1] == 3
    assert [keyed[("g1", "group_meeting", m)][2] for m in ("2026-10", "2026-11", "2026-12")] == ["green", "red", "red"]
    assert not any(k[1] == "org_life_meeting" for k in keyed)
    assert len(keyed) == 2 + 3 * 2 + 3 * 2   # branch: 2 quarterly + 2 monthly x 3; groups: 1 monthly x 3 each


def test_year_checks_yearly_quarterly_and_monthly():
    held = Counter({("B", "org_life_meeting", "2026-12"): 1, ("B", "branch_congress", "2026-02"): 1,
                    ("B", "branch_congress", "2026-03"): 1})
    keyed = rows_by_key(evaluate("2026", held, [("B", "branch")]))
    assert keyed[("B", "org_life_meeting", "2026")] == (1, 1, "green")
    assert keyed[("B", "branch_congress", "2026-Q1")] == (1, 2, "green")
    assert keyed[("B", "branch_congress", "2026-Q2")] == (1, 0, "red")
    assert sorted(k[2] for k in keyed if k[1] == "party_class") == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert sorted(k[2] for k in keyed if k[1] == "theme_day") == [f"2026-{m:02d}" for m in range(1, 13)]
    assert len(keyed) == 1 + 2 * 4 + 2 * 12


def test_rows_come_unit_by_unit_in_period_order():
    rows = evaluate("2026-Q1", {}, [("B", "branch")])
    periods = [r["period"] for r in rows if r["process_key"] == "committee_meeting"]
    assert periods == ["2026-01", "2026-02", "2026-03"]


def test_custom_requirements_with_higher_counts():
    twice = [Requirement(process_key="theme_day", period="month", required=2)]
    held = {("B", "theme_day", "2026-11"): 1, ("B2", "theme_day", "2026-11"): 2}
    rows = evaluate("2026-11", held, [("B", "branch"), ("B2", "branch")], twice)
    assert [(r["org_id"], r["status"]) for r in rows] == [("B", "red"), ("B2", "green")]


@pytest.mark.parametrize("label", ["2026-11-18", "2026-W47", "2026/11", "2026-13"])
def test_days_weeks_and_garbage_are_not_compliance_periods(label):
    with pytest.raises(ValueError):
        evaluate(label, {}, [("B", "branch")])


def test_count_held_uses_china_months():
    completions = [("B", "theme_day", datetime(2026, 11, 30, 15, 59, tzinfo=timezone.utc)),   # 23:59 on 30 Nov
                   ("B", "theme_day", datetime(2026, 11, 30, 16, 1, tzinfo=timezone.utc)),    # 00:01 on 1 Dec
                   ("B", "theme_day", datetime(2026, 11, 2, tzinfo=timezone.utc))]
    assert count_held(completions) == {("B", "theme_day", "2026-11"): 2, ("B", "theme_day", "2026-12"): 1}


def test_months_in():
    assert months_in("2026-Q2") == ["2026-04", "2026-05", "2026-06"]
    assert months_in("2026-07") == ["2026-07"]
    assert len(months_in("2026")) == 12


@pytest.mark.parametrize("item", [
    {"process_key": "theme_day", "period": "week", "required": 1},
    {"process_key": "theme_day", "period": "month", "required": 0},
    {"process_key": "theme_day", "period": "month", "required": 1, "held_by": "committee"},
    {"process_key": "", "period": "month", "required": 1},
    {"process_key": "theme_day", "period": "month"},
    {"process_key": "theme_day", "period": "month", "required": 1, "often": True},
])
def test_bad_requirement_data_is_refused(item):
    with pytest.raises(ValueError):
        requirements_from_data({"requirements": [item]})


def test_repeated_requirement_refused():
    item = {"process_key": "theme_day", "period": "month", "required": 1}
    with pytest.raises(ValueError, match="twice"):
        requirements_from_data({"requirements": [item, item]})
