"""申报积分项: declared-points items with base points and a maximum, approvals scored through the item's cap, and
an overturn giving the room back."""
from datetime import datetime

import pytest
from sqlalchemy import select

from rules import CHINA, period_key
from service.extensions import db
from service.models import ScoreCounter

from .helpers import assert_problem
from .test_claims import CLAIM, _decide, _entries, _notices

VOLUNTEER = {"key": "volunteer", "label": "志愿服务", "category": "pioneer", "points": 8, "cap": 20,
             "cap_period": "month"}


def _add_item(world, **changes) -> dict:
    return world.admin.ok("post", "/api/score-rules", {"declared": {**VOLUNTEER, **changes}}, 201)


def _claim_body(rule_id=None, **changes) -> dict:
    body = {"reason": CLAIM["reason"], "evidence": CLAIM["evidence"], **changes}
    return {**body, "rule_id": rule_id} if rule_id else body


def _claim(world, rule_id=None, user="m1", **changes) -> dict:
    return world.users[user].ok("post", "/api/score-claims", _claim_body(rule_id, **changes), 201)


def _approve(world, claim) -> dict:
    assert _decide(world, claim).status_code == 200
    return world.users["sec_a"].ok("get", f"/api/score-claims/{claim['id']}")


def _counter(app, member_id, rule_id, period):
    with app.app_context():
        return db.session.scalar(select(ScoreCounter.points).where(
            ScoreCounter.target == "member", ScoreCounter.target_id == member_id, ScoreCounter.rule_id == rule_id,
            ScoreCounter.period == period))


def _now(period: str) -> str:
    return period_key(datetime.now(CHINA), period)


def test_an_admin_adds_an_item_and_a_claim_under_it_gets_its_base_points(world, clean_app):
    m1 = world.ids["members_a"][1]
    item = _add_item(world)
    assert item | {"notice": None} == {
        "id": "custom.declared.volunteer", "set": "custom", "action": "score_claim.volunteer", "kind": "declared",
        "category": "pioneer", "points": 8, "unit": "event", "unit_seconds": None, "min_seconds": None, "cap": 20,
        "cap_period": "month", "target": "member", "enabled": True, "label": "志愿服务", "notice": None}
    listed = {r["id"]: r for r in world.users["m1"].ok("get", "/api/score-rules")}
    assert listed["custom.declared.volunteer"]["kind"] == "declared"
    assert listed["declared.claim"]["cap_period"] == "year" and listed["declared.claim"]["cap"] is None
    [audit] = world.admin.ok("get", "/api/score-rules/custom.declared.volunteer/audit")
    assert audit["before"] == {} and audit["after"] == {"points": 8, "cap": 20, "enabled": True}

    claim = _claim(world, "custom.declared.volunteer")
    assert (claim["rule_id"], claim["rule_label"], claim["category"], claim["points"]) == (
        "custom.declared.volunteer", "志愿服务", "pioneer", 8)
    own = _claim(world, "custom.declared.volunteer", points=3)
    assert own["points"] == 3   # a claim may name fewer (or more, up to the maximum) than the base
    approved = _approve(world, claim)
    assert (approved["awarded_points"], approved["award_note"], approved["category"]) == (8, None, "pioneer")
    [entry] = _entries(clean_app, claim["id"])
    assert (entry.rule_id, entry.category, entry.points, entry.source) == ("custom.declared.volunteer", "pioneer", 8,
                                                                            "claim")
    assert _counter(clean_app, m1, "custom.declared.volunteer", _now("month")) == 8

    score = world.users["m1"].ok("get", f"/api/scores/members/{m1}?period={_now('month')}")
    assert score["total"] == 8 and score["by_category"]["pioneer"] == 8
    assert [(e["rule_id"], e["points"], e["source"], e["source_id"]) for e in score["entries"]] == [
        ("custom.declared.volunteer", 8, "claim", str(claim["id"]))]
    listing = {c["id"]: c for c in world.users["sec_a"].ok("get", "/api/score-claims")}
    assert (listing[claim["id"]]["rule_label"], listing[claim["id"]]["awarded_points"]) == ("志愿服务", 8)
    assert (listing[own["id"]]["rule_id"], listing[own["id"]]["awarded_points"]) == ("custom.declared.volunteer", None)


@pytest.mark.parametrize("change,field", [
    ({"key": "Volunteer"}, "key"), ({"key": "a" * 29}, "key"), ({"key": ""}, "key"), ({"label": " "}, "label"),
    ({"category": "fun"}, "category"), ({"points": -1}, "points"), ({"points": 101}, "points"),
    ({"cap": -1}, "cap"), ({"cap_period": "decade"}, "cap_period"), ({"points": "5"}, "points"),
])
def test_invalid_items_are_refused(world, clean_app, change, field):
    body = assert_problem(world.admin.post("/api/score-rules", json={"declared": {**VOLUNTEER, **change}}),
                          422, "validation_error")
    assert set(body["errors"]["declared"]) == {field}


def test_item_creation_is_for_platform_admins_once_per_key(world, clean_app):
    assert_problem(world.users["sec_a"].post("/api/score-rules", json={"declared": VOLUNTEER}), 403, "forbidden")
    _add_item(world)
    body = assert_problem(world.admin.post("/api/score-rules", json={"declared": {**VOLUNTEER, "points": 2}}),
                          409, "rule_exists")
    assert body["rule_id"] == "custom.declared.volunteer"
    mixed = assert_problem(world.admin.post("/api/score-rules", json={"declared": VOLUNTEER, "process_key": "x"}),
                           422, "validation_error")
    assert set(mixed["errors"]) == {"process_key"}
    missing = assert_problem(world.admin.post("/api/score-rules", json={"points": 3}), 422, "validation_error")
    assert set(missing["errors"]) == {"process_key"}
    assert_problem(world.admin.post("/api/score-rules", json={"process_key": "branch_congress"}), 422,
                   "validation_error")
    uncapped = _add_item(world, key="donation", label="捐赠", points=0, cap=None, cap_period="quarter")
    assert (uncapped["cap"], uncapped["cap_period"], uncapped["points"]) == (None, "quarter", 0)
    defaults = world.admin.ok("post", "/api/score-rules", {"declared": {"key": "study", "label": "学习", "points": 2}}, 201)
    assert (defaults["category"], defaults["cap"], defaults["cap_period"]) == ("pioneer", None, "year")


def test_the_cap_clamps_an_approval_to_what_is_left_then_to_0(world, clean_app):
    m1 = world.ids["members_a"][1]
    _add_item(world)   # 8 base points, at most 20 a month
    claims = [_claim(world, "custom.declared.volunteer") for _ in range(4)]
    general = _claim(world, points=30)   # the general item's counter is its own
    awarded = [_approve(world, claim) for claim in claims]
    assert [c["awarded_points"] for c in awarded] == [8, 8, 4, 0]
    assert [c["award_note"] for c in awarded] == [None, None, "本月申报上限 20 分，已记 16 分，本次记 4 分",
                                                   "本月申报上限 20 分已记满：审核通过，记 0 分"]
    assert all(c["status"] == "approved" and c["entry_id"] for c in awarded)
    [zero] = _entries(clean_app, claims[3]["id"])
    assert (zero.points, zero.id, zero.rule_id) == (0, awarded[3]["entry_id"], "custom.declared.volunteer")
    assert _counter(clean_app, m1, "custom.declared.volunteer", _now("month")) == 20
    assert _approve(world, general)["awarded_points"] == 30
    assert _counter(clean_app, m1, "declared.claim", _now("year")) == 30
    titles = [n["title"] for n in _notices(world.users["m1"], "score_claim_decided")]
    assert set(titles) == {"积分申报已通过：8 分", "积分申报已通过：记 4 分（申报 8 分，已达申报上限）",
                           "积分申报已通过：已达申报上限，记 0 分", "积分申报已通过：30 分"}
    # Another member's room is their own.
    assert _approve(world, _claim(world, "custom.declared.volunteer", user="m2"))["awarded_points"] == 8


def test_a_cap_on_the_packaged_item_counts_what_this_year_has_awarded(world, clean_app):
    m1 = world.ids["members_a"][1]
    assert _approve(world, _claim(world, points=5))["awarded_points"] == 5   # uncapped, but counted by year
    changed = world.admin.ok("put", "/api/score-rules/declared.claim", {"cap": 6})
    assert (changed["cap"], changed["cap_period"]) == (6, "year")
    assert world.admin.ok("get", "/api/score-rules/declared.claim/audit")[0]["after"]["cap"] == 6
    over = assert_problem(world.users["m1"].post("/api/score-claims", _claim_body(points=7)), 422, "claim_over_cap")
    assert (over["cap"], over["cap_period"]) == (6, "year") and "points" in over["errors"]
    second = _approve(world, _claim(world, points=5))
    assert (second["awarded_points"], second["award_note"]) == (1, "本年度申报上限 6 分，已记 5 分，本次记 1 分")
    assert _counter(clean_app, m1, "declared.claim", _now("year")) == 6


def test_a_claim_over_an_items_maximum_is_refused(world, clean_app):
    _add_item(world)
    body = assert_problem(world.users["m1"].post("/api/score-claims", _claim_body("custom.declared.volunteer",
                                                                                  points=21)), 422, "claim_over_cap")
    assert (body["cap"], body["cap_period"]) == (20, "month")
    assert _claim(world, "custom.declared.volunteer", points=20)["points"] == 20


def test_an_item_without_base_points_needs_the_claim_to_name_them(world, clean_app):
    _add_item(world, key="donation", label="捐赠", points=0)
    body = assert_problem(world.users["m1"].post("/api/score-claims", _claim_body("custom.declared.donation")),
                          422, "validation_error")
    assert set(body["errors"]) == {"points"}
    assert _claim(world, "custom.declared.donation", points=6)["points"] == 6
    assert set(assert_problem(world.users["m1"].post("/api/score-claims", _claim_body()), 422,
                              "validation_error")["errors"]) == {"points"}   # the general item's base is 0


@pytest.mark.parametrize("rule_id", ["gansu.like", "sanjin.dues", "custom.declared.nope", "score_claim"])
def test_a_rule_that_is_not_a_declared_item_is_refused(world, clean_app, rule_id):
    body = assert_problem(world.users["m1"].post("/api/score-claims", _claim_body(rule_id, points=3)), 422,
                          "not_a_declared_item")
    assert set(body["errors"]) == {"rule_id"}


def test_a_switched_off_item_takes_no_claims_and_approves_pending_ones_at_0(world, clean_app):
    _add_item(world)
    pending = _claim(world, "custom.declared.volunteer")
    world.admin.ok("put", "/api/score-rules/custom.declared.volunteer", {"enabled": False})
    assert_problem(world.users["m1"].post("/api/score-claims", _claim_body("custom.declared.volunteer")), 422,
                   "declared_item_disabled")
    approved = _approve(world, pending)
    assert (approved["status"], approved["awarded_points"], approved["net_points"]) == ("approved", 0, 0)
    assert "停用" in approved["award_note"]
    [entry] = _entries(clean_app, pending["id"])
    assert (entry.points, entry.id, entry.rule_id) == (0, approved["entry_id"], "custom.declared.volunteer")
    assert "规则已停用" in _notices(world.users["m1"], "score_claim_decided")[0]["title"]
    world.admin.ok("put", "/api/score-rules/custom.declared.volunteer", {"enabled": True, "points": 3})
    assert _approve(world, _claim(world, "custom.declared.volunteer"))["awarded_points"] == 3


def test_an_overturn_gives_the_room_back_for_a_later_claim(world, clean_app):
    m1, month = world.ids["members_a"][1], _now("month")
    _add_item(world, points=10, cap=10)
    first = _approve(world, _claim(world, "custom.declared.volunteer"))
    full = _approve(world, _claim(world, "custom.declared.volunteer"))
    assert (first["awarded_points"], full["awarded_points"]) == (10, 0)
    assert _counter(clean_app, m1, "custom.declared.volunteer", month) == 10

    world.admin.ok("post", f"/api/score-claims/{full['id']}/overturn", {"reason": "重复申报"})   # a 0 award: no room
    assert _counter(clean_app, m1, "custom.declared.volunteer", month) == 10
    overturned = world.admin.ok("post", f"/api/score-claims/{first['id']}/overturn", {"reason": "证明不实"})
    assert (overturned["awarded_points"], overturned["net_points"]) == (10, 0)
    assert _counter(clean_app, m1, "custom.declared.volunteer", month) == 0

    later = _approve(world, _claim(world, "custom.declared.volunteer"))
    assert (later["awarded_points"], later["award_note"]) == (10, None)
    assert _counter(clean_app, m1, "custom.declared.volunteer", month) == 10
    score = world.users["m1"].ok("get", f"/api/scores/members/{m1}?period={month}")
    assert score["total"] == 10   # 10 - 10 (the reversal) + 0 + 10


def test_platforms_cannot_report_declared_points(world, clean_app):
    _add_item(world)
    m1 = world.ids["members_a"][1]
    for action in ("score_claim", "score_claim.volunteer"):
        body = assert_problem(world.admin.post("/api/score-events", json={"events": [{
            "id": f"p-{action}", "member_id": m1, "action": action, "occurred_at": "2026-11-18T09:00:00+08:00"}]}),
            422, "unknown_action")
        assert body["actions"] == [action] and not any(a.startswith("score_claim") for a in body["allowed"])


def test_an_items_base_points_stay_within_its_cap_and_the_claim_maximum(world, clean_app):
    over_cap = assert_problem(world.admin.post("/api/score-rules", json={"declared": {**VOLUNTEER, "points": 5,
                                                                                       "cap": 2}}), 422, "invalid_rule")
    assert "above its cap" in over_cap["detail"]
    item = _add_item(world)  # 8 points, cap 20
    assert_problem(world.admin.put(f"/api/score-rules/{item['id']}", json={"points": 101}), 422, "invalid_rule_change")
    assert_problem(world.admin.put(f"/api/score-rules/{item['id']}", json={"cap": 5}), 422, "invalid_rule_change")
    assert world.admin.ok("put", f"/api/score-rules/{item['id']}", {"points": 20})["points"] == 20
    assert _claim(world, item["id"])["points"] == 20  # the base points, within the cap


def test_a_cap_an_item_came_with_changes_but_does_not_go(world, clean_app):
    item = _add_item(world)
    assert_problem(world.admin.put(f"/api/score-rules/{item['id']}", json={"cap": None}), 422, "invalid_rule_change")
    assert_problem(world.admin.put("/api/score-rules/gansu.like", json={"cap": None}), 422, "invalid_rule_change")
    assert world.admin.ok("put", f"/api/score-rules/{item['id']}", {"cap": 30})["cap"] == 30
    assert world.admin.ok("put", "/api/score-rules/declared.claim", {"cap": 10})["cap"] == 10
    assert world.admin.ok("put", "/api/score-rules/declared.claim", {"cap": None})["cap"] is None  # set later: may go
