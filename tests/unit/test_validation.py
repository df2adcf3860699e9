"""Engine.validate rejects hostile BPMN with every problem located."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows import BpmnTooLarge, BpmnValidationError, Engine

DATA = Path(__file__).resolve().parents[1] / "data"
CONGRESS = Path(__file__).resolve().parents[2] / "bpmn" / "branch_congress.bpmn"

# file -> (element id that must be reported, message fragment)
HOSTILE = {
    "condition_code": ("flow_evil", "unsafe conditionExpression"),
    "timer_code": ("timer_evil", "unsafe timeDuration"),
    "script_task": ("script_evil", "bpmn:scriptTask"),
    "service_task": ("service_evil", "bpmn:serviceTask"),
    "message_event": ("msg_evil", "timer"),
    "multi_instance": ("work", "multiInstanceLoopCharacteristics"),
    "execution_listener": ("work", "camunda:executionListener"),
    "xxe": (None, "DOCTYPE"),
    "billion_laughs": (None, "DOCTYPE"),
    "doctype_plain": (None, "DOCTYPE"),
    "unknown_lane": ("lane_hacker", "lane name 'hacker'"),
    "unknown_form_key": ("work", "system.shell"),
    "task_outside_lane": ("orphan", "lane"),
    "trap_loop": ("trap_a", "end event"),
    "duplicate_ids": ("work", "duplicate id"),
    "no_start_event": ("hostile", "no start event"),
    "two_processes": ("defs", "exactly one bpmn:process"),
    "malformed": (None, "malformed XML"),
}


def test_corpus_is_complete():
    on_disk = {p.stem for p in (DATA / "hostile").glob("*.bpmn")}
    assert on_disk == set(HOSTILE)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_rejected(engine, name, data_file):
    element_id, fragment = HOSTILE[name]
    with pytest.raises(BpmnValidationError) as info:
        engine.validate(data_file(f"hostile/{name}.bpmn"))
    errors = info.value.errors
    assert errors, "at least one problem must be reported"
    assert all(set(e) == {"element_id", "message", "line"} for e in errors)
    matching = [e for e in errors if e["element_id"] == element_id and fragment in e["message"]]
    assert matching, errors
    assert all(isinstance(e["line"], int) for e in matching)


def test_hostile_never_reaches_spec_parsing(engine, monkeypatch, data_file):
    import workflows.engine as engine_module

    def explode(*args, **kwargs):
        raise AssertionError("rejected BPMN must not be handed to SpiffWorkflow")

    monkeypatch.setattr(engine_module, "build_specs", explode)
    for name in HOSTILE:
        with pytest.raises(BpmnValidationError):
            engine.validate(data_file(f"hostile/{name}.bpmn"))


def test_trap_loop_reports_every_stuck_element(engine, data_file):
    with pytest.raises(BpmnValidationError) as info:
        engine.validate(data_file("hostile/trap_loop.bpmn"))
    stuck = {e["element_id"] for e in info.value.errors if "end event" in e["message"]}
    assert stuck == {"trap_a", "trap_b"}


def test_doctype_line_is_reported(engine, data_file):
    with pytest.raises(BpmnValidationError) as info:
        engine.validate(data_file("hostile/xxe.bpmn"))
    assert info.value.errors[0]["line"] == 2
    assert "root:" not in str(info.value)  # /etc/passwd content never surfaces


def test_utf16_doctype_is_still_refused(engine, data_file):
    xml = data_file("hostile/doctype_plain.bpmn").decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    with pytest.raises(BpmnValidationError, match="DOCTYPE"):
        engine.validate(xml.encode("utf-16"))


def test_oversized_file_is_its_own_error(data_file):
    engine = Engine(actions={"meeting.notify"}, max_bytes=10_000)
    padding = "<!--" + "x" * 20_000 + "-->"
    xml = data_file("minimal.bpmn").replace(b"</bpmn:definitions>", padding.encode() + b"</bpmn:definitions>")
    with pytest.raises(BpmnTooLarge) as info:
        engine.validate(xml)
    assert isinstance(info.value, BpmnValidationError)
    assert "limit" in info.value.errors[0]["message"]


def test_default_size_limit_is_two_megabytes(engine):
    xml = b" " * 2_000_001
    with pytest.raises(BpmnTooLarge):
        engine.validate(xml)


def test_all_problems_are_reported_together(engine, data_file):
    xml = data_file("hostile/unknown_form_key.bpmn").replace(b'name="branch_admin"', b'name="hacker"')
    with pytest.raises(BpmnValidationError) as info:
        engine.validate(xml)
    messages = " | ".join(e["message"] for e in info.value.errors)
    assert "system.shell" in messages and "hacker" in messages


def test_minimal_fixture_is_valid(engine, data_file):
    info = engine.validate(data_file("minimal.bpmn"))
    assert (info.key, info.name, info.category) == ("minimal", "minimal", "other")
    assert len(info.sha256) == 64


def test_congress_definition_info(engine, congress_xml):
    import hashlib

    info = engine.validate(congress_xml)
    assert info.key == "branch_congress"
    assert info.name == "支部党员大会"
    assert info.category == "meeting"
    assert info.sha256 == hashlib.sha256(congress_xml).hexdigest()
    assert engine.validate(congress_xml.decode("utf-8")) == info  # str input hashes as UTF-8


def test_congress_lanes_must_be_known():
    engine = Engine(actions={"meeting.notify"}, lanes={"member"})
    with pytest.raises(BpmnValidationError) as info:
        engine.validate(CONGRESS.read_bytes())
    ids = {e["element_id"] for e in info.value.errors}
    assert {"lane_branch_admin", "lane_superior_admin", "close_feedback"} <= ids


MUTATIONS = [
    (b'camunda:dueDate="P3D"', b'camunda:dueDate="three days"', "submit", "ISO 8601"),
    (b'value="meeting"', b'value="party"', "branch_congress", "category"),
    (b"<bpmn:conditionExpression xsi:type=\"bpmn:tFormalExpression\">approved<",
     b"<bpmn:conditionExpression xsi:type=\"bpmn:tFormalExpression\">approved.__class__<",
     "flow_approved", "Attribute"),
    (b'<bpmn:sequenceFlow id="flow_approved"', b'<bpmn:sequenceFlow id="flow_returned"', "flow_returned",
     "duplicate"),
    (b'<camunda:property name="category" value="meeting" />',
     b'<camunda:property name="category" value="meeting" /><camunda:inputOutput />',
     "branch_congress", "camunda:inputOutput"),
    (b'isExecutable="true"', b'isExecutable="false"', "branch_congress", "not executable"),
]


@pytest.mark.parametrize(("old", "new", "element_id", "fragment"), MUTATIONS)
def test_congress_mutations_rejected(engine, congress_xml, old, new, element_id, fragment):
    assert old in congress_xml
    with pytest.raises(BpmnValidationError) as info:
        engine.validate(congress_xml.replace(old, new, 1))
    assert any(e["element_id"] == element_id and fragment in e["message"] for e in info.value.errors), \
        info.value.errors


def test_gateway_without_default_and_condition_rejected(engine, congress_xml):
    xml = congress_xml.replace(b' default="flow_returned"', b"")
    with pytest.raises(BpmnValidationError) as info:
        engine.validate(xml)
    assert info.value.errors[0]["element_id"] in {"flow_returned", "gw_approved"}
