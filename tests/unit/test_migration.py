"""Moving running instances to a newer version: allowed for compatible changes, refused with reasons otherwise."""

from __future__ import annotations

import pytest
from lxml import etree

from workflows import MigrationRefused
from tests.unit.conftest import ROOT

THEME_DAY = (ROOT / "bpmn" / "theme_day.bpmn").read_bytes()
# v2: the 4/5 rule instead of a simple majority (a gateway ahead of the waiting task changes).
STRICTER = THEME_DAY.replace(b"voting_feedback_ratio &gt; 0.5", b"voting_feedback_ratio &gt;= 0.8")
# The same step under a new id: SpiffWorkflow aligns it by its place in the flow.
RENAMED = THEME_DAY.replace(b'"notify"', b'"notify_v3"').replace(b">notify<", b">notify_v3<")


def _without_notify() -> bytes:
    """v3: 发通知 is gone; the meeting goes straight to 截止反馈."""
    root = etree.fromstring(THEME_DAY)
    for el in list(root.iter()):
        if el.get("id") in ("notify", "flow_notified", "notify_di", "flow_notified_di") or \
                (el.text == "notify" and etree.QName(el).localname == "flowNodeRef"):
            el.getparent().remove(el)
    for el in root.iter():
        if el.get("targetRef") == "notify":
            el.set("targetRef", "close_feedback")
        if etree.QName(el).localname == "incoming" and el.text == "flow_notified":
            el.getparent().remove(el)
    close = root.find(".//{*}userTask[@id='close_feedback']")
    for flow in ("flow_start", "flow_renotify"):
        etree.SubElement(close, "{http://www.omg.org/spec/BPMN/20100524/MODEL}incoming").text = flow
    return etree.tostring(root)


NO_NOTIFY = _without_notify()


def _loader(xml: bytes):
    return lambda: xml


def _start(engine):
    return engine.start("theme_day", 1, _loader(THEME_DAY), {"subject_id": 1})


def _complete(instance, action: str, data: dict | None = None) -> None:
    task = next(t for t in instance.ready_tasks() if t.action == action)
    instance.complete(task.id, data or {})


def test_waiting_instance_moves_and_follows_the_new_gateway(engine):
    instance = _start(engine)
    waiting = [t.id for t in instance.ready_tasks()]
    moved = engine.migrate("theme_day", 1, _loader(THEME_DAY), 2, _loader(STRICTER), instance.dumps())
    assert [t.id for t in moved.ready_tasks()] == waiting  # the inbox row still points at the same task
    _complete(moved, "meeting.notify")
    _complete(moved, "meeting.close_feedback", {"voting_feedback_ratio": 0.6})
    assert [t.action for t in moved.ready_tasks()] == ["meeting.reschedule"]  # 0.6 was enough under v1
    again = engine.load("theme_day", 2, _loader(STRICTER), moved.dumps())  # the saved state loads on v2
    assert [t.action for t in again.ready_tasks()] == ["meeting.reschedule"]


def test_same_instance_on_v1_takes_the_old_gateway(engine):
    instance = _start(engine)
    _complete(instance, "meeting.notify")
    _complete(instance, "meeting.close_feedback", {"voting_feedback_ratio": 0.6})
    assert [t.action for t in instance.ready_tasks()] == ["meeting.record_minutes"]


def test_removed_waiting_step_is_refused_with_its_id(engine):
    instance = _start(engine)
    with pytest.raises(MigrationRefused) as refused:
        engine.migrate("theme_day", 1, _loader(THEME_DAY), 3, _loader(NO_NOTIFY), instance.dumps())
    assert [r["element_id"] for r in refused.value.reasons] == ["notify"]
    assert refused.value.reasons[0]["state"] == "READY" and "gone from version 3" in refused.value.reasons[0]["message"]


def test_removed_step_already_passed_is_refused(engine):
    instance = _start(engine)
    _complete(instance, "meeting.notify")
    with pytest.raises(MigrationRefused) as refused:
        engine.migrate("theme_day", 1, _loader(THEME_DAY), 3, _loader(NO_NOTIFY), instance.dumps())
    assert any(r["element_id"] == "notify" and "already passed" in r["message"] for r in refused.value.reasons)


def test_changed_waiting_step_is_refused(engine):
    changed = THEME_DAY.replace(b'camunda:formKey="meeting.notify"', b'camunda:formKey="meeting.notify" '
                                b'camunda:dueDate="P1D"').replace(b'name="\xe5\x8f\x91\xe9\x80\x9a\xe7\x9f\xa5"',
                                                                   "发通知（新）".encode().join([b'name="', b'"']))
    instance = _start(engine)
    with pytest.raises(MigrationRefused) as refused:
        engine.migrate("theme_day", 1, _loader(THEME_DAY), 2, _loader(changed), instance.dumps())
    assert refused.value.reasons[0]["element_id"] == "notify" and "changed" in refused.value.reasons[0]["message"]


def test_renamed_step_is_aligned_by_place(engine):
    instance = _start(engine)
    _complete(instance, "meeting.notify")
    moved = engine.migrate("theme_day", 1, _loader(THEME_DAY), 4, _loader(RENAMED), instance.dumps())
    assert [t.action for t in moved.ready_tasks()] == ["meeting.close_feedback"]
    waiting = _start(engine)
    with pytest.raises(MigrationRefused) as refused:  # waiting at it: its id changed under the person's inbox
        engine.migrate("theme_day", 1, _loader(THEME_DAY), 4, _loader(RENAMED), waiting.dumps())
    assert "bpmn_id" in refused.value.reasons[0]["message"]


def test_diff_names_added_removed_and_changed_elements(engine):
    diff = engine.diff(THEME_DAY, RENAMED.replace(b"voting_feedback_ratio &gt; 0.5", b"voting_feedback_ratio &gt;= 0.8"))
    assert [e["id"] for e in diff["added"]] == ["notify_v3"]
    assert [e["id"] for e in diff["removed"]] == ["notify"]
    changed = {c["id"]: c["changes"] for c in diff["changed"]}
    assert {"field": "condition", "before": "voting_feedback_ratio > 0.5",
            "after": "voting_feedback_ratio >= 0.8"} in changed["flow_quorum_met"]
    assert any(c["field"] == "target" for c in changed["flow_start"])
    assert engine.diff(THEME_DAY, THEME_DAY) == {"added": [], "removed": [], "changed": [], "properties": []}


def _with_boundary_timer_on_notify() -> bytes:
    """v5: a non-interrupting 'late' timer on 发通知 (the waiting task would be reached through a new split)."""
    extra = b'''<bpmn:boundaryEvent id="notify_late" name="late" attachedToRef="notify" cancelActivity="false">
      <bpmn:outgoing>flow_late</bpmn:outgoing>
      <bpmn:timerEventDefinition id="notify_late_def"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'PT1M'</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="end_late" name="late end"><bpmn:incoming>flow_late</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_late" sourceRef="notify_late" targetRef="end_late" />
    <bpmn:endEvent id="end_cancelled"'''
    xml = THEME_DAY.replace(b'<bpmn:endEvent id="end_cancelled"', extra, 1)
    return xml.replace(b"<bpmn:flowNodeRef>end_cancelled</bpmn:flowNodeRef>",
                       b"<bpmn:flowNodeRef>end_cancelled</bpmn:flowNodeRef><bpmn:flowNodeRef>notify_late"
                       b"</bpmn:flowNodeRef><bpmn:flowNodeRef>end_late</bpmn:flowNodeRef>")


def test_waiting_step_reached_through_a_new_split_is_refused(engine):
    v5 = _with_boundary_timer_on_notify()
    engine.validate(v5)
    waiting = _start(engine)
    with pytest.raises(MigrationRefused) as refused:  # it would wait forever for the split it never passed
        engine.migrate("theme_day", 1, _loader(THEME_DAY), 5, _loader(v5), waiting.dumps())
    assert refused.value.reasons[0]["element_id"] == "notify" and "reached differently" in str(refused.value)
    past = _start(engine)  # past 发通知, the new timer is behind it: fine
    _complete(past, "meeting.notify")
    moved = engine.migrate("theme_day", 1, _loader(THEME_DAY), 5, _loader(v5), past.dumps())
    _complete(moved, "meeting.close_feedback", {"voting_feedback_ratio": 0.9})
    assert [t.action for t in moved.ready_tasks()] == ["meeting.record_minutes"]
