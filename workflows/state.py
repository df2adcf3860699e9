"""Compact JSON persistence of workflow *state* only.

The spec is never written: it is rebuilt from the stored BPMN (and cached), so
a saved instance is just its task tree and data.  Restoring attaches that state
to the cached spec, which is much cheaper than SpiffWorkflow's default
serializer re-creating every task spec on each load.
"""

from __future__ import annotations

import json
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .errors import WorkflowError
from .runtime import FastWorkflow, json_copy

SERIALIZER_VERSION = "orglife-state/1"


def dumps(workflow: BpmnWorkflow, key: str, version: int) -> str:
    """Serialise the workflow's state (never its spec) to a JSON string."""
    table: list[dict] = []
    subs = {str(tid): _encode_workflow(sp, table) for tid, sp in workflow.subprocesses.items()}
    doc = {
        "serializer_version": SERIALIZER_VERSION, "process": key, "version": version,
        "workflow": _encode_workflow(workflow, table), "subprocesses": subs, "data_table": table,
    }
    try:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise WorkflowError(f"process data must be JSON serialisable: {exc}") from None


def decode(text: str) -> dict:
    """Parse a dump and check its serializer version; ``restore`` consumes the result."""
    try:
        doc = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise WorkflowError(f"workflow state is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("serializer_version") != SERIALIZER_VERSION:
        found = doc.get("serializer_version") if isinstance(doc, dict) else None
        raise WorkflowError(f"unsupported workflow state version {found!r}")
    return doc


def restore(doc: dict, spec, subprocess_specs: dict, script_engine) -> FastWorkflow:
    """Rebuild a workflow from a decoded dump on top of an existing (cached) spec."""
    table = doc["data_table"]
    workflow = FastWorkflow(spec, subprocess_specs, script_engine=script_engine, deserializing=True)
    _restore_workflow(workflow, doc["workflow"], table)
    _restore_subprocesses(workflow, workflow, doc["subprocesses"], table)
    return workflow


def _encode_workflow(wf, table: list[dict]) -> dict:
    rows, order = _encode_tasks(wf, table)
    return {
        "data": wf.data, "success": wf.success, "completed": wf.completed,
        "correlations": wf.correlations,
        "last_task": order.get(wf.last_task.id) if wf.last_task is not None else None,
        "ids": [str(tid) for tid in order], "tasks": rows,
    }


def _encode_tasks(wf, table: list[dict]) -> tuple[list[list], dict]:
    # Tasks are numbered in depth-first order (root = 0) and refer to each other
    # by number, so each UUID is written and parsed exactly once.
    order: dict = {}
    stack = [wf.task_tree]
    while stack:
        task = stack.pop()
        order[task.id] = len(order)
        stack.extend(reversed(task.children))
    rows, data_row = [], {}
    for task in (wf.tasks[tid] for tid in order):
        parent = data_row.get(task._parent)
        if parent is None or table[parent] != task.data:
            parent = len(table)
            table.append(task.data)
        data_row[task.id] = parent
        rows.append(_encode_task(task, order, parent))
    return rows, order


def _encode_task(task: Task, order: dict, data_row: int) -> list:
    return [
        order.get(task._parent), [order[c] for c in task._children], task._state,
        task.task_spec.name, task.triggered, task.last_state_change,
        task.internal_data or None, data_row,
    ]


def _restore_workflow(wf, dct: dict, table: list[dict]) -> None:
    ids = [UUID(tid) for tid in dct["ids"]]
    for tid, row in zip(ids, dct["tasks"]):
        _restore_task(wf, tid, ids, row, table)
    wf.task_tree = wf.tasks[ids[0]]
    wf.success = dct["success"]
    wf.completed = dct["completed"]
    wf.correlations = dct["correlations"]
    wf.last_task = wf.tasks[ids[dct["last_task"]]] if dct["last_task"] is not None else None
    wf.data = dct["data"]


def _restore_task(wf, tid: UUID, ids: list[UUID], row: list, table: list[dict]) -> Task:
    parent, children, state, spec_name, triggered, changed, internal, data_row = row
    spec = wf.spec.task_specs.get(spec_name)
    if spec is None:
        raise WorkflowError(f"saved state refers to unknown element {spec_name!r}", spec_name)
    task = Task(wf, spec, state=state, id=tid)
    task._parent = ids[parent] if parent is not None else None
    task._children = [ids[c] for c in children]
    task.triggered = triggered
    task.last_state_change = changed
    task.internal_data = internal or {}
    # Finished tasks never change again, so they may share one decoded row.
    data = table[data_row]
    task.data = data if state & TaskState.FINISHED_MASK else json_copy(data)
    if state & TaskState.WAITING and isinstance(spec, CatchingEvent):
        wf.top_workflow.event_manager.add_task(task)
    return task


def _restore_subprocesses(top: BpmnWorkflow, wf, subs: dict, table: list[dict]) -> None:
    # Parents first: a sub-workflow's depth is computed from its parent task.
    for task in list(wf.tasks.values()):
        dct = subs.get(str(task.id))
        if dct is None or not isinstance(task.task_spec, SubWorkflowTask):
            continue
        spec = top.subprocess_specs[task.task_spec.spec]
        sub = BpmnSubWorkflow(spec, task.id, top, deserializing=True)
        _restore_workflow(sub, dct, table)
        top.subprocesses[task.id] = sub
        sub.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
        _restore_subprocesses(top, sub, subs, table)
