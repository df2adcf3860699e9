"""使用智能手机不便: the branch asks, the superior approves in its inbox; a platform admin may set it directly."""
from datetime import date

import pytest
from sqlalchemy import func, select, update

from service.database import transaction
from service.extensions import db
from service.models import ExemptionRequest, Member, ProcessInstance, User
from service.services import exemptions

from .helpers import assert_problem


def _ask(world, member_id, reason="health", user="sec_a", note="行动不便"):
    return world.users[user].ok("post", f"/api/members/{member_id}/exemption-requests",
                                {"reason": reason, "note": note}, 201)


def _refused(world, member_id, status, code, reason="health", user="sec_a"):
    response = world.users[user].post(f"/api/members/{member_id}/exemption-requests", {"reason": reason})
    return assert_problem(response, status, code)


def _inbox(api) -> list[dict]:
    return [t for t in api.ok("get", "/api/tasks") if t["subject"]["kind"] == "exemption"]


def _member(app, member_id) -> Member:
    with app.app_context():
        member = db.session.get(Member, member_id)
        db.session.expunge(member)
        return member


def _new_member(world, name, born: date | None) -> int:
    return world.admin.ok("post", "/api/members", {
        "name": name, "org_id": world.ids["branch_a"], "category": "full", "joined_at": "1990-07-01",
        "birth_date": born.isoformat() if born else None}, 201)["id"]


def _years_ago(years: int, days: int = 0) -> date:
    today = date.today()
    born = today.replace(year=today.year - years) if (today.month, today.day) != (2, 29) else \
        today.replace(year=today.year - years, day=28)
    return date.fromordinal(born.toordinal() + days)


def test_request_goes_to_the_superiors_inbox_and_approval_flags_the_member(world, clean_app):
    member_id = world.ids["members_a"][1]
    asked = _ask(world, member_id)
    assert asked["status"] == "pending" and asked["reason"] == "health" and asked["note"] == "行动不便"
    assert asked["member_id"] == member_id and asked["decided_at"] is None and asked["decision_comment"] is None
    [task] = asked["open_tasks"]
    assert (task["name"], task["action"], task["role"]) == ("审批", "review.decide", "superior_admin")
    assert task["org_id"] == world.ids["general"] and task["due_at"]
    assert [e["kind"] for e in asked["timeline"]] == ["started"]

    zongzhi = world.users["zongzhi"]
    [waiting] = _inbox(zongzhi)
    assert waiting["id"] == task["id"] and waiting["subject"] == {"kind": "exemption", "id": asked["id"]}
    assert _inbox(world.users["sec_a"]) == [] and _inbox(world.users["dangwei"]) == []
    assert_problem(world.users["sec_a"].post(f"/api/tasks/{task['id']}/complete", {"approved": True}),
                   403, "not_candidate")

    zongzhi.ok("post", f"/api/tasks/{task['id']}/complete", {"approved": True})
    decided = world.users["sec_a"].ok("get", f"/api/exemption-requests/{asked['id']}")
    assert decided["status"] == "approved" and decided["decided_at"] and decided["open_tasks"] == []
    assert [e["kind"] for e in decided["timeline"]] == ["started", "completed"]
    member = _member(clean_app, member_id)
    assert member.smartphone_exempt is True and member.smartphone_exempt_approved_at is not None
    [notice] = [n for n in world.users["sec_a"].ok("get", "/api/notifications") if n["kind"] == "exemption_decided"]
    assert notice["title"] == "使用智能手机不便认定已通过：乙"
    assert notice["subject"] == {"kind": "exemption", "id": asked["id"]}
    assert _inbox(zongzhi) == []
    _refused(world, member_id, 409, "already_approved")


def test_rejecting_needs_a_reason_and_leaves_the_member_unflagged(world, clean_app):
    member_id = world.ids["members_a"][2]
    asked = _ask(world, member_id)
    task_id = asked["open_tasks"][0]["id"]
    zongzhi = world.users["zongzhi"]
    body = assert_problem(zongzhi.post(f"/api/tasks/{task_id}/complete", {"approved": False}), 422,
                          "validation_error")
    assert "comment" in body["errors"]
    zongzhi.ok("post", f"/api/tasks/{task_id}/complete", {"approved": False, "comment": "可正常使用智能手机"})
    rejected = world.users["sec_a"].ok("get", f"/api/exemption-requests/{asked['id']}")
    assert rejected["status"] == "rejected" and rejected["decision_comment"] == "可正常使用智能手机"
    assert rejected["decided_at"]
    member = _member(clean_app, member_id)
    assert member.smartphone_exempt is False and member.smartphone_exempt_approved_at is None
    [notice] = [n for n in world.users["sec_a"].ok("get", "/api/notifications") if n["kind"] == "exemption_decided"]
    assert notice["title"] == "使用智能手机不便认定未通过：丙" and notice["body"] == "可正常使用智能手机"
    assert _ask(world, member_id)["status"] == "pending"  # rejected: the branch may ask again


def test_a_second_pending_request_is_refused(world, clean_app):
    member_id = world.ids["members_a"][1]
    first = _ask(world, member_id)
    body = _refused(world, member_id, 409, "request_pending")
    assert body["request_id"] == first["id"]
    assert len(_inbox(world.users["zongzhi"])) == 1


def test_the_unique_index_backs_up_the_pending_check(world, clean_app, monkeypatch):
    member_id = world.ids["members_a"][1]
    _ask(world, member_id)
    monkeypatch.setattr(exemptions, "_pending", lambda member_id: None)  # as if the check had raced
    _refused(world, member_id, 409, "request_pending")
    with clean_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ExemptionRequest)) == 1
    assert len(_inbox(world.users["zongzhi"])) == 1


def test_the_branch_cancels_a_pending_request(world, clean_app):
    member_id = world.ids["members_a"][1]
    asked = _ask(world, member_id)
    sec = world.users["sec_a"]
    cancelled = sec.ok("post", f"/api/exemption-requests/{asked['id']}/cancel")
    assert cancelled["status"] == "cancelled" and cancelled["open_tasks"] == []
    assert cancelled["timeline"][-1]["kind"] == "cancelled"
    assert _inbox(world.users["zongzhi"]) == []
    assert_problem(sec.post(f"/api/exemption-requests/{asked['id']}/cancel"), 409, "request_not_pending")
    assert_problem(world.users["zongzhi"].post(f"/api/tasks/{asked['open_tasks'][0]['id']}/complete",
                                               {"approved": True}), 409, "task_not_open")
    assert _member(clean_app, member_id).smartphone_exempt_approved_at is None
    assert _ask(world, member_id)["status"] == "pending"


def test_a_platform_admin_sets_and_clears_the_flag_directly(world, clean_app):
    member_id = world.ids["members_a"][1]
    pending = _ask(world, member_id)
    assert_problem(world.users["sec_a"].put(f"/api/members/{member_id}/smartphone-exempt", {"exempt": True}),
                   403, "forbidden")
    assert_problem(world.users["zongzhi"].put(f"/api/members/{member_id}/smartphone-exempt", {"exempt": True}),
                   403, "forbidden")
    set_ = world.admin.ok("put", f"/api/members/{member_id}/smartphone-exempt", {"exempt": True})
    assert set_["id"] == member_id and set_["smartphone_exempt"] is True and set_["smartphone_exempt_approved_at"]
    assert world.users["sec_a"].ok("get", f"/api/exemption-requests/{pending['id']}")["status"] == "cancelled"
    assert _inbox(world.users["zongzhi"]) == []
    _refused(world, member_id, 409, "already_approved")
    cleared = world.admin.ok("put", f"/api/members/{member_id}/smartphone-exempt", {"exempt": False})
    assert cleared == {"id": member_id, "smartphone_exempt": False, "smartphone_exempt_approved_at": None}
    assert _ask(world, member_id)["status"] == "pending"
    assert_problem(world.admin.put("/api/members/9999/smartphone-exempt", {"exempt": True}), 404, "member_not_found")


def test_only_admins_of_the_members_branch_ask_and_see(world, clean_app):
    member_id = world.ids["members_a"][1]
    _refused(world, member_id, 403, "forbidden", user="m1")
    _refused(world, member_id, 403, "forbidden", user="sec_b")
    _refused(world, 9999, 404, "member_not_found")
    asked = _ask(world, member_id)
    assert_problem(world.users["sec_b"].get(f"/api/exemption-requests/{asked['id']}"), 404, "exemption_not_found")
    assert_problem(world.users["m1"].get(f"/api/exemption-requests/{asked['id']}"), 404, "exemption_not_found")
    assert_problem(world.users["sec_b"].post(f"/api/exemption-requests/{asked['id']}/cancel"), 404,
                   "exemption_not_found")
    assert world.users["zongzhi"].ok("get", f"/api/exemption-requests/{asked['id']}")["status"] == "pending"
    assert world.users["sec_b"].ok("get", "/api/exemption-requests") == []
    assert_problem(world.users["m1"].get("/api/exemption-requests"), 403, "forbidden")
    assert_problem(world.users["sec_b"].get(f"/api/exemption-requests?org_id={world.ids['branch_a']}"), 403,
                   "forbidden")


def test_age_60_plus_needs_a_member_of_60_when_the_birth_date_is_known(world, clean_app):
    young = _new_member(world, "青年", _years_ago(60, days=1))  # 60 tomorrow
    body = _refused(world, young, 422, "not_eligible", reason="age_60_plus")
    assert "reason" in body["errors"]
    assert _ask(world, young, reason="health")["status"] == "pending"  # health is for the superior to judge
    sixty = _new_member(world, "老党员", _years_ago(60))
    assert _ask(world, sixty, reason="age_60_plus")["reason"] == "age_60_plus"
    unknown = _new_member(world, "无生日", None)
    assert _ask(world, unknown, reason="age_60_plus")["status"] == "pending"
    assert_problem(world.users["sec_a"].post(f"/api/members/{unknown}/exemption-requests", {"reason": "old"}),
                   422, "validation_error")


def test_a_branch_under_the_committee_goes_to_the_committee_and_lists_filter(world, clean_app):
    asked_b = _ask(world, world.ids["member_b"], user="sec_b")
    assert asked_b["open_tasks"][0]["org_id"] == world.ids["committee"]
    assert [t["subject"]["id"] for t in _inbox(world.users["dangwei"])] == [asked_b["id"]]
    asked_a = _ask(world, world.ids["members_a"][1])
    zongzhi, dangwei = world.users["zongzhi"], world.users["dangwei"]
    assert [r["id"] for r in zongzhi.ok("get", "/api/exemption-requests")] == [asked_a["id"]]
    assert [r["id"] for r in dangwei.ok("get", "/api/exemption-requests")] == [asked_a["id"], asked_b["id"]]
    assert [r["id"] for r in dangwei.ok("get", f"/api/exemption-requests?org_id={world.ids['branch_b']}")] == \
        [asked_b["id"]]
    dangwei.ok("post", f"/api/tasks/{asked_b['open_tasks'][0]['id']}/complete", {"approved": True})
    assert [r["id"] for r in dangwei.ok("get", "/api/exemption-requests?status=approved")] == [asked_b["id"]]
    assert [r["id"] for r in world.admin.ok("get", "/api/exemption-requests?status=pending")] == [asked_a["id"]]


# --- called by other services: the member moves on or is purged; lock order -------------------------------------


def _request(app, request_id) -> ExemptionRequest:
    with app.app_context():
        request = db.session.get(ExemptionRequest, request_id)
        db.session.expunge(request)
        return request


def test_cancel_for_member_cancels_the_pending_request_and_its_task(world, clean_app):
    member_id = world.ids["members_a"][1]
    asked = _ask(world, member_id)
    with clean_app.app_context(), transaction():
        exemptions.cancel_for_member(member_id, None, "组织关系转接")  # the system: no user
    cancelled = world.users["sec_a"].ok("get", f"/api/exemption-requests/{asked['id']}")
    assert cancelled["status"] == "cancelled" and cancelled["decision_comment"] == "组织关系转接"
    assert cancelled["open_tasks"] == [] and _inbox(world.users["zongzhi"]) == []
    last = cancelled["timeline"][-1]
    assert last["kind"] == "cancelled" and last["comment"] == "组织关系转接"
    assert_problem(world.users["zongzhi"].post(f"/api/tasks/{asked['open_tasks'][0]['id']}/complete",
                                               {"approved": True}), 409, "task_not_open")
    with clean_app.app_context(), transaction():
        exemptions.cancel_for_member(member_id, None, "删除")  # nothing pending: nothing happens
        exemptions.cancel_for_member(9999, None, "删除")
    assert _request(clean_app, asked["id"]).decision_comment == "组织关系转接"
    withdrawn = world.users["sec_a"].ok("post", f"/api/exemption-requests/{_ask(world, member_id)['id']}/cancel")
    assert withdrawn["decision_comment"] == "支部撤回申请"  # every cancel says why


def test_cancel_for_member_leaves_a_decided_request_alone(world, clean_app):
    member_id = world.ids["members_a"][2]
    asked = _ask(world, member_id)
    world.users["zongzhi"].ok("post", f"/api/tasks/{asked['open_tasks'][0]['id']}/complete",
                              {"approved": False, "comment": "可正常使用"})
    with clean_app.app_context(), transaction():
        exemptions.cancel_for_member(member_id, None, "删除")
    decided = _request(clean_app, asked["id"])
    assert decided.status == "rejected" and decided.decision_comment == "可正常使用"


def test_cancel_for_member_runs_in_the_callers_transaction_and_commits_nothing(world, clean_app):
    member_id = world.ids["members_a"][1]
    asked = _ask(world, member_id)
    with pytest.raises(RuntimeError):
        with clean_app.app_context(), transaction():
            db.session.get(Member, member_id).phone = "13999999999"  # the caller's own work in the same transaction
            admin = db.session.scalars(select(User).where(User.username == "admin")).first()  # an acting user
            exemptions.cancel_for_member(member_id, admin, "组织关系转接")
            raise RuntimeError("the caller fails after the cancel")
    assert _request(clean_app, asked["id"]).status == "pending"
    assert _member(clean_app, member_id).phone != "13999999999"
    assert len(_inbox(world.users["zongzhi"])) == 1


def test_a_cancel_decides_on_the_request_as_read_under_the_instance_lock(world, clean_app, monkeypatch):
    member_id = world.ids["members_a"][1]
    asked = _ask(world, member_id)
    locked, real_lock = [], exemptions.lock_row

    def lock_then_decided_elsewhere(model, row_id, **kw):
        locked.append(model.__name__)
        row = real_lock(model, row_id, **kw)
        if model is ProcessInstance:  # a completion committed just before this lock was granted
            db.session.execute(update(ExemptionRequest).where(ExemptionRequest.id == asked["id"])
                               .values(status="approved").execution_options(synchronize_session=False))
        return row

    monkeypatch.setattr(exemptions, "lock_row", lock_then_decided_elsewhere)
    with clean_app.app_context(), transaction():
        exemptions.cancel_for_member(member_id, None, "删除")
    assert locked == ["ProcessInstance"]
    request = _request(clean_app, asked["id"])
    assert request.status == "approved" and request.decision_comment is None  # re-read: not cancelled after all


def test_setting_the_flag_locks_the_instance_before_the_member(world, clean_app, monkeypatch):
    member_id = world.ids["members_a"][1]
    asked = _ask(world, member_id)
    locked, real_lock = [], exemptions.lock_row
    monkeypatch.setattr(exemptions, "lock_row",
                        lambda model, row_id, **kw: locked.append(model.__name__) or real_lock(model, row_id, **kw))
    world.admin.ok("put", f"/api/members/{member_id}/smartphone-exempt", {"exempt": True})
    assert locked == ["ProcessInstance", "Member"]
    cancelled = _request(clean_app, asked["id"])
    assert cancelled.status == "cancelled" and cancelled.decision_comment == "平台管理员直接设置"


def test_a_request_asked_for_while_the_flag_is_set_is_refused_not_locked_late(world, clean_app, monkeypatch):
    member_id = world.ids["members_a"][1]
    late = _ask(world, member_id)
    # As if the request had been asked for between set_exempt's cancel and its member lock.
    monkeypatch.setattr(exemptions, "cancel_for_member", lambda member_id, user, reason: None)
    body = assert_problem(world.admin.put(f"/api/members/{member_id}/smartphone-exempt", {"exempt": True}),
                          409, "request_pending")
    assert body["request_id"] == late["id"]
    assert _request(clean_app, late["id"]).status == "pending"
    assert _member(clean_app, member_id).smartphone_exempt_approved_at is None
    monkeypatch.undo()
    assert world.admin.ok("put", f"/api/members/{member_id}/smartphone-exempt", {"exempt": True})["smartphone_exempt"]
    assert _request(clean_app, late["id"]).status == "cancelled"


def test_erase_personal_blanks_the_free_text_of_a_purged_members_requests(world, clean_app):
    member_id, other = world.ids["members_a"][1], world.ids["members_a"][2]
    rejected = _ask(world, member_id, note="患有眼疾，视力很差")
    world.users["zongzhi"].ok("post", f"/api/tasks/{rejected['open_tasks'][0]['id']}/complete",
                              {"approved": False, "comment": "眼疾已治愈"})
    pending = _ask(world, member_id, note="行动不便")
    kept = _ask(world, other, note="另一名党员")
    with clean_app.app_context(), transaction():
        exemptions.erase_personal(member_id)
    for request_id in (rejected["id"], pending["id"]):
        request = _request(clean_app, request_id)
        assert request.note is None and request.decision_comment is None
    assert _request(clean_app, rejected["id"]).status == "rejected"  # the outcome stays, the words go
    assert _request(clean_app, kept["id"]).note == "另一名党员"
