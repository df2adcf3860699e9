"""Org totals by the 三晋 formulas (on demand and nightly) and leaderboards (learning points, ranks, visibility)."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select, update

from rules import CHINA
from service import scheduler
from service.database import transaction, utcnow
from service.extensions import db
from service.models import Leaderboard, Member, OrgScore
from service.services import ledger, rollups

from .helpers import assert_problem

NOTICE = "积分仅供参考，不作为评价党员的唯一依据"
TWO_YEARS_AGO = datetime.now(timezone.utc) - timedelta(days=730)


def _points(app, *entries):
    """Ledger entries (target, target_id, category, points[, occurred_at]); now by default."""
    with app.app_context(), transaction():
        for n, (target, target_id, category, points, *at) in enumerate(entries):
            ledger.append(target, target_id, "test_rule", category, points, at[0] if at else utcnow(), "event",
                          f"test-{target}-{target_id}-{n}-{points}")


def _org(world, name, kind, parent):
    return world.admin.ok("post", "/api/orgs", {"name": name, "kind": kind, "parent_id": parent}, 201)["id"]


def _total(api, org_id, period=None):
    return api.ok("get", f"/api/scores/orgs/{org_id}" + (f"?period={period}" if period else ""))


@pytest.fixture()
def scored(world, clean_app):
    """Branch A: 5 counted members (丁 exempt, 庚 deleted); empty branch E under the 党总支; B with one member."""
    w, ids = world, world.ids
    ids["branch_e"] = _org(w, "E支部", "branch", ids["general"])
    a = ids["members_a"]
    w.admin.ok("delete", f"/api/members/{a[6]}", status=204)
    _points(clean_app,
            ("member", a[0], "education", 10), ("member", a[0], "education", 100, TWO_YEARS_AGO),
            ("member", a[1], "pioneer", 20), ("member", a[1], "pioneer", -5),  # a reversal
            ("member", a[2], "education", 5), ("member", a[3], "education", 1000),  # 丁: approved exemption
            ("member", a[5], "organizational_life", 7), ("member", a[6], "education", 500),  # 庚: deleted
            ("org", ids["branch_a"], "organizational_life", 30), ("member", ids["member_b"], "education", 9),
            ("org", ids["branch_b"], "organizational_life", 10), ("org", ids["general"], "organizational_life", 2))
    return w


# Worked by hand: A = 30 + (10 + 15 + 5 + 0 + 7) / 5; B = 10 + 9; E = 0; 党总支 = 2 + mean(A, E); 党委 = mean(A, E, B).
EXPECTED = {"branch_a": (30, 7.4, 37.4), "branch_b": (10, 9, 19), "branch_e": (0, 0, 0),
            "general": (2, 18.7, 20.7), "committee": (0, 18.8, 18.8)}


def test_org_totals_follow_the_formulas_by_hand(scored):
    w = scored
    for name, (own, average, total) in EXPECTED.items():
        body = _total(w.admin, w.ids[name])
        assert (body["own"], body["members_average"], body["total"]) == pytest.approx((own, average, total)), name
        assert body["org_id"] == w.ids[name] and body["period"] == rollups.current_month()
        assert body["notice"] == NOTICE and body["computed_at"].endswith("+08:00")


def test_only_a_scope_holding_most_of_the_orgs_is_scanned(scored, clean_app, monkeypatch):
    monkeypatch.setattr(rollups, "SCAN_ABOVE", 0)
    with clean_app.app_context():
        for name, scanned in (("committee", True), ("branch_a", False), ("branch_b", False)):
            tree_cte = rollups.scope(scored.ids[name])
            tree = rollups.load_tree(tree_cte)
            assert (rollups.narrow(tree_cte, scored.ids[name], tree) is None) == scanned, name
        assert rollups.narrow(None, None, rollups.Tree()) is None  # the nightly run: everything


def test_a_large_scope_is_read_by_scanning_with_the_same_answers(scored, monkeypatch):
    w, a = scored, scored.ids["members_a"]
    monkeypatch.setattr(rollups, "SCAN_ABOVE", 0)  # every scope counts as large: whole-table reads, then filtered
    monkeypatch.setattr(rollups, "SCAN_SHARE", 0)
    for name, expected in EXPECTED.items():
        body = _total(w.admin, w.ids[name])
        assert (body["own"], body["members_average"], body["total"]) == pytest.approx(expected), name
    general = _board(w.admin, w.ids["general"], "member")  # B's member is outside the 党总支
    assert [r["member_id"] for r in general["rows"]] == [a[3], a[0], a[2], a[1], a[4], a[5]]


def test_org_totals_take_only_the_period_asked_for(scored):
    w = scored
    old_year = str(TWO_YEARS_AGO.astimezone(CHINA).year)
    body = _total(w.admin, w.ids["branch_a"], old_year)
    assert (body["own"], body["members_average"], body["total"]) == (0, 20.0, 20.0)  # 100 / 5 counted members
    assert body["period"] == old_year


def test_a_group_row_counts_its_members_and_folds_into_the_branch(scored, clean_app):
    w = scored
    group = _org(w, "第一党小组", "group", w.ids["branch_a"])
    member = w.admin.ok("post", "/api/members", {"name": "组员", "phone": "13800009101", "org_id": w.ids["branch_a"],
                                                 "group_id": group, "category": "full", "joined_at": "2015-07-01"},
                        201)["id"]
    _points(clean_app, ("member", member, "education", 13))
    assert _total(w.admin, group)["total"] == 13.0
    assert _total(w.admin, w.ids["branch_a"])["members_average"] == round(50 / 6, 4)  # served as stored: 4 places


def test_the_snapshot_equals_the_on_demand_answer_and_is_idempotent(scored, clean_app):
    w = scored
    with clean_app.app_context():
        first = scheduler.roll_up_scores()
        assert first == scheduler.roll_up_scores()  # same rows again, nothing added
        assert db.session.scalar(select(func.count()).select_from(OrgScore)) == first == 5 * 3
        rows = {r.org_id: r for r in db.session.scalars(select(OrgScore).where(
            OrgScore.period == rollups.current_month()))}
    for name, expected in EXPECTED.items():
        row, body = rows[w.ids[name]], _total(w.admin, w.ids[name])
        assert (float(row.own), float(row.members_average), float(row.total)) == (
            body["own"], body["members_average"], body["total"]) == pytest.approx(expected), name
    _points(clean_app, ("org", w.ids["branch_e"], "organizational_life", 6))
    with clean_app.app_context():
        scheduler.roll_up_scores()
        assert float(db.session.get(OrgScore, (w.ids["branch_e"], rollups.current_month())).total) == 6.0


def test_org_totals_are_for_admins_over_the_org(scored):
    w = scored
    assert _total(w.users["zongzhi"], w.ids["branch_a"])["total"] == pytest.approx(37.4)
    assert _total(w.users["sec_a"], w.ids["branch_a"])["total"] == pytest.approx(37.4)
    assert_problem(w.users["sec_a"].get(f"/api/scores/orgs/{w.ids['general']}"), 403, "forbidden")
    assert_problem(w.users["sec_b"].get(f"/api/scores/orgs/{w.ids['branch_a']}"), 403, "forbidden")
    assert_problem(w.users["m1"].get(f"/api/scores/orgs/{w.ids['branch_a']}"), 403, "forbidden")
    assert_problem(w.admin.get("/api/scores/orgs/99999"), 404, "org_not_found")
    body = assert_problem(w.admin.get(f"/api/scores/orgs/{w.ids['branch_a']}?period=2026-13"), 422, "invalid_period")
    assert "period" in body["errors"]
    assert_problem(w.admin.get(f"/api/scores/orgs/{w.ids['branch_a']}?period=2026-W47"), 422, "invalid_period")


def _stamp(app, org_id, period):
    with app.app_context():
        return db.session.get(OrgScore, (org_id, period)).computed_at.astimezone(CHINA).isoformat()


def test_a_large_scope_is_served_from_the_nightly_row_equal_to_the_formula(scored, clean_app, monkeypatch):
    w = scored
    monkeypatch.setattr(rollups, "SNAPSHOT_ABOVE", 1)  # a branch alone is small; the 党总支 and 党委 are large
    assert _total(w.admin, w.ids["committee"])["source"] == "live"  # no nightly row yet
    with clean_app.app_context():
        scheduler.roll_up_scores()
    month = rollups.current_month()
    for name, expected in EXPECTED.items():
        body = _total(w.admin, w.ids[name])
        fresh = _total(w.admin, w.ids[name], f"{month}&fresh=true")
        assert body["source"] == ("live" if name.startswith("branch") else "nightly"), name
        assert fresh["source"] == "live" and fresh["computed_at"] >= body["computed_at"]
        assert (body["own"], body["members_average"], body["total"]) == (
            fresh["own"], fresh["members_average"], fresh["total"]) == pytest.approx(expected), name
        assert body["notice"] == NOTICE and body["period"] == month
    committee = _total(w.admin, w.ids["committee"])
    assert committee["computed_at"] == _stamp(clean_app, w.ids["committee"], month)


def test_a_nightly_row_a_night_behind_is_not_served(scored, clean_app, monkeypatch):
    w = scored
    monkeypatch.setattr(rollups, "SNAPSHOT_ABOVE", 1)
    with clean_app.app_context():
        scheduler.roll_up_scores()
        assert _total(w.admin, w.ids["committee"])["source"] == "nightly"
        with transaction():  # the clock stopped: the row is from two days ago
            db.session.execute(update(OrgScore).values(computed_at=utcnow() - timedelta(days=2)))
    body = _total(w.admin, w.ids["committee"])
    assert body["source"] == "live" and (body["own"], body["members_average"], body["total"]) == pytest.approx(
        EXPECTED["committee"])


def test_a_small_scope_is_live_and_a_large_one_follows_the_next_night_or_fresh(scored, clean_app, monkeypatch):
    w = scored
    monkeypatch.setattr(rollups, "SNAPSHOT_ABOVE", 1)
    with clean_app.app_context():
        scheduler.roll_up_scores()
    _points(clean_app, ("org", w.ids["branch_e"], "organizational_life", 9))
    small = _total(w.admin, w.ids["branch_e"])  # a branch alone: computed now, the new entry in it
    assert (small["source"], small["own"], small["total"]) == ("live", 9.0, 9.0)
    stale = _total(w.admin, w.ids["general"])
    assert (stale["source"], stale["total"]) == ("nightly", pytest.approx(20.7))  # 2 + mean(37.4, 0)
    assert _total(w.admin, w.ids["general"], f"{rollups.current_month()}&fresh=true")["total"] == pytest.approx(25.2)
    assert _total(w.admin, w.ids["committee"], "2020")["source"] == "live"  # not a nightly period
    assert _total(w.admin, w.ids["committee"], utcnow().astimezone(CHINA).date().isoformat())["source"] == "live"
    with clean_app.app_context():
        scheduler.roll_up_scores()
    again = _total(w.admin, w.ids["general"])
    assert (again["source"], again["total"]) == ("nightly", pytest.approx(25.2))
    assert _total(w.admin, w.ids["general"], "2020&fresh=false")["source"] == "live"
    assert_problem(w.admin.get(f"/api/scores/orgs/{w.ids['general']}?fresh=maybe"), 422, "validation_error")


def test_an_org_at_or_below_the_threshold_is_always_live(scored, clean_app, monkeypatch):
    w = scored
    with clean_app.app_context():
        scheduler.roll_up_scores()
    assert _total(w.admin, w.ids["committee"])["source"] == "live"  # 5 orgs, far below the default
    monkeypatch.setattr(rollups, "SNAPSHOT_ABOVE", 5)
    assert _total(w.admin, w.ids["committee"])["source"] == "live"
    monkeypatch.setattr(rollups, "SNAPSHOT_ABOVE", 4)
    assert _total(w.admin, w.ids["committee"])["source"] == "nightly"


# --- leaderboards ---------------------------------------------------------------------------------------------

def _board(api, org_id, kind, period=None):
    return api.ok("get", f"/api/leaderboards?org_id={org_id}&kind={kind}" + (f"&period={period}" if period else ""))


def _ranks(body, key="member_id"):
    return [(row["rank"], row[key], row["points"]) for row in body["rows"]]


def test_member_board_ranks_learning_points_with_shared_ranks(scored, clean_app):
    w, a = scored, scored.ids["members_a"]
    _points(clean_app, ("member", a[4], "education", 5))  # ties 丙 at 5
    body = _board(w.users["sec_a"], w.ids["branch_a"], "member")
    # Education only: 乙's pioneer 15 and 己's organisational 7 do not count; 丁 (exempt) is ranked; 庚 (deleted) is not.
    assert _ranks(body) == [(1, a[3], 1000), (2, a[0], 10), (3, a[2], 5), (3, a[4], 5), (5, a[1], 0), (5, a[5], 0)]
    assert body["rows"][0]["name"] == "丁" and body["notice"] == NOTICE and body["kind"] == "member"
    committee = _board(w.admin, w.ids["committee"], "member")
    assert [r["member_id"] for r in committee["rows"]][:4] == [a[3], a[0], w.ids["member_b"], a[2]]


def test_branch_board_ranks_branch_totals(scored):
    w = scored
    body = _board(w.users["dangwei"], w.ids["committee"], "branch")
    assert _ranks(body, "org_id") == [(1, w.ids["branch_a"], 37.4), (2, w.ids["branch_b"], 19.0),
                                      (3, w.ids["branch_e"], 0.0)]
    assert [r["name"] for r in body["rows"]] == ["A支部", "B支部", "E支部"]
    general = _board(w.users["zongzhi"], w.ids["general"], "branch")
    assert [r["org_id"] for r in general["rows"]] == [w.ids["branch_a"], w.ids["branch_e"]]


def test_a_board_keeps_the_top_100_and_cuts_ties_by_id(scored, clean_app):
    w = scored
    with clean_app.app_context(), transaction():
        ids = [db.session.execute(insert(Member).values(
            name=f"批量{i}", org_id=w.ids["branch_b"], category="full", joined_at=datetime(2015, 7, 1).date(),
            smartphone_exempt=False)).inserted_primary_key[0] for i in range(105)]
    _points(clean_app, *[("member", member_id, "education", 50 if i < 3 else 1) for i, member_id in enumerate(ids)])
    rows = _board(w.users["sec_b"], w.ids["branch_b"], "member")["rows"]
    assert len(rows) == 100
    assert [r["rank"] for r in rows[:5]] == [1, 1, 1, 4, 5] and rows[3]["points"] == 9  # B党员's 9
    assert [r["rank"] for r in rows[4:]] == [5] * 96 and [r["member_id"] for r in rows[4:]] == ids[3:99]


def test_members_see_their_own_branch_member_board_only(scored):
    w = scored
    assert _board(w.users["m1"], w.ids["branch_a"], "member")["rows"]
    for path in (f"org_id={w.ids['branch_a']}&kind=branch", f"org_id={w.ids['committee']}&kind=member",
                 f"org_id={w.ids['branch_b']}&kind=member"):
        assert_problem(w.users["m1"].get(f"/api/leaderboards?{path}"), 403, "forbidden")
    assert_problem(w.users["sec_b"].get(f"/api/leaderboards?org_id={w.ids['branch_a']}&kind=member"), 403, "forbidden")
    assert _board(w.users["zongzhi"], w.ids["branch_a"], "member")["rows"]
    assert_problem(w.admin.get("/api/leaderboards?org_id=99999&kind=member"), 404, "org_not_found")
    assert_problem(w.admin.get(f"/api/leaderboards?org_id={w.ids['branch_a']}&kind=group"), 422, "validation_error")
    assert_problem(w.admin.get(f"/api/leaderboards?org_id={w.ids['branch_a']}&kind=member&period=x"), 422,
                   "invalid_period")


def test_a_board_computed_on_request_is_stored_and_served_until_recomputed(scored, clean_app):
    w, a = scored, scored.ids["members_a"]
    first = _board(w.admin, w.ids["branch_a"], "member")
    _points(clean_app, ("member", a[1], "education", 2000))
    again = _board(w.admin, w.ids["branch_a"], "member")
    assert again == first  # the stored board, stamped when it was computed
    with clean_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Leaderboard)) == 1
    older = _board(w.admin, w.ids["branch_a"], "member", "2020")
    assert older["period"] == "2020" and {r["points"] for r in older["rows"]} == {0}


def test_nightly_boards_replace_the_periods_boards_and_are_idempotent(scored, clean_app):
    w, a = scored, scored.ids["members_a"]
    _board(w.admin, w.ids["branch_a"], "member", "2020")  # another period's board stays
    with clean_app.app_context():
        written = scheduler.compute_leaderboards()
        # member boards of 党委, 党总支, A, B, E and branch boards of 党委 and 党总支, for month, quarter and year
        assert written == (5 + 2) * len(rollups.nightly_periods())
        assert scheduler.compute_leaderboards() == written
        assert db.session.scalar(select(func.count()).select_from(Leaderboard)) == written + 1
        stamp = db.session.scalar(select(Leaderboard.computed_at).where(
            Leaderboard.org_id == w.ids["branch_a"], Leaderboard.period == rollups.current_month()))
    body = _board(w.admin, w.ids["branch_a"], "member")
    assert body["computed_at"] == stamp.astimezone(CHINA).isoformat()
    _points(clean_app, ("member", a[1], "education", 2000))
    assert _board(w.admin, w.ids["branch_a"], "member")["rows"][0]["member_id"] == a[3]  # yesterday's board
    with clean_app.app_context():
        scheduler.compute_leaderboards()
    assert _board(w.admin, w.ids["branch_a"], "member")["rows"][0]["member_id"] == a[1]


def test_the_clock_runs_the_nightly_jobs_at_one_china_time_under_their_own_leases(clean_app, monkeypatch):
    from apscheduler.schedulers.blocking import BlockingScheduler
    triggers = {}
    monkeypatch.setattr(BlockingScheduler, "start",
                        lambda self: triggers.update({job.name: job.trigger for job in self.get_jobs()}))
    with clean_app.app_context():
        scheduler.run_clock()
    for name in ("roll_up_scores", "compute_leaderboards", "snapshot_compliance"):
        trigger = triggers[name]
        assert str(trigger.timezone) == "Asia/Shanghai"
        fields = {f.name: str(f) for f in trigger.fields}
        assert (fields["hour"], fields["minute"]) == ("1", "0"), fields
    with clean_app.app_context():
        monkeypatch.setattr(scheduler, "HOLDER", "other-host:1")
        assert scheduler.acquire("roll_up_scores", 60)
        monkeypatch.setattr(scheduler, "HOLDER", "this-host:2")
        assert scheduler.roll_up_scores() is None  # another clock holds this one
        assert scheduler.snapshot_compliance() == 0  # its own lease: it runs (no units, no rows)


def test_the_night_after_a_month_ends_covers_the_ended_periods_too():
    just_after = datetime(2025, 12, 31, 17, 0, tzinfo=timezone.utc)  # 2026-01-01 01:00 China time
    assert rollups.nightly_periods(just_after) == ["2025-12", "2025-Q4", "2025", "2026-01", "2026-Q1", "2026"]
    mid_month = datetime(2026, 11, 18, 17, 0, tzinfo=timezone.utc)
    assert rollups.nightly_periods(mid_month) == ["2026-11", "2026-Q4", "2026"]


def test_a_stored_board_shows_names_as_they_are_now(scored):
    w, a = scored, scored.ids["members_a"]
    before = _board(w.admin, w.ids["branch_a"], "member")
    assert {r["member_id"]: r["name"] for r in before["rows"]}[a[2]] == "丙"
    w.admin.ok("delete", f"/api/members/{a[2]}", status=204)
    w.admin.ok("post", f"/api/members/{a[2]}/purge", status=204)
    after = _board(w.admin, w.ids["branch_a"], "member")
    assert after["computed_at"] == before["computed_at"]  # the same stored board...
    assert {r["member_id"]: r["name"] for r in after["rows"]}[a[2]] == "（已清除）"  # ...without the erased name
