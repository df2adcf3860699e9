"""Points through the HTTP API: ingest through China-time caps, duplicates, video, rules administration, integration
tokens, member reads, and organisational-life points from meetings completed through their real flows."""
import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import select

from rules import CHINA
from service.extensions import db
from service.models import ScoreCounter, ScoreEntry, ScoreEvent, ScoreRuleAudit, VideoProgress

from .helpers import assert_problem
from .test_congress import MINUTES, answer, complete, create_congress, hold_until_minutes, only_task
from .test_meeting_types import _account, _fire_after, _meeting, _member, _soon

NOTICE = "积分仅供参考，不作为评价党员的唯一依据"


def ev(event_id, member_id, action, at, **extra):
    return {"id": event_id, "member_id": member_id, "action": action, "occurred_at": at, **extra}


def post(api, events, status=200):
    return api.ok("post", "/api/score-events", {"events": events}, status)


def score(api, member_id, period):
    return api.ok("get", f"/api/scores/members/{member_id}?period={period}")


@pytest.fixture()
def utc_process(monkeypatch):
    """The server process runs with TZ=UTC: periods must still be China days."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# --- caps, China days, duplicates, video, read ------------------------------------------------------------------

def test_daily_caps_count_china_days_whatever_the_server_zone(world, utc_process):
    admin, m = world.admin, world.ids["members_a"][1]
    result = post(admin, [ev("l1", m, "login", "2026-11-18T23:59:00+08:00"),  # 15:59 UTC, 18 Nov
                          ev("l2", m, "login", "2026-11-19T00:01:00+08:00"),  # 16:01 UTC, still 18 Nov in UTC
                          ev("l3", m, "login", "2026-11-19T09:00:00+08:00"),
                          ev("c1", m, "comment", "2026-11-19T09:00:00+08:00"),
                          ev("c2", m, "comment", "2026-11-19T10:00:00+08:00"),
                          ev("c3", m, "comment", "2026-11-19T11:00:00+08:00")])
    assert result == {"accepted": 6, "duplicates": 0, "points_awarded": 6, "notice": NOTICE}
    assert score(admin, m, "2026-11-18")["total"] == 1
    day = score(admin, m, "2026-11-19")
    assert [(e["source_id"], e["points"]) for e in day["entries"]] == [("l2", 1), ("c1", 2), ("c2", 2)]
    assert day["by_category"] == {"organizational_life": 0, "education": 5, "pioneer": 0}
    assert post(admin, [ev("l4", m, "login", "2026-11-19T23:59:59+08:00")])["points_awarded"] == 0  # cap held


def test_duplicates_in_one_batch_and_across_batches(world, clean_app):
    admin, m = world.admin, world.ids["members_a"][1]
    first = post(admin, [ev("f1", m, "favorite", "2026-11-18T09:00:00+08:00"),
                         ev("f1", m, "favorite", "2026-11-18T09:00:00+08:00")])
    assert (first["accepted"], first["duplicates"], first["points_awarded"]) == (1, 1, 1)
    again = post(admin, [ev("f1", m, "favorite", "2026-11-18T09:00:00+08:00"),
                         ev("f2", m, "favorite", "2026-11-18T09:05:00+08:00")])
    assert (again["accepted"], again["duplicates"], again["points_awarded"]) == (1, 1, 1)
    assert [e["source_id"] for e in score(admin, m, "2026-11-18")["entries"]] == ["f1", "f2"]
    with clean_app.app_context():
        assert sorted(db.session.scalars(select(ScoreEvent.event_id))) == ["f1", "f2"]


def test_read_earns_only_above_30_seconds(world):
    admin, m = world.admin, world.ids["members_a"][1]
    result = post(admin, [ev("r1", m, "read", "2026-11-18T09:00:00+08:00", seconds=30),
                          ev("r2", m, "read", "2026-11-18T09:01:00+08:00"),
                          ev("r3", m, "read", "2026-11-18T09:02:00+08:00", seconds=31)])
    assert (result["accepted"], result["points_awarded"]) == (3, 1)
    assert [e["source_id"] for e in score(admin, m, "2026-11-18")["entries"]] == ["r3"]


def test_video_credits_new_progress_per_china_day_with_cap(world, clean_app):
    admin, m = world.admin, world.ids["members_a"][1]
    day1 = [ev("v1", m, "video", "2026-11-18T09:00:00+08:00", object_id="A", seconds=200),   # 200 s: 1 point
            ev("v2", m, "video", "2026-11-18T09:10:00+08:00", object_id="A", seconds=100),   # rewind: nothing
            ev("v3", m, "video", "2026-11-18T09:20:00+08:00", object_id="A", seconds=350),   # +150 = 350 s: 1
            ev("v4", m, "video", "2026-11-18T09:30:00+08:00", object_id="B", seconds=100),   # short videos add
            ev("v5", m, "video", "2026-11-18T09:40:00+08:00", object_id="C", seconds=100),   # up: 550 s: 3 pts
            ev("v6", m, "video", "2026-11-18T23:50:00+08:00", object_id="D", seconds=80)]    # 630 s: leftover 90
    assert post(admin, day1)["points_awarded"] == 3
    assert post(admin, [ev("v7", m, "video", "2026-11-18T09:50:00+08:00", object_id="A", seconds=350)]
                )["points_awarded"] == 0  # a replay adds no time
    # The 90 leftover seconds of the 18th do not carry over: 100 new seconds on the 19th earn nothing.
    assert post(admin, [ev("v8", m, "video", "2026-11-19T00:05:00+08:00", object_id="D", seconds=180)]
                )["points_awarded"] == 0
    long = post(admin, [ev("v9", m, "video", "2026-11-19T10:00:00+08:00", object_id="E", seconds=7200)])
    assert long["points_awarded"] == 10  # 40 units, capped at 10 a day
    assert score(admin, m, "2026-11-19")["by_category"]["education"] == 10
    with clean_app.app_context():
        assert db.session.get(VideoProgress, (m, "A")).position == 350
        assert db.session.get(ScoreCounter, ("member", m, "gansu.video", "2026-11-19")).points == 10


def test_overlapping_concurrent_batches_never_exceed_a_cap(world, clean_app):
    admin, m = world.admin, world.ids["members_a"][1]
    batch = [ev(f"s{i}", m, "share", "2026-11-18T09:00:00+08:00") for i in range(40)]
    results = []

    def send(events):
        client = clean_app.test_client()
        response = client.post("/api/score-events", json={"events": events}, headers=admin._headers())
        results.append(response.get_json())

    threads = [threading.Thread(target=send, args=(batch[i:] + batch[:i],)) for i in (0, 13, 27)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["accepted"] for r in results) == 40 and sum(r["points_awarded"] for r in results) == 2
    assert score(admin, m, "2026-11-18")["total"] == 2


# --- validation: all or nothing -------------------------------------------------------------------------------

def test_unknown_members_and_actions_refuse_the_whole_batch(world, clean_app):
    admin, m = world.admin, world.ids["members_a"][1]
    body = assert_problem(admin.post("/api/score-events", json={"events": [
        ev("u1", m, "login", "2026-11-18T09:00:00+08:00"), ev("u2", 999999, "login", "2026-11-18T09:00:00+08:00"),
        ev("u3", 888888, "like", "2026-11-18T09:00:00+08:00")]}), 422, "unknown_members")
    assert body["member_ids"] == [888888, 999999]
    body = assert_problem(admin.post("/api/score-events", json={"events": [
        ev("u1", m, "login", "2026-11-18T09:00:00+08:00"), ev("u4", m, "dues", "2026-11-18T09:00:00+08:00")]}),
        422, "unknown_action")
    assert body["actions"] == ["dues"]
    with clean_app.app_context():
        assert db.session.scalars(select(ScoreEvent)).all() == []
    assert post(admin, [ev("u1", m, "login", "2026-11-18T09:00:00+08:00")])["accepted"] == 1  # u1 was not kept


@pytest.mark.parametrize("event", [
    {"id": "n1", "action": "login", "occurred_at": "2026-11-18T09:00:00"},              # naive time
    {"id": "n2", "action": "login", "occurred_at": "yesterday"},
    {"id": "meeting:1", "action": "login", "occurred_at": "2026-11-18T09:00:00+08:00"},  # reserved id
    {"id": "", "action": "login", "occurred_at": "2026-11-18T09:00:00+08:00"},
    {"id": "n3", "action": "read", "occurred_at": "2026-11-18T09:00:00+08:00", "seconds": -1},
    {"id": "n4", "action": "login", "occurred_at": "2026-11-18T09:00:00+08:00", "points": 100},  # unknown field
    {"id": "n5", "action": "read", "occurred_at": "2026-11-18T09:00:00+08:00", "seconds": 40.5},
    {"id": "n6", "action": "login", "occurred_at": "2026-11-18T09:00:00+08:00", "member_id": True},
    {"id": "n7\x00", "action": "login", "occurred_at": "2026-11-18T09:00:00+08:00"},
    {"id": "n8", "action": "video", "occurred_at": "2026-11-18T09:00:00+08:00", "object_id": "v" * 101},
])
def test_malformed_events_are_422(world, event):
    body = {"events": [{"member_id": world.ids["members_a"][1], **event}]}
    assert_problem(world.admin.post("/api/score-events", json=body), 422, "validation_error")


def test_the_fast_path_loads_events_exactly_as_the_schema_does():
    from marshmallow import Schema, fields

    from service.schemas.scoring import ScoreEventIn, ScoreEventsIn

    class Full(Schema):
        events = fields.List(fields.Nested(ScoreEventIn))

    body = {"events": [ev("a", 1, "login", "2026-11-18T09:00:00+08:00"),
                       ev("b", 2, "video", "2026-11-18T01:00:00Z", object_id="v", seconds=0),
                       ev("c", 3, "read", "2026-11-18T09:00:00.123456-05:00", seconds=31, object_id=None),
                       ev("党 \"x\"", 2**31 - 1, "like", "2026-11-18T09:00+08:00")]}
    fast = ScoreEventsIn().load(body)["events"]
    assert fast == Full().load(body)["events"] and fast[1]["occurred_at"].utcoffset() is not None


def test_batch_size_is_1_to_10000(world):
    m = world.ids["members_a"][1]
    assert_problem(world.admin.post("/api/score-events", json={"events": []}), 422, "validation_error")
    many = [ev(f"x{i}", m, "like", "2026-11-18T09:00:00+08:00") for i in range(10_001)]
    assert_problem(world.admin.post("/api/score-events", json={"events": many}), 422, "validation_error")
    result = post(world.admin, many[:10_000])
    assert (result["accepted"], result["points_awarded"]) == (10_000, 1)


# --- integration tokens ---------------------------------------------------------------------------------------

def test_integration_token_posts_events_only_until_revoked(world):
    admin, m = world.admin, world.ids["members_a"][1]
    created = admin.ok("post", "/api/integration-tokens", {"name": "学习强国对接"}, 201)
    assert created["token"].startswith("itk_") and created["revoked_at"] is None
    listed = admin.ok("get", "/api/integration-tokens")
    assert [t["name"] for t in listed] == ["学习强国对接"] and "token" not in listed[0]
    platform = type(admin)(admin.client, created["token"])
    assert post(platform, [ev("t1", m, "like", "2026-11-18T09:00:00+08:00")])["points_awarded"] == 1
    assert_problem(platform.get("/api/score-rules"), 403, "forbidden")
    assert_problem(platform.get(f"/api/scores/members/{m}"), 403, "forbidden")
    assert_problem(platform.post("/api/integration-tokens", json={"name": "x"}), 403, "forbidden")
    revoked = admin.ok("post", f"/api/integration-tokens/{created['id']}/revoke")
    assert revoked["revoked_at"] is not None
    assert_problem(platform.post("/api/score-events", json={"events": [ev("t2", m, "like", "2026-11-18T09:00:00+08:00")]}),
                   401, "invalid_token")
    forged = type(admin)(admin.client, "itk_" + "x" * 43)
    assert_problem(forged.post("/api/score-events", json={"events": []}), 401, "invalid_token")


def test_only_platform_admins_manage_tokens_and_post_events(world):
    sec = world.users["sec_a"]
    assert_problem(sec.post("/api/integration-tokens", json={"name": "x"}), 403, "forbidden")
    assert_problem(sec.get("/api/integration-tokens"), 403, "forbidden")
    assert_problem(world.admin.post("/api/integration-tokens/999/revoke"), 404, "token_not_found")
    events = [ev("p1", world.ids["members_a"][1], "like", "2026-11-18T09:00:00+08:00")]
    assert_problem(sec.post("/api/score-events", json={"events": events}), 403, "forbidden")


# --- member reads ---------------------------------------------------------------------------------------------

def test_member_scores_visible_to_the_member_and_admins_over_the_branch(world):
    m = world.ids["members_a"][1]
    post(world.admin, [ev("w1", m, "exam", "2026-11-18T09:00:00+08:00")])
    for name in ("m1", "sec_a", "zongzhi", "dangwei"):
        body = score(world.users[name], m, "2026-11")
        assert (body["total"], body["notice"], body["member_id"]) == (2, NOTICE, m)
    score(world.admin, m, "2026-Q4")
    for name in ("m2", "sec_b"):
        assert_problem(world.users[name].get(f"/api/scores/members/{m}?period=2026-11"), 404, "member_not_found")
    assert_problem(world.admin.get("/api/scores/members/999999"), 404, "member_not_found")


@pytest.mark.parametrize("period,total", [("2026-11-18", 2), ("2026-11", 3), ("2026-Q4", 4), ("2026", 5),
                                          ("2026-11-19", 1), ("2025", 0)])
def test_periods_are_china_days_months_quarters_years(world, period, total):
    m = world.ids["members_a"][1]
    post(world.admin, [ev("q1", m, "exam", "2026-11-18T00:30:00+08:00"),       # 17 Nov in UTC
                       ev("q2", m, "like", "2026-11-19T07:00:00+08:00"),
                       ev("q3", m, "like", "2026-10-01T00:10:00+08:00"),       # 30 Sep in UTC
                       ev("q4", m, "like", "2026-09-30T23:50:00+08:00")])
    assert score(world.admin, m, period)["total"] == total


@pytest.mark.parametrize("period", ["2026-13", "2026-W47", "26-11", "2026-Q5", "2026-02-30", "x"])
def test_bad_periods_are_422(world, period):
    response = world.admin.get(f"/api/scores/members/{world.ids['members_a'][1]}?period={period}")
    assert_problem(response, 422, "invalid_period")


def test_default_period_is_the_current_china_month(world):
    body = world.admin.ok("get", f"/api/scores/members/{world.ids['members_a'][1]}")
    assert body["period"] == datetime.now(CHINA).strftime("%Y-%m") and body["entries"] == []


def test_the_api_description_says_points_are_only_a_reference(world):
    spec = world.client.get("/api/openapi.json").get_json()
    for path, method in (("/api/score-events", "post"), ("/api/scores/members/{member_id}", "get"),
                         ("/api/score-rules", "get"), ("/api/dues-payments", "post")):
        operation = spec["paths"][path][method]
        assert "never the measure of a person" in operation["summary"] + operation.get("description", ""), path
    assert NOTICE in spec["components"]["schemas"]["MemberScoreOut"]["properties"]["notice"]["description"]


# --- rules administration -------------------------------------------------------------------------------------

def test_rules_are_listed_for_everyone_with_their_set(world):
    listed = {r["id"]: r for r in world.users["m1"].ok("get", "/api/score-rules")}
    assert listed["gansu.video"] | {"notice": None} == {
        "id": "gansu.video", "set": "gansu", "action": "video", "kind": "video_progress", "category": "education",
        "points": 1, "unit": "seconds", "unit_seconds": 180, "min_seconds": None, "cap": 10, "cap_period": "day",
        "target": "member", "enabled": True, "label": "学习中心视频(保存进度,每3分钟1分)", "notice": None}
    assert listed["sanjin.dues"]["set"] == "sanjin_dues" and listed["gansu.like"]["notice"] == NOTICE


def test_a_disabled_rule_awards_nothing(world):
    admin, m = world.admin, world.ids["members_a"][1]
    assert admin.ok("put", "/api/score-rules/gansu.like", {"enabled": False})["enabled"] is False
    assert post(admin, [ev("d1", m, "like", "2026-11-18T09:00:00+08:00")]) | {"notice": None} == {
        "accepted": 1, "duplicates": 0, "points_awarded": 0, "notice": None}
    admin.ok("put", "/api/score-rules/gansu.like", {"enabled": True})
    assert post(admin, [ev("d2", m, "like", "2026-11-18T10:00:00+08:00")])["points_awarded"] == 1


def test_rule_changes_apply_to_later_events_only_and_are_audited(world, clean_app):
    admin, m = world.admin, world.ids["members_a"][1]
    post(admin, [ev("k1", m, "comment", "2026-11-18T09:00:00+08:00")])
    changed = admin.ok("put", "/api/score-rules/gansu.comment", {"points": 3, "cap": 6})
    assert (changed["points"], changed["cap"], changed["cap_period"]) == (3, 6, "day")
    post(admin, [ev("k2", m, "comment", "2026-11-18T10:00:00+08:00"),
                 ev("k3", m, "comment", "2026-11-18T11:00:00+08:00")])
    entries = score(admin, m, "2026-11-18")["entries"]
    assert [(e["source_id"], e["points"]) for e in entries] == [("k1", 2), ("k2", 3), ("k3", 1)]  # 2 + 3 + 1 = cap 6
    audit = admin.ok("get", "/api/score-rules/gansu.comment/audit")
    assert [(a["before"], a["after"]) for a in audit] == [({"points": 2, "cap": 4, "enabled": True},
                                                           {"points": 3, "cap": 6, "enabled": True})]
    assert audit[0]["changed_by"] is not None
    admin.ok("put", "/api/score-rules/gansu.comment", {"enabled": False})
    latest = admin.ok("get", "/api/score-rules/gansu.comment/audit")[0]
    assert latest["before"] == {"points": 3, "cap": 6, "enabled": True} and latest["after"]["enabled"] is False
    with clean_app.app_context():
        assert len(db.session.scalars(select(ScoreRuleAudit)).all()) == 2


def test_only_points_cap_and_enabled_are_editable_by_platform_admins(world):
    admin = world.admin
    body = assert_problem(admin.put("/api/score-rules/gansu.like", json={"points": 2, "cap_period": "week"}),
                          422, "not_editable")
    assert body["errors"] == {"cap_period": ["not editable"]}
    assert_problem(admin.put("/api/score-rules/gansu.like", json={"action": "share"}), 422, "not_editable")
    assert_problem(admin.put("/api/score-rules/gansu.like", json={}), 422, "validation_error")
    assert_problem(admin.put("/api/score-rules/gansu.like", json={"points": -1}), 422, "validation_error")
    assert admin.ok("put", "/api/score-rules/declared.claim", {"cap": 5})["cap"] == 5  # a yearly cap on claims
    assert admin.ok("put", "/api/score-rules/declared.claim", {"cap": None})["cap"] is None  # and off again
    assert_problem(admin.put("/api/score-rules/gansu.nothing", json={"points": 1}), 404, "rule_not_found")
    assert_problem(world.users["sec_a"].put("/api/score-rules/gansu.like", json={"points": 2}), 403, "forbidden")
    assert admin.ok("get", "/api/score-rules/gansu.like/audit") == []
    assert {r["id"]: r["points"] for r in admin.ok("get", "/api/score-rules")}["gansu.like"] == 1


# --- organisational life: meetings completed through their flows ----------------------------------------------

def _next_month(day: int) -> str:
    now = datetime.now(CHINA)
    year, month = (now.year, now.month + 1) if now.month < 12 else (now.year + 1, 1)
    return datetime(year, month, day, 10, tzinfo=CHINA).isoformat()


def _org_entries(clean_app, org_id):
    with clean_app.app_context():
        rows = db.session.scalars(select(ScoreEntry).where(ScoreEntry.target == "org", ScoreEntry.target_id == org_id)
                                  .order_by(ScoreEntry.id))
        return [(e.rule_id, e.points, e.source, e.source_id, e.category) for e in rows]


@pytest.fixture()
def committee(world):
    for user, name, role, phone in (("xin", "辛", "deputy_secretary", "13800009001"),
                                    ("ren", "壬", "committee_member", "13800009002")):
        _account(world, user, _member(world, name, phone, committee_role=role))
    return world


def _hold_committee(w, scheduled_at) -> int:
    sec = w.users["sec_a"]
    meeting = _meeting(w, "committee_meeting", scheduled_at=scheduled_at)
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["sec_a", "xin"], meeting["id"], names_no=["ren"])
    record = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])["next_tasks"][0]
    submit = complete(sec, record["id"], MINUTES)["next_tasks"][0]
    decide = complete(sec, submit["id"])["next_tasks"][0]
    complete(w.users["zongzhi"], decide["id"], {"approved": True})
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "completed"
    return meeting["id"]


def test_a_second_committee_meeting_in_a_month_earns_nothing(committee, clean_app):
    w = committee
    first = _hold_committee(w, _next_month(10))
    assert _org_entries(clean_app, w.ids["branch_a"]) == [
        ("gansu.meeting.committee_meeting", 10, "meeting", str(first), "organizational_life")]
    _hold_committee(w, _next_month(20))
    assert len(_org_entries(clean_app, w.ids["branch_a"])) == 1
    period = datetime.fromisoformat(_next_month(10)).strftime("%Y-%m")
    with clean_app.app_context():
        counter = db.session.get(ScoreCounter, ("org", w.ids["branch_a"], "gansu.meeting.committee_meeting", period))
        assert counter.points == 10
        assert db.session.get(ScoreEvent, f"meeting:{first}").action == "meeting.committee_meeting"


def test_a_congress_earns_30_for_the_branch_once_a_quarter(world, clean_app):
    w, sec = world, world.users["sec_a"]
    for _ in range(2):
        meeting = create_congress(w, scheduled_at=_next_month(12))
        minutes = hold_until_minutes(w, meeting["id"])
        decide = complete(sec, complete(sec, minutes["id"], MINUTES)["next_tasks"][0]["id"])["next_tasks"][0]
        complete(w.users["zongzhi"], decide["id"], {"approved": True})
    entries = _org_entries(clean_app, w.ids["branch_a"])
    assert [(rule, points) for rule, points, *_ in entries] == [("gansu.meeting.branch_congress", 30)]
    assert _org_entries(clean_app, w.ids["general"]) == []


def test_a_cancelled_meeting_earns_nothing(world, clean_app):
    w, sec = world, world.users["sec_a"]
    meeting = create_congress(w, scheduled_at=_next_month(12))
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    answer(w, ["m1"], meeting["id"], names_no=["m2", "m3", "m5"])
    result = complete(sec, only_task(sec, meeting["id"], "meeting.close_feedback")["id"])
    complete(sec, result["next_tasks"][0]["id"], {"cancel": True, "reason": "人数不足"})
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "cancelled"
    assert _org_entries(clean_app, w.ids["branch_a"]) == []


def test_a_group_meeting_earns_for_the_groups_branch(world, clean_app):
    w, sec = world, world.users["sec_a"]
    group = w.admin.ok("post", "/api/orgs", {"name": "第一党小组", "kind": "group", "parent_id": w.ids["branch_a"]},
                       201)["id"]
    _account(w, "g1", _member(w, "组员一", "13800009101", group_id=group))
    meeting = _meeting(w, "group_meeting", org_id=group, scheduled_at=_soon())
    complete(sec, only_task(sec, meeting["id"], "meeting.notify")["id"])
    w.users["g1"].ok("post", f"/api/meetings/{meeting['id']}/feedback", {"attend": True})
    _fire_after(clean_app, 1.6)
    record = only_task(sec, meeting["id"], "meeting.record_minutes")
    complete(sec, complete(sec, record["id"], MINUTES)["next_tasks"][0]["id"])
    assert [(r, p) for r, p, *_ in _org_entries(clean_app, w.ids["branch_a"])] == [("gansu.meeting.group_meeting", 10)]
    assert _org_entries(clean_app, group) == []


def test_the_rule_audit_is_for_platform_admins_and_periods_are_exact(world):
    assert_problem(world.users["m1"].get("/api/score-rules/gansu.like/audit"), 403, "forbidden")
    member = world.ids["members_a"][1]
    assert_problem(world.users["m1"].get(f"/api/scores/members/{member}?period=2026-11%0A"), 422, "invalid_period")
