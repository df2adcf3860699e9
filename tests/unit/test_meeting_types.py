"""The bundled meeting types other than the congress, end to end, round-tripping state between every step."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from workflows import Engine, Instance, WorkflowError

BUNDLED = Path(__file__).resolve().parents[2] / "bpmn"
VERSION = 1
BPMN_NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
BA, SA = "branch_admin", "superior_admin"

NAMES = {
    "committee_meeting": "支部委员会",
    "theme_day": "主题党日",
    "group_meeting": "党小组会",
    "party_class": "党课",
    "org_life_meeting": "组织生活会和民主评议党员",
}
QUORUM_TYPES = {  # type -> the variable its 过半数 gate reads
    "committee_meeting": "feedback_ratio",
    "theme_day": "voting_feedback_ratio",
    "org_life_meeting": "voting_feedback_ratio",
}
TIMER_TYPES = ("group_meeting", "party_class")
REVIEWED_TYPES = ("committee_meeting", "org_life_meeting")  # 审核 may return the minutes
APPRAISED_TYPES = ("org_life_meeting",)  # 上传会议记录 sets `appraised`: is the 民主评议 already done?
ACKNOWLEDGED_TYPES = ("theme_day", "party_class")  # 审阅 cannot reject

# (spec_id, name, lane, action, due) of every user task, in order.
NOTIFY = ("notify", "发通知", BA, "meeting.notify", None)
CLOSE_FEEDBACK = ("close_feedback", "截止反馈", BA, "meeting.close_feedback", None)
RESCHEDULE = ("reschedule", "改期或取消", BA, "meeting.reschedule", None)
RECORD_MINUTES = ("record_minutes", "上传会议记录", BA, "meeting.record_minutes", "P7D")
SUBMIT = ("submit", "提交报审", BA, "review.submit", "P3D")
FILE_REPORT = ("submit", "报备", BA, "review.submit", "P3D")
DECIDE = ("decide", "审核", SA, "review.decide", "P7D")
ACKNOWLEDGE = ("acknowledge", "审阅", SA, "review.acknowledge", "P7D")
CONFIRM = ("confirm", "支部确认", BA, "review.confirm", "P3D")
SUMMARIZE = ("summarize", "党课总结", BA, "meeting.summarize", "P7D")
APPRAISAL = [
    ("close_self", "截止自评", BA, "appraisal.close_self", "P7D"),
    ("close_peer", "截止互评", BA, "appraisal.close_peer", "P7D"),
    ("rate", "支部评定等次", BA, "appraisal.rate", "P7D"),
]
HAPPY_PATHS = {
    "committee_meeting": [NOTIFY, CLOSE_FEEDBACK, RECORD_MINUTES, SUBMIT, DECIDE],
    "theme_day": [NOTIFY, CLOSE_FEEDBACK, RECORD_MINUTES, FILE_REPORT, ACKNOWLEDGE],
    "group_meeting": [NOTIFY, RECORD_MINUTES, CONFIRM],
    "party_class": [NOTIFY, RECORD_MINUTES, SUMMARIZE, FILE_REPORT, ACKNOWLEDGE],
    "org_life_meeting": [NOTIFY, CLOSE_FEEDBACK, RECORD_MINUTES, *APPRAISAL, SUBMIT, DECIDE],
}
QUORUM_MET = {"feedback_ratio": 0.8, "voting_feedback_ratio": 0.8}
HALF = {"feedback_ratio": 0.5, "voting_feedback_ratio": 0.5}  # exactly half is not *more* than half


def iso_in(seconds: float) -> str:
    """An ISO 8601 timestamp with a UTC offset, ``seconds`` from now."""
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


class Driver:
    """Plays the service for one process type: keeps only the JSON state between requests."""

    def __init__(self, engine: Engine, key: str, data: dict | None = None) -> None:
        self.engine = engine
        self.key = key
        self.xml = (BUNDLED / f"{key}.bpmn").read_bytes()
        self.loads = 0
        self.lanes_seen: list[str | None] = []
        self.done: list[str] = []  # spec_id of every completed task, in order
        self.state = ""
        self._save(engine.start(key, VERSION, self._load_xml, data if data is not None else {"meeting_id": 7}))

    def _load_xml(self) -> bytes:
        self.loads += 1
        return self.xml

    def _save(self, instance: Instance) -> Instance:
        text = instance.dumps()
        doc = json.loads(text)
        assert doc["serializer_version"] == Instance.SERIALIZER_VERSION and doc["process"] == self.key
        assert "spec" not in doc and "task_specs" not in text and "formKey" not in text
        self.state = text
        instance = self.instance()
        self.lanes_seen += [t.lane for t in instance.ready_tasks()]
        return instance

    def instance(self) -> Instance:
        """Load the instance from the saved state."""
        return self.engine.load(self.key, VERSION, self._load_xml, self.state)

    def ready(self) -> list[tuple]:
        """(spec_id, name, lane, action, due) of every ready task."""
        return [(t.spec_id, t.name, t.lane, t.action, t.due) for t in self.instance().ready_tasks()]

    def do(self, spec_id: str, data: dict | None = None) -> Instance:
        """Complete the single ready task, which must be ``spec_id``; save and reload the state."""
        instance = self.instance()
        ready = instance.ready_tasks()
        assert [t.spec_id for t in ready] == [spec_id]
        instance.complete(ready[0].id, data or {})
        self.done.append(spec_id)
        return self._save(instance)

    def refresh(self) -> Instance:
        """What the clock does: fire due timers; save and reload the state."""
        instance = self.instance()
        instance.refresh()
        return self._save(instance)


def step_data(key: str, spec_id: str, appraised: bool = False) -> dict:
    """The data a happy-path user (and the service's actions) submit for ``spec_id`` of ``key``.

    For the types with a 民主评议, record_minutes carries ``appraised`` as the service computes it: false the first
    time, true on a revision after a return (every member already has the branch's rating).
    """
    if spec_id == "record_minutes" and key in APPRAISED_TYPES:
        return {"appraised": appraised}
    return {"close_feedback": QUORUM_MET, "decide": {"approved": True}}.get(spec_id, {})


def start_data(key: str) -> dict:
    """Initial data; timed types get a meeting time that has already passed."""
    return {"meeting_id": 7, **({"scheduled_at": iso_in(-2)} if key in TIMER_TYPES else {})}


def walk(driver: Driver, steps: list[tuple], appraised: bool = False) -> Instance:
    """Complete ``steps`` in order, checking each ready task's details first."""
    instance = driver.instance()
    for step in steps:
        assert driver.ready() == [step]
        instance = driver.do(step[0], step_data(driver.key, step[0], appraised))
    return instance


def path_until(key: str, step: tuple) -> list[tuple]:
    """The happy path of ``key`` up to, not including, ``step``."""
    path = HAPPY_PATHS[key]
    return path[:path.index(step)]


def _process(key: str) -> etree._Element:
    return etree.fromstring((BUNDLED / f"{key}.bpmn").read_bytes()).find("bpmn:process", BPMN_NS)


# --- definitions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(NAMES))
def test_definition_info(engine, key):
    info = engine.validate((BUNDLED / f"{key}.bpmn").read_bytes())
    assert (info.key, info.name, info.category) == (key, NAMES[key], "meeting")
    lanes = [name for name, _, _ in info.lanes]
    assert lanes == ([BA] if key == "group_meeting" else [BA, SA])


@pytest.mark.parametrize("key", sorted(NAMES))
def test_every_flow_node_is_in_a_lane(key):
    process = _process(key)
    refs = [r.text for r in process.iterfind(".//bpmn:flowNodeRef", BPMN_NS)]
    nodes = [el.get("id") for el in process
             if etree.QName(el).localname not in ("laneSet", "sequenceFlow", "extensionElements")]
    assert sorted(refs) == sorted(nodes)


# --- happy paths -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(HAPPY_PATHS))
def test_happy_path(engine, key):
    driver = Driver(engine, key, start_data(key))
    done = walk(driver, HAPPY_PATHS[key])
    assert done.completed
    assert done.ready_tasks() == [] and not done.has_waiting_timers()
    assert done.data["meeting_id"] == 7
    assert driver.lanes_seen == [step[2] for step in HAPPY_PATHS[key]]
    assert driver.loads == 1  # parsed once, then served from the cache


def test_group_meeting_never_involves_the_superior(engine):
    driver = Driver(engine, "group_meeting", start_data("group_meeting"))
    walk(driver, HAPPY_PATHS["group_meeting"])
    assert driver.lanes_seen and set(driver.lanes_seen) == {BA}
    process = _process("group_meeting")
    assert [lane.get("name") for lane in process.iterfind(".//bpmn:lane", BPMN_NS)] == [BA]


# --- the 过半数 gate ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(QUORUM_TYPES))
def test_exactly_half_fails_the_gate_and_cancel_ends_it(engine, key):
    driver = Driver(engine, key)
    driver.do("notify")
    driver.do("close_feedback", HALF)
    assert driver.ready() == [RESCHEDULE]
    done = driver.do("reschedule", {"cancelled": True})
    assert done.completed and done.ready_tasks() == []
    assert done.data["cancelled"] is True and "approved" not in done.data
    assert driver.lanes_seen == [BA, BA, BA]


@pytest.mark.parametrize("key", sorted(QUORUM_TYPES))
def test_reschedule_goes_back_to_notify(engine, key):
    driver = Driver(engine, key)
    driver.do("notify")
    driver.do("close_feedback", HALF)
    instance = driver.do("reschedule", {"cancelled": False, "new_time": "2024-07-01T09:00"})
    assert not instance.completed
    assert driver.ready() == [NOTIFY]
    driver.do("notify")
    driver.do("close_feedback", {"feedback_ratio": 0.9, "voting_feedback_ratio": 0.9})
    assert driver.ready() == [RECORD_MINUTES]
    assert driver.instance().data["new_time"] == "2024-07-01T09:00"


@pytest.mark.parametrize("key", sorted(QUORUM_TYPES))
def test_gate_reads_its_own_ratio(engine, key):
    variable = QUORUM_TYPES[key]
    other = "voting_feedback_ratio" if variable == "feedback_ratio" else "feedback_ratio"
    failing = Driver(engine, key)
    failing.do("notify")
    failing.do("close_feedback", {variable: 0.5, other: 1.0})
    assert failing.ready() == [RESCHEDULE]
    passing = Driver(engine, key)
    passing.do("notify")
    passing.do("close_feedback", {variable: 0.51, other: 0.0})
    assert passing.ready() == [RECORD_MINUTES]


@pytest.mark.parametrize("key", sorted(QUORUM_TYPES))
def test_missing_ratio_names_the_gate(engine, key):
    variable = QUORUM_TYPES[key]
    other = "voting_feedback_ratio" if variable == "feedback_ratio" else "feedback_ratio"
    driver = Driver(engine, key)
    driver.do("notify")
    instance = driver.instance()
    with pytest.raises(WorkflowError) as info:
        instance.complete(instance.ready_tasks()[0].id, {other: 1.0})
    assert info.value.element_id == "gw_quorum" and variable in info.value.message
    assert [step[0] for step in driver.ready()] == ["close_feedback"]  # the saved state is untouched


# --- 审核 / 审阅 ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", REVIEWED_TYPES)
def test_return_then_approve(engine, key):
    driver = Driver(engine, key)
    path = HAPPY_PATHS[key]
    walk(driver, path[:-1])
    returned = driver.do("decide", {"approved": False, "comment": "补充签到表"})
    assert not returned.completed
    assert driver.ready() == [RECORD_MINUTES]
    first_pass = len(driver.done)
    walk(driver, [RECORD_MINUTES, SUBMIT], appraised=True)  # the 民主评议 (if any) is not redone
    assert driver.ready() == [DECIDE]
    done = driver.do("decide", {"approved": True})
    assert done.completed and done.data["comment"] == "补充签到表"
    assert driver.done[first_pass:] == ["record_minutes", "submit", "decide"]
    assert driver.lanes_seen.count(SA) == 2
    if key in APPRAISED_TYPES:
        assert done.data["appraised"] is True
        assert [driver.done.count(step[0]) for step in APPRAISAL] == [1, 1, 1]


# --- 组织生活会: the 已完成评议? gate ------------------------------------------------------------------------------------


def test_org_life_appraisal_gate_definition():
    process = _process("org_life_meeting")
    gateway = process.find("bpmn:exclusiveGateway[@id='gw_appraised']", BPMN_NS)
    assert gateway is not None
    assert (gateway.get("name"), gateway.get("default")) == ("已完成评议?", "flow_appraise")
    flows = {f.get("id"): f for f in process.findall("bpmn:sequenceFlow", BPMN_NS)}
    route = {fid: (f.get("sourceRef"), f.get("targetRef"), f.get("name")) for fid, f in flows.items()}
    assert route["flow_minutes_recorded"] == ("record_minutes", "gw_appraised", None)
    assert route["flow_already_appraised"] == ("gw_appraised", "submit", "已评议")
    assert route["flow_appraise"] == ("gw_appraised", "close_self", "评议")
    assert route["flow_returned"] == ("gw_approved", "record_minutes", "退回修改")
    condition = flows["flow_already_appraised"].find("bpmn:conditionExpression", BPMN_NS)
    assert condition.text == "appraised"
    assert condition.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "bpmn:tFormalExpression"
    assert flows["flow_appraise"].find("bpmn:conditionExpression", BPMN_NS) is None
    out_of_minutes = [f.get("targetRef") for f in flows.values() if f.get("sourceRef") == "record_minutes"]
    assert out_of_minutes == ["gw_appraised"]


def test_org_life_revision_without_ratings_redoes_the_appraisal(engine):
    """If the service finds members still unrated after a return, the 民主评议 runs again."""
    driver = Driver(engine, "org_life_meeting")
    path = HAPPY_PATHS["org_life_meeting"]
    walk(driver, path[:-1])
    driver.do("decide", {"approved": False})
    walk(driver, path[path.index(RECORD_MINUTES):], appraised=False)
    assert driver.instance().completed
    assert [driver.done.count(step[0]) for step in APPRAISAL] == [2, 2, 2]


def test_missing_appraised_names_the_gate(engine):
    driver = Driver(engine, "org_life_meeting")
    walk(driver, path_until("org_life_meeting", RECORD_MINUTES))
    instance = driver.instance()
    with pytest.raises(WorkflowError) as info:
        instance.complete(instance.ready_tasks()[0].id, {})
    assert info.value.element_id == "gw_appraised" and "appraised" in info.value.message
    assert driver.ready() == [RECORD_MINUTES]  # the saved state is untouched


@pytest.mark.parametrize("key", ACKNOWLEDGED_TYPES)
def test_acknowledge_leads_straight_to_the_end(engine, key):
    driver = Driver(engine, key, start_data(key))
    walk(driver, HAPPY_PATHS[key][:-1])
    assert driver.ready() == [ACKNOWLEDGE]
    done = driver.do("acknowledge", {"approved": False})  # 审阅 has no way to say no
    assert done.completed and done.ready_tasks() == []
    process = _process(key)
    ids = {el.get("id") for el in process.iter() if el.get("id")}
    assert not ids & {"decide", "gw_approved", "flow_returned"}
    flows = process.findall("bpmn:sequenceFlow", BPMN_NS)
    assert [f.get("targetRef") for f in flows if f.get("sourceRef") == "acknowledge"] == ["end_completed"]
    into_minutes = {f.get("sourceRef") for f in flows if f.get("targetRef") == "record_minutes"}
    assert into_minutes in ({"gw_quorum"}, {"at_meeting_time"})  # nothing sends the minutes back


# --- the meeting-time timer --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", TIMER_TYPES)
def test_waits_for_a_future_meeting_time(engine, key):
    driver = Driver(engine, key, {"scheduled_at": iso_in(24 * 3600)})
    waiting = driver.do("notify")
    assert waiting.ready_tasks() == [] and not waiting.completed
    assert waiting.has_waiting_timers()
    for _ in range(2):
        waiting = driver.refresh()  # the clock ticks, but the meeting is tomorrow
        assert waiting.ready_tasks() == [] and waiting.has_waiting_timers()


@pytest.mark.parametrize("key", TIMER_TYPES)
def test_meeting_time_in_the_past_goes_straight_to_minutes(engine, key):
    driver = Driver(engine, key, {"scheduled_at": iso_in(-2)})
    instance = driver.do("notify")
    assert not instance.has_waiting_timers()  # the timer is due as soon as it is reached
    assert driver.ready() == [RECORD_MINUTES]
    assert driver.refresh().ready_tasks()[0].spec_id == "record_minutes"  # refreshing again is harmless


@pytest.mark.parametrize("key", TIMER_TYPES)
def test_refresh_fires_the_timer_once_due(engine, key):
    when = datetime.now(timezone.utc) + timedelta(seconds=0.3)
    driver = Driver(engine, key, {"scheduled_at": when.isoformat()})
    assert driver.do("notify").has_waiting_timers()
    time.sleep(max(0.0, (when - datetime.now(timezone.utc)).total_seconds()) + 0.05)
    fired = driver.refresh()
    assert not fired.has_waiting_timers()
    assert driver.ready() == [RECORD_MINUTES]


@pytest.mark.parametrize("key", TIMER_TYPES)
def test_missing_meeting_time_names_the_timer(engine, key):
    driver = Driver(engine, key, {})
    instance = driver.instance()
    with pytest.raises(WorkflowError) as info:
        instance.complete(instance.ready_tasks()[0].id, {})
    assert info.value.element_id == "at_meeting_time" and "scheduled_at" in info.value.message


@pytest.mark.parametrize("bad", ["2024/07/01 09:00", "PT1H", "tomorrow", 20240701])
def test_malformed_meeting_time_is_a_workflow_error_not_a_stuck_instance(engine, bad):
    driver = Driver(engine, "group_meeting", {"scheduled_at": bad})
    instance = driver.instance()
    with pytest.raises(WorkflowError):
        instance.complete(instance.ready_tasks()[0].id, {})
    with pytest.raises(WorkflowError):  # poisoned: the caller must reload, so the bad state is never saved
        instance.dumps()
