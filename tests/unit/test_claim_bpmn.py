"""积分申报 (bpmn/score_claim.bpmn) through the engine, round-tripping state between steps."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pytest
from lxml import etree

from workflows import Engine, Instance, WorkflowError

XML = (Path(__file__).resolve().parents[2] / "bpmn" / "score_claim.bpmn").read_bytes()
KEY, VERSION = "score_claim", 1
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}
DECIDE = ("decide", "审核", "branch_admin", "review.decide", "P7D")


class Driver:
    """Plays the service: keeps only the JSON state between requests."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.loads = engine, 0
        self._save(engine.start(KEY, VERSION, self._xml, {"subject_kind": "score_claim", "subject_id": 7,
                                                           "points": 5}))

    def _xml(self) -> bytes:
        self.loads += 1
        return XML

    def _save(self, instance: Instance) -> None:
        text = instance.dumps()
        assert json.loads(text)["process"] == KEY and "task_specs" not in text
        self.state = text

    def instance(self) -> Instance:
        """The instance, loaded from the saved state."""
        return self.engine.load(KEY, VERSION, self._xml, self.state)

    def ready(self) -> list[tuple]:
        """(spec_id, name, lane, action, due) of every ready task."""
        return [(t.spec_id, t.name, t.lane, t.action, t.due) for t in self.instance().ready_tasks()]

    def decide(self, data: dict) -> Instance:
        """Complete the single 审核 task with what review.decide returns; save and reload."""
        instance = self.instance()
        [task] = instance.ready_tasks()
        instance.complete(task.id, data)
        self._save(instance)
        return self.instance()


def test_definition_info(engine):
    info = engine.validate(XML)
    assert (info.key, info.name, info.category) == (KEY, "积分申报", "other")
    assert [name for name, _, _ in info.lanes] == ["branch_admin"]


def test_every_flow_node_is_in_a_lane():
    process = etree.fromstring(XML).find("bpmn:process", NS)
    refs = [r.text for r in process.iterfind(".//bpmn:flowNodeRef", NS)]
    nodes = [el.get("id") for el in process
             if etree.QName(el).localname not in ("laneSet", "sequenceFlow", "extensionElements")]
    assert sorted(refs) == sorted(nodes)


def _bounds(shape) -> tuple[float, float, float, float]:
    box = shape.find("dc:Bounds", NS)
    return tuple(float(box.get(k)) for k in ("x", "y", "width", "height"))


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_the_diagram_is_orthogonal_and_nothing_overlaps():
    root = etree.fromstring(XML)
    shapes = {s.get("bpmnElement"): s for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    lane = _bounds(shapes.pop("lane_branch_admin"))
    shapes.pop("pool_score_claim")
    boxes = [_bounds(s) for s in shapes.values()] + [_bounds(label) for label in root.iterfind(
        ".//bpmndi:BPMNLabel", NS)]
    assert not [(a, b) for a, b in combinations(boxes, 2) if _overlap(a, b)]
    for x, y, w, h in boxes:
        assert lane[0] <= x and x + w <= lane[0] + lane[2] and lane[1] <= y and y + h <= lane[1] + lane[3]
    for edge in root.iterfind(".//bpmndi:BPMNEdge", NS):
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.iterfind("di:waypoint", NS)]
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in zip(points, points[1:])), edge.get("id")


def test_start_waits_for_the_branch(engine):
    driver = Driver(engine)
    assert driver.ready() == [DECIDE]
    assert not driver.instance().completed


def test_approved_ends_with_the_decision_in_the_data(engine):
    driver = Driver(engine)
    done = driver.decide({"approved": True, "review_comment": None})
    assert done.completed and done.ready_tasks() == []
    assert done.data["approved"] is True and done.data["subject_id"] == 7 and done.data["points"] == 5
    assert driver.loads == 1  # parsed once, then served from the cache


def test_rejected_takes_the_default_flow(engine):
    done = Driver(engine).decide({"approved": False, "review_comment": "证明材料不足"})
    assert done.completed
    assert done.data["approved"] is False and done.data["review_comment"] == "证明材料不足"


def test_a_missing_decision_names_the_gateway_and_leaves_the_state(engine):
    driver = Driver(engine)
    instance = driver.instance()
    with pytest.raises(WorkflowError) as info:
        instance.complete(instance.ready_tasks()[0].id, {})
    assert info.value.element_id == "gw_approved"
    assert driver.ready() == [DECIDE]


def test_cancel_ends_it_without_a_decision(engine):
    driver = Driver(engine)
    instance = driver.instance()
    instance.cancel()
    driver._save(instance)
    reloaded = driver.instance()
    assert reloaded.ready_tasks() == [] and "approved" not in reloaded.data
