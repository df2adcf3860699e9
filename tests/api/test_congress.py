"""The branch congress (支部党员大会) through the HTTP API, as a secretary, members and the superior would."""
from .helpers import assert_problem, future, past


def create_congress(w, **extra):
    body = {"process_key": "branch_congress", "org_id": w.ids["branch_a"], "title": "第四季度支部党员大会",
            "scheduled_at": future(), "location": "党员活动室", **extra}
    return w.users["sec_a"].ok("post", "/api/meetings", body, 201)


def only_task(api, meeting_id, action):
    tasks = [t for t in api.ok("get", "/api/tasks?state=open") if t["subject"] == {"kind": "meeting", "id": meeting_id}]
    assert [t["action"] for t in tasks] == [action], tasks
    return tasks[0]


def complete(api, task_id, data=None, status=200):
    return api.ok("post", f"/api/tasks/{task_id}/complete", data or {}, status)


def answer(w, names_yes, meeting_id, names_no=()):
    for name in names_yes:
        w.users[name].ok("post", f"/api/meetings/{meeting_id}/feedback", {"attend": True})
    for name in names_no:
        w.users[name].ok("post", f"/api/meetings/{meeting_id}/feedback", {"attend": False, "reason": "出差"})


def hold_until_minutes(w, meeting_id):
    """notify -> 4 of 5 full members say yes -> close feedback; returns the record-minutes task."""
    sec = w.users["sec_a"]
    complete(sec, only_task(sec, meeting_id, "meeting.notify")["id"])
    answer(w, ["m1", "m2", "m3"], meeting_id, names_no=["m5"])
    sec.ok("post", f"/api/meetings/{meeting_id}/feedback", {"attend": True})
    result = complete(sec, only_task(sec, meeting_id, "meeting.close_feedback")["id"])
    assert [t["action"] for t in result["next_tasks"]] == ["meeting.record_minutes"]
    return result["next_tasks"][0]


MINUTES = {"host": "甲书记", "recorder": "乙", "topics": ["审议发展对象"], "content": "会议讨论了……",
           "decisions": "同意列为发展对象（5票赞成）"}


def test_approve_path_end_to_end(world):
    w, sec, zz = world, world.users["sec_a"], world.users["zongzhi"]
    meeting = create_congress(w)
    assert meeting["status"] == "created" and meeting["attendance"]["invited"] == 7
    assert meeting["attendance"]["expected_voting"] == 5
    assert [t["action"] for t in meeting["open_tasks"]] == ["meeting.notify"]
    minutes_task = hold_until_minutes(w, meeting["id"])
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert view["status"] == "in_progress" and view["check_in_open"]
    assert view["attendance"]["feedback_yes"] == 4 and view["attendance"]["feedback_no"] == 1
    code = sec.ok("get", f"/api/meetings/{meeting['id']}/check-in-code")["code"]
    w.users["m1"].ok("post", f"/api/meetings/{meeting['id']}/check-in", {"code": code})
    sec.ok("post", f"/api/meetings/{meeting['id']}/proxy-check-in", {"member_id": w.ids["members_a"][3]})
    submit = complete(sec, minutes_task["id"], MINUTES)["next_tasks"][0]
    assert submit["action"] == "review.submit"
    decide = complete(sec, submit["id"])["next_tasks"][0]
    assert decide["action"] == "review.decide" and decide["org_id"] == w.ids["general"]
    assert decide["role"] == "superior_admin" and decide["due_at"]
    assert only_task(zz, meeting["id"], "review.decide")["id"] == decide["id"]
    result = complete(zz, decide["id"], {"approved": True, "comment": "同意"})
    assert result["next_tasks"] == [] and result["task"]["state"] == "completed"
    final = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert final["status"] == "completed" and final["open_tasks"] == []
    assert final["attendance"]["checked_in"] == 3  # m1, the proxy-signed 丁, and the organiser by default
    assert final["attendance"]["checked_in_voting"] == 3
    assert {a["name"] for a in final["minutes"]["attendees"]} == {"甲书记", "乙", "丁"}
    assert [e["action"] for e in final["timeline"] if e["kind"] == "completed"] == [
        "meeting.notify", "meeting.close_feedback", "meeting.record_minutes", "review.submit", "review.decide"]
    assert final["timeline"][-1]["actor_name"] == "zongzhi" and final["timeline"][-1]["comment"] == "同意"
    assert zz.ok("get", "/api/tasks?state=completed")[0]["id"] == decide["id"]


def test_return_and_resubmit(world):
    w, sec, zz = world, world.users["sec_a"], world.users["zongzhi"]
    meeting = create_congress(w)
    minutes_task = hold_until_minutes(w, meeting["id"])
    submit = complete(sec, minutes_task["id"], MINUTES)["next_tasks"][0]
    decide = complete(sec, submit["id"])["next_tasks"][0]
    no_reason = zz.post(f"/api/tasks/{decide['id']}/complete", json={"approved": False})
    body = assert_problem(no_reason, 422, "validation_error")
    assert "comment" in body["errors"]
    assert only_task(zz, meeting["id"], "review.decide")  # nothing changed by the refused attempt
    back = complete(zz, decide["id"], {"approved": False, "comment": "会议记录缺少表决情况"})["next_tasks"]
    assert [t["action"] for t in back] == ["meeting.record_minutes"] and back[0]["org_id"] == w.ids["branch_a"]
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "in_progress"
    submit2 = complete(sec, back[0]["id"], {**MINUTES, "decisions": "5票赞成，0票反对"})["next_tasks"][0]
    decide2 = complete(sec, submit2["id"])["next_tasks"][0]
    complete(zz, decide2["id"], {"approved": True, "comment": "同意"})
    final = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert final["status"] == "completed" and final["minutes"]["decisions"] == "5票赞成，0票反对"
    returned = [e for e in final["timeline"] if e["action"] == "review.decide"]
    assert [e["comment"] for e in returned] == ["会议记录缺少表决情况", "同意"]


def test_quorum_counts_only_full_members_then_reschedule(world):
    w, sec = world, world.users["sec_a"]
    meeting = create_congress(w)
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    # Two full members and both probationary members say yes: 2/5 voting, so no quorum.
    answer(w, ["m1", "m2"], meeting["id"])
    w.admin.ok("post", "/api/users", {"username": "p6", "password": "Passw0rd!x", "member_id": w.ids["members_a"][6],
                                       "roles": [{"role": "member", "org_id": w.ids["branch_a"]}]}, 201)
    p6 = w.admin.as_user("p6", "Passw0rd!x")
    p6.ok("post", "/api/auth/password", {"old_password": "Passw0rd!x", "new_password": "Passw0rd!y"}, 204)
    for probationary in (w.users["m5"], p6):
        probationary.ok("post", f"/api/meetings/{meeting['id']}/feedback", {"attend": True})
    result = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])
    assert [t["action"] for t in result["next_tasks"]] == ["meeting.reschedule"]
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert view["status"] == "quorum_failed" and not view["check_in_open"]
    assert view["attendance"]["feedback_yes"] == 4
    bad = sec.post(f"/api/tasks/{result['next_tasks'][0]['id']}/complete", json={"scheduled_at": past()})
    assert_problem(bad, 422, "validation_error")
    renotify = complete(sec, result["next_tasks"][0]["id"], {"scheduled_at": future(3)})["next_tasks"]
    assert [t["action"] for t in renotify] == ["meeting.notify"]
    complete(sec, renotify[0]["id"])
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["attendance"]["feedback_yes"] == 0  # asked afresh
    answer(w, ["m1", "m2", "m3"], meeting["id"])
    nxt = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])["next_tasks"]
    assert [t["action"] for t in nxt] == ["meeting.record_minutes"]  # 3/5 > 0.5


def test_quorum_failed_then_cancel(world):
    w, sec = world, world.users["sec_a"]
    meeting = create_congress(w)
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    reschedule = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])["next_tasks"][0]
    assert_problem(sec.post(f"/api/tasks/{reschedule['id']}/complete", json={"cancel": True}), 422, "validation_error")
    assert complete(sec, reschedule["id"], {"cancel": True, "reason": "党员外出务工，无法到会"})["next_tasks"] == []
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert view["status"] == "cancelled" and view["cancel_reason"] == "党员外出务工，无法到会"


def test_exactly_half_is_not_more_than_half(world):
    w, sec = world, world.users["sec_a"]
    meeting = create_congress(w, invitee_ids=world.ids["members_a"][:4])  # four full members
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["m1", "m2"], meeting["id"])
    nxt = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])["next_tasks"]
    assert [t["action"] for t in nxt] == ["meeting.reschedule"]


def test_backdated_meeting_is_refused(world):
    body = {"process_key": "branch_congress", "org_id": world.ids["branch_a"], "title": "补录", "scheduled_at": past()}
    assert_problem(world.users["sec_a"].post("/api/meetings", json=body), 422, "backdated_meeting")
    assert world.users["sec_a"].ok("get", f"/api/meetings?org_id={world.ids['branch_a']}") == []


def test_foreign_branch_admin_neither_sees_nor_completes(world):
    w = world
    meeting = create_congress(w)
    task_id = meeting["open_tasks"][0]["id"]
    other = w.users["sec_b"]
    assert other.ok("get", "/api/tasks?state=open") == []
    assert_problem(other.get(f"/api/tasks/{task_id}"), 404, "task_not_found")
    assert_problem(other.post(f"/api/tasks/{task_id}/complete", json={}), 403, "not_candidate")
    assert_problem(other.get(f"/api/meetings/{meeting['id']}"), 404, "meeting_not_found")
    assert_problem(other.get(f"/api/meetings/{meeting['id']}/check-in-code"), 404, "meeting_not_found")
    # The superior sees its branch's task (oversight) but may not complete the branch's step.
    zz = w.users["zongzhi"]
    assert zz.ok("get", f"/api/tasks/{task_id}")["form"] == []
    assert_problem(zz.post(f"/api/tasks/{task_id}/complete", json={}), 403, "not_candidate")
    assert zz.ok("get", "/api/tasks?state=open") == []
    # The 党委 is not the reviewer while a 党总支 sits between.
    assert w.users["dangwei"].ok("get", "/api/tasks?state=open") == []


def test_member_sees_only_own_things(world):
    w = world
    meeting = create_congress(w)
    m1 = w.users["m1"]
    assert m1.ok("get", "/api/tasks?state=open") == []
    assert_problem(m1.get(f"/api/tasks/{meeting['open_tasks'][0]['id']}"), 404, "task_not_found")
    own = m1.ok("get", f"/api/meetings/{meeting['id']}")  # invited: sees the meeting, but only their own row
    assert [r["member_id"] for r in own["invitees"]] == [w.ids["members_a"][1]] and own["open_tasks"] == []
    assert len(w.users["sec_a"].ok("get", f"/api/meetings/{meeting['id']}")["invitees"]) == 7
    assert_problem(m1.get(f"/api/members/{w.ids['members_a'][2]}"), 404, "member_not_found")
    assert m1.ok("get", f"/api/members/{w.ids['members_a'][1]}")["name"] == "乙"
    assert_problem(m1.get(f"/api/meetings/{meeting['id']}/check-in-code"), 403, "forbidden")
    invite_two = create_congress(w, invitee_ids=w.ids["members_a"][:1])
    assert_problem(m1.get(f"/api/meetings/{invite_two['id']}"), 404, "meeting_not_found")


def test_double_completion_is_409_and_changes_nothing(world):
    sec = world.users["sec_a"]
    meeting = create_congress(world)
    task_id = meeting["open_tasks"][0]["id"]
    complete(sec, task_id)
    before = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert_problem(sec.post(f"/api/tasks/{task_id}/complete", json={}), 409, "task_not_open")
    after = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert after["open_tasks"] == before["open_tasks"] and after["timeline"] == before["timeline"]


def test_feedback_and_check_in_rules(world):
    w, sec, m1 = world, world.users["sec_a"], world.users["m1"]
    meeting = create_congress(w)
    mid = meeting["id"]
    assert_problem(m1.post(f"/api/meetings/{mid}/feedback", json={"attend": True}), 422, "feedback_closed")
    assert_problem(w.users["sec_b"].post(f"/api/meetings/{mid}/feedback", json={"attend": True}), 403,
                   "not_invited")
    assert_problem(m1.post("/api/meetings/9999/feedback", json={"attend": True}), 404, "meeting_not_found")
    code = sec.ok("get", f"/api/meetings/{mid}/check-in-code")["code"]
    assert_problem(m1.post(f"/api/meetings/{mid}/check-in", json={"code": code}), 422, "check_in_closed")
    hold_until_minutes(w, mid)
    assert_problem(m1.post(f"/api/meetings/{mid}/check-in", json={"code": "00000000"}), 422, "invalid_code")
    assert_problem(m1.post(f"/api/meetings/{mid}/feedback", json={"attend": True}), 422, "feedback_closed")
    assert_problem(sec.post(f"/api/meetings/{mid}/proxy-check-in", json={"member_id": w.ids["members_a"][1]}),
                   422, "proxy_not_allowed")
    qr = sec.get(f"/api/meetings/{mid}/check-in-code.png")
    assert qr.status_code == 200 and qr.mimetype == "image/png" and qr.data[:8] == b"\x89PNG\r\n\x1a\n"
    m1.ok("post", f"/api/meetings/{mid}/check-in", {"code": code})
    m1.ok("post", f"/api/meetings/{mid}/check-in", {"code": code})  # idempotent
    minutes = [t for t in sec.ok("get", "/api/tasks") if t["action"] == "meeting.record_minutes"][0]
    complete(sec, minutes["id"], MINUTES)
    assert_problem(w.users["m2"].post(f"/api/meetings/{mid}/check-in", json={"code": code}), 422, "check_in_closed")


def test_not_invited_member(world):
    w, sec = world, world.users["sec_a"]
    meeting = create_congress(w, invitee_ids=w.ids["members_a"][:3])
    hold = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert hold["attendance"]["invited"] == 3
    assert_problem(w.users["m3"].post(f"/api/meetings/{meeting['id']}/feedback", json={"attend": True}), 403,
                   "not_invited")
    assert_problem(w.users["m3"].post(f"/api/meetings/{meeting['id']}/check-in", json={"code": "1"}), 403,
                   "not_invited")
    bad = sec.post("/api/meetings", json={"process_key": "branch_congress", "org_id": w.ids["branch_a"],
                                           "title": "x", "scheduled_at": future(), "invitee_ids": [w.ids["member_b"]]})
    assert_problem(bad, 422, "invalid_invitees")


def test_claim_hides_task_from_other_candidates(world):
    w, sec = world, world.users["sec_a"]
    w.admin.ok("post", "/api/users", {"username": "sec_a2", "password": "Passw0rd!x",
                                       "roles": [{"role": "org_admin", "org_id": w.ids["branch_a"]}]}, 201)
    sec2 = w.admin.as_user("sec_a2", "Passw0rd!x")
    sec2.ok("post", "/api/auth/password", {"old_password": "Passw0rd!x", "new_password": "Passw0rd!z"}, 204)
    meeting = create_congress(w)
    task_id = meeting["open_tasks"][0]["id"]
    assert sec.ok("post", f"/api/tasks/{task_id}/claim")["assignee_id"]
    assert sec2.ok("get", "/api/tasks") == []
    assert_problem(sec2.post(f"/api/tasks/{task_id}/complete", json={}), 403, "not_candidate")
    sec.ok("post", f"/api/tasks/{task_id}/comments", {"text": "我来发通知"}, 201)
    sec.ok("post", f"/api/tasks/{task_id}/unclaim")
    assert [t["id"] for t in sec2.ok("get", "/api/tasks")] == [task_id]
    sec2.ok("post", f"/api/tasks/{task_id}/claim")
    assert_problem(sec.post(f"/api/tasks/{task_id}/claim"), 409, "task_claimed")
    sec2.ok("post", f"/api/tasks/{task_id}/complete", {})
    assert_problem(sec.post(f"/api/tasks/{task_id}/complete", json={}), 409, "task_not_open")
    timeline = sec.ok("get", f"/api/meetings/{meeting['id']}")["timeline"]
    assert [e["kind"] for e in timeline] == ["started", "claim", "comment", "unclaim", "claim", "completed"]


def test_cancel_meeting_closes_its_tasks(world):
    sec = world.users["sec_a"]
    meeting = create_congress(world)
    sec.ok("post", f"/api/meetings/{meeting['id']}/cancel", {"reason": "上级通知暂停集中活动"})
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert view["status"] == "cancelled" and view["open_tasks"] == []
    assert sec.ok("get", "/api/tasks") == []
    assert_problem(sec.post(f"/api/meetings/{meeting['id']}/cancel", json={"reason": "x"}), 409, "meeting_finished")


def test_meeting_list_is_scoped_in_the_query(world):
    w = world
    first = create_congress(w)
    only_sec = create_congress(w, invitee_ids=w.ids["members_a"][:1])
    other = w.users["sec_b"].ok("post", "/api/meetings", {"process_key": "branch_congress", "org_id": w.ids["branch_b"],
                                "title": "B支部大会", "scheduled_at": future()}, 201)
    ids = lambda api, q="": [m["id"] for m in api.ok("get", f"/api/meetings{q}")]
    assert sorted(ids(w.users["m1"])) == [first["id"]]
    assert sorted(ids(w.users["sec_a"])) == sorted([first["id"], only_sec["id"]])
    assert ids(w.users["sec_b"]) == [other["id"]]
    assert sorted(ids(w.users["dangwei"])) == sorted([first["id"], only_sec["id"], other["id"]])
    assert sorted(ids(w.users["zongzhi"], f"?org_id={w.ids['general']}")) == sorted([first["id"], only_sec["id"]])
    assert len(ids(w.users["dangwei"], "?limit=2")) == 2 and len(ids(w.users["dangwei"], "?limit=2&offset=2")) == 1
