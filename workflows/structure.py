"""What a BPMN process is made of, as an admin reads it: elements by id, and the difference between versions.

Diagram interchange (positions, shapes) is left out: moving a box is not a change to the process. Works on
trees parsed by ``xmlsafe.parse`` (so already size-capped and free of DTDs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from .validation import BPMN, CAMUNDA, DI_NAMESPACES, bpmn_children, lane_of_nodes, local

# Attributes and child texts that make up an element's behaviour, by the name the diff reports them under.
_ATTRIBUTES = {
    "name": (None, "name"),
    "action": (CAMUNDA, "formKey"),
    "due": (CAMUNDA, "dueDate"),
    "default": (None, "default"),
    "source": (None, "sourceRef"),
    "target": (None, "targetRef"),
    "attached_to": (None, "attachedToRef"),
    "cancel_activity": (None, "cancelActivity"),
}
_TEXTS = {
    "condition": "conditionExpression",
    "timer_date": "timerEventDefinition/{b}timeDate",
    "timer_duration": "timerEventDefinition/{b}timeDuration",
    "timer_cycle": "timerEventDefinition/{b}timeCycle",
}
_SKIP = frozenset({"incoming", "outgoing", "flowNodeRef", "extensionElements", "documentation", "laneSet",
                   "childLaneSet", "conditionExpression", "timerEventDefinition", "timeDate", "timeDuration",
                   "timeCycle", "text", "terminateEventDefinition", "properties", "property"})


@dataclass(frozen=True)
class Element:
    """One element of the process: its BPMN type and the fields that define what it does."""

    id: str
    type: str
    fields: dict = field(default_factory=dict, compare=False)
    line: int | None = field(default=None, compare=False)

    def view(self) -> dict:
        """A JSON-ready summary."""
        return {"id": self.id, "type": self.type, "name": self.fields.get("name"), "line": self.line}


def describe(root: etree._Element) -> dict[str, Element]:
    """Every identified element of the (first) process, with its behavioural fields; DI excluded."""
    processes = bpmn_children(root, "process")
    if not processes:
        return {}
    process = processes[0]
    lanes = lane_of_nodes(process)
    out: dict[str, Element] = {}
    for el in process.iter(tag=etree.Element):
        ns, name = local(el)
        eid = el.get("id")
        if not eid or ns in DI_NAMESPACES or name in _SKIP:
            continue
        out[eid] = Element(eid, name, _fields(el, lanes), el.sourceline)
    return out


def properties(root: etree._Element) -> dict[str, str]:
    """The ``camunda:property`` name/value pairs on the process element (category, held_by, ...)."""
    processes = bpmn_children(root, "process")
    if not processes:
        return {}
    found = processes[0].findall(f"{{{BPMN}}}extensionElements/{{{CAMUNDA}}}properties/{{{CAMUNDA}}}property")
    return {p.get("name"): p.get("value") or "" for p in found if p.get("name")}


def process_key(root: etree._Element) -> str | None:
    """The id of the (first) process."""
    processes = bpmn_children(root, "process")
    return processes[0].get("id") if processes else None


def lanes(root: etree._Element) -> list[tuple]:
    """(name, element id, line) of every lane of the (first) process."""
    processes = bpmn_children(root, "process")
    if not processes:
        return []
    return [(lane.get("name") or "", lane.get("id"), lane.sourceline)
            for lane in processes[0].iter(f"{{{BPMN}}}lane")]


def user_tasks(root: etree._Element) -> list[Element]:
    """The user tasks of the process, in document order."""
    return [e for e in describe(root).values() if e.type == "userTask"]


def _fields(el: etree._Element, lanes: dict) -> dict:
    values: dict = {}
    for label, (ns, attr) in _ATTRIBUTES.items():
        value = el.get(f"{{{ns}}}{attr}" if ns else attr)
        if value is not None:
            values[label] = value
    for label, path in _TEXTS.items():
        child = el.find(f"{{{BPMN}}}" + path.format(b="{" + BPMN + "}"))
        if child is not None:
            values[label] = (child.text or "").strip()
    if el.get("id") in lanes and lanes[el.get("id")] is not None:
        values["lane"] = lanes[el.get("id")]
    return values


def diff(old: etree._Element, new: etree._Element) -> dict:
    """Elements added, removed and changed (field by field) from ``old`` to ``new``, matched by id."""
    before, after = describe(old), describe(new)
    changed = []
    for eid in before.keys() & after.keys():
        a, b = before[eid], after[eid]
        changes = [{"field": "type", "before": a.type, "after": b.type}] if a.type != b.type else []
        changes += [{"field": f, "before": a.fields.get(f), "after": b.fields.get(f)}
                    for f in sorted(a.fields.keys() | b.fields.keys()) if a.fields.get(f) != b.fields.get(f)]
        if changes:
            changed.append({**b.view(), "changes": changes})
    props_before, props_after = properties(old), properties(new)
    return {
        "added": sorted((after[e].view() for e in after.keys() - before.keys()), key=_order),
        "removed": sorted((before[e].view() for e in before.keys() - after.keys()), key=_order),
        "changed": sorted(changed, key=_order),
        "properties": [{"name": n, "before": props_before.get(n), "after": props_after.get(n)}
                       for n in sorted(props_before.keys() | props_after.keys())
                       if props_before.get(n) != props_after.get(n)],
    }


def _order(view: dict) -> tuple:
    return (view["line"] or 0, view["id"])
