"""Engine behaviour beyond the congress flow: cache, timers, sub-processes, sandbox."""

from __future__ import annotations

import json
import threading
import time

import pytest
from lxml import etree
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser

from workflows import BpmnValidationError, Engine, WorkflowError
from workflows.runtime import FastWorkflow
from workflows.script_engine import SafeEnvironment, SafeScriptEngine


class Counter:
    """A load_xml callable that counts how often it is called."""

    def __init__(self, xml: bytes) -> None:
        self.xml = xml
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return self.xml


def reload(engine: Engine, key: str, load_xml, instance):
    """Round trip an instance through its JSON state."""
    return engine.load(key, 1, load_xml, instance.dumps())


def test_spec_cache_hits_and_counts(engine, congress_xml):
    load_xml = Counter(congress_xml)
    first = engine.start("branch_congress", 1, load_xml, {})
    for _ in range(3):
        reload(engine, "branch_congress", load_xml, first)
    assert load_xml.calls == 1
    assert (engine.cache.misses, engine.cache.hits) == (1, 3)
    engine.start("branch_congress", 2, load_xml, {})  # new version -> new parse
    assert load_xml.calls == 2


def test_spec_cache_is_bounded_lru(engine, congress_xml):
    engine = Engine(actions=engine.actions, cache_size=2)
    load_xml = Counter(congress_xml)
    for version in (1, 2, 1, 3, 1, 2):
        engine.start("branch_congress", version, load_xml, {})
    assert len(engine.cache) == 2
    assert load_xml.calls == 4  # 1, 2, 3 parsed; 1 kept hot; 2 evicted by 3 and parsed again


def test_spec_cache_builds_once_under_concurrency(engine, congress_xml):
    load_xml = Counter(congress_xml)
    barrier = threading.Barrier(8)
    errors = []

    def worker():
        barrier.wait()
        try:
            engine.start("branch_congress", 1, load_xml, {})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and load_xml.calls == 1


def test_stored_xml_for_other_process_is_refused(engine, data_file):
    with pytest.raises(WorkflowError, match="expected 'branch_congress'"):
        engine.start("branch_congress", 1, lambda: data_file("minimal.bpmn"), {})


def test_invalid_stored_xml_raises_validation_error(engine, data_file):
    with pytest.raises(BpmnValidationError):
        engine.start("hostile", 1, lambda: data_file("hostile/script_task.bpmn"), {})


def test_start_data_reaches_first_task_and_gateways(engine, congress_xml):
    instance = engine.start("branch_congress", 1, lambda: congress_xml, {"voting_feedback_ratio": 0.9})
    instance = reload(engine, "branch_congress", lambda: congress_xml, instance)
    assert instance.data == {"voting_feedback_ratio": 0.9}
    for _ in range(2):  # notify, close_feedback: the ratio from start data decides the gateway
        instance.complete(instance.ready_tasks()[0].id, {})
        instance = reload(engine, "branch_congress", lambda: congress_xml, instance)
    assert [t.spec_id for t in instance.ready_tasks()] == ["record_minutes"]


def test_data_property_is_a_copy(engine, congress_xml):
    instance = engine.start("branch_congress", 1, lambda: congress_xml, {"nested": {"x": 1}})
    instance.data["nested"]["x"] = 2
    assert instance.data["nested"]["x"] == 1


def test_timers_wait_then_fire_on_refresh(engine, data_file):
    xml = data_file("timer.bpmn")
    instance = engine.start("timer_flow", 1, lambda: xml,
                            {"delay": "PT0.2S", "deadline": "2999-01-01T00:00:00+00:00"})
    assert instance.ready_tasks() == [] and not instance.completed
    assert instance.has_waiting_timers()
    instance = reload(engine, "timer_flow", lambda: xml, instance)
    instance.refresh()
    assert instance.ready_tasks() == []  # not due yet
    time.sleep(0.25)
    instance = reload(engine, "timer_flow", lambda: xml, instance)
    instance.refresh()
    (task,) = instance.ready_tasks()
    assert (task.spec_id, task.lane, task.action, task.due) == ("confirm", "sending_admin", "review.confirm", "PT12H")
    instance = reload(engine, "timer_flow", lambda: xml, instance)
    assert instance.has_waiting_timers()  # the boundary deadline still waits
    instance.complete(task.id, {})
    done = reload(engine, "timer_flow", lambda: xml, instance)
    assert done.completed and not done.has_waiting_timers()


def test_boundary_timer_interrupts_overdue_task(engine, data_file):
    xml = data_file("timer.bpmn")
    instance = engine.start("timer_flow", 1, lambda: xml, {"delay": "PT0S", "deadline": "2000-01-01T00:00:00+00:00"})
    time.sleep(0.01)
    instance = reload(engine, "timer_flow", lambda: xml, instance)
    instance.refresh()
    instance = reload(engine, "timer_flow", lambda: xml, instance)
    instance.refresh()
    instance = reload(engine, "timer_flow", lambda: xml, instance)
    assert [t.spec_id for t in instance.ready_tasks()] == ["remind"]


def test_timer_expression_errors_name_the_event(engine, data_file):
    xml = data_file("timer.bpmn")
    with pytest.raises(WorkflowError) as info:
        engine.start("timer_flow", 1, lambda: xml, {})
    assert info.value.element_id == "wait" and "delay" in info.value.message


def test_embedded_subprocess_with_parallel_branches(engine, data_file):
    xml = data_file("subprocess.bpmn")
    instance = engine.start("with_sub", 1, lambda: xml, {})
    ready = instance.ready_tasks()
    assert sorted(t.spec_id for t in ready) == ["check_a", "check_b"]
    assert {t.lane for t in ready} == {"branch_admin"}  # inherited from the sub-process
    state = json.loads(instance.dumps())
    assert state["subprocesses"] and "spec" not in json.dumps(list(state["subprocesses"].values())[0])
    for data in ({"score": 80, "signers": ["甲"]}, {"signers": ["甲", "乙"]}):
        instance = reload(engine, "with_sub", lambda: xml, instance)
        instance.complete(instance.ready_tasks()[0].id, data)
    instance = reload(engine, "with_sub", lambda: xml, instance)
    (manual,) = instance.ready_tasks()
    assert (manual.spec_id, manual.lane, manual.action) == ("after", "member", "review.acknowledge")
    instance.complete(manual.id, {})
    instance = reload(engine, "with_sub", lambda: xml, instance)
    instance.complete(instance.ready_tasks()[0].id, {})
    assert reload(engine, "with_sub", lambda: xml, instance).completed


def test_terminate_end_event_in_subprocess(engine, data_file):
    xml = data_file("subprocess.bpmn")
    instance = engine.start("with_sub", 1, lambda: xml, {"score": 10, "signers": []})
    for _ in range(2):
        instance = reload(engine, "with_sub", lambda: xml, instance)
        instance.complete(instance.ready_tasks()[0].id, {})
    instance = reload(engine, "with_sub", lambda: xml, instance)
    assert [t.spec_id for t in instance.ready_tasks()] == ["after"]


def _unvalidated_workflow(xml: bytes, process_id: str) -> FastWorkflow:
    # Deliberately bypasses validation to prove the sandbox holds on its own.
    parser = CamundaParser()
    parser.add_bpmn_xml(etree.fromstring(xml), filename="test")
    return FastWorkflow(parser.get_spec(process_id), script_engine=SafeScriptEngine())


def test_script_task_refused_even_without_validation(data_file, tmp_path):
    marker = tmp_path / "pwned"
    xml = data_file("hostile/script_task.bpmn").replace(b"/tmp/pwned", str(marker).encode())
    workflow = _unvalidated_workflow(xml, "hostile")
    with pytest.raises(WorkflowError) as info:
        workflow.do_engine_steps()
    assert info.value.element_id == "script_evil"
    assert not marker.exists()


def test_condition_code_refused_even_without_validation(data_file, tmp_path):
    marker = tmp_path / "pwned"
    xml = data_file("hostile/condition_code.bpmn").replace(b"/tmp/pwned", str(marker).encode())
    workflow = _unvalidated_workflow(xml, "hostile")
    workflow.do_engine_steps()
    task = workflow.get_next_task(manual=True)
    task.run()
    with pytest.raises(WorkflowError) as info:
        workflow.do_engine_steps()
    assert info.value.element_id == "gw" and not marker.exists()


def test_environment_refuses_execution():
    env = SafeEnvironment()
    with pytest.raises(WorkflowError):
        env.execute("x = 1", {})
    with pytest.raises(WorkflowError):
        env.call_service({}, operation_name="x")
    assert env.evaluate("a + b", {"a": 1}, {"b": 2}) == 3
