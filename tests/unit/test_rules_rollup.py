"""Org totals by the 三晋先锋 formulas."""
from __future__ import annotations

import pytest

from rules import roll_up

#   C (党委) ─ G (党总支) ─ B1 (支部) ─ g1 (党小组)
#            │              B2
#            ├ B3
#            └ C2 (党委) ─ B4
PARENTS = {"C": None, "G": "C", "B1": "G", "g1": "B1", "B2": "G", "B3": "C", "C2": "C", "B4": "C2"}
KINDS = {"C": "committee", "G": "general_branch", "B1": "branch", "g1": "group", "B2": "branch", "B3": "branch",
         "C2": "committee", "B4": "branch"}
OWN = {"C": 1, "G": 2, "B1": 5, "B3": 3, "B4": 10}
MEMBERS = [("B1", 10, False), ("B1", 20, False), ("B1", 1000, True), ("B3", 4, False), ("B4", 0, False),
           ("B4", 50, True)]


def test_formulas_leave_exempt_members_out():
    totals = roll_up(PARENTS, KINDS, OWN, MEMBERS)
    assert totals["B1"] == (5, 15.0, 20.0)          # (10 + 20) / 2; the exempt 1000 is out of both sums
    assert totals["B2"] == (0, 0.0, 0.0)            # no members: average 0
    assert totals["B3"] == (3, 4.0, 7.0)
    assert totals["B4"] == (10, 0.0, 10.0)          # one counted member with 0 points; the exempt one is out
    assert totals["G"] == (2, 10.0, 12.0)           # mean of B1 and B2
    assert totals["C2"] == (0, 10.0, 10.0)
    assert totals["C"] == (1, 37 / 4, 1 + 37 / 4)   # mean of every branch below: B1, B2, B3, B4
    assert totals["g1"] == (0, 0.0, 0.0)
    assert set(totals) == set(PARENTS)
    assert totals["B1"].members_average == 15.0 and totals["B1"].total == 20.0


def test_members_given_under_a_group_count_in_group_and_branch():
    totals = roll_up(PARENTS, KINDS, OWN, MEMBERS + [("g1", 40, False), ("g1", 99, True)])
    assert totals["g1"] == (0, 40.0, 40.0)
    assert totals["B1"] == (5, 70 / 3, 5 + 70 / 3)


def test_all_members_exempt_means_average_zero():
    assert roll_up({"B": None}, {"B": "branch"}, {"B": 4}, [("B", 9, True)])["B"] == (4, 0.0, 4.0)


def test_upper_org_without_branches():
    totals = roll_up({"C": None, "G": "C"}, {"C": "committee", "G": "general_branch"}, {"G": 3}, [])
    assert totals["C"] == (0, 0.0, 0.0)   # G has no branches, so C has none below it either
    assert totals["G"] == (3, 0.0, 3.0)


@pytest.mark.parametrize("parents,kinds,members,message", [
    ({"A": "B", "B": "A"}, {"A": "committee", "B": "committee"}, [], "cycle"),
    ({"A": "Z"}, {"A": "committee"}, [], "not in the tree"),
    ({"A": None}, {"A": "club"}, [], "unknown kind"),
    ({"A": None, "B": "A"}, {"A": "branch", "B": "branch"}, [], "committee or general branch"),
    ({"A": None, "g": "A"}, {"A": "committee", "g": "group"}, [], "under a branch"),
    ({"A": None}, {"A": "committee"}, [("A", 3, False)], "branch or group"),
    ({"A": None}, {"A": "branch"}, [("Z", 3, False)], "branch or group"),
])
def test_bad_trees_are_refused(parents, kinds, members, message):
    with pytest.raises(ValueError, match=message):
        roll_up(parents, kinds, {}, members)


def test_deep_chains_need_no_recursion():
    depth = 50_000
    parents = {0: None, **{i: i - 1 for i in range(1, depth)}, "B": depth - 1}
    kinds = {**{i: "committee" for i in range(depth)}, "B": "branch"}
    totals = roll_up(parents, kinds, {"B": 6}, [("B", 4, False)])
    assert totals[0] == (0, 10.0, 10.0) and totals[depth - 1].total == 10.0


def test_province_shaped_tree():
    """Many branches under 党总支 under one 党委: every org gets a row and the means are over branches."""
    branches = 20_000
    parents = {"P": None, **{f"G{c}": "P" for c in range(20)}, **{f"B{b}": f"G{b % 20}" for b in range(branches)}}
    kinds = {"P": "committee", **{f"G{c}": "general_branch" for c in range(20)},
             **{f"B{b}": "branch" for b in range(branches)}}
    members = [(f"B{m % branches}", m % 7, m % 10 == 3) for m in range(400_000)]
    totals = roll_up(parents, kinds, {"B7": 1}, members)
    assert len(totals) == len(parents)
    counted = [m % 7 for m in range(7, 400_000, branches) if m % 10 != 3]
    assert totals["B7"].total == pytest.approx(1 + sum(counted) / len(counted))
    g7 = [totals[f"B{b}"].total for b in range(7, branches, 20)]
    assert totals["G7"].total == pytest.approx(sum(g7) / len(g7))
    assert totals["P"].total == pytest.approx(sum(totals[f"B{b}"].total for b in range(branches)) / branches)
