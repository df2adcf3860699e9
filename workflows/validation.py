"""Structural and security validation of an untrusted BPMN document.

Every check appends to one error list so an admin sees all problems at once.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field

from lxml import etree

from . import expressions
from .errors import UnsafeExpression, problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
DI_NAMESPACES = frozenset({
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
})
CATEGORIES = frozenset({"meeting", "transfer", "other"})

FLOW_NODES = frozenset({
    "startEvent", "endEvent", "userTask", "manualTask", "task", "exclusiveGateway",
    "parallelGateway", "inclusiveGateway", "eventBasedGateway", "intermediateCatchEvent",
    "boundaryEvent", "subProcess",
})
STRUCTURE = frozenset({
    "definitions", "process", "collaboration", "participant", "sequenceFlow",
    "conditionExpression", "laneSet", "lane", "childLaneSet", "flowNodeRef",
    "textAnnotation", "text", "association", "documentation", "extensionElements",
    "incoming", "outgoing", "timerEventDefinition", "timeDate", "timeDuration",
    "timeCycle", "terminateEventDefinition",
})
UNSUPPORTED_NODES = frozenset({"callActivity", "transaction", "adHocSubProcess"})
# Element -> the parents it may appear under (everything else is free-standing).
REQUIRED_PARENT = {
    "timerEventDefinition": {"intermediateCatchEvent", "boundaryEvent"},
    "terminateEventDefinition": {"endEvent"},
    "timeDate": {"timerEventDefinition"},
    "timeDuration": {"timerEventDefinition"},
    "timeCycle": {"timerEventDefinition"},
    "conditionExpression": {"sequenceFlow"},
}
# Only inert, declarative Camunda extensions: no scripts, listeners or I/O mappings.
CAMUNDA_EXTENSIONS = frozenset({
    "properties", "property", "formData", "formField", "validation", "constraint", "value",
})
ISO_DURATION = re.compile(
    r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)


@dataclass
class Checked:
    """Facts gathered while validating, needed later to build and run the spec."""

    key: str = ""
    name: str = ""
    category: str = "other"
    due: dict[str, str] = field(default_factory=dict)
    lanes: list[tuple] = field(default_factory=list)  # (name, element id, line) of every lane
    errors: list[dict] = field(default_factory=list)

    def add(self, message: str, el: etree._Element | None = None, element_id: str | None = None) -> None:
        """Record one problem, locating it by element when possible."""
        eid = element_id if element_id is not None else (el.get("id") if el is not None else None)
        self.errors.append(problem(message, eid, el.sourceline if el is not None else None))


def local(el: etree._Element) -> tuple[str | None, str]:
    """Return (namespace, local name) of an element."""
    qname = etree.QName(el)
    return qname.namespace, qname.localname


def bpmn_children(el: etree._Element, name: str) -> list[etree._Element]:
    """Direct BPMN children of ``el`` with the given local name."""
    return el.findall(f"{{{BPMN}}}{name}")


def validate_tree(root: etree._Element, actions: Collection[str], lanes: Collection[str]) -> Checked:
    """Run every check on a parsed document; the result carries all problems found."""
    out = Checked()
    if local(root) != (BPMN, "definitions"):
        out.add("root element must be bpmn:definitions", root)
        return out
    processes = bpmn_children(root, "process")
    if len(processes) != 1:
        ids = ", ".join(p.get("id") or "?" for p in processes)
        out.add(f"exactly one bpmn:process is required, found {len(processes)} ({ids})", root)
    _check_ids(root, out)
    _check_elements(root, out)
    for process in processes[:1]:
        _describe_process(process, out)
        _check_lanes(process, lanes, out)
        _check_user_tasks(process, actions, out)
        _check_expressions(process, out)
        _check_scopes(process, out)
    return out


def _check_ids(root: etree._Element, out: Checked) -> None:
    seen: set[str] = set()
    for el in root.iter(tag=etree.Element):
        eid = el.get("id")
        if eid is None:
            continue
        if eid in seen:
            out.add(f"duplicate id {eid!r}", el)
        seen.add(eid)


def _check_elements(root: etree._Element, out: Checked) -> None:
    stack = [(root, False)]
    while stack:
        el, in_ext = stack.pop()
        if not isinstance(el.tag, str):
            continue
        ns, name = local(el)
        if not _element_allowed(el, ns, name, in_ext, out):
            continue  # children of a rejected element would only repeat the error
        inside = in_ext or (ns, name) == (BPMN, "extensionElements")
        stack.extend((child, inside) for child in el)


def _element_allowed(el, ns, name, in_ext, out: Checked) -> bool:
    if ns in DI_NAMESPACES and not in_ext:
        return True
    if in_ext:
        if ns == CAMUNDA and name in CAMUNDA_EXTENSIONS:
            return True
        out.add(f"extension element {_prefixed(ns, name)} is not allowed", el, _owner_id(el))
        return False
    if ns != BPMN or name not in FLOW_NODES | STRUCTURE:
        out.add(f"element {_prefixed(ns, name)} is not supported", el, _owner_id(el))
        return False
    return _context_allowed(el, name, out)


def _context_allowed(el, name: str, out: Checked) -> bool:
    parent = el.getparent()
    allowed_parents = REQUIRED_PARENT.get(name)
    if allowed_parents and (parent is None or local(parent)[1] not in allowed_parents):
        out.add(f"bpmn:{name} is not allowed under bpmn:{local(parent)[1]}", el, _owner_id(el))
        return False
    if name == "subProcess" and el.get("triggeredByEvent") == "true":
        out.add("event sub-processes are not supported", el)
        return False
    if name in ("intermediateCatchEvent", "boundaryEvent"):
        return _check_timer_event(el, out)
    return True


def _check_timer_event(el, out: Checked) -> bool:
    definitions = [c for c in el if isinstance(c.tag, str) and local(c)[1].endswith("EventDefinition")]
    if len(definitions) != 1 or local(definitions[0])[1] != "timerEventDefinition":
        out.add("only timer catch events are supported", el)
        return False
    return True


def _prefixed(ns: str | None, name: str) -> str:
    prefix = {BPMN: "bpmn", CAMUNDA: "camunda"}.get(ns or "", ns or "")
    return f"{prefix}:{name}" if prefix else name


def _owner_id(el: etree._Element) -> str | None:
    # Nested elements (definitions, extensions) rarely have ids; report the nearest owner.
    node = el
    while node is not None:
        if node.get("id") is not None:
            return node.get("id")
        node = node.getparent()
    return None


def _describe_process(process: etree._Element, out: Checked) -> None:
    out.key = process.get("id") or ""
    out.name = process.get("name") or out.key
    if not out.key:
        out.add("bpmn:process needs an id", process)
    if not bpmn_children(process, "startEvent"):
        out.add("process has no start event", process)
    path = f"{{{BPMN}}}extensionElements/{{{CAMUNDA}}}properties/{{{CAMUNDA}}}property"
    for prop in process.findall(path):
        if prop.get("name") == "category":
            out.category = prop.get("value") or ""
            if out.category not in CATEGORIES:
                out.add(f"category must be one of {sorted(CATEGORIES)}", prop, out.key)


def lane_of_nodes(process: etree._Element) -> dict[str, str | None]:
    """Map flow node id -> lane name, the way SpiffWorkflow's parser resolves it."""
    lanes: dict[str, str | None] = {}
    for ref in process.iter(f"{{{BPMN}}}flowNodeRef"):
        if ref.text:
            lanes[ref.text.strip()] = ref.getparent().get("name")
    return lanes


def _check_lanes(process: etree._Element, allowed: Collection[str], out: Checked) -> None:
    for lane in process.iter(f"{{{BPMN}}}lane"):
        name = lane.get("name")
        out.lanes.append((name, lane.get("id"), lane.sourceline))
        if name not in allowed:
            out.add(f"lane name {name!r} is not a known role", lane)


def _effective_lane(task: etree._Element, lanes: dict[str, str | None]) -> str | None:
    # SpiffWorkflow gives everything inside an embedded sub-process the sub-process's lane.
    outer = None
    for ancestor in task.iterancestors(f"{{{BPMN}}}subProcess"):
        outer = lanes.get(ancestor.get("id"), outer)
    return outer if outer is not None else lanes.get(task.get("id"))


def _check_user_tasks(process: etree._Element, actions: Collection[str], out: Checked) -> None:
    lanes = lane_of_nodes(process)
    for tag in ("task", "manualTask"):  # SpiffWorkflow would wait on these for a person with no action
        for task in process.iter(f"{{{BPMN}}}{tag}"):
            out.add(f"a {tag} has no action for anyone to perform; use a userTask with a camunda:formKey", task)
    for task in process.iter(f"{{{BPMN}}}userTask"):
        if _effective_lane(task, lanes) is None:
            out.add("userTask must be placed in a lane", task)
        form_key = task.get(f"{{{CAMUNDA}}}formKey")
        if form_key not in actions:
            out.add(f"userTask camunda:formKey {form_key!r} is not a known action", task)
        due = task.get(f"{{{CAMUNDA}}}dueDate")
        if due is not None and not ISO_DURATION.match(due.strip()):
            out.add(f"camunda:dueDate {due!r} is not an ISO 8601 duration", task)
        elif due is not None and task.get("id"):
            out.due[task.get("id")] = due.strip()


def _check_expressions(process: etree._Element, out: Checked) -> None:
    for tag in ("conditionExpression", "timeDate", "timeDuration", "timeCycle"):
        for el in process.iter(f"{{{BPMN}}}{tag}"):
            text = (el.text or "").strip()
            try:
                if not text:
                    raise UnsafeExpression("expression is empty")
                expressions.check(text)
            except UnsafeExpression as exc:
                out.add(f"unsafe {tag}: {exc}", el, _owner_id(el))


def _check_scopes(process: etree._Element, out: Checked) -> None:
    for scope in [process, *process.iter(f"{{{BPMN}}}subProcess")]:
        _check_scope(scope, out)


def _check_scope(scope: etree._Element, out: Checked) -> None:
    nodes = {el.get("id"): el for el in scope if isinstance(el.tag, str) and _is_flow_node(el)}
    incoming: dict[str, list[str]] = {nid: [] for nid in nodes}
    for flow in bpmn_children(scope, "sequenceFlow"):
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if source not in nodes or target not in nodes:
            out.add("sequenceFlow must connect two flow nodes of the same (sub)process", flow)
            continue
        incoming[target].append(source)
    for boundary in bpmn_children(scope, "boundaryEvent"):
        host = boundary.get("attachedToRef")
        if host not in nodes:
            out.add("boundaryEvent is not attached to an activity in this scope", boundary)
        else:
            incoming[boundary.get("id")].append(host)
    if scope is not None and local(scope)[1] == "subProcess" and len(bpmn_children(scope, "startEvent")) != 1:
        out.add("sub-process needs exactly one start event", scope)
    _report_trapped(nodes, incoming, out)


def _is_flow_node(el: etree._Element) -> bool:
    # Unsupported activities/events count as nodes too, so one rejected element
    # does not also produce "dangling flow" noise around it.
    ns, name = local(el)
    return ns == BPMN and (name in FLOW_NODES or name in UNSUPPORTED_NODES
                           or name.endswith(("Task", "Event", "Gateway")))


def _report_trapped(nodes: dict, incoming: dict[str, list[str]], out: Checked) -> None:
    ends = [nid for nid, el in nodes.items() if local(el)[1] == "endEvent"]
    alive, queue = set(ends), deque(ends)
    while queue:  # reverse BFS: which nodes can still reach an end event
        for source in incoming[queue.popleft()]:
            if source not in alive:
                alive.add(source)
                queue.append(source)
    for nid, el in nodes.items():
        if nid not in alive:
            out.add("cannot reach an end event (trap loop or dead end)", el)
