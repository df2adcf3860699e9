"""Meeting types added and changed by BPMN alone: a new type end to end, versions, switches, per-org choice,
structural diff, instance migration, validation without deploying."""
from datetime import datetime
from pathlib import Path

from rules import CHINA

from .helpers import assert_problem, future
from .test_congress import MINUTES, answer, complete, only_task

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "docs" / "examples" / "special_org_life.bpmn").read_bytes()
THEME_DAY = (ROOT / "bpmn" / "theme_day.bpmn").read_bytes()
STRICTER = THEME_DAY.replace(b"voting_feedback_ratio &gt; 0.5", b"voting_feedback_ratio &gt;= 0.8")


def post_xml(api, xml: bytes, path="/api/process-definitions"):
    return api.client.post(path, data=xml, headers={**api._headers(), "Content-Type": "application/xml"})


def deploy(w, xml: bytes, status=201) -> dict:
    response = post_xml(w.admin, xml)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def create(w, key, status=201, org="branch_a", user="sec_a"):
    body = {"process_key": key, "org_id": w.ids[org], "title": "会议", "scheduled_at": future()}
    return w.users[user].ok("post", "/api/meetings", body, status)


def test_uploaded_type_runs_end_to_end_with_points_and_compliance(world):
    w, sec, zz, admin = world, world.users["sec_a"], world.users["zongzhi"], world.admin
    deployed = deploy(w, EXAMPLE)
    assert (deployed["key"], deployed["name"], deployed["version"]) == ("special_org_life", "专题组织生活会", 1)
    listed = sec.ok("get", "/api/process-definitions?category=meeting")
    assert {"special_org_life", "branch_congress"} <= {d["key"] for d in listed}
    assert all(d["category"] == "meeting" for d in listed)
    rule = admin.ok("post", "/api/score-rules", {"process_key": "special_org_life", "points": 20, "cap": 20,
                                                "cap_period": "year"}, 201)
    assert rule["id"] == "custom.meeting.special_org_life" and rule["set"] == "custom" and rule["target"] == "org"
    assert_problem(admin.post("/api/score-rules", json={"process_key": "branch_congress", "points": 1}), 409,
                   "rule_exists")
    requirement = admin.ok("put", "/api/compliance/requirements/special_org_life",
                           {"period": "month", "required": 1})
    assert requirement["source"] == "added" and requirement["held_by"] == "branch"

    meeting = create(w, "special_org_life")
    assert meeting["process_version"] == 1 and meeting["attendance"]["expected_voting"] == 5
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["m1", "m2", "m3"], meeting["id"], names_no=["m5"])
    sec.ok("post", f"/api/meetings/{meeting['id']}/feedback", {"attend": True})
    # 4 of 5 full members said yes: the 4/5 gateway opens sign-in (a simple majority type would too).
    after_feedback = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])
    assert [t["action"] for t in after_feedback["next_tasks"]] == ["meeting.close_check_in"]
    code = sec.ok("get", f"/api/meetings/{meeting['id']}/check-in-code")["code"]
    for name in ("m1", "m2"):
        w.users[name].ok("post", f"/api/meetings/{meeting['id']}/check-in", {"code": code})
    sec.ok("post", f"/api/meetings/{meeting['id']}/proxy-check-in", {"member_id": w.ids["members_a"][3]})
    minutes = complete(sec, only_task(sec, meeting["id"], "meeting.close_check_in")["id"])["next_tasks"]
    assert [t["action"] for t in minutes] == ["meeting.record_minutes"]  # 4 of 5 present (organiser included)
    submit = complete(sec, minutes[0]["id"], MINUTES)["next_tasks"][0]
    decide = complete(sec, submit["id"])["next_tasks"][0]
    assert decide["action"] == "review.decide" and decide["org_id"] == w.ids["general"]
    assert only_task(zz, meeting["id"], "review.decide")["id"] == decide["id"]  # the superior's inbox
    complete(zz, decide["id"], {"approved": True})
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "completed"

    held_at = datetime.fromisoformat(meeting["scheduled_at"]).astimezone(CHINA)
    score = sec.ok("get", f"/api/scores/orgs/{w.ids['branch_a']}?period={held_at.year}")
    assert score["own"] == 20
    report = sec.ok("get", f"/api/compliance?org_id={w.ids['branch_a']}&period={held_at:%Y-%m}")
    row = next(r for r in report["rows"] if r["process_key"] == "special_org_life")
    assert (row["org_id"], row["required"], row["held"], row["status"]) == (w.ids["branch_a"], 1, 1, "green")


def test_four_fifths_gateway_sends_three_of_five_to_reschedule(world):
    w, sec = world, world.users["sec_a"]
    deploy(w, EXAMPLE)
    meeting = create(w, "special_org_life")
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["m1", "m2"], meeting["id"])
    sec.ok("post", f"/api/meetings/{meeting['id']}/feedback", {"attend": True})
    result = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])
    assert [t["action"] for t in result["next_tasks"]] == ["meeting.reschedule"]  # 3/5 = 0.6 < 0.8


def test_versions_pin_running_instances_and_switches_choose_new_ones(world):
    w, sec, admin = world, world.users["sec_a"], world.admin
    old = create(w, "theme_day")
    assert deploy(w, STRICTER)["version"] == 2
    assert deploy(w, STRICTER, status=200)["version"] == 2  # identical XML: no new version
    versions = sec.ok("get", "/api/process-definitions/theme_day/versions")
    assert [(v["version"], v["running_instances"]) for v in versions] == [(2, 0), (1, 1)]
    new = create(w, "theme_day")
    assert (old["process_version"], new["process_version"]) == (1, 2)
    for meeting in (old, new):  # 3 of 5 full members: enough under v1 (> 1/2), not under v2 (>= 4/5)
        complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
        answer(w, ["m1", "m2"], meeting["id"])
        sec.ok("post", f"/api/meetings/{meeting['id']}/feedback", {"attend": True})
    first = complete(sec, only_task(sec, old["id"], "meeting.close_feedback")["id"])["next_tasks"]
    second = complete(sec, only_task(sec, new["id"], "meeting.close_feedback")["id"])["next_tasks"]
    assert [t["action"] for t in first] == ["meeting.record_minutes"]
    assert [t["action"] for t in second] == ["meeting.reschedule"]

    assert_problem(w.users["dangwei"].client.patch("/api/process-definitions/theme_day/versions/2", json={
        "enabled": False}, headers=w.users["dangwei"]._headers()), 403, "forbidden")
    switched = admin.client.patch("/api/process-definitions/theme_day/versions/2", json={"enabled": False},
                                  headers=admin._headers())
    assert switched.status_code == 200 and switched.get_json()["enabled"] is False
    assert create(w, "theme_day")["process_version"] == 1  # the newest enabled version
    off = admin.client.patch("/api/process-definitions/theme_day", json={"enabled": False}, headers=admin._headers())
    assert off.get_json()["type_enabled"] is False and off.get_json()["enabled"] is False
    assert_problem(sec.post("/api/meetings", json={"process_key": "theme_day", "org_id": w.ids["branch_a"],
                                                   "title": "x", "scheduled_at": future()}), 422, "process_disabled")
    admin.client.patch("/api/process-definitions/theme_day", json={"enabled": True}, headers=admin._headers())
    assert create(w, "theme_day")["process_version"] == 1


def test_committee_chooses_the_types_its_branches_may_start(world):
    w, dw, zz, sec = world, world.users["dangwei"], world.users["zongzhi"], world.users["sec_a"]
    off = dw.ok("put", f"/api/orgs/{w.ids['committee']}/meeting-types/theme_day", {"enabled": False})
    assert off["enabled"] is False and off["switched_off_here"] and off["disabled_by"] == w.ids["committee"]
    body = assert_problem(sec.post("/api/meetings", json={"process_key": "theme_day", "org_id": w.ids["branch_a"],
                                                          "title": "x", "scheduled_at": future()}),
                          422, "process_disabled_for_org")
    assert body["disabled_by"] == w.ids["committee"]
    create(w, "party_class")  # other types are untouched
    # The 党总支 cannot undo its 党委's choice; a branch admin chooses nothing.
    still = zz.ok("put", f"/api/orgs/{w.ids['general']}/meeting-types/theme_day", {"enabled": True})
    assert still["enabled"] is False and still["disabled_by"] == w.ids["committee"]
    assert_problem(sec.put(f"/api/orgs/{w.ids['committee']}/meeting-types/theme_day", json={"enabled": True}),
                   403, "forbidden")
    assert_problem(sec.put(f"/api/orgs/{w.ids['branch_a']}/meeting-types/theme_day", json={"enabled": True}),
                   422, "invalid_org")
    assert_problem(zz.put(f"/api/orgs/{w.ids['branch_a']}/meeting-types/theme_day", json={"enabled": False}),
                   422, "invalid_org")
    assert_problem(dw.put(f"/api/orgs/{w.ids['committee']}/meeting-types/member_transfer", json={"enabled": False}),
                   422, "not_a_meeting_type")
    listed = {t["process_key"]: t for t in zz.ok("get", f"/api/orgs/{w.ids['general']}/meeting-types")}
    assert listed["theme_day"]["enabled"] is False and listed["party_class"]["enabled"] is True
    # A 党总支's own switch-off reaches its branches, not branch B under the 党委.
    dw.ok("put", f"/api/orgs/{w.ids['committee']}/meeting-types/theme_day", {"enabled": True})
    zz.ok("put", f"/api/orgs/{w.ids['general']}/meeting-types/theme_day", {"enabled": False})
    create(w, "theme_day", status=422)
    assert create(w, "theme_day", org="branch_b", user="sec_b")["process_key"] == "theme_day"


def test_diff_between_versions(world):
    w, sec = world, world.users["sec_a"]
    deploy(w, STRICTER)
    diff = sec.ok("get", "/api/process-definitions/theme_day/diff?from=1&to=2")
    assert diff["added"] == [] and diff["removed"] == []
    assert diff["changed"] == [{"id": "flow_quorum_met", "type": "sequenceFlow", "name": diff["changed"][0]["name"],
                                "line": diff["changed"][0]["line"], "changes": [
                                    {"field": "condition", "before": "voting_feedback_ratio > 0.5",
                                     "after": "voting_feedback_ratio >= 0.8"}]}]
    assert_problem(sec.get("/api/process-definitions/theme_day/diff?from=1&to=9"), 404, "process_not_found")
    assert_problem(sec.get("/api/process-definitions/theme_day/diff?from=1"), 422, "validation_error")


def test_migration_moves_compatible_instances_and_refuses_the_rest(world):
    w, sec, admin = world, world.users["sec_a"], world.admin
    waiting = create(w, "theme_day")  # at 发通知
    deploy(w, STRICTER)
    assert_problem(sec.post("/api/process-definitions/theme_day/migrations", json={}), 403, "forbidden")
    dry = admin.ok("post", "/api/process-definitions/theme_day/migrations", {"dry_run": True})
    assert [m["instance_id"] for m in dry["migrated"]] and dry["refused"] == [] and dry["to_version"] == 2
    assert sec.ok("get", f"/api/meetings/{waiting['id']}")["process_version"] == 1  # a dry run changes nothing
    task_before = only_task(sec, waiting["id"], "meeting.notify")
    done = admin.ok("post", "/api/process-definitions/theme_day/migrations", {})
    assert [m["subject"] for m in done["migrated"]] == [{"kind": "meeting", "id": waiting["id"]}]
    view = sec.ok("get", f"/api/meetings/{waiting['id']}")
    assert view["process_version"] == 2 and view["timeline"][-1]["kind"] == "migrated"
    assert only_task(sec, waiting["id"], "meeting.notify")["id"] == task_before["id"]  # same inbox row
    versions = {v["version"]: v["running_instances"] for v in sec.ok("get", "/api/process-definitions/theme_day/versions")}
    assert versions == {1: 0, 2: 1}
    complete(sec, task_before["id"])
    answer(w, ["m1", "m2"], waiting["id"])
    sec.ok("post", f"/api/meetings/{waiting['id']}/feedback", {"attend": True})
    after = complete(sec, only_task(sec, waiting["id"], "meeting.close_feedback")["id"])["next_tasks"]
    assert [t["action"] for t in after] == ["meeting.reschedule"]  # the migrated instance follows v2's 4/5 rule

    # v3 drops 上传会议记录: an instance waiting there cannot move, and says why.
    at_minutes = create(w, "theme_day")
    complete(sec, only_task(sec, at_minutes["id"], "meeting.notify")["id"])
    answer(w, ["m1", "m2", "m3"], at_minutes["id"])
    sec.ok("post", f"/api/meetings/{at_minutes['id']}/feedback", {"attend": True})
    complete(sec, only_task(sec, at_minutes["id"], "meeting.close_feedback")["id"])
    renamed = STRICTER.replace(b'"record_minutes"', b'"record_minutes_v3"').replace(
        b">record_minutes<", b">record_minutes_v3<").replace(b'camunda:formKey="meeting.record_minutes" '
                                                              b'camunda:dueDate="P7D"',
                                                              b'camunda:formKey="meeting.record_minutes" '
                                                              b'camunda:dueDate="P3D"')
    assert deploy(w, renamed)["version"] == 3
    result = admin.ok("post", "/api/process-definitions/theme_day/migrations", {"from_version": 2})
    assert [m["subject"]["id"] for m in result["migrated"]] == [waiting["id"]]  # at 改期: record_minutes not reached
    assert result["refused"][0]["from_version"] == 2
    assert result["refused"][0]["reasons"][0]["element_id"] == "record_minutes"
    assert result["refused"][0]["reasons"][0]["state"] == "READY"
    assert sec.ok("get", f"/api/meetings/{at_minutes['id']}")["process_version"] == 2
    assert_problem(admin.post("/api/process-definitions/theme_day/migrations", json={"instance_ids": [999999]}),
                   404, "instance_not_found")


def test_validate_without_deploying_and_meeting_actions_only(world):
    w, admin = world, world.admin
    report = post_xml(admin, EXAMPLE, "/api/process-definitions/validate").get_json()
    assert report["valid"] and report["key"] == "special_org_life" and report["properties"]["held_by"] == "branch"
    assert "special_org_life" not in {d["key"] for d in admin.ok("get", "/api/process-definitions")}
    wrong = EXAMPLE.replace(b'camunda:formKey="review.decide"', b'camunda:formKey="transfer.approve"')
    wrong = wrong.replace(b"voting_present_ratio &gt;= 0.8", b"__import__('os')")
    report = post_xml(admin, wrong, "/api/process-definitions/validate").get_json()
    assert not report["valid"]
    assert {e["element_id"] for e in report["errors"]} == {"flow_present_met", "decide"}  # all at once
    body = assert_problem(post_xml(admin, wrong.replace(b"__import__('os')", b"voting_present_ratio &gt;= 0.8")),
                          422, "invalid_bpmn")
    assert [(e["element_id"], bool(e["line"])) for e in body["errors"]] == [("decide", True)]
    held = EXAMPLE.replace(b'name="held_by" value="branch"', b'name="held_by" value="committee"')
    assert "held_by" in post_xml(admin, held, "/api/process-definitions/validate").get_json()["errors"][0]["message"]
    assert_problem(post_xml(w.users["dangwei"], EXAMPLE, "/api/process-definitions/validate"), 403, "forbidden")
    vocab = w.users["sec_a"].ok("get", "/api/process-definitions/vocabulary")
    actions = {a["name"]: a for a in vocab["actions"]}
    assert actions["meeting.close_feedback"]["sets"] == ["feedback_ratio", "voting_feedback_ratio"]
    assert vocab["lanes_by_category"]["meeting"] == ["branch_admin", "superior_admin"]


def test_switches_show_what_new_meetings_start_on_and_compliance_follows_them(world):
    w, admin, dw, sec = world, world.admin, world.users["dangwei"], world.users["sec_a"]
    deploy(w, STRICTER)
    admin.client.patch("/api/process-definitions/theme_day/versions/2", json={"enabled": False},
                       headers=admin._headers())
    listed = next(d for d in sec.ok("get", "/api/process-definitions?category=meeting") if d["key"] == "theme_day")
    assert (listed["version"], listed["version_enabled"], listed["enabled"], listed["startable_version"]) == (
        2, False, True, 1)
    types = {t["process_key"]: t for t in dw.ok("get", f"/api/orgs/{w.ids['committee']}/meeting-types")}
    assert types["theme_day"]["enabled"] and types["theme_day"]["type_enabled"]
    # Migration never targets a switched-off version, and never moves an instance backwards.
    assert_problem(admin.post("/api/process-definitions/theme_day/migrations", json={"to_version": 2}),
                   422, "version_disabled")
    # A key keeps its kind: a meeting type cannot become a transfer, nor can an upload take over member_transfer.
    body = assert_problem(post_xml(admin, THEME_DAY.replace(b'name="category" value="meeting"',
                                                            b'name="category" value="other"')), 422, "invalid_bpmn")
    assert "cannot make it other" in body["errors"][0]["message"]
    hijack = EXAMPLE.replace(b'"special_org_life"', b'"member_transfer"')
    assert_problem(post_xml(admin, hijack), 422, "invalid_bpmn")

    period = datetime.now(CHINA).strftime("%Y-%m")
    keys = lambda: {r["process_key"] for r in sec.ok("get", f"/api/compliance?org_id={w.ids['branch_a']}&period={period}")["rows"]}
    assert "theme_day" in keys()
    dw.ok("put", f"/api/orgs/{w.ids['committee']}/meeting-types/theme_day", {"enabled": False})
    assert "theme_day" not in keys()  # not held to a type it may not start
    dw.ok("put", f"/api/orgs/{w.ids['committee']}/meeting-types/theme_day", {"enabled": True})
    admin.client.patch("/api/process-definitions/committee_meeting", json={"enabled": False}, headers=admin._headers())
    assert "committee_meeting" not in keys() and "theme_day" in keys()


def test_instances_only_move_forward(world):
    w, admin = world, world.admin
    create(w, "theme_day")
    deploy(w, STRICTER)
    moved = admin.ok("post", "/api/process-definitions/theme_day/migrations", {})
    instance_id = moved["migrated"][0]["instance_id"]
    back = admin.ok("post", "/api/process-definitions/theme_day/migrations", {"to_version": 1,
                                                                              "instance_ids": [instance_id]})
    assert back["migrated"] == [] and "only move forward" in back["refused"][0]["reasons"][0]["message"]
