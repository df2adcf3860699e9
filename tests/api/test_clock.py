"""The clock's job lease: two clock processes never run one job at the same time."""
from service import scheduler


def test_lease_is_exclusive_until_released_or_expired(clean_app, monkeypatch):
    with clean_app.app_context():
        assert scheduler.acquire("nightly", 60) is True
        monkeypatch.setattr(scheduler, "HOLDER", "other-host:1")
        assert scheduler.acquire("nightly", 60) is False  # the first clock still holds it
        monkeypatch.setattr(scheduler, "HOLDER", scheduler.HOLDER)
    with clean_app.app_context():
        monkeypatch.undo()
        scheduler.release("nightly")
        monkeypatch.setattr(scheduler, "HOLDER", "other-host:1")
        assert scheduler.acquire("nightly", 0) is True   # released: the second clock may take it
        monkeypatch.setattr(scheduler, "HOLDER", "third-host:1")
        assert scheduler.acquire("nightly", 60) is True  # a lease of 0 s has already lapsed


def test_fire_due_timers_skips_when_another_clock_holds_the_job(clean_app, monkeypatch):
    with clean_app.app_context():
        monkeypatch.setattr(scheduler, "HOLDER", "other-host:1")
        assert scheduler.acquire("fire_due_timers", 60)
        monkeypatch.setattr(scheduler, "HOLDER", "this-host:2")
        assert scheduler.fire_due_timers() is None  # skipped, not run
        monkeypatch.setattr(scheduler, "HOLDER", "other-host:1")
        scheduler.release("fire_due_timers")
        monkeypatch.setattr(scheduler, "HOLDER", "this-host:2")
        assert scheduler.fire_due_timers() == 0  # ran: nothing waits on a timer


def test_clock_advances_a_meeting_at_its_scheduled_time(world, clean_app):
    """A type with no ratio gate waits on a BPMN timer for the meeting time; the clock job fires it."""
    import time
    from datetime import datetime, timedelta, timezone
    from pathlib import Path

    xml = (Path(__file__).resolve().parents[1] / "data" / "timed_meeting.bpmn").read_bytes()
    created = world.admin.client.post("/api/process-definitions", data=xml,
                                      headers={**world.admin._headers(), "Content-Type": "application/xml"})
    assert created.status_code == 201, created.get_json()
    sec = world.users["sec_a"]
    soon = (datetime.now(timezone.utc) + timedelta(seconds=1.5)).isoformat()
    meeting = sec.ok("post", "/api/meetings", {"process_key": "timed_meeting", "org_id": world.ids["branch_a"],
                                               "title": "党课", "scheduled_at": soon}, 201)
    sec.ok("post", f"/api/tasks/{meeting['open_tasks'][0]['id']}/complete", {})
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["open_tasks"] == []  # waiting for the time
    with clean_app.app_context():
        assert scheduler.fire_due_timers() == 1
    assert sec.ok("get", f"/api/meetings/{meeting['id']}")["open_tasks"] == []  # not yet due
    time.sleep(1.6)
    with clean_app.app_context():
        assert scheduler.fire_due_timers() == 1
        assert scheduler.fire_due_timers() == 0  # nothing waits any more: idempotent
    view = sec.ok("get", f"/api/meetings/{meeting['id']}")
    assert [t["action"] for t in view["open_tasks"]] == ["meeting.record_minutes"]
    assert view["status"] == "in_progress" and view["check_in_open"]


def test_a_failing_timer_instance_does_not_block_the_others(world, clean_app):
    import time
    from datetime import datetime, timedelta, timezone
    from pathlib import Path

    from service.extensions import db
    from service.models import ProcessInstance, TaskEvent

    healthy = (Path(__file__).resolve().parents[1] / "data" / "timed_meeting.bpmn").read_text()
    broken = healthy.replace('id="timed_meeting"', 'id="broken_timed"').replace(
        '<bpmn:sequenceFlow id="f3" sourceRef="at_meeting_time" targetRef="record_minutes" />',
        '<bpmn:exclusiveGateway id="gw" /><bpmn:sequenceFlow id="f3" sourceRef="at_meeting_time" targetRef="gw" />'
        '<bpmn:sequenceFlow id="g1" sourceRef="gw" targetRef="record_minutes">'
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">missing_var &gt; 1</bpmn:conditionExpression>'
        '</bpmn:sequenceFlow>')
    sec = world.users["sec_a"]
    soon = (datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat()
    ids = {}
    for key, xml in (("broken_timed", broken), ("timed_meeting", healthy)):
        response = world.admin.client.post("/api/process-definitions", data=xml.encode(),
                                           headers={**world.admin._headers(), "Content-Type": "application/xml"})
        assert response.status_code == 201, response.get_json()
        meeting = sec.ok("post", "/api/meetings", {"process_key": key, "org_id": world.ids["branch_a"],
                                                   "title": key, "scheduled_at": soon}, 201)
        sec.ok("post", f"/api/tasks/{meeting['open_tasks'][0]['id']}/complete", {})
        ids[key] = meeting["id"]
    time.sleep(1.1)
    with clean_app.app_context():
        assert scheduler.fire_due_timers() == 2
        assert scheduler.fire_due_timers() == 0  # the broken one is parked, not retried every tick
        assert db.session.query(TaskEvent).filter_by(kind="timer_failed").count() == 1
        assert db.session.query(ProcessInstance).filter_by(has_timers=True).count() == 0
    assert [t["action"] for t in sec.ok("get", f"/api/meetings/{ids['timed_meeting']}")["open_tasks"]] == [
        "meeting.record_minutes"]
    assert sec.ok("get", f"/api/meetings/{ids['broken_timed']}")["open_tasks"] == []
