"""The 支部党员大会 process end to end, round-tripping state between every step."""

from __future__ import annotations

import json

import pytest

from workflows import Engine, Instance, WorkflowError

KEY, VERSION = "branch_congress", 3


class Driver:
    """Plays the service: keeps only the JSON state between requests."""

    def __init__(self, engine: Engine, xml: bytes) -> None:
        self.engine = engine
        self.xml = xml
        self.loads = 0
        self.state = self._save(engine.start(KEY, VERSION, self._load_xml, {"meeting_id": 7}))

    def _load_xml(self) -> bytes:
        self.loads += 1
        return self.xml

    def _save(self, instance: Instance) -> str:
        text = instance.dumps()
        _assert_no_spec(text)
        return text

    def instance(self) -> Instance:
        """Load the instance from the saved state."""
        return self.engine.load(KEY, VERSION, self._load_xml, self.state)

    def ready(self) -> list[str]:
        """Spec ids of the ready tasks."""
        return [t.spec_id for t in self.instance().ready_tasks()]

    def do(self, spec_id: str, data: dict | None = None) -> Instance:
        """Complete the single ready task, which must be ``spec_id``; save the state."""
        instance = self.instance()
        ready = instance.ready_tasks()
        assert [t.spec_id for t in ready] == [spec_id]
        instance.complete(ready[0].id, data or {})
        self.state = self._save(instance)
        return self.instance()


def _assert_no_spec(text: str) -> None:
    doc = json.loads(text)
    assert doc["serializer_version"] == Instance.SERIALIZER_VERSION
    assert "spec" not in doc and "subprocess_specs" not in doc
    for marker in ("task_specs", "bpmn:", "camunda", "formKey", "voting_feedback_ratio > 0.5"):
        assert marker not in text


@pytest.fixture
def driver(engine, congress_xml) -> Driver:
    """A congress instance driven through saved state."""
    return Driver(engine, congress_xml)


def test_ready_task_details(driver):
    (task,) = driver.instance().ready_tasks()
    assert (task.spec_id, task.name, task.lane, task.action, task.due) == (
        "notify", "发通知", "branch_admin", "meeting.notify", None)
    driver.do("notify")
    driver.do("close_feedback", {"voting_feedback_ratio": 0.75})
    (task,) = driver.instance().ready_tasks()
    assert (task.spec_id, task.name, task.action, task.due) == (
        "record_minutes", "上传会议记录", "meeting.record_minutes", "P7D")
    driver.do("record_minutes")
    (task,) = driver.instance().ready_tasks()
    assert (task.lane, task.due) == ("branch_admin", "P3D")
    driver.do("submit")
    (task,) = driver.instance().ready_tasks()
    assert (task.spec_id, task.name, task.lane, task.action, task.due) == (
        "decide", "审核", "superior_admin", "review.decide", "P7D")


def test_approve_path(driver):
    driver.do("notify", {"notice": "本周五开会"})
    driver.do("close_feedback", {"voting_feedback_ratio": 0.8})
    driver.do("record_minutes", {"minutes_file": 12})
    driver.do("submit")
    done = driver.do("decide", {"approved": True})
    assert done.completed
    assert done.ready_tasks() == []
    assert done.data == {"meeting_id": 7, "notice": "本周五开会", "voting_feedback_ratio": 0.8,
                         "minutes_file": 12, "approved": True}
    assert driver.loads == 1  # the spec was parsed once, then served from cache
    assert not done.has_waiting_timers()


def test_return_then_resubmit_path(driver):
    driver.do("notify")
    driver.do("close_feedback", {"voting_feedback_ratio": 0.6})
    driver.do("record_minutes")
    driver.do("submit")
    returned = driver.do("decide", {"approved": False, "comment": "补充签到表"})
    assert not returned.completed
    assert driver.ready() == ["record_minutes"]
    assert returned.data["comment"] == "补充签到表"  # persists across later tasks
    driver.do("record_minutes", {"minutes_file": 13})
    driver.do("submit")
    done = driver.do("decide", {"approved": True})
    assert done.completed
    assert done.data["approved"] is True and done.data["minutes_file"] == 13
    assert driver.loads == 1


def test_quorum_failed_reschedule_renotify_path(driver):
    driver.do("notify")
    driver.do("close_feedback", {"voting_feedback_ratio": 0.5})  # not *more* than half
    driver.do("reschedule", {"cancelled": False, "new_time": "2024-07-01T09:00"})
    assert driver.ready() == ["notify"]
    driver.do("notify")
    driver.do("close_feedback", {"voting_feedback_ratio": 0.9})
    assert driver.ready() == ["record_minutes"]
    driver.do("record_minutes")
    driver.do("submit")
    done = driver.do("decide", {"approved": True})
    assert done.completed
    assert done.data["new_time"] == "2024-07-01T09:00" and done.data["cancelled"] is False


def test_quorum_failed_cancel_path(driver):
    driver.do("notify")
    driver.do("close_feedback", {"voting_feedback_ratio": 0.1})
    done = driver.do("reschedule", {"cancelled": True})
    assert done.completed
    assert done.ready_tasks() == []
    assert done.data["cancelled"] is True
    assert "approved" not in done.data


def test_missing_variable_names_gateway_and_expression(driver):
    driver.do("notify")
    instance = driver.instance()
    (task,) = instance.ready_tasks()
    with pytest.raises(WorkflowError) as info:
        instance.complete(task.id, {})
    assert info.value.element_id == "gw_quorum"
    assert "voting_feedback_ratio" in info.value.message
    with pytest.raises(WorkflowError, match="reload"):
        instance.dumps()  # a failed instance cannot be persisted by accident
    assert driver.ready() == ["close_feedback"]  # the saved state is untouched


def test_unknown_and_stale_task_ids(driver):
    instance = driver.instance()
    with pytest.raises(WorkflowError, match="unknown task"):
        instance.complete("not-a-uuid", {})
    with pytest.raises(WorkflowError, match="unknown task"):
        instance.complete("00000000-0000-0000-0000-000000000000", {})
    old_id = instance.ready_tasks()[0].id
    driver.do("notify")
    later = driver.instance()
    with pytest.raises(WorkflowError) as info:
        later.complete(old_id, {})
    assert info.value.element_id == "notify"


def test_cancel(driver):
    driver.do("notify")
    instance = driver.instance()
    instance.cancel()
    assert instance.completed and instance.ready_tasks() == []
    reloaded = driver.engine.load(KEY, VERSION, driver._load_xml, instance.dumps())
    assert reloaded.completed


def test_state_round_trip_is_stable(driver):
    driver.do("notify", {"nested": {"a": [1, 2, {"b": "c"}]}})
    first = driver.instance().dumps()
    second = driver.engine.load(KEY, VERSION, driver._load_xml, first).dumps()
    assert json.loads(first) == json.loads(second)


def test_load_rejects_foreign_or_corrupt_state(driver):
    with pytest.raises(WorkflowError, match="version"):
        driver.engine.load(KEY, VERSION, driver._load_xml, json.dumps({"serializer_version": "1.5"}))
    with pytest.raises(WorkflowError, match="JSON"):
        driver.engine.load(KEY, VERSION, driver._load_xml, "{not json")
    doc = json.loads(driver.state)
    doc["process"] = "other"
    with pytest.raises(WorkflowError, match="belongs to"):
        driver.engine.load(KEY, VERSION, driver._load_xml, json.dumps(doc))
    doc["process"] = KEY
    doc["workflow"]["tasks"][1][3] = "no_such_element"
    with pytest.raises(WorkflowError, match="no_such_element"):
        driver.engine.load(KEY, VERSION, driver._load_xml, json.dumps(doc))


def test_non_json_data_is_refused(driver):
    instance = driver.instance()
    instance.complete(instance.ready_tasks()[0].id, {"when": object()})
    with pytest.raises(WorkflowError, match="JSON"):
        instance.dumps()
    with pytest.raises(WorkflowError, match="string keys"):
        driver.instance().complete(driver.instance().ready_tasks()[0].id, {1: "x"})
