"""Hardened XML loading for untrusted BPMN documents, and the vocabulary they may use.

``parse`` refuses what must never reach a parser's features (DTDs, entities,
processing instructions); ``check_vocabulary`` refuses every element and
attribute outside the small allowlist of BPMN and Camunda markup the engine
understands, so nothing SpiffWorkflow would act on can hide in a document.
"""

from __future__ import annotations

import re
from typing import Callable

from lxml import etree

from .errors import BpmnTooLarge, BpmnValidationError, problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DI_NAMESPACES = frozenset({
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
})
FLOW_NODES = frozenset({
    "startEvent", "endEvent", "userTask", "manualTask", "task", "exclusiveGateway", "parallelGateway",
    "inclusiveGateway", "eventBasedGateway", "intermediateCatchEvent", "boundaryEvent", "subProcess",
})
STRUCTURE = frozenset({
    "definitions", "process", "collaboration", "participant", "sequenceFlow", "conditionExpression", "laneSet",
    "lane", "childLaneSet", "flowNodeRef", "textAnnotation", "text", "association", "documentation",
    "extensionElements", "incoming", "outgoing", "timerEventDefinition", "timeDate", "timeDuration",
    "timeCycle", "terminateEventDefinition",
})
UNSUPPORTED_NODES = frozenset({"callActivity", "transaction", "adHocSubProcess"})
EXPRESSIONS = ("conditionExpression", "timeDate", "timeDuration", "timeCycle")
SCOPES = frozenset({"process", "subProcess"})
# Element -> the parents it may appear under, so nothing (a second process, a condition) can hide
# somewhere the checks do not look but SpiffWorkflow's descendant searches would still find it.
REQUIRED_PARENT = {
    **{node: SCOPES for node in FLOW_NODES}, "sequenceFlow": SCOPES, "laneSet": SCOPES,
    "process": {"definitions"}, "collaboration": {"definitions"}, "participant": {"collaboration"},
    "lane": {"laneSet", "childLaneSet"}, "childLaneSet": {"lane"}, "flowNodeRef": {"lane"},
    "textAnnotation": SCOPES | {"collaboration"}, "association": SCOPES | {"collaboration"},
    "text": {"textAnnotation"}, "incoming": FLOW_NODES, "outgoing": FLOW_NODES,
    "timerEventDefinition": {"intermediateCatchEvent", "boundaryEvent"},
    "terminateEventDefinition": {"endEvent"}, "conditionExpression": {"sequenceFlow"},
    **{timer: {"timerEventDefinition"} for timer in EXPRESSIONS[1:]},
}
# Text-only elements: a child element (or a comment splitting an expression) is refused.
LEAVES = frozenset({"documentation", "text", "flowNodeRef", "incoming", "outgoing", *EXPRESSIONS})
# Only inert, declarative Camunda extensions: no scripts, listeners or I/O mappings.
CAMUNDA_EXTENSIONS = frozenset({"properties", "property", "formData", "formField", "validation", "constraint", "value"})
# camunda:* attributes the engine reads, or inert metadata that Camunda Modeler writes.
CAMUNDA_ATTRIBUTES = {
    "userTask": frozenset({"formKey", "dueDate"}),
    "process": frozenset({"versionTag", "historyTimeToLive", "isStartableInTasklist"}),
}
MAX_NAME = 200  # process_definition.name, human_task.name
MAX_ATTRIBUTE = 1000
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


def to_bytes(xml: bytes | str) -> bytes:
    """Return the document as bytes (str input is encoded as UTF-8)."""
    return xml.encode("utf-8") if isinstance(xml, str) else bytes(xml)


def parse(data: bytes, max_bytes: int) -> etree._Element:
    """Parse untrusted XML: size-capped, no DTD of any kind, no network, no entity expansion."""
    if len(data) > max_bytes:
        raise BpmnTooLarge([problem(f"BPMN document is {len(data)} bytes; limit is {max_bytes}")])
    _refuse_doctype(data)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
        dtd_validation=False, remove_pis=False, remove_comments=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise BpmnValidationError([problem(f"malformed XML: {exc.msg}", None, exc.lineno)]) from None
    except (etree.LxmlError, ValueError, LookupError) as exc:  # e.g. an encoding libxml2 cannot decode
        raise BpmnValidationError([problem(f"malformed XML: {exc}", None, None)]) from None
    # Second net for encodings (e.g. UTF-16, UTF-7) that hide the DOCTYPE from the byte scan.
    if root.getroottree().docinfo.doctype or root.getroottree().docinfo.internalDTD is not None:
        raise BpmnValidationError([problem("DOCTYPE declarations are not allowed", None, 1)])
    _refuse_processing_instructions(root)
    return root


def _refuse_processing_instructions(root: etree._Element) -> None:
    # <?xml-stylesheet?> makes a browser that opens the stored file run the
    # attacker's XSLT in our origin; no BPMN tool writes PIs, so refuse them all.
    pis = [*root.itersiblings(etree.PI, preceding=True), *root.iter(etree.PI),
           *root.itersiblings(etree.PI)]
    if pis:
        raise BpmnValidationError([
            problem(f"processing instruction <?{pi.target}?> is not allowed", owner_id(pi), pi.sourceline)
            for pi in pis
        ])




def _refuse_doctype(data: bytes) -> None:
    # Any DTD is refused outright: that covers external entities (XXE) and
    # entity-expansion bombs without having to reason about parser flags.
    match = _DOCTYPE.search(data)
    if match:
        line = data.count(b"\n", 0, match.start()) + 1
        raise BpmnValidationError([problem("DOCTYPE declarations are not allowed", None, line)])


def local(el: etree._Element) -> tuple[str | None, str]:
    """Return (namespace, local name) of an element."""
    qname = etree.QName(el)
    return qname.namespace, qname.localname


def check_vocabulary(root: etree._Element, add: Callable) -> None:
    """Report, through ``add(message, element, element_id)``, every element or attribute outside the allowlist."""
    stack = [(root, False)]
    while stack:
        el, in_ext = stack.pop()
        if not isinstance(el.tag, str):
            continue
        ns, name = local(el)
        if not _element_allowed(el, ns, name, in_ext, add):
            continue  # children of a rejected element would only repeat the error
        if ns not in DI_NAMESPACES:
            _check_attributes(el, ns, name, add)
        if ns == BPMN and name in LEAVES and len(el):
            add(f"bpmn:{name} must hold only text", el, owner_id(el))
            continue
        inside = in_ext or (ns, name) == (BPMN, "extensionElements")
        stack.extend((child, inside) for child in el)


def _element_allowed(el, ns, name, in_ext, add: Callable) -> bool:
    if ns in DI_NAMESPACES and not in_ext:
        return True
    if in_ext:
        if ns == CAMUNDA and name in CAMUNDA_EXTENSIONS:
            return True
        add(f"extension element {_prefixed(ns, name)} is not allowed", el, owner_id(el))
        return False
    if ns != BPMN or name not in FLOW_NODES | STRUCTURE:
        add(f"element {_prefixed(ns, name)} is not supported", el, owner_id(el))
        return False
    return _context_allowed(el, name, add)


def _check_attributes(el, ns, name, add: Callable) -> None:
    owner = owner_id(el)
    for attr, value in el.attrib.items():
        qname = etree.QName(attr)
        label = _prefixed(qname.namespace, qname.localname)
        if qname.namespace == CAMUNDA and (ns != BPMN or qname.localname not in CAMUNDA_ATTRIBUTES.get(name, ())):
            add(f"attribute {label} is not supported on {_prefixed(ns, name)}", el, owner)
        elif qname.namespace == XSI and qname.localname == "type" and not _formal_expression(el, name, value):
            add(f"xsi:type={value[:40]!r} is not allowed on {_prefixed(ns, name)}", el, owner)
        elif qname.text == "language" and name in EXPRESSIONS:
            add(f"language={value[:40]!r}: conditions and timers are safe expressions only", el, owner)
        if len(value) > MAX_ATTRIBUTE:
            add(f"attribute {label} is longer than {MAX_ATTRIBUTE} characters", el, owner)
        elif "${" in value or "#{" in value:
            add(f"attribute {label} holds an expression ({value[:40]!r}); none are evaluated", el, owner)
    if ns == BPMN and len(el.get("name") or "") > MAX_NAME:
        add(f"name is longer than {MAX_NAME} characters", el, owner)


def _formal_expression(el, name: str, value: str) -> bool:
    prefix, _, type_name = value.strip().rpartition(":")
    return name in EXPRESSIONS and type_name == "tFormalExpression" and el.nsmap.get(prefix or None) == BPMN


def _context_allowed(el, name: str, add: Callable) -> bool:
    parent = el.getparent()
    allowed_parents = REQUIRED_PARENT.get(name)
    if allowed_parents and (parent is None or local(parent)[1] not in allowed_parents):
        where = local(parent)[1] if parent is not None else "(document)"
        add(f"bpmn:{name} is not allowed under bpmn:{where}", el, owner_id(el))
        return False
    if name == "subProcess" and el.get("triggeredByEvent") == "true":
        add("event sub-processes are not supported", el)
        return False
    if name in ("intermediateCatchEvent", "boundaryEvent"):
        definitions = [c for c in el if isinstance(c.tag, str) and local(c)[1].endswith("EventDefinition")]
        if len(definitions) != 1 or local(definitions[0])[1] != "timerEventDefinition":
            add("only timer catch events are supported", el)
            return False
        if len(timer_expressions(el)) != 1:
            add("a timer needs exactly one of timeDate, timeDuration or timeCycle", el)
    return True


def timer_expressions(event: etree._Element) -> list[etree._Element]:
    """The timeDate/timeDuration/timeCycle children of an event's timerEventDefinition."""
    found = event.find(f"{{{BPMN}}}timerEventDefinition")
    return [] if found is None else [c for c in found if isinstance(c.tag, str) and local(c)[1] in EXPRESSIONS]


def _prefixed(ns: str | None, name: str) -> str:
    prefix = {BPMN: "bpmn", CAMUNDA: "camunda", XSI: "xsi"}.get(ns or "", ns or "")
    return f"{prefix}:{name}" if prefix else name


def owner_id(el: etree._Element) -> str | None:
    """The id of ``el`` or of its nearest ancestor with one (definitions and extensions rarely have ids)."""
    node = el
    while node is not None:
        # Definitions inside an event (timer, message, ...) are reported at the event, the element admins see.
        if node.get("id") is not None and not (isinstance(node.tag, str) and node.tag.endswith("EventDefinition")):
            return node.get("id")
        node = node.getparent()
    return None
