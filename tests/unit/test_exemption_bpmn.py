"""使用智能手机不便认定 (bpmn/smartphone_exempt.bpmn) through the engine, round-tripping state between steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from workflows import Engine, Instance, WorkflowError

XML = (Path(__file__).resolve().parents[2] / "bpmn" / "smartphone_exempt.bpmn").read_bytes()
KEY, VERSION = "smartphone_exempt", 1
BPMN_NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
DECIDE = ("decide", "审批", "superior_admin", "review.decide", "P7D")


class Driver:
    """Plays the service: keeps only the JSON state between requests."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.loads = engine, 0
        self.state = self._save(engine.start(KEY, VERSION, self._xml, {"subject_kind": "exemption", "subject_id": 3}))

    def _xml(self) -> bytes:
        self.loads += 1
        return XML

    def _save(self, instance: Instance) -> str:
        text = instance.dumps()
        assert json.loads(text)["process"] == KEY and "task_specs" not in text
        self.state = text
        return text

    def instance(self) -> Instance:
        """The instance, loaded from the saved state."""
        return self.engine.load(KEY, VERSION, self._xml, self.state)

    def ready(self) -> list[tuple]:
        """(spec_id, name, lane, action, due) of every ready task."""
        return [(t.spec_id, t.name, t.lane, t.action, t.due) for t in self.instance().ready_tasks()]

    def decide(self, data: dict) -> Instance:
        """Complete the single 审批 task with what review.decide returns; save and reload."""
        instance = self.instance()
        [task] = instance.ready_tasks()
        instance.complete(task.id, data)
        self._save(instance)
        return self.instance()


def test_definition_info(engine):
    info = engine.validate(XML)
    assert (info.key, info.name, info.category) == (KEY, "使用智能手机不便认定", "other")
    assert [name for name, _, _ in info.lanes] == ["branch_admin", "superior_admin"]


def test_every_flow_node_is_in_a_lane():
    process = etree.fromstring(XML).find("bpmn:process", BPMN_NS)
    refs = [r.text for r in process.iterfind(".//bpmn:flowNodeRef", BPMN_NS)]
    nodes = [el.get("id") for el in process
             if etree.QName(el).localname not in ("laneSet", "sequenceFlow", "extensionElements")]
    assert sorted(refs) == sorted(nodes)


def test_start_waits_for_the_superior(engine):
    driver = Driver(engine)
    assert driver.ready() == [DECIDE]
    assert not driver.instance().completed


def test_approved_ends_with_the_decision_in_the_data(engine):
    driver = Driver(engine)
    done = driver.decide({"approved": True, "review_comment": None})
    assert done.completed and done.ready_tasks() == []
    assert done.data["approved"] is True and done.data["subject_id"] == 3
    assert driver.loads == 1  # parsed once, then served from the cache


def test_rejected_takes_the_default_flow(engine):
    done = Driver(engine).decide({"approved": False, "review_comment": "年龄未满60周岁"})
    assert done.completed
    assert done.data["approved"] is False and done.data["review_comment"] == "年龄未满60周岁"


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
