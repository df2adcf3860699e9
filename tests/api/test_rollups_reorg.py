"""Points after reorganisation: a member's points follow them, an org's own points follow it, a merged branch's stay out.

Tree (test_transfers' `tree`): 党委 > 党总支 > A (7 members, 丁 exempt: 6 counted); 党委 > B (1 member);
党委 > 第二党总支 > C (no members). Org totals on demand, in the nightly snapshot, and the nightly boards.
"""
import pytest
from sqlalchemy import select

from rules import period_bounds
from service import scheduler
from service.extensions import db
from service.models import OrgScore
from service.services import rollups

from .test_org_transfers import _approve, _org
from .test_rollups import _board, _points, _total
from .test_transfers import _act, _approve_chain, _start, tree  # noqa: F401  (tree is a fixture)


def _numbers(api, org_id, query=""):
    body = _total(api, org_id, f"{rollups.current_month()}{query}")
    return body["own"], body["members_average"], body["total"]


def _stored(app, org_id):
    with app.app_context():
        row = db.session.get(OrgScore, (org_id, rollups.current_month()))
        return None if row is None else (float(row.own), float(row.members_average), float(row.total))


def _members(body):
    return [(row["member_id"], row["points"]) for row in body["rows"]]


@pytest.fixture()
def pointed(tree, clean_app):
    """乙 (in A): 6 on the month's first instant and 20 now; B's member 9; A's own 30, C's 10, the 党总支's 2."""
    w, a = tree, tree.ids["members_a"]
    month_start, _ = period_bounds(rollups.current_month(), "month")
    _points(clean_app, ("member", a[1], "education", 6, month_start), ("member", a[1], "education", 20),
            ("member", w.ids["member_b"], "education", 9), ("org", w.ids["branch_a"], "organizational_life", 30),
            ("org", w.ids["branch_c"], "organizational_life", 10), ("org", w.ids["general"], "organizational_life", 2))
    return w


# A = 30 + 26 / 6, B = 9, C = 10; 党总支 = 2 + A; 第二党总支 = C; 党委 = mean(A, B, C).
BEFORE = {"branch_a": (30, 26 / 6, 30 + 26 / 6), "branch_c": (10, 0, 10), "general": (2, 30 + 26 / 6, 32 + 26 / 6),
          "general2": (0, 10, 10), "committee": (0, (30 + 26 / 6 + 9 + 10) / 3, (30 + 26 / 6 + 9 + 10) / 3)}


def _check(w, expected, query=""):
    for name, numbers in expected.items():
        assert _numbers(w.admin, w.ids[name], query) == pytest.approx(numbers, abs=1e-4), name


def test_a_transferred_members_points_of_the_whole_period_go_with_them(pointed, clean_app, monkeypatch):
    w, a = pointed, pointed.ids["members_a"]
    _check(w, BEFORE)
    assert _members(_board(w.admin, w.ids["branch_a"], "member"))[0] == (a[1], 26)
    assert _board(w.admin, w.ids["branch_c"], "member")["rows"] == []  # stored until the night
    with clean_app.app_context():
        scheduler.roll_up_scores()
    started = _start(w, to_org_id=w.ids["branch_c"])
    _approve_chain(w, started["id"], ["zongzhi", "dangwei", "zongzhi2"])
    _act(w.users["sec_c"], started["id"], {"accepted": True})

    # On demand at once: A has 5 counted members without 乙; C counts 乙 with the 6 earned before the transfer.
    after = {"branch_a": (30, 0, 30), "branch_c": (10, 26, 36), "general": (2, 30, 32), "general2": (0, 36, 36),
             "committee": (0, 25, 25)}  # mean(30, 9, 36)
    _check(w, after)
    # The nightly row of a large scope shows yesterday's tree until the next run; fresh shows the new one.
    monkeypatch.setattr(rollups, "SNAPSHOT_ABOVE", 1)
    assert _numbers(w.admin, w.ids["committee"]) == pytest.approx(BEFORE["committee"], abs=1e-4)
    assert _numbers(w.admin, w.ids["committee"], "&fresh=true") == (0, 25, 25)
    with clean_app.app_context():
        scheduler.roll_up_scores()
    _check(w, after)
    assert _stored(clean_app, w.ids["branch_a"]) == (30, 0, 30) and _stored(clean_app, w.ids["branch_c"]) == (10, 26, 36)

    # Boards computed before the transfer are served until the nightly boards replace them.
    assert _board(w.admin, w.ids["branch_c"], "member")["rows"] == []
    with clean_app.app_context():
        scheduler.compute_leaderboards()
    assert _members(_board(w.admin, w.ids["branch_c"], "member")) == [(a[1], 26)]
    assert a[1] not in [m for m, _ in _members(_board(w.admin, w.ids["branch_a"], "member"))]
    assert [m for m, _ in _members(_board(w.admin, w.ids["committee"], "member"))].count(a[1]) == 1


def test_a_moved_branchs_own_points_roll_up_into_its_new_parent(pointed, clean_app):
    w = pointed
    with clean_app.app_context():
        scheduler.roll_up_scores()
    started = w.users["sec_a"].ok("post", "/api/org-transfers", {"org_id": w.ids["branch_a"],
                                                                  "new_parent_id": w.ids["general2"],
                                                                  "reason": "机构调整"}, 201)
    _approve(w.users["zongzhi"], started["id"])
    _approve(w.users["zongzhi2"], started["id"])
    a_total = 30 + 26 / 6
    # The 党总支 keeps its own 2 and has no branch left; the 第二党总支 averages A and C; the 党委 is unchanged.
    after = {**BEFORE, "general": (2, 0, 2), "general2": (0, (a_total + 10) / 2, (a_total + 10) / 2)}
    _check(w, after)
    with clean_app.app_context():
        scheduler.roll_up_scores()
        scheduler.compute_leaderboards()
    assert _stored(clean_app, w.ids["general"]) == (2, 0, 2)
    assert _stored(clean_app, w.ids["general2"]) == pytest.approx(after["general2"], abs=1e-4)
    assert _stored(clean_app, w.ids["branch_a"]) == pytest.approx(BEFORE["branch_a"], abs=1e-4)
    branches = _board(w.admin, w.ids["general2"], "branch")["rows"]
    assert [(r["org_id"], r["points"]) for r in branches] == [(w.ids["branch_a"], round(a_total, 4)),
                                                              (w.ids["branch_c"], 10)]
    assert _board(w.admin, w.ids["general"], "branch")["rows"] == []


def test_a_merged_branchs_members_count_in_the_survivor_and_its_own_points_count_nowhere(pointed, clean_app):
    w = pointed
    branch_d = _org(w, "D支部", "branch", w.ids["general"])
    d = [w.admin.ok("post", "/api/members", {"name": f"D{i}", "phone": f"1360000100{i}", "org_id": branch_d,
                                             "category": "full", "joined_at": "2015-07-01"}, 201)["id"] for i in range(2)]
    # Both branches held their committee meeting this month (10 each, capped at 10 a month per branch).
    _points(clean_app, ("member", d[0], "education", 40), ("org", branch_d, "organizational_life", 10))
    a_total, d_total = 30 + 26 / 6, 10 + 40 / 2
    _check(w, {"general": (2, (a_total + d_total) / 2, 2 + (a_total + d_total) / 2),
               "committee": (0, (a_total + d_total + 9 + 10) / 4, (a_total + d_total + 9 + 10) / 4)})
    with clean_app.app_context():
        scheduler.roll_up_scores()
    merge = w.users["zongzhi"].ok("post", "/api/org-transfers", {"kind": "merge", "org_id": branch_d,
                                                                  "into_org_id": w.ids["branch_a"],
                                                                  "reason": "支部合并"}, 201)
    _approve(w.users["zongzhi"], merge["id"])

    # A keeps its own 30 (D's 10 are not folded in) and averages 8 counted members: 26 + 40 over 8.
    survivor = (30, 66 / 8, 30 + 66 / 8)
    after = {"branch_a": survivor, "general": (2, survivor[2], 2 + survivor[2]),
             "committee": (0, (survivor[2] + 9 + 10) / 3, (survivor[2] + 9 + 10) / 3)}
    _check(w, after)
    # The retired branch's own page still shows its own points, with no members.
    assert _numbers(w.admin, branch_d) == (10, 0, 10)
    with clean_app.app_context():
        scheduler.roll_up_scores()
        scheduler.compute_leaderboards()
        assert _stored(clean_app, branch_d) is None  # not in the nightly tree any more
    assert _stored(clean_app, w.ids["branch_a"]) == pytest.approx(survivor, abs=1e-4)
    assert _stored(clean_app, w.ids["committee"]) == pytest.approx(after["committee"], abs=1e-4)
    assert [r["org_id"] for r in _board(w.admin, w.ids["general"], "branch")["rows"]] == [w.ids["branch_a"]]
    assert _members(_board(w.admin, w.ids["branch_a"], "member"))[:2] == [(d[0], 40), (w.ids["members_a"][1], 26)]
