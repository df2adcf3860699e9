"""Organisation moves and merges: approvals by both parents, the tree and inboxes after, refusals."""
from .helpers import assert_problem, future
from .test_congress import MINUTES, answer, complete, only_task
from .conftest import _user


def _org(w, name, kind, parent):
    return w.admin.ok("post", "/api/orgs", {"name": name, "kind": kind, "parent_id": parent}, 201)["id"]


def _task(api, move_id):
    tasks = [t for t in api.ok("get", "/api/tasks?state=open") if t["subject"] == {"kind": "org_transfer",
                                                                                   "id": move_id}]
    assert len(tasks) == 1, tasks
    return tasks[0]


def _approve(api, move_id, **data):
    return api.ok("post", f"/api/tasks/{_task(api, move_id)['id']}/complete", {"approved": True, **data})


def _theme_day_awaiting_acknowledgement(w):
    sec = w.users["sec_a"]
    meeting = sec.ok("post", "/api/meetings", {"process_key": "theme_day", "org_id": w.ids["branch_a"],
                                               "title": "主题党日", "scheduled_at": future(3)}, 201)
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["sec_a", "m1", "m2"], meeting["id"])
    record = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])["next_tasks"][0]
    submit = complete(sec, record["id"], MINUTES)["next_tasks"][0]
    ack = complete(sec, submit["id"])["next_tasks"][0]
    assert ack["org_id"] == w.ids["general"]
    return meeting, ack


def test_moving_a_branch_needs_both_parents_and_reroutes_its_open_tasks(world):
    w = world
    meeting, ack = _theme_day_awaiting_acknowledgement(w)
    started = w.users["sec_a"].ok("post", "/api/org-transfers", {"org_id": w.ids["branch_a"],
                                                                  "new_parent_id": w.ids["committee"],
                                                                  "reason": "机构调整"}, 201)
    assert started["status"] == "pending" and started["from_parent_id"] == w.ids["general"]
    assert [s["org_id"] for s in started["chain"]] == [w.ids["general"], w.ids["committee"]]
    assert _task(w.users["zongzhi"], started["id"])["action"] == "transfer.approve"
    _approve(w.users["zongzhi"], started["id"])
    assert w.admin.ok("get", f"/api/orgs/{w.ids['branch_a']}")["parent_id"] == w.ids["general"]  # not yet
    _approve(w.users["dangwei"], started["id"])
    done = w.users["sec_a"].ok("get", f"/api/org-transfers/{started['id']}")
    assert done["status"] == "completed" and done["open_tasks"] == []
    org = w.admin.ok("get", f"/api/orgs/{w.ids['branch_a']}")
    assert org["parent_id"] == w.ids["committee"] and org["superior_id"] == w.ids["committee"]
    # The acknowledgement that waited for the old superior now waits for the new one.
    assert ack["id"] not in [t["id"] for t in w.users["zongzhi"].ok("get", "/api/tasks?state=open")]
    moved = w.users["dangwei"].ok("get", f"/api/tasks/{ack['id']}")
    assert moved["org_id"] == w.ids["committee"]
    complete(w.users["dangwei"], ack["id"], {"comment": "已阅"})
    assert w.users["sec_a"].ok("get", f"/api/meetings/{meeting['id']}")["status"] == "completed"


def test_common_ancestor_may_approve_alone(world):
    w = world
    started = w.users["dangwei"].ok("post", "/api/org-transfers", {
        "org_id": w.ids["branch_b"], "new_parent_id": w.ids["general"], "approved_by": "common_ancestor",
        "reason": "划归总支管理"}, 201)
    assert [s["org_id"] for s in started["chain"]] == [w.ids["committee"]]
    _approve(w.users["dangwei"], started["id"])
    assert w.admin.ok("get", f"/api/orgs/{w.ids['branch_b']}")["superior_id"] == w.ids["general"]


def test_merge_moves_members_and_groups_and_retires_the_branch(world):
    w = world
    branch_d = _org(w, "D支部", "branch", w.ids["general"])
    group_d = _org(w, "D一组", "group", branch_d)
    members = [w.admin.ok("post", "/api/members", {"name": f"D{i}", "phone": f"1360000000{i}", "org_id": branch_d,
                                                   "group_id": group_d, "category": "full",
                                                   "joined_at": "2015-07-01"}, 201)["id"] for i in range(2)]
    _user(w.admin, w, "sec_d", [{"role": "org_admin", "org_id": branch_d}])
    _user(w.admin, w, "d0", [{"role": "member", "org_id": branch_d}], members[0])
    started = w.users["sec_d"].ok("post", "/api/org-transfers", {"kind": "merge", "org_id": branch_d,
                                                                  "into_org_id": w.ids["branch_a"],
                                                                  "reason": "支部合并"}, 201)
    assert [s["org_id"] for s in started["chain"]] == [w.ids["general"]]  # one parent for both
    _approve(w.users["zongzhi"], started["id"])
    assert w.users["sec_d"].ok("get", f"/api/org-transfers/{started['id']}")["status"] == "completed"
    listed = [m["id"] for m in w.users["sec_a"].ok("get", f"/api/members?org_id={w.ids['branch_a']}")]
    assert set(members) <= set(listed)
    assert w.admin.ok("get", f"/api/orgs/{group_d}")["parent_id"] == w.ids["branch_a"]
    assert w.users["sec_a"].ok("get", f"/api/members/{members[0]}")["group_id"] == group_d
    assert w.users["d0"].ok("get", "/api/me")["roles"] == [{"role": "member", "org_id": w.ids["branch_a"]}]
    assert_problem(w.users["sec_d"].post("/api/meetings", json={"process_key": "branch_congress", "org_id": branch_d,
                                                                "title": "x", "scheduled_at": future(2)}),
                   422, "org_retired")
    again = w.users["zongzhi"].post("/api/org-transfers", json={"kind": "merge", "org_id": branch_d,
                                                                "into_org_id": w.ids["branch_a"], "reason": "x"})
    assert_problem(again, 422, "org_retired")


def test_a_return_leaves_the_tree_as_it_was(world):
    w = world
    started = w.users["sec_b"].ok("post", "/api/org-transfers", {"org_id": w.ids["branch_b"],
                                                                  "new_parent_id": w.ids["general"],
                                                                  "reason": "调整"}, 201)
    assert_problem(w.users["dangwei"].post(f"/api/tasks/{_task(w.users['dangwei'], started['id'])['id']}/complete",
                                           json={"approved": False}), 422, "validation_error")
    _approve(w.users["dangwei"], started["id"], approved=False, comment="暂不调整")
    view = w.users["sec_b"].ok("get", f"/api/org-transfers/{started['id']}")
    assert view["status"] == "returned" and view["outcome_comment"] == "暂不调整"
    assert w.admin.ok("get", f"/api/orgs/{w.ids['branch_b']}")["parent_id"] == w.ids["committee"]


def test_refusals(world):
    w = world
    sec_a, admin = w.users["sec_a"], w.admin
    post = lambda api, body: api.post("/api/org-transfers", json={"reason": "x", **body})
    assert_problem(post(sec_a, {"org_id": w.ids["branch_a"], "new_parent_id": w.ids["branch_b"]}),
                   422, "invalid_parent")
    assert_problem(post(sec_a, {"org_id": w.ids["branch_a"], "new_parent_id": w.ids["general"]}), 422, "same_parent")
    assert_problem(post(sec_a, {"org_id": w.ids["branch_a"]}), 422, "validation_error")
    assert_problem(post(w.users["sec_b"], {"org_id": w.ids["branch_a"], "new_parent_id": w.ids["committee"]}),
                   403, "forbidden")
    group = _org(w, "A一组", "group", w.ids["branch_a"])
    assert_problem(post(sec_a, {"org_id": group, "new_parent_id": w.ids["branch_b"]}), 422, "invalid_org")
    child = _org(w, "下级党委", "committee", w.ids["committee"])
    assert_problem(post(admin, {"org_id": w.ids["committee"], "new_parent_id": child}), 422, "invalid_parent")
    assert_problem(post(sec_a, {"kind": "merge", "org_id": w.ids["branch_a"], "into_org_id": w.ids["branch_a"]}),
                   422, "invalid_org")
    first = post(sec_a, {"org_id": w.ids["branch_a"], "new_parent_id": w.ids["committee"]})
    assert first.status_code == 201
    assert_problem(post(sec_a, {"org_id": w.ids["branch_a"], "new_parent_id": w.ids["committee"]}),
                   409, "org_transfer_pending")


def test_pending_member_transfers_and_running_meetings_block_a_move(world):
    w = world
    transfer = w.users["sec_a"].ok("post", "/api/transfers", {"member_id": w.ids["members_a"][1], "kind": "in_system",
                                                               "to_org_id": w.ids["branch_b"], "reason": "调动"}, 201)
    blocked = w.users["sec_b"].post("/api/org-transfers", json={"org_id": w.ids["branch_b"],
                                                                "new_parent_id": w.ids["general"], "reason": "x"})
    assert assert_problem(blocked, 409, "transfers_pending")["transfer_id"] == transfer["id"]
    w.users["sec_a"].ok("post", f"/api/transfers/{transfer['id']}/cancel", {"reason": "撤回"})
    w.users["sec_a"].ok("post", "/api/meetings", {"process_key": "branch_congress", "org_id": w.ids["branch_a"],
                                                  "title": "大会", "scheduled_at": future(3)}, 201)
    merge = w.users["sec_a"].post("/api/org-transfers", json={"kind": "merge", "org_id": w.ids["branch_a"],
                                                              "into_org_id": w.ids["branch_b"], "reason": "x"})
    assert_problem(merge, 409, "meetings_running")


def test_cancel_and_visibility(world):
    w = world
    started = w.users["sec_b"].ok("post", "/api/org-transfers", {"org_id": w.ids["branch_b"],
                                                                  "new_parent_id": w.ids["general"],
                                                                  "reason": "调整"}, 201)
    assert w.users["zongzhi"].ok("get", f"/api/org-transfers/{started['id']}")["id"] == started["id"]
    assert_problem(w.users["sec_a"].get(f"/api/org-transfers/{started['id']}"), 404, "org_transfer_not_found")
    done = w.users["sec_b"].ok("post", f"/api/org-transfers/{started['id']}/cancel", {"reason": "不调整了"})
    assert done["status"] == "cancelled" and done["open_tasks"] == []
    assert_problem(w.users["sec_b"].post(f"/api/org-transfers/{started['id']}/cancel", json={"reason": "x"}),
                   409, "org_transfer_finished")


def test_a_member_restored_after_a_merge_returns_to_the_branch_the_members_went_to(world):
    w = world
    branch_d = _org(w, "D支部", "branch", w.ids["general"])
    member = w.admin.ok("post", "/api/members", {"name": "D老党员", "phone": "13600000009", "org_id": branch_d,
                                                 "category": "full", "joined_at": "1980-07-01"}, 201)["id"]
    assert w.admin.delete(f"/api/members/{member}?reason=出国定居").status_code == 204
    started = w.users["zongzhi"].ok("post", "/api/org-transfers", {"kind": "merge", "org_id": branch_d,
                                                                   "into_org_id": w.ids["branch_a"],
                                                                   "reason": "支部合并"}, 201)
    _approve(w.users["zongzhi"], started["id"])
    restored = w.users["zongzhi"].ok("post", f"/api/members/{member}/restore")
    assert restored["org_id"] == w.ids["branch_a"] and restored["deleted_at"] is None
    assert member in [m["id"] for m in w.users["sec_a"].ok("get", f"/api/members?org_id={w.ids['branch_a']}")]


def test_one_reorganisation_at_a_time_and_never_into_a_retired_branch(world):
    w = world
    branch_d = _org(w, "D支部", "branch", w.ids["general"])
    first = w.users["zongzhi"].ok("post", "/api/org-transfers", {"kind": "merge", "org_id": branch_d,
                                                                  "into_org_id": w.ids["branch_a"],
                                                                  "reason": "合并"}, 201)
    for body in ({"kind": "merge", "org_id": w.ids["branch_a"], "into_org_id": w.ids["branch_b"]},
                 {"kind": "merge", "org_id": w.ids["branch_b"], "into_org_id": branch_d}):
        refused = w.users["dangwei"].post("/api/org-transfers", json={"reason": "x", **body})
        assert assert_problem(refused, 409, "org_transfer_pending")["org_transfer_id"] == first["id"]
    _approve(w.users["zongzhi"], first["id"])
    refused = w.users["dangwei"].post("/api/org-transfers", json={"kind": "merge", "org_id": w.ids["branch_b"],
                                                                  "into_org_id": branch_d, "reason": "x"})
    assert_problem(refused, 422, "org_retired")


def test_merge_reroutes_a_pending_exemption_request_to_the_new_superior(world):
    w = world
    # A member of branch B (under the 党委) asks for the exemption; B merges into A (under the 党总支).
    request = w.users["sec_b"].ok("post", f"/api/members/{w.ids['member_b']}/exemption-requests",
                                  {"reason": "health"}, 201)
    assert request["open_tasks"][0]["org_id"] == w.ids["committee"]
    merge = w.users["sec_b"].ok("post", "/api/org-transfers", {"kind": "merge", "org_id": w.ids["branch_b"],
                                                                "into_org_id": w.ids["branch_a"],
                                                                "reason": "合并"}, 201)
    _approve(w.users["dangwei"], merge["id"])
    _approve(w.users["zongzhi"], merge["id"])
    moved = w.users["zongzhi"].ok("get", f"/api/exemption-requests/{request['id']}")
    assert moved["open_tasks"][0]["org_id"] == w.ids["general"]


def test_a_deleted_secretary_of_a_merged_branch_comes_back_without_the_office(world):
    w = world
    branch_d = _org(w, "D支部", "branch", w.ids["general"])
    secretary = w.admin.ok("post", "/api/members", {"name": "D书记", "phone": "13600000019", "org_id": branch_d,
                                                    "category": "full", "joined_at": "1990-07-01",
                                                    "committee_role": "secretary"}, 201)["id"]
    assert w.admin.delete(f"/api/members/{secretary}").status_code == 204
    merge = w.users["zongzhi"].ok("post", "/api/org-transfers", {"kind": "merge", "org_id": branch_d,
                                                                  "into_org_id": w.ids["branch_a"],
                                                                  "reason": "合并"}, 201)
    _approve(w.users["zongzhi"], merge["id"])
    restored = w.users["zongzhi"].ok("post", f"/api/members/{secretary}/restore")
    assert restored["org_id"] == w.ids["branch_a"] and restored["committee_role"] is None
    assert w.users["sec_a"].delete(f"/api/members/{secretary}").status_code == 204
