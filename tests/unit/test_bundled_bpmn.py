"""Every bundled BPMN file validates and carries complete diagram interchange (so bpmn.io renders it)."""
from pathlib import Path

import pytest
from lxml import etree

from .conftest import ACTIONS

from workflows import Engine

BUNDLED = sorted((Path(__file__).resolve().parents[2] / "bpmn").glob("*.bpmn"))
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
DRAWN = ("startEvent", "endEvent", "userTask", "exclusiveGateway", "parallelGateway", "intermediateCatchEvent",
         "boundaryEvent", "lane", "task", "manualTask", "inclusiveGateway", "subProcess")


def test_there_are_bundled_files():
    assert BUNDLED


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_file_validates_and_is_fully_drawn(path):
    assert Engine(actions=ACTIONS).validate(path.read_bytes()).key == path.stem
    root = etree.parse(str(path)).getroot()
    shapes = {s.get("bpmnElement") for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement") for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    nodes = {el.get("id") for tag in DRAWN for el in root.iterfind(f".//bpmn:{tag}", NS)}
    flows = {el.get("id") for el in root.iterfind(".//bpmn:sequenceFlow", NS)}
    assert nodes - shapes == set(), "elements without a shape"
    assert flows - edges == set(), "flows without an edge"
    for edge in root.iterfind(".//bpmndi:BPMNEdge", NS):
        assert len(edge.findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")) >= 2, edge.get("id")
