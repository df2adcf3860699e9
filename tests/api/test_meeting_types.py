"""Every meeting type through the HTTP API: happy path, return path, ratio failure, timer advance, review modes."""
import time
from datetime import datetime, timedelta, timezone

import pytest

from service import scheduler

from .helpers import assert_problem, future
from .test_congress import MINUTES, answer, complete, only_task

PW = "Passw0rd!x"


def _meeting(w, key, org_id=None, **extra):
    body = {"process_key": key, "org_id": org_id or w.ids["branch_a"], "title": f"{key} 测试",
            "scheduled_at": future(), "location": "党员活动室", **extra}
    return w.users["sec_a"].ok("post", "/api/meetings", body, 201)


def _account(w, name, member_id):
    w.admin.ok("post", "/api/users", {"username": name, "password": PW, "member_id": member_id,
                                      "roles": [{"role": "member", "org_id": w.ids["branch_a"]}]}, 201)
    api = w.admin.as_user(name, PW)
    api.ok("post", "/api/auth/password", {"old_password": PW, "new_password": PW + "2"}, 204)
    w.users[name] = api


def _member(w, name, phone, **extra):
    body = {"name": name, "phone": phone, "org_id": w.ids["branch_a"], "category": "full",
            "joined_at": "2010-07-01", **extra}
    return w.admin.ok("post", "/api/members", body, 201)["id"]


@pytest.fixture()
def committee(world):
    """Branch A's committee: 甲书记 (secretary, runs the meetings), 辛 (deputy) and 壬 (member)."""
    for user, name, role, phone in (("xin", "辛", "deputy_secretary", "13800009001"),
                                    ("ren", "壬", "committee_member", "13800009002")):
        _account(world, user, _member(world, name, phone, committee_role=role))
    return world


def _soon(seconds=1.5):
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def _fire_after(clean_app, seconds):
    time.sleep(seconds)
    with clean_app.app_context():
        scheduler.fire_due_timers()


def _actions(result):
    return [t["action"] for t in result["next_tasks"]]


def _superior_tasks(w, meeting_id):
    return [t for t in w.users["zongzhi"].ok("get", "/api/tasks?state=open")
            if t["subject"] == {"kind": "meeting", "id": meeting_id}]


# --- 支部委员会: committee members only, more than half of them, 审核 --------------------------------------

def test_committee_invites_the_committee_and_passes_with_more_than_half(committee):
    w, sec = committee, committee.users["sec_a"]
    meeting = _meeting(w, "committee_meeting")
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert sorted(i["name"] for i in view["invitees"]) == ["壬", "甲书记", "辛"]
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["sec_a", "xin"], meeting["id"], names_no=["ren"])  # the organiser answers too: 2 of 3
    result = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])
    assert _actions(result) == ["meeting.record_minutes"]
    submit = complete(sec, result["next_tasks"][0]["id"], MINUTES)["next_tasks"][0]
    decide = complete(sec, submit["id"])["next_tasks"][0]
    assert decide["action"] == "review.decide" and decide["org_id"] == w.ids["general"]
    assert complete(w.users["zongzhi"], decide["id"], {"approved": True})["next_tasks"] == []
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "completed"


def test_committee_return_needs_a_reason_then_revise_and_resubmit(committee):
    w, sec, zz = committee, committee.users["sec_a"], committee.users["zongzhi"]
    meeting = _meeting(w, "committee_meeting")
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["xin", "ren"], meeting["id"])
    record = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])["next_tasks"][0]
    decide = complete(sec, complete(sec, record["id"], MINUTES)["next_tasks"][0]["id"])["next_tasks"][0]
    assert_problem(zz.post(f"/api/tasks/{decide['id']}/complete", json={"approved": False}), 422, "validation_error")
    again = complete(zz, decide["id"], {"approved": False, "comment": "议题不完整"})["next_tasks"]
    assert [t["action"] for t in again] == ["meeting.record_minutes"]
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "in_progress"
    decide = complete(sec, complete(sec, again[0]["id"], {**MINUTES, "topics": ["议题一", "议题二"]})
                      ["next_tasks"][0]["id"])["next_tasks"][0]
    complete(zz, decide["id"], {"approved": True})
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert view["status"] == "completed" and view["minutes"]["topics"] == ["议题一", "议题二"]
    assert "议题不完整" in [e["comment"] for e in view["timeline"]]


def test_committee_half_of_the_committee_is_not_enough(committee):
    w, sec = committee, committee.users["sec_a"]
    meeting = _meeting(w, "committee_meeting", invitee_ids=None)
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["sec_a"], meeting["id"], names_no=["xin", "ren"])  # 1 of 3
    result = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])
    assert _actions(result) == ["meeting.reschedule"]
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "quorum_failed"
    complete(sec, result["next_tasks"][0]["id"], {"cancel": True, "reason": "委员出差"})
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "cancelled"


def test_a_branch_without_committee_members_cannot_hold_a_committee_meeting(world):
    world.admin.ok("post", "/api/members", {"name": "B二", "phone": "13900000002", "org_id": world.ids["branch_b"],
                                            "category": "full", "joined_at": "2015-07-01"}, 201)
    body = {"process_key": "committee_meeting", "org_id": world.ids["branch_b"], "title": "委员会",
            "scheduled_at": future()}
    assert_problem(world.users["sec_b"].post("/api/meetings", json=body), 422, "no_invitees")


# --- 主题党日: more than half of the full members, 报备 -> 审阅 (no rejection) --------------------------------

def test_theme_day_is_acknowledged_by_the_superior_who_cannot_reject(world):
    w, sec, zz = world, world.users["sec_a"], world.users["zongzhi"]
    meeting = _meeting(w, "theme_day")
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["sec_a", "m1", "m2"], meeting["id"])  # 3 of 5 full members
    record = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])["next_tasks"][0]
    submit = complete(sec, record["id"], MINUTES)["next_tasks"][0]
    assert submit["name"] == "报备"
    ack = complete(sec, submit["id"])["next_tasks"][0]
    assert ack["action"] == "review.acknowledge" and ack["role"] == "superior_admin"
    form = zz.ok("get", f"/api/tasks/{ack['id']}")["form"]
    assert [f["name"] for f in form] == ["comment"]  # nothing to approve or reject with
    assert complete(zz, ack["id"], {"comment": "已阅"})["next_tasks"] == []
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "completed"


def test_theme_day_counts_only_full_members(world):
    w, sec = world, world.users["sec_a"]
    meeting = _meeting(w, "theme_day")
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["sec_a", "m1", "m5"], meeting["id"])  # 甲 + 乙 = 2 of 5 full; 己预备 does not count
    result = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])
    assert _actions(result) == ["meeting.reschedule"]
    renotify = complete(sec, result["next_tasks"][0]["id"], {"scheduled_at": future(2)})["next_tasks"]
    assert [t["action"] for t in renotify] == ["meeting.notify"]


# --- 党小组会: the group's members, advances at the meeting time, the branch confirms ----------------------

@pytest.fixture()
def group(world):
    """第一党小组 of branch A with two members (g1, g2)."""
    w = world
    w.ids["group"] = w.admin.ok("post", "/api/orgs", {"name": "第一党小组", "kind": "group",
                                                      "parent_id": w.ids["branch_a"]}, 201)["id"]
    for user, name, phone in (("g1", "组员一", "13800009101"), ("g2", "组员二", "13800009102")):
        _account(w, user, _member(w, name, phone, group_id=w.ids["group"]))
    return w


def test_group_meeting_advances_at_its_time_and_is_confirmed_by_the_branch(group, clean_app):
    w, sec = group, group.users["sec_a"]
    meeting = _meeting(w, "group_meeting", org_id=w.ids["group"], scheduled_at=_soon())
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert sorted(i["name"] for i in view["invitees"]) == ["组员一", "组员二"]
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    w.users["g1"].ok("post", f"/api/meetings/{meeting['id']}/feedback", {"attend": True})
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert view["status"] == "notified" and view["feedback_open"] and view["open_tasks"] == []
    _fire_after(clean_app, 1.6)
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert [t["action"] for t in view["open_tasks"]] == ["meeting.record_minutes"]
    assert view["status"] == "in_progress" and view["check_in_open"] and not view["feedback_open"]
    assert_problem(w.users["g2"].post(f"/api/meetings/{meeting['id']}/feedback", json={"attend": True}),
                   422, "feedback_closed")
    code = sec.ok("get", f"/api/meetings/{meeting['id']}/check-in-code")["code"]
    w.users["g1"].ok("post", f"/api/meetings/{meeting['id']}/check-in", {"code": code})
    confirm = complete(sec, view["open_tasks"][0]["id"], MINUTES)["next_tasks"][0]
    assert confirm["action"] == "review.confirm" and confirm["role"] == "branch_admin"
    assert _superior_tasks(w, meeting["id"]) == []
    assert complete(sec, confirm["id"])["next_tasks"] == []
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert view["status"] == "completed" and _superior_tasks(w, meeting["id"]) == []
    assert {t["task_name"] for t in view["timeline"]} >= {"支部确认"}
    assert [e["kind"] for e in view["timeline"]].count("timer") == 1  # the clock's step shows once
    assert [a["name"] for a in view["minutes"]["attendees"]] == ["组员一"]


def test_group_meeting_is_held_by_a_group_and_run_by_its_branch(group):
    w = group
    outsider = w.ids["members_a"][1]  # in the branch, not in the group
    bad = w.users["sec_a"].post("/api/meetings", json={"process_key": "group_meeting", "org_id": w.ids["group"],
                                                       "title": "x", "scheduled_at": future(), "invitee_ids": [outsider]})
    assert assert_problem(bad, 422, "invalid_invitees")["errors"] == {"invitee_ids": [outsider]}
    assert_problem(w.users["sec_a"].post("/api/meetings", json={
        "process_key": "group_meeting", "org_id": w.ids["branch_a"], "title": "x", "scheduled_at": future()}),
        422, "invalid_org")
    assert_problem(w.users["sec_b"].post("/api/meetings", json={
        "process_key": "group_meeting", "org_id": w.ids["group"], "title": "x", "scheduled_at": future()}),
        403, "forbidden")
    assert_problem(w.users["sec_a"].post("/api/meetings", json={
        "process_key": "theme_day", "org_id": w.ids["group"], "title": "x", "scheduled_at": future()}),
        422, "invalid_org")


# --- 党课: advances at the class time, summary, 报备 -> 审阅 -------------------------------------------------

def test_party_class_waits_for_its_time_then_summary_and_acknowledgement(world, clean_app):
    w, sec, zz = world, world.users["sec_a"], world.users["zongzhi"]
    meeting = _meeting(w, "party_class", scheduled_at=_soon())
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    with clean_app.app_context():
        scheduler.fire_due_timers()
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["open_tasks"] == []  # not yet time
    _fire_after(clean_app, 1.6)
    record = only_task(sec, meeting["id"], "meeting.record_minutes")
    summarize = complete(sec, record["id"], MINUTES)["next_tasks"][0]
    assert summarize["action"] == "meeting.summarize"
    assert_problem(sec.post(f"/api/tasks/{summarize['id']}/complete", json={"summary": " "}), 422, "validation_error")
    submit = complete(sec, summarize["id"], {"summary": "学习了党章第二章，大家结合工作谈了体会。"})["next_tasks"][0]
    ack = complete(sec, submit["id"])["next_tasks"][0]
    assert ack["action"] == "review.acknowledge"
    complete(zz, ack["id"])
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert view["status"] == "completed" and view["minutes"]["summary"].startswith("学习了党章")


# --- 组织生活会和民主评议党员: ratio, minutes, self/peer assessment, branch rating, 审核 -------------------------

def _org_life_until_appraisal(w):
    sec = w.users["sec_a"]
    meeting = _meeting(w, "org_life_meeting")
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["m1", "m2", "m3"], meeting["id"])
    record = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])["next_tasks"][0]
    return meeting, record


def test_org_life_meeting_with_democratic_appraisal(world):
    w, sec, zz, m1, m2 = world, world.users["sec_a"], world.users["zongzhi"], world.users["m1"], world.users["m2"]
    meeting, record = _org_life_until_appraisal(w)
    mid, members = meeting["id"], w.ids["members_a"]
    assert_problem(m1.post(f"/api/meetings/{mid}/self-assessment", json={"text": "早了"}), 422, "appraisal_closed")
    close_self = complete(sec, record["id"], MINUTES)["next_tasks"][0]
    assert close_self["action"] == "appraisal.close_self"
    assert sec.ok("get", f"/api/meetings/{mid}")["status"] == "appraising"
    kinds = [n["kind"] for n in m1.ok("get", "/api/notifications")]
    assert kinds[0] == "appraisal_self" and "meeting_notice" in kinds
    m1.ok("post", f"/api/meetings/{mid}/self-assessment", {"text": "按时参加组织生活，学习不够深入。"})
    assert_problem(m1.post(f"/api/meetings/{mid}/peer-assessments", json={
        "ratings": [{"member_id": members[2], "rating": "qualified"}]}), 422, "appraisal_closed")
    close_peer = complete(sec, close_self["id"])["next_tasks"][0]
    assert_problem(m2.post(f"/api/meetings/{mid}/self-assessment", json={"text": "晚了"}), 422, "appraisal_closed")
    assert_problem(m1.post(f"/api/meetings/{mid}/peer-assessments", json={
        "ratings": [{"member_id": members[1], "rating": "excellent"}]}), 422, "invalid_ratee")  # not oneself
    assert_problem(m1.post(f"/api/meetings/{mid}/peer-assessments", json={
        "ratings": [{"member_id": members[2], "rating": "great"}]}), 422, "validation_error")
    m1.ok("post", f"/api/meetings/{mid}/peer-assessments", {"ratings": [
        {"member_id": members[2], "rating": "qualified"}, {"member_id": members[3], "rating": "excellent"}]})
    m2.ok("post", f"/api/meetings/{mid}/peer-assessments", {"ratings": [{"member_id": members[3], "rating": "excellent"}]})
    twice = {"ratings": [{"member_id": members[2], "rating": "qualified"}, {"member_id": members[2], "rating": "excellent"}]}
    assert_problem(m1.post(f"/api/meetings/{mid}/peer-assessments", json=twice), 422, "validation_error")
    given = m1.ok("post", f"/api/meetings/{mid}/peer-assessments", {"ratings": [  # changes one's mind
        {"member_id": members[2], "rating": "excellent"}]})
    assert [(g["ratee_id"], g["rating"]) for g in given] == [(members[2], "excellent"), (members[3], "excellent")]
    rate = complete(sec, close_peer["id"])["next_tasks"][0]
    assert_problem(sec.post(f"/api/tasks/{rate['id']}/complete", json={"ratings": [
        {"member_id": members[1], "rating": "qualified"}]}), 422, "invalid_ratings")
    probationary = [{"member_id": members[5], "rating": "qualified"}]
    full = [{"member_id": m, "rating": "excellent" if m == members[3] else "qualified"} for m in members[:5]]
    bad = sec.post(f"/api/tasks/{rate['id']}/complete", json={"ratings": full + probationary})
    assert assert_problem(bad, 422, "invalid_ratings")["errors"]["probationary"] == [members[5]]
    ratings = full  # 预备党员 take part but get no 等次
    decide = complete(sec, complete(sec, rate["id"], {"ratings": ratings})["next_tasks"][0]["id"])["next_tasks"][0]
    assert decide["action"] == "review.decide"
    overview = sec.ok("get", f"/api/meetings/{mid}/appraisal")
    by_id = {e["member_id"]: e for e in overview["members"]}
    assert by_id[members[3]]["peer"]["excellent"] == 2 and by_id[members[3]]["rating"] == "excellent"
    assert by_id[members[1]]["self_assessment"].startswith("按时参加")
    mine = m1.ok("get", f"/api/meetings/{mid}/appraisal")
    assert [e["member_id"] for e in mine["members"]] == [members[1]]
    assert mine["members"][0]["peer"] == {} or set(mine["members"][0]["peer"].values()) == {0}
    complete(zz, decide["id"], {"approved": True})
    assert sec.ok("get", f"/api/meetings/{mid}")["status"] == "completed"


def test_org_life_meeting_fails_below_half_of_full_members(world):
    w, sec = world, world.users["sec_a"]
    meeting = _meeting(w, "org_life_meeting")
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["m5"], meeting["id"], names_no=["m1", "m2"])
    result = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])
    assert _actions(result) == ["meeting.reschedule"]


def test_org_life_meeting_can_be_returned(world):
    w, sec, zz = world, world.users["sec_a"], world.users["zongzhi"]
    meeting, record = _org_life_until_appraisal(w)
    close_self = complete(sec, record["id"], MINUTES)["next_tasks"][0]
    rate = complete(sec, complete(sec, close_self["id"])["next_tasks"][0]["id"])["next_tasks"][0]
    ratings = [{"member_id": m, "rating": "qualified"} for m in w.ids["members_a"][:5]]
    decide = complete(sec, complete(sec, rate["id"], {"ratings": ratings})["next_tasks"][0]["id"])["next_tasks"][0]
    again = complete(zz, decide["id"], {"approved": False, "comment": "评议结果需附说明"})["next_tasks"]
    assert [t["action"] for t in again] == ["meeting.record_minutes"]
    submit = complete(sec, again[0]["id"], {**MINUTES, "content": "补充了评议说明"})["next_tasks"]
    assert [t["action"] for t in submit] == ["review.submit"]  # the appraisal is not done again
    decide = complete(sec, submit[0]["id"])["next_tasks"][0]
    complete(zz, decide["id"], {"approved": True})
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "completed"
    kinds = [n["kind"] for n in w.users["m1"].ok("get", "/api/notifications")]
    assert kinds.count("appraisal_self") == 1 and kinds.count("appraisal_peer") == 1
