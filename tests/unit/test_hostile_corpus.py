"""The hostile BPMN corpus (tests/data/hostile/<category>/): every file is rejected, none is executed.

Each file attacks one thing and says so in a comment; ``CORPUS`` names the element id and a message
fragment its rejection must carry.  The 18 older files directly in tests/data/hostile/ are checked by
test_validation.py; the "never executed" tests below cover them too.
"""

from __future__ import annotations

import ast
import builtins
import html
import os
import re
import subprocess
from pathlib import Path

import pytest

from workflows import BpmnTooLarge, BpmnValidationError, Engine, UnsafeExpression, WorkflowError
from workflows import expressions

HOSTILE = Path(__file__).resolve().parents[1] / "data" / "hostile"
CONGRESS = Path(__file__).resolve().parents[2] / "bpmn" / "branch_congress.bpmn"
SENTINEL = Path("/tmp/orglife-hostile-pwned")  # what the payloads try to create

# file (category/name) -> (element id that must be reported, message fragment)
CORPUS = {
    'conditions/cond_attribute_access': ('flow_evil', 'Attribute'),
    'conditions/cond_bytes_constant': ('flow_evil', 'constant of type bytes'),
    'conditions/cond_camunda_resource': ('flow_evil', 'camunda:resource'),
    'conditions/cond_cdata': ('flow_evil', 'is not allowed'),
    'conditions/cond_child_element': ('flow_evil', 'must hold only text'),
    'conditions/cond_comment_split': ('flow_evil', 'must hold only text'),
    'conditions/cond_compile_builtin': ('flow_evil', "call of 'compile'"),
    'conditions/cond_complex_constant': ('flow_evil', 'constant of type complex'),
    'conditions/cond_constant_comparison': ('flow_evil', 'is constant'),
    'conditions/cond_constant_false': ('flow_evil', 'is constant'),
    'conditions/cond_deep_nesting': ('flow_evil', 'nested too deeply'),
    'conditions/cond_dict_comprehension': ('flow_evil', 'DictComp'),
    'conditions/cond_dict_literal': ('flow_evil', 'Dict is not allowed'),
    'conditions/cond_dunder_import': ('flow_evil', 'is not allowed'),
    'conditions/cond_dunder_subclasses': ('flow_evil', 'is not allowed'),
    'conditions/cond_el_expression': ('flow_evil', 'unsafe conditionExpression'),
    'conditions/cond_ellipsis': ('flow_evil', 'constant of type ellipsis'),
    'conditions/cond_empty': ('flow_evil', 'expression is empty'),
    'conditions/cond_eval_builtin': ('flow_evil', "call of 'eval'"),
    'conditions/cond_exec_builtin': ('flow_evil', "call of 'exec'"),
    'conditions/cond_fstring': ('flow_evil', 'JoinedStr'),
    'conditions/cond_fullwidth_dunder': ('flow_evil', 'invalid expression syntax'),
    'conditions/cond_fullwidth_eval': ('flow_evil', "call of 'eval'"),
    'conditions/cond_generator': ('flow_evil', 'GeneratorExp'),
    'conditions/cond_getattr_builtin': ('flow_evil', "call of 'getattr'"),
    'conditions/cond_globals_builtin': ('flow_evil', 'Subscript'),
    'conditions/cond_huge_integer': ('flow_evil', 'integer constant too large'),
    'conditions/cond_huge_repeat': ('flow_evil', 'sequence repetition too large'),
    'conditions/cond_keyword_argument': ('flow_evil', 'keyword arguments'),
    'conditions/cond_lambda': ('flow_evil', 'is not allowed'),
    'conditions/cond_language_javascript': ('flow_evil', 'language='),
    'conditions/cond_language_python': ('flow_evil', 'language='),
    'conditions/cond_left_shift': ('flow_evil', 'operator LShift'),
    'conditions/cond_list_comprehension': ('flow_evil', 'ListComp'),
    'conditions/cond_many_nodes': ('flow_evil', 'expression too long'),
    'conditions/cond_multiline': ('flow_evil', 'invalid expression syntax'),
    'conditions/cond_name_script_engine': ('flow_evil', "name 'script_engine' is not allowed"),
    'conditions/cond_name_self': ('flow_evil', "name 'self' is not allowed"),
    'conditions/cond_name_task': ('flow_evil', "name 'task' is not allowed"),
    'conditions/cond_name_workflow': ('flow_evil', "name 'workflow' is not allowed"),
    'conditions/cond_on_default_flow': ('flow_evil', 'default flow cannot have a condition'),
    'conditions/cond_open_builtin': ('flow_evil', 'is not allowed'),
    'conditions/cond_percent_format': ('flow_evil', 'string formatting'),
    'conditions/cond_power_tower': ('flow_evil', 'operator Pow'),
    'conditions/cond_round_digits': ('flow_evil', 'round() digits'),
    'conditions/cond_set_comprehension': ('flow_evil', 'SetComp'),
    'conditions/cond_slice': ('flow_evil', 'Subscript'),
    'conditions/cond_starred': ('flow_evil', 'Starred'),
    'conditions/cond_statement': ('flow_evil', 'invalid expression syntax'),
    'conditions/cond_str_format': ('flow_evil', 'is not allowed'),
    'conditions/cond_subscript_secret': ('flow_evil', 'Subscript'),
    'conditions/cond_type_builtin': ('flow_evil', "call of 'type'"),
    'conditions/cond_vars_builtin': ('flow_evil', "call of 'vars'"),
    'conditions/cond_very_long': ('flow_evil', 'longer than 500'),
    'conditions/cond_walrus': ('flow_evil', 'NamedExpr'),
    'conditions/cond_xsi_type_other': ('flow_evil', 'xsi:type='),
    'conditions/cond_yield': ('flow_evil', 'Yield is not allowed'),
    'elements/el_bpmn_alias_prefix': ('alias_evil', 'bpmn:scriptTask'),
    'elements/el_business_rule': ('work', 'bpmn:businessRuleTask'),
    'elements/el_call_activity': ('work', 'bpmn:callActivity'),
    'elements/el_camunda_alias_prefix': ('work', 'camunda:executionListener'),
    'elements/el_camunda_assignee_el': ('work', 'camunda:assignee'),
    'elements/el_camunda_expression_on_user_task': ('work', 'camunda:expression'),
    'elements/el_completion_condition': ('work', 'multiInstanceLoopCharacteristics'),
    'elements/el_condition_outside_flow': ('work', 'not allowed under bpmn:userTask'),
    'elements/el_conditional_event': ('cond_evil', 'only timer catch events'),
    'elements/el_conditional_start': ('start', 'conditionalEventDefinition'),
    'elements/el_data_object': ('data_evil', 'bpmn:dataObject'),
    'elements/el_error_end': ('end', 'bpmn:errorEventDefinition'),
    'elements/el_event_subprocess': ('sub_evil', 'event sub-processes'),
    'elements/el_foreign_html_script': ('xss_evil', 'is not supported'),
    'elements/el_form_field_default_el': ('field_evil', 'holds an expression'),
    'elements/el_input_output_script': ('work', 'camunda:inputOutput'),
    'elements/el_io_specification': ('io', 'bpmn:ioSpecification'),
    'elements/el_listener_class': ('work', 'camunda:executionListener'),
    'elements/el_loop_cardinality': ('work', 'multiInstanceLoopCharacteristics'),
    'elements/el_message_start': ('start', 'bpmn:messageEventDefinition'),
    'elements/el_other_default_namespace': ('defs', 'root element must be bpmn:definitions'),
    'elements/el_process_in_documentation': ('hostile', 'must hold only text'),
    'elements/el_process_in_lane_set': ('nested_process', 'not allowed under bpmn:subProcess'),
    'elements/el_process_listener': ('hostile', 'camunda:executionListener'),
    'elements/el_processing_instruction_inside': ('hostile', 'processing instruction'),
    'elements/el_processing_instruction_stylesheet': (None, 'processing instruction'),
    'elements/el_receive_task': ('work', 'bpmn:receiveTask'),
    'elements/el_script_in_extension': ('hidden_evil', 'extension element bpmn:scriptTask'),
    'elements/el_script_in_throw_event': ('work', 'bpmn:intermediateThrowEvent'),
    'elements/el_script_task_builtin_name': ('work', 'bpmn:scriptTask'),
    'elements/el_script_task_python': ('work', 'bpmn:scriptTask'),
    'elements/el_send_delegate': ('work', 'bpmn:sendTask'),
    'elements/el_service_expression': ('work', 'bpmn:serviceTask'),
    'elements/el_signal_boundary': ('sig', 'bpmn:signal'),
    'elements/el_standard_loop': ('work', 'standardLoopCharacteristics'),
    'elements/el_task_listener': ('work', 'camunda:taskListener'),
    'elements/el_xinclude': ('hostile', 'XInclude'),
    'elements/el_xsi_type_script': ('work', 'xsi:type='),
    'structure/boundary_on_gateway': ('boundary_evil', 'not attached to a userTask'),
    'structure/busy_loop_gateways': ('spin_a', 'spin forever'),
    'structure/busy_loop_parallel_fork': ('fork_evil', 'spin forever'),
    'structure/busy_loop_through_subprocess': ('sub_evil', 'spin forever'),
    'structure/category_unknown': ('hostile', 'category'),
    'structure/dangling_flow': ('flow_evil', 'must connect two flow nodes'),
    'structure/default_flow_missing': ('gw_evil', 'default flow'),
    'structure/due_date_el': ('work', 'camunda:dueDate'),
    'structure/due_date_huge': ('work', 'at most ten years'),
    'structure/due_date_years': ('work', 'camunda:dueDate'),
    'structure/due_date_zero': ('work', 'more than zero'),
    'structure/end_with_outgoing': ('end_evil', 'cannot have outgoing'),
    'structure/flow_node_ref_unknown': ('lane_admin', 'names no flow node'),
    'structure/hidden_second_process': ('hidden_process', 'not allowed under bpmn:collaboration'),
    'structure/lane_without_name': ('lane_admin', 'not a known role'),
    'structure/manual_task': ('work', 'no action'),
    'structure/many_problems': ('work', 'system.shell'),
    'structure/missing_form_key': ('work', 'not a known action'),
    'structure/not_executable': ('hostile', 'not executable'),
    'structure/plain_task': ('work', 'no action'),
    'structure/process_id_path': ('../../admin x', 'process id must be'),
    'structure/process_name_too_long': ('hostile', 'longer than 200'),
    'structure/start_with_incoming': ('start', 'cannot have incoming'),
    'structure/trap_branch_without_end': ('stuck', 'cannot reach an end event'),
    'structure/trap_dead_end': ('work', 'cannot reach an end event'),
    'structure/trap_gateway_all_return': ('gw_trap', 'cannot reach an end event'),
    'structure/two_start_events': ('start_evil', 'exactly one start event'),
    'structure/unknown_lane_injection': ('lane_admin', 'not a known role'),
    'structure/unreachable_task': ('orphan_task', 'cannot be reached'),
    'structure/user_task_in_two_lanes': ('lane_second', 'more than one lane'),
    'timers/timer_boundary_busy_loop': ('timer_evil', 'spin forever'),
    'timers/timer_busy_loop': ('timer_evil', 'spin forever'),
    'timers/timer_cycle_code': ('timer_evil', 'unsafe timeCycle'),
    'timers/timer_cycle_infinite_zero': ('timer_evil', 'repeat between 1 and 100'),
    'timers/timer_cycle_malformed': ('timer_evil', 'must look like'),
    'timers/timer_cycle_tiny': ('timer_evil', 'shorter than 60'),
    'timers/timer_cycle_too_many': ('timer_evil', 'repeat between 1 and 100'),
    'timers/timer_cycle_unbounded': ('timer_evil', 'repeat between 1 and 100'),
    'timers/timer_date_code': ('timer_evil', 'unsafe timeDate'),
    'timers/timer_date_garbage': ('timer_evil', 'ISO 8601 date-time'),
    'timers/timer_date_overflow': ('timer_evil', 'out of range'),
    'timers/timer_duration_garbage': ('timer_evil', 'not an ISO 8601 duration'),
    'timers/timer_duration_huge': ('timer_evil', 'longer than ten years'),
    'timers/timer_duration_negative': ('timer_evil', 'not an ISO 8601 duration'),
    'timers/timer_duration_not_string': ('timer_evil', 'must be a string'),
    'timers/timer_duration_tiny': ('timer_evil', 'shorter than 60'),
    'timers/timer_duration_weeks_and_days': ('timer_evil', 'mixes weeks'),
    'timers/timer_duration_zero': ('timer_evil', 'shorter than 60'),
    'timers/timer_duration_unquoted': ('wait', 'reads as a variable name'),
    'timers/timer_empty': ('timer_evil', 'expression is empty'),
    'timers/timer_language': ('timer_evil', 'language='),
    'timers/timer_start_event': ('start', 'not allowed under bpmn:startEvent'),
    'timers/timer_two_kinds': ('timer_evil', 'exactly one of timeDate'),
    'xml/deep_nesting': (None, 'malformed XML'),
    'xml/empty_document': (None, 'malformed XML'),
    'xml/huge_attribute': ('hostile', 'longer than'),
    'xml/huge_id': ('wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww...', 'id must be 1 to 200'),
    'xml/not_bpmn_root': ('svg_root', 'root element must be bpmn:definitions'),
    'xml/quadratic_blowup': (None, 'DOCTYPE'),
    'xml/unknown_encoding': (None, 'malformed XML'),
    'xml/xxe_after_bom': (None, 'DOCTYPE'),
    'xml/xxe_after_comment': (None, 'DOCTYPE'),
    'xml/xxe_external_dtd': (None, 'DOCTYPE'),
    'xml/xxe_in_condition': (None, 'DOCTYPE'),
    'xml/xxe_lowercase_doctype': (None, 'DOCTYPE'),
    'xml/xxe_parameter_entity': (None, 'DOCTYPE'),
    'xml/xxe_public_dtd': (None, 'DOCTYPE'),
    'xml/xxe_utf16': (None, ''),
    'xml/xxe_utf16_billion_laughs': (None, ''),
    'xml/xxe_utf32': (None, ''),
    'xml/xxe_utf7': (None, ''),
}
CATEGORIES = ("conditions", "elements", "timers", "xml", "structure")
ALL_FILES = sorted(HOSTILE.rglob("*.bpmn"))
_EXPRESSION_TEXT = re.compile(
    r"<(?:\w+:)?(conditionExpression|condition|loopCardinality|completionCondition|loopCondition|script"
    r"|timeDate|timeDuration|timeCycle)\b[^>]*>(.*?)</", re.S)


def test_corpus_is_complete_and_categorised():
    on_disk = {str(p.relative_to(HOSTILE).with_suffix("")) for p in HOSTILE.glob("*/*.bpmn")}
    assert on_disk == set(CORPUS)
    assert {name.split("/")[0] for name in CORPUS} == set(CATEGORIES)
    assert len(ALL_FILES) >= 180


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_file_says_what_it_attacks(name):
    text = (HOSTILE / f"{name}.bpmn").read_bytes()
    assert not text or b"HOSTILE:" in text or "HOSTILE:".encode("utf-16-le") in text \
        or "HOSTILE:".encode("utf-32-le") in text


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_file_rejected_with_element_and_line(engine, name):
    element_id, fragment = CORPUS[name]
    data = (HOSTILE / f"{name}.bpmn").read_bytes()
    with pytest.raises(BpmnValidationError) as info:
        engine.validate(data)
    errors = info.value.errors
    assert errors and all(set(e) == {"element_id", "message", "line"} for e in errors)
    matching = [e for e in errors if e["element_id"] == element_id and fragment in e["message"]]
    assert matching, errors
    if data and element_id is not None and f'id="{element_id}"'.encode() in data:
        declared = data[:data.index(f'id="{element_id}"'.encode())].count(b"\n") + 1
        # the element's own line, or (for a child without an id, reported at its owner) a line inside it
        last = data.count(b"\n") + 1
        assert any(isinstance(e["line"], int) and declared <= e["line"] <= last for e in matching), (declared, matching)
    else:
        assert all(isinstance(e["line"], int) or e["line"] is None for e in matching)


def test_many_problems_are_reported_at_once(engine):
    with pytest.raises(BpmnValidationError) as info:
        engine.validate((HOSTILE / "structure" / "many_problems.bpmn").read_bytes())
    found = {(e["element_id"], e["message"].split(":")[0]) for e in info.value.errors}
    ids = {e["element_id"] for e in info.value.errors}
    assert {"lane_admin", "work", "script_evil", "flow_evil", "orphan"} <= ids, found
    assert all(isinstance(e["line"], int) for e in info.value.errors)


def test_problem_list_is_capped(engine):
    tasks = "".join(f'<bpmn:task id="t{i}" />' for i in range(1000))
    xml = (HOSTILE / "structure" / "plain_task.bpmn").read_text().replace("</bpmn:process>", tasks + "</bpmn:process>")
    with pytest.raises(BpmnValidationError) as info:
        engine.validate(xml)
    assert len(info.value.errors) == 201 and "more problems not shown" in info.value.errors[-1]["message"]


def test_oversized_document_is_too_large():
    engine = Engine(actions={"meeting.notify"}, max_bytes=5_000)
    xml = (HOSTILE / "structure" / "plain_task.bpmn").read_bytes().replace(
        b"</bpmn:definitions>", b"<!--" + b"x" * 6_000 + b"--></bpmn:definitions>")
    with pytest.raises(BpmnTooLarge):
        engine.validate(xml)


# ---------------------------------------------------------------------------------------- none executed
class Tripwire:
    """Records every attempt to run code, touch the sentinel or start a process while armed."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[tuple] = []
        real_open, real_compile = builtins.open, builtins.compile

        def guarded_open(file, *args, **kwargs):
            if "orglife-hostile" in str(file):
                self.calls.append(("open", str(file)))
                raise PermissionError("tripwire")
            return real_open(file, *args, **kwargs)

        def guarded_compile(source, filename, mode, flags=0, *args, **kwargs):
            if not flags & ast.PyCF_ONLY_AST:  # ast.parse (no code object) is how expressions are checked
                self.calls.append(("compile", str(source)[:80]))
                raise AssertionError("tripwire: compile")
            return real_compile(source, filename, mode, flags, *args, **kwargs)

        def record(name):
            def tripped(*args, **kwargs):
                self.calls.append((name, repr(args)[:80]))
                raise AssertionError(f"tripwire: {name}")
            return tripped

        monkeypatch.setattr(builtins, "open", guarded_open)
        monkeypatch.setattr(builtins, "compile", guarded_compile)
        for name in ("eval", "exec"):
            monkeypatch.setattr(builtins, name, record(name))
        for module, name in ((os, "system"), (os, "popen"), (os, "execv"), (subprocess, "Popen"),
                             (subprocess, "run")):
            monkeypatch.setattr(module, name, record(f"{module.__name__}.{name}"))


@pytest.fixture
def tripwire(monkeypatch):
    """Arm the tripwire; the sentinel must not exist before or after."""
    SENTINEL.unlink(missing_ok=True)
    wire = Tripwire(monkeypatch)
    yield wire
    assert not SENTINEL.exists()


def test_the_tripwire_trips(tripwire):
    with pytest.raises(AssertionError):
        builtins.eval("1")
    with pytest.raises(AssertionError):
        os.system("true")
    with pytest.raises(PermissionError):
        open(SENTINEL, "w")
    assert [c[0] for c in tripwire.calls] == ["eval", "os.system", "open"]
    tripwire.calls.clear()


def _expression_texts(data: bytes) -> list[str]:
    for encoding in ("utf-8", "utf-16", "utf-32"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return []
    found = []
    for _, body in _EXPRESSION_TEXT.findall(text):
        body = body.replace("<![CDATA[", "").replace("]]>", "")
        found.append(html.unescape(re.sub(r"<!--.*?-->", "", body)).strip())
    return [f for f in found if f]


def test_validating_the_corpus_runs_nothing(engine, tripwire):
    for path in ALL_FILES:
        with pytest.raises(BpmnValidationError):
            engine.validate(path.read_bytes())
    assert tripwire.calls == []


def test_force_evaluating_every_payload_runs_nothing(tripwire):
    names = {"approved": True, "count": 3, "items": [1, 2], "label": "a", "secrets": {"password": "x"},
             "c": 1, "delay": "PT1H", "deadline": "2030-01-01T00:00:00+08:00", "done": True}
    payloads = [t for path in ALL_FILES for t in _expression_texts(path.read_bytes())]
    assert len(payloads) > 80
    for text in payloads:
        try:
            value = expressions.evaluate(text, names)
        except (UnsafeExpression, WorkflowError):
            continue
        assert type(value) in (bool, int, float, str, type(None)), (text, value)  # plain data, never an object
    assert tripwire.calls == []


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch /tmp/orglife-hostile-pwned')",
    "open('/tmp/orglife-hostile-pwned', 'w')",
    "exec('1')", "eval('1')", "compile('1', 'x', 'exec')",
    "().__class__.__bases__[0].__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "(lambda: open('/tmp/orglife-hostile-pwned', 'w'))()",
    "getattr(__builtins__, 'open')('/tmp/orglife-hostile-pwned', 'w')",
    "ｅｖａｌ('1')", "len.__self__.open('/tmp/orglife-hostile-pwned', 'w')",
    "'{0.__init__.__globals__}'.format(len)", "'%s' % approved",
])
def test_direct_evaluation_of_code_is_refused(tripwire, text):
    with pytest.raises(UnsafeExpression):
        expressions.evaluate(text, {"approved": True})
    assert tripwire.calls == []


@pytest.mark.parametrize(("text", "names"), [
    ("round(count, -1000000000) == 0", {"count": 5}),  # used to compute 10**1000000000
    ("round(count, digits)", {"count": 5, "digits": -10 ** 9}),  # digits from data: bounded at run time
    ("label * count", {"label": "ab", "count": 10 ** 9}),
    ("count * count * count * count * count", {"count": 2 ** 250}),
])
def test_resource_bombs_fail_fast(text, names):
    import time
    started = time.monotonic()
    with pytest.raises((UnsafeExpression, WorkflowError)):
        expressions.evaluate(text, names)
    assert time.monotonic() - started < 1


def test_engine_never_compiles_bpmn_text_while_validating_and_running(engine, tripwire):
    xml = CONGRESS.read_bytes()
    engine.validate(xml)
    instance = engine.start("branch_congress", 1, lambda: xml, {"meeting_id": 7})
    steps = [("notify", {}), ("close_feedback", {"voting_feedback_ratio": 0.8}),
             ("record_minutes", {}), ("submit", {}), ("decide", {"approved": True})]
    seen = []
    for _ in range(20):
        ready = instance.ready_tasks()
        if not ready:
            break
        (task,) = ready
        seen.append(task.spec_id)
        data = dict(steps).get(task.spec_id, {"approved": True, "cancelled": False, "voting_feedback_ratio": 0.9})
        instance.complete(task.id, data)
        instance = engine.load("branch_congress", 1, lambda: xml, instance.dumps())
    assert instance.completed, seen
    assert tripwire.calls == []


# ---------------------------------------------------------------------------------------- run-time timer values
def _timer_engine_start(engine, data):
    xml = (Path(__file__).resolve().parents[1] / "data" / "timer.bpmn").read_bytes()
    return engine.start("timer_flow", 1, lambda: xml, data)


@pytest.mark.parametrize("delay", ["P99999999Y", "soon", "-PT1S", "P1W2D", 42, "R/PT0S"])
def test_timer_values_from_data_are_vetted_before_spiffworkflow_parses_them(engine, delay):
    import time
    started = time.monotonic()
    with pytest.raises(WorkflowError) as info:
        _timer_engine_start(engine, {"delay": delay, "deadline": "2999-01-01T00:00:00+00:00"})
    assert info.value.element_id == "wait" and "timer" in info.value.message
    assert time.monotonic() - started < 1  # P99999999Y used to loop once per month inside SpiffWorkflow
