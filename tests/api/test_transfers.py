"""Member transfers: the chain from the org tree, returns, refusals, out of and into the system, races."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from service import scheduler
from service.actions import transfer as transfer_actions
from service.database import utcnow
from service.services import membership

from .conftest import _user
from .helpers import Api, assert_problem


@pytest.fixture()
def tree(world):
    """A second general branch with branch C under the same 党委, and their admins."""
    org = lambda name, kind, parent: world.admin.ok("post", "/api/orgs", {"name": name, "kind": kind,
                                                                          "parent_id": parent}, 201)["id"]
    world.ids["general2"] = org("第二党总支", "general_branch", world.ids["committee"])
    world.ids["branch_c"] = org("C支部", "branch", world.ids["general2"])
    _user(world.admin, world, "zongzhi2", [{"role": "org_admin", "org_id": world.ids["general2"]}])
    _user(world.admin, world, "sec_c", [{"role": "org_admin", "org_id": world.ids["branch_c"]}])
    return world


def _start(w, member_index=1, **body):
    payload = {"member_id": w.ids["members_a"][member_index], "kind": "in_system", "reason": "工作调动", **body}
    return w.users["sec_a"].ok("post", "/api/transfers", payload, 201)


def _task(api, transfer_id):
    tasks = [t for t in api.ok("get", "/api/tasks?state=open") if t["subject"] == {"kind": "transfer",
                                                                                   "id": transfer_id}]
    assert len(tasks) == 1, tasks
    return tasks[0]


def _act(api, transfer_id, data, status=200):
    return api.ok("post", f"/api/tasks/{_task(api, transfer_id)['id']}/complete", data, status)


def _approve_chain(w, transfer_id, names):
    for name in names:
        _act(w.users[name], transfer_id, {"approved": True})


def test_in_system_chain_runs_up_to_the_common_ancestor_and_down_to_the_receiving_branch(tree):
    w = tree
    member_id = w.ids["members_a"][1]
    started = _start(w, to_org_id=w.ids["branch_c"])
    assert started["status"] == "pending" and started["from_org_id"] == w.ids["branch_a"]
    assert [s["org_id"] for s in started["chain"]] == [w.ids["general"], w.ids["committee"], w.ids["general2"]]
    assert [s["state"] for s in started["chain"]] == ["current", "waiting", "waiting"]
    task = _task(w.users["zongzhi"], started["id"])
    assert task["action"] == "transfer.approve" and task["org_id"] == w.ids["general"]
    assert task["process_key"] == "member_transfer" and task["due_at"]
    assert not [t for t in w.users["dangwei"].ok("get", "/api/tasks?state=open") if t["subject"]["kind"] == "transfer"]

    _approve_chain(w, started["id"], ["zongzhi", "dangwei", "zongzhi2"])
    view = w.users["sec_a"].ok("get", f"/api/transfers/{started['id']}")
    assert view["status"] == "pending" and [s["state"] for s in view["chain"]] == ["approved"] * 3
    assert view["open_tasks"][0]["action"] == "transfer.receive"
    assert view["open_tasks"][0]["org_id"] == w.ids["branch_c"]
    # Until the receiving branch takes the member in, they belong to the sending branch.
    assert w.users["sec_a"].ok("get", f"/api/members/{member_id}")["org_id"] == w.ids["branch_a"]

    _act(w.users["sec_c"], started["id"], {"accepted": True, "comment": "欢迎"})
    done = w.users["sec_c"].ok("get", f"/api/transfers/{started['id']}")
    assert done["status"] == "completed" and done["completed_at"] and done["open_tasks"] == []
    assert [e["action"] for e in done["timeline"] if e["kind"] == "completed"] == \
        ["transfer.approve"] * 3 + ["transfer.receive"]
    assert w.users["sec_c"].ok("get", f"/api/members/{member_id}")["org_id"] == w.ids["branch_c"]
    assert [m["id"] for m in w.users["sec_c"].ok("get", f"/api/members?org_id={w.ids['branch_c']}")] == [member_id]
    assert member_id not in [m["id"] for m in w.users["sec_a"].ok("get", f"/api/members?org_id={w.ids['branch_a']}")]
    # The member's account follows them.
    me = w.users["m1"].ok("get", "/api/me")
    assert me["roles"] == [{"role": "member", "org_id": w.ids["branch_c"]}]


def test_history_lists_every_organisation_with_dates(tree):
    w = tree
    member_id = w.ids["members_a"][1]
    started = _start(w, to_org_id=w.ids["branch_c"])
    _approve_chain(w, started["id"], ["zongzhi", "dangwei", "zongzhi2"])
    _act(w.users["sec_c"], started["id"], {"accepted": True})
    history = w.users["sec_c"].ok("get", f"/api/members/{member_id}/history")
    assert [(h["org_id"], h["end_reason"]) for h in history] == [(w.ids["branch_a"], "transfer"),
                                                                 (w.ids["branch_c"], None)]
    assert history[0]["ended_at"] == history[1]["started_at"] and history[1]["transfer_id"] == started["id"]


def test_same_parent_chain_is_the_common_superior_only(world):
    w = world
    other = w.admin.ok("post", "/api/orgs", {"name": "A2支部", "kind": "branch", "parent_id": w.ids["general"]},
                       201)["id"]
    started = _start(w, to_org_id=other)
    assert [s["org_id"] for s in started["chain"]] == [w.ids["general"]]
    assert started["open_tasks"][0]["org_id"] == w.ids["general"]


def test_return_needs_a_reason_and_leaves_the_member_at_home(world):
    w = world
    started = _start(w, to_org_id=w.ids["branch_b"])
    body = w.users["zongzhi"].post(f"/api/tasks/{_task(w.users['zongzhi'], started['id'])['id']}/complete",
                                   json={"approved": False})
    assert_problem(body, 422, "validation_error")
    _act(w.users["zongzhi"], started["id"], {"approved": False, "comment": "材料不全"})
    view = w.users["sec_a"].ok("get", f"/api/transfers/{started['id']}")
    assert view["status"] == "returned" and view["outcome_comment"] == "材料不全" and view["open_tasks"] == []
    assert [s["state"] for s in view["chain"]] == ["returned", "not_reached"]
    assert w.users["sec_a"].ok("get", f"/api/members/{w.ids['members_a'][1]}")["org_id"] == w.ids["branch_a"]
    notices = w.users["sec_a"].ok("get", "/api/notifications")
    assert any(n["kind"] == "transfer_returned" for n in notices)
    # Once returned, a new transfer may start.
    _start(w, to_org_id=w.ids["branch_b"])


def test_receiving_branch_may_refuse_with_a_reason(world):
    w = world
    started = _start(w, to_org_id=w.ids["branch_b"])
    _approve_chain(w, started["id"], ["zongzhi", "dangwei"])
    refused = w.users["sec_b"].post(f"/api/tasks/{_task(w.users['sec_b'], started['id'])['id']}/complete",
                                    json={"accepted": False})
    assert_problem(refused, 422, "validation_error")
    _act(w.users["sec_b"], started["id"], {"accepted": False, "comment": "不在本单位工作"})
    view = w.users["sec_b"].ok("get", f"/api/transfers/{started['id']}")
    assert view["status"] == "returned" and view["member_id"] == w.ids["members_a"][1]
    assert w.users["sec_a"].ok("get", f"/api/members/{w.ids['members_a'][1]}")["org_id"] == w.ids["branch_a"]


def test_second_transfer_of_a_member_is_refused_while_one_is_pending(world):
    w = world
    first = _start(w, to_org_id=w.ids["branch_b"])
    again = w.users["sec_a"].post("/api/transfers", json={"member_id": w.ids["members_a"][1], "kind": "in_system",
                                                          "to_org_id": w.ids["branch_b"], "reason": "再次"})
    assert assert_problem(again, 409, "transfer_pending")["transfer_id"] == first["id"]


def test_concurrent_transfers_of_one_member_let_exactly_one_through(world, clean_app, monkeypatch):
    w = world
    barrier, check = threading.Barrier(2), membership.require_no_pending_transfer

    def check_then_wait(member_id):
        check(member_id)
        try:  # on Postgres the row lock keeps the second request out, so the wait times out
            barrier.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass

    monkeypatch.setattr(membership, "require_no_pending_transfer", check_then_wait)
    token = w.users["sec_a"].token

    def post(to_org):
        api = Api(clean_app.test_client(), token)
        return api.post("/api/transfers", json={"member_id": w.ids["members_a"][2], "kind": "in_system",
                                                "to_org_id": to_org, "reason": "并发"})

    with ThreadPoolExecutor(2) as pool:
        responses = [f.result(timeout=60) for f in [pool.submit(post, w.ids["branch_b"]) for _ in range(2)]]
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert_problem(next(r for r in responses if r.status_code == 409), 409, "transfer_pending")
    listed = w.users["sec_a"].ok("get", f"/api/transfers?org_id={w.ids['branch_a']}&status=pending")
    assert len(listed) == 1


def test_bad_requests_are_refused_with_codes(world):
    w = world
    sec = w.users["sec_a"]
    member = w.ids["members_a"][1]
    assert_problem(sec.post("/api/transfers", json={"member_id": member, "kind": "in_system",
                                                    "to_org_id": w.ids["general"], "reason": "x"}), 422, "invalid_org")
    assert_problem(sec.post("/api/transfers", json={"member_id": member, "kind": "in_system",
                                                    "to_org_id": w.ids["branch_a"], "reason": "x"}), 422, "same_org")
    assert_problem(sec.post("/api/transfers", json={"member_id": member, "kind": "in_system",
                                                    "reason": "x"}), 422, "validation_error")
    assert_problem(sec.post("/api/transfers", json={"member_id": member, "kind": "in_system",
                                                    "to_org_id": w.ids["branch_b"], "reason": " "}),
                   422, "validation_error")
    assert_problem(sec.post("/api/transfers", json={"member_id": 999999, "kind": "in_system",
                                                    "to_org_id": w.ids["branch_b"], "reason": "x"}),
                   404, "member_not_found")
    assert_problem(w.users["sec_b"].post("/api/transfers", json={"member_id": member, "kind": "in_system",
                                                                 "to_org_id": w.ids["branch_b"], "reason": "x"}),
                   403, "forbidden")
    assert_problem(sec.post("/api/transfers", json={"member_id": member, "kind": "out_of_system",
                                                    "reason": "x"}), 422, "validation_error")


def test_who_may_see_a_transfer(world):
    w = world
    started = _start(w, to_org_id=w.ids["branch_b"])
    for name in ("sec_a", "sec_b", "zongzhi", "dangwei", "m1"):
        assert w.users[name].ok("get", f"/api/transfers/{started['id']}")["id"] == started["id"]
    assert_problem(w.users["m2"].get(f"/api/transfers/{started['id']}"), 404, "transfer_not_found")


def test_sending_branch_may_cancel_a_pending_transfer(world):
    w = world
    started = _start(w, to_org_id=w.ids["branch_b"])
    assert_problem(w.users["sec_b"].post(f"/api/transfers/{started['id']}/cancel", json={"reason": "x"}),
                   403, "forbidden")
    cancelled = w.users["sec_a"].ok("post", f"/api/transfers/{started['id']}/cancel", {"reason": "本人不再调动"})
    assert cancelled["status"] == "cancelled" and cancelled["open_tasks"] == []
    assert not [t for t in w.users["zongzhi"].ok("get", "/api/tasks?state=open") if t["subject"]["kind"] == "transfer"]
    assert_problem(w.users["sec_a"].post(f"/api/transfers/{started['id']}/cancel", json={"reason": "x"}),
                   409, "transfer_finished")


def test_leaving_member_drops_out_of_upcoming_meetings(world):
    w = world
    from .helpers import future
    meeting = w.users["sec_a"].ok("post", "/api/meetings", {"process_key": "branch_congress",
                                                             "org_id": w.ids["branch_a"], "title": "大会",
                                                             "scheduled_at": future(5)}, 201)
    started = _start(w, to_org_id=w.ids["branch_b"])
    _approve_chain(w, started["id"], ["zongzhi", "dangwei"])
    _act(w.users["sec_b"], started["id"], {"accepted": True})
    view = w.users["sec_a"].ok("get", f"/api/meetings/{meeting['id']}")
    assert w.ids["members_a"][1] not in [i["member_id"] for i in view["invitees"]]
    assert view["attendance"]["invited"] == len(w.ids["members_a"]) - 1


def _out_of_system(w, **letter):
    started = _start(w, kind="out_of_system", destination="外省某单位党支部")
    assert [s["org_id"] for s in started["chain"]] == [w.ids["general"], w.ids["committee"]]
    _approve_chain(w, started["id"], ["zongzhi", "dangwei"])
    task = _task(w.users["sec_a"], started["id"])
    assert task["action"] == "transfer.issue_letter"
    return started, task


def test_out_of_system_letter_and_receipt_move_the_member_to_the_history_library(world):
    w = world
    started, task = _out_of_system(w)
    too_long = w.users["sec_a"].post(f"/api/tasks/{task['id']}/complete", json={"letter_no": "J-1", "valid_days": 91})
    assert_problem(too_long, 422, "validation_error")
    issued = w.users["sec_a"].ok("post", f"/api/tasks/{task['id']}/complete", {"letter_no": "J-1"})
    assert [t["action"] for t in issued["next_tasks"]] == ["transfer.record_receipt"]
    view = w.users["sec_a"].ok("get", f"/api/transfers/{started['id']}")
    assert view["letter_no"] == "J-1" and view["destination"] == "外省某单位党支部" and view["origin"] is None
    from datetime import datetime
    span = datetime.fromisoformat(view["letter_expires_at"]) - datetime.fromisoformat(view["letter_issued_at"])
    assert span == timedelta(days=30)
    _act(w.users["sec_a"], started["id"], {"note": "回执已收到"})
    done = w.users["sec_a"].ok("get", f"/api/transfers/{started['id']}")
    assert done["status"] == "completed" and done["receipt_at"] and done["receipt_note"] == "回执已收到"
    member = w.users["sec_a"].ok("get", f"/api/members/{w.ids['members_a'][1]}")
    assert member["deleted_at"] and "外省某单位党支部" in member["deleted_reason"]
    history = w.users["sec_a"].ok("get", f"/api/members/{w.ids['members_a'][1]}/history")
    assert history[-1]["end_reason"] == "out_of_system"


def test_an_expired_letter_raises_a_task_through_the_timer(world, clean_app, monkeypatch):
    w = world
    started, task = _out_of_system(w)
    # Issue the letter "30 days ago less a second", so it expires a second from now.
    monkeypatch.setattr(transfer_actions, "utcnow", lambda: utcnow() - timedelta(days=30) + timedelta(seconds=1))
    w.users["sec_a"].ok("post", f"/api/tasks/{task['id']}/complete", {"letter_no": "J-2"})
    monkeypatch.undo()
    time.sleep(1.5)
    with clean_app.app_context():
        scheduler.fire_due_timers()
    view = w.users["sec_a"].ok("get", f"/api/transfers/{started['id']}")
    assert [t["action"] for t in view["open_tasks"]] == ["transfer.handle_expiry"]
    assert any(e["kind"] == "timer" for e in view["timeline"])
    # Reissue: a new letter, and the receipt is awaited again.
    _act(w.users["sec_a"], started["id"], {"outcome": "reissue", "letter_no": "J-2b", "valid_days": 10})
    view = w.users["sec_a"].ok("get", f"/api/transfers/{started['id']}")
    assert [t["action"] for t in view["open_tasks"]] == ["transfer.record_receipt"] and view["letter_no"] == "J-2b"
    _act(w.users["sec_a"], started["id"], {})
    assert w.users["sec_a"].ok("get", f"/api/transfers/{started['id']}")["status"] == "completed"


def test_withdrawing_after_expiry_keeps_the_member(world, clean_app, monkeypatch):
    w = world
    started, task = _out_of_system(w)
    monkeypatch.setattr(transfer_actions, "utcnow", lambda: utcnow() - timedelta(days=30) + timedelta(seconds=1))
    w.users["sec_a"].ok("post", f"/api/tasks/{task['id']}/complete", {"letter_no": "J-3"})
    monkeypatch.undo()
    time.sleep(1.5)
    with clean_app.app_context():
        scheduler.fire_due_timers()
    expiry = _task(w.users["sec_a"], started["id"])
    assert_problem(w.users["sec_a"].post(f"/api/tasks/{expiry['id']}/complete", json={"outcome": "withdraw"}),
                   422, "validation_error")
    _act(w.users["sec_a"], started["id"], {"outcome": "withdraw", "comment": "本人放弃转出"})
    assert w.users["sec_a"].ok("get", f"/api/transfers/{started['id']}")["status"] == "returned"
    assert w.users["sec_a"].ok("get", f"/api/members/{w.ids['members_a'][1]}")["deleted_at"] is None


def test_into_system_registration_is_approved_by_the_superior(world):
    w = world
    person = {"name": "新转入", "phone": "13700000001", "category": "full", "joined_at": "2012-07-01"}
    started = w.users["sec_a"].ok("post", "/api/transfers", {"kind": "into_system", "to_org_id": w.ids["branch_a"],
                                                              "origin": "外省某党支部", "reason": "工作调入",
                                                              "member": person}, 201)
    assert started["member_id"] is None and started["member_name"] == "新转入" and started["origin"] == "外省某党支部"
    assert [s["org_id"] for s in started["chain"]] == [w.ids["general"]]
    _act(w.users["zongzhi"], started["id"], {"approved": True})
    done = w.users["sec_a"].ok("get", f"/api/transfers/{started['id']}")
    assert done["status"] == "completed" and done["member_id"]
    member = w.users["sec_a"].ok("get", f"/api/members/{done['member_id']}")
    assert member["org_id"] == w.ids["branch_a"] and member["phone"] == "13700000001"
    history = w.users["sec_a"].ok("get", f"/api/members/{done['member_id']}/history")
    assert [(h["start_reason"], h["transfer_id"]) for h in history] == [("into_system", started["id"])]


def test_into_system_refuses_a_phone_already_held(world):
    w = world
    person = {"name": "重复", "phone": "13900000001", "category": "full", "joined_at": "2012-07-01"}
    taken = w.users["sec_a"].post("/api/transfers", json={"kind": "into_system", "to_org_id": w.ids["branch_a"],
                                                          "origin": "外省", "reason": "调入", "member": person})
    assert "B支部" in assert_problem(taken, 409, "phone_taken")["detail"]


def test_purging_a_registered_member_erases_the_registration_copy(world):
    w = world
    person = {"name": "将清除", "phone": "13700000002", "category": "full", "joined_at": "2012-07-01"}
    started = w.users["sec_a"].ok("post", "/api/transfers", {"kind": "into_system", "to_org_id": w.ids["branch_a"],
                                                              "origin": "外省", "reason": "调入", "member": person}, 201)
    _act(w.users["zongzhi"], started["id"], {"approved": True})
    member_id = w.users["sec_a"].ok("get", f"/api/transfers/{started['id']}")["member_id"]
    assert w.admin.delete(f"/api/members/{member_id}").status_code == 204
    w.admin.ok("post", f"/api/members/{member_id}/purge", status=204)
    view = w.admin.ok("get", f"/api/transfers/{started['id']}")
    assert view["member_data"] is None and "将清除" not in str(view)


def test_an_admin_who_transfers_away_gives_back_the_tasks_they_claimed(world):
    w = world
    _user(w.admin, w, "sec_a2", [{"role": "org_admin", "org_id": w.ids["branch_a"]}])
    from .helpers import future
    meeting = w.users["sec_a"].ok("post", "/api/meetings", {"process_key": "branch_congress",
                                                             "org_id": w.ids["branch_a"], "title": "大会",
                                                             "scheduled_at": future(5)}, 201)
    notify = meeting["open_tasks"][0]
    w.users["sec_a"].ok("post", f"/api/tasks/{notify['id']}/claim")
    started = w.users["sec_a2"].ok("post", "/api/transfers", {"member_id": w.ids["members_a"][0], "kind": "in_system",
                                                               "to_org_id": w.ids["branch_b"], "reason": "调任"}, 201)
    _approve_chain(w, started["id"], ["zongzhi", "dangwei"])
    _act(w.users["sec_b"], started["id"], {"accepted": True})
    assert w.users["sec_a"].ok("get", "/api/me")["roles"] == [{"role": "member", "org_id": w.ids["branch_b"]}]
    assert_problem(w.users["sec_a"].post(f"/api/tasks/{notify['id']}/complete", json={}), 403, "not_candidate")
    assert notify["id"] in [t["id"] for t in w.users["sec_a2"].ok("get", "/api/tasks?state=open")]
    w.users["sec_a2"].ok("post", f"/api/tasks/{notify['id']}/complete", {})


def test_no_transfer_while_the_branch_is_being_merged(world):
    w = world
    merge = w.users["sec_b"].ok("post", "/api/org-transfers", {"kind": "merge", "org_id": w.ids["branch_b"],
                                                                "into_org_id": w.ids["branch_a"],
                                                                "reason": "合并"}, 201)
    blocked = w.users["sec_a"].post("/api/transfers", json={"member_id": w.ids["members_a"][1], "kind": "in_system",
                                                            "to_org_id": w.ids["branch_b"], "reason": "x"})
    assert assert_problem(blocked, 409, "org_transfer_pending")["org_transfer_id"] == merge["id"]
    blocked = w.users["sec_a"].post("/api/transfers", json={"member_id": w.ids["members_a"][1],
                                                            "kind": "out_of_system", "destination": "外省",
                                                            "reason": "x"})
    assert_problem(blocked, 409, "org_transfer_pending")


def test_nothing_new_starts_for_a_member_being_transferred(world):
    w = world
    member = w.ids["members_a"][2]
    _start(w, member_index=2, to_org_id=w.ids["branch_b"])
    assert_problem(w.users["sec_a"].post(f"/api/members/{member}/exemption-requests", json={"reason": "health"}),
                   409, "transfer_pending")
    assert_problem(w.users["sec_a"].post("/api/flows", json={"member_id": member, "direction": "out",
                                                             "destination": "深圳", "from_date": "2026-12-01",
                                                             "contact": "本人"}), 409, "transfer_pending")


def test_into_system_waits_while_the_receiving_branch_is_being_merged(world):
    w = world
    w.users["sec_a"].ok("post", "/api/org-transfers", {"kind": "merge", "org_id": w.ids["branch_a"],
                                                        "into_org_id": w.ids["branch_b"], "reason": "合并"}, 201)
    person = {"name": "新人", "category": "full", "joined_at": "2012-07-01"}
    refused = w.users["sec_a"].post("/api/transfers", json={"kind": "into_system", "to_org_id": w.ids["branch_a"],
                                                            "origin": "外省", "reason": "调入", "member": person})
    assert_problem(refused, 409, "org_transfer_pending")


def test_admin_rights_over_the_old_branchs_groups_end_too(world):
    w = world
    group = w.admin.ok("post", "/api/orgs", {"name": "A一组", "kind": "group", "parent_id": w.ids["branch_a"]},
                       201)["id"]
    w.admin.ok("post", "/api/users", {"username": "grp_admin", "password": "Passw0rd!x",
                                      "member_id": w.ids["members_a"][4],
                                      "roles": [{"role": "org_admin", "org_id": group}]}, 201)
    api = w.admin.as_user("grp_admin", "Passw0rd!x")
    api.ok("post", "/api/auth/password", {"old_password": "Passw0rd!x", "new_password": "Passw0rd!x2"}, 204)
    started = _start(w, member_index=4, to_org_id=w.ids["branch_b"])
    _approve_chain(w, started["id"], ["zongzhi", "dangwei"])
    _act(w.users["sec_b"], started["id"], {"accepted": True})
    assert api.ok("get", "/api/me")["roles"] == [{"role": "member", "org_id": w.ids["branch_b"]}]
    assert_problem(api.get(f"/api/members?org_id={group}"), 403, "forbidden")
