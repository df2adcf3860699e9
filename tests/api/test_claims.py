"""积分申报: a member applies, the branch admin decides in the inbox, a platform admin may overturn an approval."""
import pytest
from sqlalchemy import select

from service.database import utcnow
from service.errors import ApiError
from service.extensions import db
from service.models import HumanTask, Member, ScoreClaim, ScoreEntry, ScoreRuleSetting, User
from service.services import claims

from .conftest import _user
from .helpers import assert_problem

CLAIM = {"points": 5, "reason": "参加社区抗洪志愿服务三天", "evidence": ["社区志愿服务证明 2026-07-12", "https://example.org/p/1"]}


def _apply(world, user="m1", **changes) -> dict:
    return world.users[user].ok("post", "/api/score-claims", {**CLAIM, **changes}, 201)


def _inbox(api) -> list[dict]:
    return [t for t in api.ok("get", "/api/tasks") if t["subject"]["kind"] == "score_claim"]


def _decide(world, claim, approved=True, comment=None, user="sec_a"):
    return world.users[user].post(f"/api/tasks/{claim['open_tasks'][0]['id']}/complete",
                                  {"approved": approved, "comment": comment})


def _approved(world, **changes) -> dict:
    claim = _apply(world, **changes)
    assert _decide(world, claim).status_code == 200
    return world.users["m1"].ok("get", f"/api/score-claims/{claim['id']}")


def _entries(app, claim_id) -> list[ScoreEntry]:
    """The award of the claim and any reversal of it, oldest first."""
    with app.app_context():
        award = select(ScoreEntry.id).where(ScoreEntry.source == "claim", ScoreEntry.source_id == str(claim_id))
        rows = list(db.session.scalars(select(ScoreEntry).where(
            (ScoreEntry.id.in_(award)) | (ScoreEntry.reverses_id.in_(award))).order_by(ScoreEntry.id)))
        db.session.expunge_all()
        return rows


def _user_id(app, username) -> int:
    with app.app_context():
        return db.session.scalars(select(User.id).where(User.username == username)).one()


def _notices(api, kind) -> list[dict]:
    return [n for n in api.ok("get", "/api/notifications") if n["kind"] == kind]


def test_applying_puts_a_task_in_the_branch_inbox_and_approval_awards_the_points(world, clean_app):
    m1 = world.ids["members_a"][1]
    claim = _apply(world)
    assert (claim["member_id"], claim["org_id"], claim["points"], claim["status"]) == (
        m1, world.ids["branch_a"], 5, "pending")
    assert claim["reason"] == CLAIM["reason"] and claim["evidence"] == CLAIM["evidence"]
    assert (claim["rule_id"], claim["rule_label"], claim["category"]) == ("declared.claim", "积分申报", "pioneer")
    assert claim["awarded_points"] is None and claim["entry_id"] is None and claim["decided_at"] is None
    [task] = claim["open_tasks"]
    assert (task["name"], task["action"], task["role"], task["org_id"]) == (
        "审核", "review.decide", "branch_admin", world.ids["branch_a"])
    assert task["due_at"] and [e["kind"] for e in claim["timeline"]] == ["started"]

    [waiting] = _inbox(world.users["sec_a"])
    assert waiting["id"] == task["id"] and waiting["subject"] == {"kind": "score_claim", "id": claim["id"]}
    assert _inbox(world.users["zongzhi"]) == [] and _inbox(world.users["sec_b"]) == []
    assert_problem(_decide(world, claim, user="m1"), 403, "not_candidate")

    assert _decide(world, claim).status_code == 200
    decided = world.users["m1"].ok("get", f"/api/score-claims/{claim['id']}")
    assert decided["status"] == "approved" and decided["decided_at"] and decided["open_tasks"] == []
    assert (decided["awarded_points"], decided["net_points"], decided["award_note"]) == (5, 5, None)
    assert [e["kind"] for e in decided["timeline"]] == ["started", "completed"]
    [entry] = _entries(clean_app, claim["id"])
    assert (entry.target, entry.target_id, entry.rule_id, entry.category, entry.points) == (
        "member", m1, "declared.claim", "pioneer", 5)
    assert entry.id == decided["entry_id"] and entry.created_by == _user_id(clean_app, "sec_a")
    [notice] = _notices(world.users["m1"], "score_claim_decided")
    assert notice["title"] == "积分申报已通过：5 分" and notice["subject"] == {"kind": "score_claim", "id": claim["id"]}
    assert _inbox(world.users["sec_a"]) == []


def test_rejecting_needs_a_comment_and_awards_nothing(world, clean_app):
    claim = _apply(world)
    body = assert_problem(_decide(world, claim, approved=False), 422, "validation_error")
    assert "comment" in body["errors"]
    assert _decide(world, claim, approved=False, comment="证明材料不足").status_code == 200
    rejected = world.users["m1"].ok("get", f"/api/score-claims/{claim['id']}")
    assert (rejected["status"], rejected["decision_comment"]) == ("rejected", "证明材料不足")
    assert rejected["decided_at"] and rejected["entry_id"] is None and rejected["awarded_points"] is None
    assert _entries(clean_app, claim["id"]) == []
    [notice] = _notices(world.users["m1"], "score_claim_decided")
    assert (notice["title"], notice["body"]) == ("积分申报未通过", "证明材料不足")
    assert_problem(world.admin.post(f"/api/score-claims/{claim['id']}/overturn", {"reason": "x"}),
                   409, "claim_not_approved")


def test_a_platform_admin_overturns_with_a_reversal_and_the_record_stays(world, clean_app):
    claim = _approved(world)
    path = f"/api/score-claims/{claim['id']}/overturn"
    assert_problem(world.users["sec_a"].post(path, {"reason": "不属实"}), 403, "forbidden")
    assert_problem(world.users["m1"].post(path, {"reason": "不属实"}), 403, "forbidden")
    assert "reason" in assert_problem(world.admin.post(path, {}), 422, "validation_error")["errors"]
    assert_problem(world.admin.post(path, {"reason": "  "}), 422, "validation_error")

    overturned = world.admin.ok("post", path, {"reason": "经核查，志愿服务时长不实"})
    assert overturned["status"] == "overturned" and overturned["overturned_at"]
    assert overturned["overturn_reason"] == "经核查，志愿服务时长不实"
    assert overturned["overturned_by"] == _user_id(clean_app, "admin")
    assert overturned["entry_id"] == claim["entry_id"] and overturned["decided_at"] == claim["decided_at"]
    assert (overturned["awarded_points"], overturned["net_points"]) == (5, 0)
    award, reversal = _entries(clean_app, claim["id"])
    assert (award.id, award.points) == (claim["entry_id"], 5)
    assert (reversal.points, reversal.reverses_id, reversal.source) == (-5, award.id, "reversal")
    assert reversal.id == overturned["reversal_entry_id"] and reversal.note == "经核查，志愿服务时长不实"
    assert [e["kind"] for e in overturned["timeline"]] == ["started", "completed", "overturned"]
    assert overturned["timeline"][-1]["comment"] == "经核查，志愿服务时长不实"
    [notice] = _notices(world.users["m1"], "score_claim_overturned")
    assert notice["body"] == "经核查，志愿服务时长不实"

    assert_problem(world.admin.post(path, {"reason": "again"}), 409, "already_overturned")
    assert len(_entries(clean_app, claim["id"])) == 2
    assert world.users["m1"].ok("get", f"/api/score-claims/{claim['id']}")["status"] == "overturned"
    assert_problem(world.admin.post("/api/score-claims/9999/overturn", {"reason": "x"}), 404, "claim_not_found")


def test_only_approvals_are_overturned(world, clean_app):
    claim = _apply(world)
    assert_problem(world.admin.post(f"/api/score-claims/{claim['id']}/overturn", {"reason": "x"}),
                   409, "claim_not_approved")
    assert world.users["m1"].ok("get", f"/api/score-claims/{claim['id']}")["status"] == "pending"


def test_a_rule_disabled_after_the_claim_records_the_approval_with_no_points(world, clean_app):
    pending = _apply(world)
    with clean_app.app_context():
        db.session.add(ScoreRuleSetting(rule_id="declared.claim", enabled=False))
        db.session.commit()
    assert _decide(world, pending).status_code == 200
    claim = world.users["m1"].ok("get", f"/api/score-claims/{pending['id']}")
    assert (claim["status"], claim["awarded_points"], claim["net_points"]) == ("approved", 0, 0)
    assert "停用" in claim["award_note"]
    [entry] = _entries(clean_app, claim["id"])
    assert entry.points == 0 and entry.id == claim["entry_id"]
    [notice] = _notices(world.users["m1"], "score_claim_decided")
    assert "规则已停用" in notice["title"]


def test_the_member_cancels_a_pending_claim(world, clean_app):
    claim = _apply(world)
    path = f"/api/score-claims/{claim['id']}/cancel"
    assert_problem(world.users["sec_a"].post(path), 403, "forbidden")
    assert_problem(world.users["m2"].post(path), 404, "claim_not_found")
    cancelled = world.users["m1"].ok("post", path)
    assert cancelled["status"] == "cancelled" and cancelled["open_tasks"] == []
    assert cancelled["timeline"][-1]["kind"] == "cancelled"
    assert _inbox(world.users["sec_a"]) == []
    assert_problem(world.users["m1"].post(path), 409, "claim_not_pending")
    assert_problem(_decide(world, claim), 409, "task_not_open")
    assert _entries(clean_app, claim["id"]) == []


def test_a_decided_claim_cannot_be_cancelled(world, clean_app):
    claim = _approved(world)
    assert_problem(world.users["m1"].post(f"/api/score-claims/{claim['id']}/cancel"), 409, "claim_not_pending")
    assert world.users["m1"].ok("get", f"/api/score-claims/{claim['id']}")["status"] == "approved"


def test_who_sees_which_claims(world, clean_app):
    mine = _apply(world)
    other = _apply(world, user="m2", points=3)
    path = f"/api/score-claims/{mine['id']}"
    assert_problem(world.users["m2"].get(path), 404, "claim_not_found")
    assert_problem(world.users["sec_b"].get(path), 404, "claim_not_found")
    for name in ("sec_a", "zongzhi", "dangwei"):
        assert world.users[name].ok("get", path)["id"] == mine["id"]
    assert world.admin.ok("get", path)["id"] == mine["id"]

    ids = lambda api, query="": [c["id"] for c in api.ok("get", f"/api/score-claims{query}")]
    assert ids(world.users["m1"]) == [mine["id"]] and ids(world.users["m2"]) == [other["id"]]
    assert ids(world.users["m2"], f"?member_id={world.ids['members_a'][1]}") == []
    assert ids(world.users["sec_a"]) == [other["id"], mine["id"]]
    assert ids(world.users["sec_a"], f"?member_id={world.ids['members_a'][1]}") == [mine["id"]]
    assert ids(world.users["zongzhi"], f"?org_id={world.ids['branch_a']}") == [other["id"], mine["id"]]
    assert ids(world.users["sec_b"]) == []
    assert_problem(world.users["sec_b"].get(f"/api/score-claims?org_id={world.ids['branch_a']}"), 403, "forbidden")
    assert_problem(world.users["m1"].get(f"/api/score-claims?org_id={world.ids['branch_a']}"), 403, "forbidden")
    _decide(world, mine)
    assert ids(world.admin, "?status=approved") == [mine["id"]]
    assert ids(world.admin, "?status=pending") == [other["id"]]
    [listed] = world.users["m1"].ok("get", "/api/score-claims")
    assert (listed["awarded_points"], listed["evidence"]) == (5, CLAIM["evidence"]) and "timeline" not in listed


def test_a_member_may_have_several_claims_pending(world, clean_app):
    first, second = _apply(world), _apply(world, points=2)
    assert first["id"] != second["id"]
    assert {t["subject"]["id"] for t in _inbox(world.users["sec_a"])} == {first["id"], second["id"]}


def test_only_a_members_own_account_applies(world, clean_app):
    assert_problem(world.users["zongzhi"].post("/api/score-claims", CLAIM), 403, "forbidden")
    assert_problem(world.admin.post("/api/score-claims", CLAIM), 403, "forbidden")
    with clean_app.app_context():
        assert db.session.scalar(select(ScoreClaim.id)) is None


def test_a_member_in_the_history_library_cannot_apply(world, clean_app):
    with clean_app.app_context():
        db.session.get(Member, world.ids["members_a"][1]).deleted_at = utcnow()
        db.session.commit()
    # The auth guard refuses the account itself; the check under the member lock covers a deletion racing in.
    assert_problem(world.users["m1"].post("/api/score-claims", CLAIM), 403, "account_disabled")
    with clean_app.app_context():
        user = db.session.get(User, _user_id(clean_app, "m1"))
        with pytest.raises(ApiError) as refused:
            claims.create_claim(user, CLAIM)
        assert (refused.value.status, refused.value.code) == (422, "member_deleted")
        assert db.session.scalar(select(ScoreClaim.id)) is None


@pytest.mark.parametrize("change", [{"points": 0}, {"points": 101}, {"points": "5"}, {"points": 2.5}, {"points": None},
                                    {"reason": " "}, {"evidence": []}, {"evidence": ["a\nb"]},
                                    {"evidence": [""]}, {"evidence": ["x"] * 11}, {"evidence": ["x" * 501]}])
def test_invalid_claims_are_refused(world, clean_app, change):
    body = assert_problem(world.users["m1"].post("/api/score-claims", {**CLAIM, **change}), 422, "validation_error")
    assert set(body["errors"]) == set(change)


def test_the_claimant_cannot_decide_their_own_claim(world, clean_app):
    claim = _apply(world, user="sec_a")  # the secretary is a member of branch A and its admin
    assert_problem(_decide(world, claim, user="sec_a"), 403, "own_claim")
    with clean_app.app_context():
        task = db.session.get(HumanTask, claim["open_tasks"][0]["id"])
        assert (task.state, task.completed_by) == ("open", None)
    assert world.users["sec_a"].ok("get", f"/api/score-claims/{claim['id']}")["status"] == "pending"
    _user(world.admin, world, "deputy_a", [{"role": "org_admin", "org_id": world.ids["branch_a"]}])
    assert _decide(world, claim, user="deputy_a").status_code == 200
    assert world.users["sec_a"].ok("get", f"/api/score-claims/{claim['id']}")["awarded_points"] == 5


def test_the_claim_stays_with_the_branch_it_was_made_in(world, clean_app):
    claim = _apply(world)
    with clean_app.app_context():  # as a completed transfer leaves it
        db.session.get(Member, world.ids["members_a"][1]).org_id = world.ids["branch_b"]
        db.session.commit()
    path = f"/api/score-claims/{claim['id']}"
    assert _inbox(world.users["sec_b"]) == [] and world.users["sec_b"].ok("get", "/api/score-claims") == []
    assert_problem(world.users["sec_b"].get(path), 404, "claim_not_found")
    assert world.users["sec_a"].ok("get", path)["org_id"] == world.ids["branch_a"]
    assert [c["id"] for c in world.users["sec_a"].ok("get", "/api/score-claims")] == [claim["id"]]
    assert _decide(world, claim).status_code == 200
    assert world.users["m1"].ok("get", path)["awarded_points"] == 5



def test_a_pending_claim_is_withdrawn_when_the_member_leaves_the_branch(world):
    w = world
    claim = w.users["m1"].ok("post", "/api/score-claims", {"points": 5, "reason": "志愿服务", "evidence": ["照片"]}, 201)
    assert w.users["sec_a"].delete(f"/api/members/{w.ids['members_a'][1]}").status_code == 204
    view = w.users["sec_a"].ok("get", f"/api/score-claims/{claim['id']}")
    assert view["status"] == "cancelled" and view["open_tasks"] == []
