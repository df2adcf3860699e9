"""Structural and security validation of an untrusted BPMN document.

Every check appends to one error list so an admin sees all problems at once.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from lxml import etree

from . import expressions
from .errors import UnsafeExpression, problem
from .xmlsafe import (  # noqa: F401  (BPMN, CAMUNDA, DI_NAMESPACES and local are part of this module's API)
    BPMN, CAMUNDA, DI_NAMESPACES, EXPRESSIONS, FLOW_NODES, UNSUPPORTED_NODES, check_vocabulary, local, owner_id, timer_expressions,
)

CATEGORIES = frozenset({"meeting", "transfer", "other"})

# camunda:dueDate: weeks/days/hours/minutes/seconds only (what the service turns into a due date).
ISO_DURATION = re.compile(r"^P(?!$)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
PROCESS_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
MAX_KEY, MAX_ID = 100, 200  # the database columns they end up in
MAX_PROBLEMS = 200  # a 2 MB file of junk must not turn into a 50 MB answer


@dataclass
class Checked:
    """Facts gathered while validating, needed later to build and run the spec."""

    key: str = ""
    name: str = ""
    category: str = "other"
    due: dict[str, str] = field(default_factory=dict)
    lanes: list[tuple] = field(default_factory=list)  # (name, element id, line) of every lane
    errors: list[dict] = field(default_factory=list)
    dropped: int = 0

    def add(self, message: str, el: etree._Element | None = None, element_id: str | None = None) -> None:
        """Record one problem, locating it by element when possible."""
        if len(self.errors) >= MAX_PROBLEMS:
            self.dropped += 1
            return
        eid = element_id if element_id is not None else (el.get("id") if el is not None else None)
        eid = eid[:MAX_ID] + "..." if eid is not None and len(eid) > MAX_ID else eid
        self.errors.append(problem(message, eid, el.sourceline if el is not None else None))


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
    check_vocabulary(root, out.add)
    for index, process in enumerate(processes):  # every process, so all problems show at once
        _describe_process(process, out, first=index == 0)
        _check_lanes(process, lanes, out)
        _check_user_tasks(process, actions, out)
        _check_expressions(process, out)
        for scope in [process, *process.iter(f"{{{BPMN}}}subProcess")]:
            _check_scope(scope, out)
    if out.dropped:
        out.errors.append(problem(f"{out.dropped} more problems not shown", None, None))
    return out


def _check_ids(root: etree._Element, out: Checked) -> None:
    seen: set[str] = set()
    for el in root.iter(tag=etree.Element):
        eid = el.get("id")
        if eid is None:
            continue
        if eid in seen:
            out.add(f"duplicate id {eid!r}", el)
        if len(eid) > MAX_ID or not eid.strip():
            out.add(f"id must be 1 to {MAX_ID} characters", el)
        seen.add(eid)


def _describe_process(process: etree._Element, out: Checked, first: bool = True) -> None:
    key = process.get("id") or ""
    if first:
        out.key, out.name = key, process.get("name") or key
    if not key:
        out.add("bpmn:process needs an id", process)
    elif len(key) > MAX_KEY or not PROCESS_KEY.match(key):
        out.add(f"process id must be letters, digits, '_', '.' or '-' (at most {MAX_KEY})", process)
    if process.get("isExecutable") != "true":
        out.add('process is not executable (isExecutable="true" is required)', process)
    starts = bpmn_children(process, "startEvent")
    if not starts:
        out.add("process has no start event", process)
    for extra in starts[1:]:
        out.add("a process has exactly one start event", extra)
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
    nodes = {el.get("id") for el in process.iter(tag=etree.Element) if _is_flow_node(el)}
    placed: set[str] = set()
    for ref in process.iter(f"{{{BPMN}}}flowNodeRef"):
        target, lane_id = (ref.text or "").strip(), ref.getparent().get("id")
        if target not in nodes:
            out.add(f"flowNodeRef {target[:60]!r} names no flow node of this process", ref, lane_id)
        elif target in placed:
            out.add(f"flow node {target!r} is in more than one lane", ref, lane_id)
        placed.add(target)


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
        due = (task.get(f"{{{CAMUNDA}}}dueDate") or "").strip()
        if task.get(f"{{{CAMUNDA}}}dueDate") is None:
            continue
        if not ISO_DURATION.match(due):
            out.add(f"camunda:dueDate {due[:40]!r} is not an ISO 8601 duration of weeks/days/hours", task)
        elif not 0 < expressions.duration_seconds(due) <= expressions.MAX_TIMER_SECONDS:
            out.add(f"camunda:dueDate {due[:40]!r} must be more than zero and at most ten years", task)
        elif task.get("id"):
            out.due[task.get("id")] = due


_ISO_LIKE = re.compile(r"^P(?:\d+[YMWD])+(?:T(?:\d+[HMS])+)?$|^PT(?:\d+[HMS])+$")  # PT2H, P3D, P1DT2H


def _check_expressions(process: etree._Element, out: Checked) -> None:
    for tag in EXPRESSIONS:
        for el in process.iter(f"{{{BPMN}}}{tag}"):
            text = (el.text or "").strip()
            try:
                if not text:
                    raise UnsafeExpression("expression is empty")
                expressions.check(text)
            except UnsafeExpression as exc:
                out.add(f"unsafe {tag}: {exc}", el, owner_id(el))
                continue
            names = expressions.free_names(text)
            looks_literal = sorted(n for n in names if _ISO_LIKE.match(n))
            if tag != "conditionExpression" and looks_literal:  # PT2H unquoted is a variable named PT2H
                out.add(f"unsafe {tag}: {looks_literal[0]!r} reads as a variable name; write a duration or date "
                        f"as a quoted string, e.g. '{looks_literal[0]}'", el, owner_id(el))
                continue
            if names:
                continue  # a value from task data: the script engine vets it when the timer starts
            if tag == "conditionExpression":
                out.add(f"conditionExpression {text[:60]!r} is constant; a condition must read process data",
                        el, owner_id(el))
            elif (reason := expressions.constant_timer_problem(tag, text)) is not None:
                out.add(f"unsafe {tag}: {reason}", el, owner_id(el))


def _reads_data(text: str) -> bool:
    try:
        return bool(expressions.free_names(text))
    except UnsafeExpression:
        return True  # unsafe: reported elsewhere, and never a reliable wait


def waits(el: etree._Element) -> bool:
    """True if the engine stops at ``el`` until a person acts or a constant amount of real time passes."""
    kind = local(el)[1]
    if kind in ("intermediateCatchEvent", "boundaryEvent"):  # a data-driven timer or a date may be due already
        times = timer_expressions(el)
        text = (times[0].text or "").strip() if len(times) == 1 else ""
        return (bool(times) and local(times[0])[1] != "timeDate" and not _reads_data(text)
                and expressions.constant_timer_problem(local(times[0])[1], text) is None)
    if kind == "subProcess":
        graph = _Graph(el)
        return not _reach(graph.kind("startEvent"), _instant_edges(graph)) & set(graph.kind("endEvent"))
    return kind == "userTask"


class _Graph:
    """The flow nodes of one (sub)process and the sequence flows between them."""

    def __init__(self, scope: etree._Element, out: Checked | None = None) -> None:
        self.nodes = {el.get("id"): el for el in scope if _is_flow_node(el)}
        self.incoming: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        self.outgoing: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        self.hosts: dict[str, str] = {}  # boundary event id -> the activity it is attached to
        for flow in bpmn_children(scope, "sequenceFlow"):
            source, target = flow.get("sourceRef"), flow.get("targetRef")
            if source in self.nodes and target in self.nodes:
                self.incoming[target].append(source)
                self.outgoing[source].append(target)
            elif out is not None:
                out.add("sequenceFlow must connect two flow nodes of the same (sub)process", flow)
        for boundary in bpmn_children(scope, "boundaryEvent"):
            host = boundary.get("attachedToRef")
            if host in self.nodes and local(self.nodes[host])[1] in ("userTask", "subProcess"):
                self.hosts[boundary.get("id")] = host
                self.incoming[boundary.get("id")].append(host)
                self.outgoing[host].append(boundary.get("id"))
            elif out is not None:
                out.add("boundaryEvent is not attached to a userTask or subProcess in this scope", boundary)

    def kind(self, kind: str) -> list[str]:
        """Ids of the nodes of one BPMN type."""
        return [nid for nid, el in self.nodes.items() if local(el)[1] == kind]


def _check_scope(scope: etree._Element, out: Checked) -> None:
    graph = _Graph(scope, out)
    starts = graph.kind("startEvent")
    if local(scope)[1] == "subProcess" and len(starts) != 1:
        out.add("sub-process needs exactly one start event", scope)
    _check_flow_ends(scope, graph, out)
    alive = _reach(graph.kind("endEvent"), graph.incoming)
    reached = _reach(starts, graph.outgoing) if starts else set(graph.nodes)
    for nid, el in graph.nodes.items():
        if nid not in alive:
            out.add("cannot reach an end event (trap loop or dead end)", el)
        if nid not in reached:
            out.add("cannot be reached from the start event", el)
    for nid in sorted(_on_cycles(_instant_edges(graph)), key=lambda n: graph.nodes[n].sourceline or 0):
        out.add("loop with no userTask (or constant timer) to wait on: the engine would spin forever",
                graph.nodes[nid])


def _check_flow_ends(scope: etree._Element, graph: _Graph, out: Checked) -> None:
    flows = {f.get("id"): f for f in bpmn_children(scope, "sequenceFlow")}
    for nid, el in graph.nodes.items():
        kind = local(el)[1]
        if kind in ("startEvent", "boundaryEvent") and [s for s in graph.incoming[nid] if graph.hosts.get(nid) != s]:
            out.add(f"a {kind} cannot have incoming sequence flows", el)
        if kind == "endEvent" and graph.outgoing[nid]:
            out.add("an endEvent cannot have outgoing sequence flows", el)
        default = el.get("default")
        flow = flows.get(default) if default is not None else None
        if default is not None and (flow is None or flow.get("sourceRef") != nid):
            out.add(f"default flow {default[:60]!r} is not an outgoing sequence flow of this element", el)
        elif flow is not None and flow.find(f"{{{BPMN}}}conditionExpression") is not None:
            out.add("the default flow cannot have a condition", flow)


def _is_flow_node(el: etree._Element) -> bool:
    # Unsupported activities/events count as nodes too, so one rejected element
    # does not also produce "dangling flow" noise around it.
    if not isinstance(el.tag, str):
        return False
    ns, name = local(el)
    return ns == BPMN and (name in FLOW_NODES or name in UNSUPPORTED_NODES
                           or name.endswith(("Task", "Event", "Gateway")))


def _reach(sources: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    """Every node reachable from ``sources`` along ``edges`` (sources included)."""
    seen = set(sources)
    queue = deque(seen)
    while queue:
        for target in edges.get(queue.popleft(), ()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _instant_edges(graph: _Graph) -> dict[str, list[str]]:
    """Flows between nodes that do not wait; a boundary timer counts as entered along with its host."""
    waiting = {nid for nid, el in graph.nodes.items() if waits(el)}
    edges = {nid: [t for t in graph.outgoing[nid] if t not in waiting and graph.hosts.get(t) != nid]
             for nid in graph.nodes if nid not in waiting}
    for boundary, host in graph.hosts.items():
        if boundary not in waiting:  # it may fire the moment its host starts, so it bypasses the host's wait
            for source in [*graph.incoming[host], host]:
                if source in edges:
                    edges[source].append(boundary)
    return edges


def _on_cycles(edges: dict[str, list[str]]) -> list[str]:
    """Nodes on a loop (or between loops): what is left after peeling nodes with no predecessor or successor."""
    succ = {nid: [t for t in targets if t in edges] for nid, targets in edges.items()}
    pred: dict[str, list[str]] = {nid: [] for nid in edges}
    for nid, targets in succ.items():
        for target in targets:
            pred[target].append(nid)
    degree = {nid: [len(pred[nid]), len(succ[nid])] for nid in edges}
    queue = deque(nid for nid, (ins, outs) in degree.items() if not ins or not outs)
    removed = set(queue)
    while queue:
        nid = queue.popleft()
        for neighbours, side in ((succ[nid], 0), (pred[nid], 1)):
            for other in neighbours:
                degree[other][side] -= 1
                if not degree[other][side] and other not in removed:
                    removed.add(other)
                    queue.append(other)
    return [nid for nid in edges if nid not in removed]
