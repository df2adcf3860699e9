"""One task completion is one transaction, and an instance never advances twice."""
import dataclasses
import threading
import time

import pytest

from service import actions

from .helpers import assert_problem
from .test_congress import create_congress


def _patch_action(monkeypatch, name, handler):
    monkeypatch.setitem(actions.REGISTRY, name, dataclasses.replace(actions.REGISTRY[name], handler=handler))


def test_failure_inside_an_action_leaves_nothing_half_done(world, monkeypatch):
    sec = world.users["sec_a"]
    meeting = create_congress(world)
    before = sec.ok("get", f"/api/meetings/{meeting['id']}")

    def explode(ctx, data):
        ctx.subject.title = "changed by a half-done completion"
        raise RuntimeError("disk full")

    _patch_action(monkeypatch, "meeting.notify", explode)
    body = assert_problem(sec.post(f"/api/tasks/{meeting['open_tasks'][0]['id']}/complete", json={}), 500,
                          "internal_error")
    assert "disk full" not in body["detail"]  # no internals leak
    after = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert after == before


def test_concurrent_completions_give_one_200_and_one_409(world, monkeypatch):
    sec = world.users["sec_a"]
    meeting = create_congress(world)
    task_id = meeting["open_tasks"][0]["id"]
    original = actions.REGISTRY["meeting.notify"].handler

    def slow(ctx, data):  # holds the instance lock long enough for the other request to collide
        time.sleep(0.4)
        return original(ctx, data)

    _patch_action(monkeypatch, "meeting.notify", slow)
    barrier, results = threading.Barrier(2), []

    def attempt():
        barrier.wait()
        response = sec.post(f"/api/tasks/{task_id}/complete", json={})
        results.append((response.status_code, response.get_json().get("code")))

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(r[0] for r in results) == [200, 409], results
    assert (409, "task_not_open") in results
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert [t["action"] for t in view["open_tasks"]] == ["meeting.close_feedback"]
    assert [e["action"] for e in view["timeline"] if e["kind"] == "completed"] == ["meeting.notify"]


def test_invalid_data_is_422_and_changes_nothing(world):
    sec = world.users["sec_a"]
    meeting = create_congress(world)
    task = sec.ok("get", "/api/tasks")[0]
    sec.ok("post", f"/api/tasks/{task['id']}/complete", {})
    close = sec.ok("get", "/api/tasks")[0]
    assert close["action"] == "meeting.close_feedback"
    response = sec.client.post(f"/api/tasks/{close['id']}/complete", data="[1,2]",
                               headers={**sec._headers(), "Content-Type": "application/json"})
    assert_problem(response, 422, "validation_error")
    assert sec.ok("get", "/api/tasks")[0]["id"] == close["id"]


def test_cancel_racing_an_approval_never_deadlocks_or_rewrites_the_outcome(world, monkeypatch):
    from .test_congress import MINUTES, complete, hold_until_minutes
    sec, zz = world.users["sec_a"], world.users["zongzhi"]
    meeting = create_congress(world)
    minutes = hold_until_minutes(world, meeting["id"])
    submit = complete(sec, minutes["id"], MINUTES)["next_tasks"][0]
    decide = complete(sec, submit["id"])["next_tasks"][0]
    original = actions.REGISTRY["review.decide"].handler

    def slow(ctx, data):
        time.sleep(0.4)
        return original(ctx, data)

    _patch_action(monkeypatch, "review.decide", slow)
    results = {}

    def approve():
        results["approve"] = zz.post(f"/api/tasks/{decide['id']}/complete",
                                     json={"approved": True, "comment": "同意"}).status_code

    def cancel():
        time.sleep(0.15)
        response = sec.post(f"/api/meetings/{meeting['id']}/cancel", json={"reason": "改期"})
        results["cancel"] = (response.status_code, response.get_json().get("code"))

    threads = [threading.Thread(target=approve), threading.Thread(target=cancel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == {"approve": 200, "cancel": (409, "meeting_finished")}, results
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["status"] == "completed"


def test_ids_beyond_64_bits_are_a_clear_422_not_a_server_error(world):
    huge = 2 ** 63
    for response in (world.admin.get(f"/api/meetings/{huge}"), world.admin.get(f"/api/transfers/{huge}"),
                     world.admin.post("/api/transfers", json={"member_id": huge, "to_org_id": 1, "reason": "x"}),
                     world.admin.get(f"/api/members?org_id={huge}")):
        assert response.status_code in (404, 422), response.get_json()
        assert response.get_json()["code"] in ("value_out_of_range", "meeting_not_found", "transfer_not_found",
                                               "member_not_found", "org_not_found")
