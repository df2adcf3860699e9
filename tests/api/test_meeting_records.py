"""Around the meeting: notices and 签阅, minutes with votes, edits after completion, video attendance,
the filtered list and the xlsx ledger."""
import io
from datetime import datetime, timedelta

from openpyxl import load_workbook

from service.database import transaction, utcnow
from service.extensions import db
from service.models import HumanTask

from .helpers import assert_problem, future
from .test_congress import MINUTES, complete, create_congress, hold_until_minutes, only_task

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _completed_congress(w, minutes=None):
    sec = w.users["sec_a"]
    meeting = create_congress(w)
    record = hold_until_minutes(w, meeting["id"])
    decide = complete(sec, complete(sec, record["id"], minutes or MINUTES)["next_tasks"][0]["id"])["next_tasks"][0]
    complete(w.users["zongzhi"], decide["id"], {"approved": True})
    return meeting


def test_the_notice_reaches_every_invitee_and_the_organiser_sees_who_read_it(world):
    w, sec, m1, m2 = world, world.users["sec_a"], world.users["m1"], world.users["m2"]
    meeting = create_congress(w)
    assert m1.ok("get", "/api/notifications") == []
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    notices = m1.ok("get", "/api/notifications")
    assert [n["kind"] for n in notices] == ["meeting_notice"] and notices[0]["read_at"] is None
    assert notices[0]["title"] == "会议通知：第四季度支部党员大会"
    assert notices[0]["subject"] == {"kind": "meeting", "id": meeting["id"]}
    assert m1.ok("get", "/api/notifications/unread-count") == {"unread": 1}
    assert m1.get("/api/notifications").headers["X-Unread-Count"] == "1"
    read = m1.ok("post", f"/api/notifications/{notices[0]['id']}/read")
    assert read["read_at"] is not None
    assert m1.ok("post", f"/api/notifications/{notices[0]['id']}/read")["read_at"] == read["read_at"]  # kept
    assert m1.ok("get", "/api/notifications/unread-count") == {"unread": 0}
    assert_problem(m2.post(f"/api/notifications/{notices[0]['id']}/read"), 404, "notification_not_found")
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    reads = {i["name"]: i["notice_read_at"] for i in view["invitees"]}
    assert reads["乙"] is not None and reads["丙"] is None and view["attendance"]["notice_read"] == 1
    assert len(view["invitees"]) == 7  # members without an account are notified too (their notice waits)
    assert [n["kind"] for n in sec.ok("get", "/api/notifications")] == ["meeting_notice"]  # an invitee too
    assert m2.ok("get", "/api/notifications?unread=true")[0]["read_at"] is None
    assert m2.ok("post", "/api/notifications/read-all") == {"marked": 1}


def test_minutes_record_votes_passing_by_more_than_half_of_those_expected(world):
    w, sec = world, world.users["sec_a"]
    meeting = create_congress(w)
    record = hold_until_minutes(w, meeting["id"])
    code = sec.ok("get", f"/api/meetings/{meeting['id']}/check-in-code")["code"]
    for name in ("m1", "m2", "m5"):
        w.users[name].ok("post", f"/api/meetings/{meeting['id']}/check-in", {"code": code})
    sec.ok("post", f"/api/meetings/{meeting['id']}/proxy-check-in", {"member_id": w.ids["members_a"][3]})
    too_many = {**MINUTES, "votes": [{"motion": "接收预备党员", "yes": 5, "no": 0}]}  # 4 voting members present
    assert_problem(sec.post(f"/api/tasks/{record['id']}/complete", json=too_many), 422, "invalid_votes")
    votes = [{"motion": "接收预备党员", "yes": 3, "no": 1}, {"motion": "评议", "yes": 2, "no": 1, "abstain": 1}]
    complete(sec, record["id"], {**MINUTES, "votes": votes})
    minutes = sec.ok("get", f"/api/meetings/{meeting['id']}")["minutes"]
    assert [(v["motion"], v["expected"], v["present"], v["passed"]) for v in minutes["votes"]] == [
        ("接收预备党员", 5, 4, True), ("评议", 5, 4, False)]  # 2 of 5 expected is not more than half
    assert {a["name"] for a in minutes["attendees"]} == {"甲书记", "乙", "丙", "丁", "己预备"}
    assert {a["name"] for a in minutes["absentees"]} == {"戊", "庚预备"}


def test_minutes_reference_only_this_meetings_attachments(world):
    w, sec = world, world.users["sec_a"]
    other = create_congress(w)
    photo = _upload(sec, other["id"])
    meeting = create_congress(w)
    record = hold_until_minutes(w, meeting["id"])
    bad = sec.post(f"/api/tasks/{record['id']}/complete", json={**MINUTES, "attachment_ids": [photo["id"]]})
    assert_problem(bad, 422, "invalid_attachments")
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["minutes"] is None  # nothing half-written
    mine = _upload(sec, meeting["id"])
    complete(sec, record["id"], {**MINUTES, "attachment_ids": [mine["id"]]})
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["minutes"]["attachment_ids"] == [mine["id"]]


def _upload(api, meeting_id, name="photo.png", data=PNG):
    response = api.client.post(f"/api/meetings/{meeting_id}/attachments", data={"file": (io.BytesIO(data), name)},
                               headers=api._headers(), content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_admin_edits_completed_minutes_and_every_edit_is_kept(world):
    w, sec, zz, m1 = world, world.users["sec_a"], world.users["zongzhi"], world.users["m1"]
    meeting = create_congress(w)
    mid = meeting["id"]
    assert_problem(sec.put(f"/api/meetings/{mid}/minutes", json={"reason": "x", "content": "y"}), 409,
                   "minutes_not_editable")
    record = hold_until_minutes(w, mid)
    decide = complete(sec, complete(sec, record["id"], MINUTES)["next_tasks"][0]["id"])["next_tasks"][0]
    assert_problem(sec.put(f"/api/meetings/{mid}/minutes", json={"reason": "x", "content": "y"}), 409,
                   "minutes_not_editable")  # under review: revise through the task
    complete(zz, decide["id"], {"approved": True})
    assert_problem(sec.put(f"/api/meetings/{mid}/minutes", json={"content": "y"}), 422, "validation_error")
    assert_problem(sec.put(f"/api/meetings/{mid}/minutes", json={"reason": "同上", "host": MINUTES["host"]}), 422,
                   "no_changes")
    assert_problem(m1.put(f"/api/meetings/{mid}/minutes", json={"reason": "改", "content": "y"}), 403, "forbidden")
    view = sec.ok("put", f"/api/meetings/{mid}/minutes", {"reason": "补充发言要点", "content": "会议讨论了……补充：",
                                                         "decisions": "同意"})
    assert view["minutes"]["content"] == "会议讨论了……补充：" and view["status"] == "completed"
    zz.ok("put", f"/api/meetings/{mid}/minutes", {"reason": "更正记录人", "recorder": "丙"})
    revisions = sec.ok("get", f"/api/meetings/{mid}/minutes/revisions")
    assert [r["changed"] for r in revisions] == [["content", "decisions"], ["recorder"]]
    assert revisions[0]["before"]["content"] == MINUTES["content"] and revisions[1]["after"] == {"recorder": "丙"}
    edits = [e for e in sec.ok("get", f"/api/meetings/{mid}")["timeline"] if e["kind"] == "edited"]
    assert [e["actor_name"] for e in edits] == ["sec_a", "zongzhi"]
    assert edits[0]["comment"].startswith("补充发言要点")


def test_video_attendees_need_an_online_meeting_and_screenshots(world):
    w, sec = world, world.users["sec_a"]
    offline = create_congress(w)
    hold_until_minutes(w, offline["id"])
    body = {"member_ids": [w.ids["members_a"][4]], "evidence_ids": []}
    assert_problem(sec.post(f"/api/meetings/{offline['id']}/video-attendance", json=body), 422, "not_online_meeting")
    meeting = create_congress(w, online=True, location="腾讯会议 123-456")
    shot = _upload(sec, meeting["id"], "截图.png")
    early = {"member_ids": [w.ids["members_a"][4]], "evidence_ids": [shot["id"]]}
    assert_problem(sec.post(f"/api/meetings/{meeting['id']}/video-attendance", json=early), 422, "check_in_closed")
    hold_until_minutes(w, meeting["id"])
    assert_problem(sec.post(f"/api/meetings/{meeting['id']}/video-attendance", json=body), 422, "evidence_required")
    pdf = _upload(sec, meeting["id"], "名单.pdf", b"%PDF-1.4\n%\xe2\xe3\n")
    wrong = {**body, "evidence_ids": [pdf["id"]]}
    assert_problem(sec.post(f"/api/meetings/{meeting['id']}/video-attendance", json=wrong), 422, "invalid_attachments")
    stranger = {**early, "member_ids": [w.ids["member_b"]]}
    assert_problem(sec.post(f"/api/meetings/{meeting['id']}/video-attendance", json=stranger), 403, "not_invited")
    assert_problem(w.users["m1"].post(f"/api/meetings/{meeting['id']}/video-attendance", json=early), 403, "forbidden")
    rows = sec.ok("post", f"/api/meetings/{meeting['id']}/video-attendance", early)
    assert [(r["check_in_method"], r["evidence_ids"]) for r in rows] == [("video", [shot["id"]])]
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["attendance"]["checked_in"] == 2  # organiser + 戊


def test_meeting_list_filters_and_the_xlsx_ledger(world, clean_app):
    w, sec, dangwei = world, world.users["sec_a"], world.users["dangwei"]
    done = _completed_congress(w)
    soon = create_congress(w, title="下周的大会", scheduled_at=future(7))
    later = create_congress(w, title="明年的大会", scheduled_at=future(60))
    w.users["sec_b"].ok("post", "/api/meetings", {"process_key": "branch_congress", "org_id": w.ids["branch_b"],
                                                 "title": "B支部大会", "scheduled_at": future(7)}, 201)
    ids = lambda query, api=sec: [m["id"] for m in api.ok("get", f"/api/meetings?{query}")]
    assert ids("status=completed") == [done["id"]]
    assert_problem(sec.get("/api/meetings?status=finished"), 422, "validation_error")
    first, last = (utcnow() + timedelta(days=6)).date(), (utcnow() + timedelta(days=8)).date()
    assert ids(f"from={first}&to={last}") == [soon["id"]]
    assert ids(f"from={(utcnow() + timedelta(days=30)).date()}") == [later["id"]]
    assert len(ids(f"org_id={w.ids['committee']}", dangwei)) == 4 and len(ids("", sec)) == 3
    assert ids("overdue=true") == []
    with clean_app.app_context(), transaction():
        task = db.session.query(HumanTask).filter_by(subject_id=later["id"], state="open").one()
        task.due_at = utcnow() - timedelta(hours=1)
    assert ids("overdue=true") == [later["id"]]
    assert later["id"] not in ids("overdue=false")
    response = dangwei.get(f"/api/meetings/export.xlsx?org_id={w.ids['general']}")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("编号", "会议类型", "组织", "会议主题", "会议时间")
    by_id = {r[0]: r for r in rows[1:]}
    assert set(by_id) == {done["id"], soon["id"], later["id"]}  # B支部 is outside the 党总支
    assert by_id[done["id"]][1] == "支部党员大会" and by_id[done["id"]][2] == "A支部"
    assert by_id[done["id"]][7] == "已完成" and by_id[done["id"]][9] == 7 and by_id[done["id"]][10] == 4
    member_rows = list(load_workbook(io.BytesIO(w.users["m1"].get("/api/meetings/export.xlsx").data)).active
                       .iter_rows(values_only=True))
    assert {r[0] for r in member_rows[1:]} == {done["id"], soon["id"], later["id"]}  # only meetings m1 is invited to


def test_tasks_of_a_meeting_are_due_counting_from_the_meeting_not_from_today(world):
    w, sec = world, world.users["sec_a"]
    meeting = create_congress(w, scheduled_at=future(30))
    record = hold_until_minutes(w, meeting["id"])
    due = datetime.fromisoformat(record["due_at"]) - datetime.fromisoformat(
        sec.ok("get", f"/api/meetings/{meeting['id']}")["scheduled_at"])
    assert due == timedelta(days=7)  # a week after the meeting, not a week after feedback closed
    assert [m["id"] for m in sec.ok("get", "/api/meetings?overdue=true")] == []


def test_a_rescheduled_meeting_is_not_reminded_before_its_new_notice(world, clean_app):
    from service import scheduler
    w, sec = world, world.users["sec_a"]
    meeting = create_congress(w)
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    reschedule = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])["next_tasks"][0]
    soon = (utcnow() + timedelta(hours=3)).isoformat()
    notify = complete(sec, reschedule["id"], {"scheduled_at": soon})["next_tasks"][0]
    with clean_app.app_context():
        assert scheduler.send_meeting_reminders() == 0  # the new time has not been announced
    complete(sec, notify["id"])
    with clean_app.app_context():
        assert scheduler.send_meeting_reminders() == 1
    kinds = [n["kind"] for n in w.users["m1"].ok("get", "/api/notifications")]
    assert kinds == ["meeting_reminder", "meeting_notice", "meeting_notice"]


def test_the_ledger_never_turns_text_into_formulas(world):
    w, sec = world, world.users["sec_a"]
    bad = {"process_key": "branch_congress", "org_id": w.ids["branch_a"], "scheduled_at": future()}
    assert_problem(sec.post("/api/meetings", json={**bad, "title": "标题\x0b"}), 422, "validation_error")
    assert_problem(sec.post("/api/meetings", json={**bad, "title": "x", "location": "二楼\n会议室"}), 422,
                   "validation_error")
    create_congress(w, title='=HYPERLINK("http://evil.example","点我")', location="=1+1")
    sheet = load_workbook(io.BytesIO(sec.get("/api/meetings/export.xlsx").data)).active
    title, location = sheet.cell(row=2, column=4), sheet.cell(row=2, column=6)
    assert (title.data_type, location.data_type) == ("s", "s")
    assert title.value.startswith("=HYPERLINK") and location.value == "=1+1"
