"""Moving a running instance to a newer version of its process, when the change allows it.

SpiffWorkflow's diff helpers align the old and new task specs by BPMN id (``SpecDiff``) and map the
instance's tasks onto them (``WorkflowDiff``); ``migrate_workflow`` then swaps the spec and re-predicts what
lies ahead of the tasks now waiting. We refuse, with every reason, when a step the instance has already been
through or is waiting at was removed, or a step it is waiting at changed: the person in front of that task
would otherwise be doing something the new version does not describe.
"""

from __future__ import annotations

from functools import lru_cache

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from .errors import WorkflowError

_UNDER_WAY = TaskState.READY | TaskState.WAITING | TaskState.STARTED
# Where a waiting step leads may change (what lies ahead is predicted again); how it was reached is checked
# separately, against the path this instance actually took.
_IGNORED_CHANGES = frozenset({"documentation", "inputs", "outputs"})


class MigrationRefused(WorkflowError):
    """The instance cannot move to the new version; ``reasons`` says why, one line per step."""

    def __init__(self, reasons: list[dict]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(r["message"] for r in reasons))


@lru_cache(maxsize=1)
def _registry():
    return BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)


def migrate(workflow, new_spec, to_version: int) -> None:
    """Move ``workflow`` onto ``new_spec`` in place, or raise MigrationRefused without touching it."""
    reasons = _refusals(workflow, new_spec, to_version)
    if reasons:
        raise MigrationRefused(reasons)
    diff = WorkflowDiff(workflow, SpecDiff(_registry(), workflow.spec, new_spec))
    migrate_workflow(diff, workflow, new_spec)
    stale = [t for t in workflow.tasks.values() if new_spec.task_specs.get(t.task_spec.name) is not t.task_spec]
    if stale:  # defensive: every task must now point into the new spec, or the saved state could not load
        raise MigrationRefused([_reason(t, to_version, "has no counterpart in version {v}") for t in stale])


def _refusals(workflow, new_spec, to_version: int) -> list[dict]:
    if workflow.subprocesses:
        return [{"element_id": None, "state": None,
                 "message": "instances inside a sub-process cannot be migrated; let them finish on their version"}]
    spec_diff = SpecDiff(_registry(), workflow.spec, new_spec)
    diff = WorkflowDiff(workflow, spec_diff)
    reasons = []
    for task in diff.removed:
        if task.state & (TaskState.FINISHED_MASK | _UNDER_WAY):
            done = task.state & TaskState.FINISHED_MASK
            reasons.append(_reason(task, to_version, "was already passed and is gone from version {v}" if done
                                   else "is where the instance waits and is gone from version {v}"))
    for task in diff.changed:
        fields = [f for f in spec_diff.changed[task.task_spec] if f not in _IGNORED_CHANGES]
        if fields and task.state & _UNDER_WAY:
            reasons.append(_reason(task, to_version, "is where the instance waits and changed in version {v} "
                                   f"({', '.join(sorted(fields))})"))
    for task in workflow.get_tasks(state=_UNDER_WAY, skip_subprocesses=True):
        if not _reached_the_same_way(task, spec_diff):
            reasons.append(_reason(task, to_version, "is where the instance waits and is reached differently in "
                                   "version {v} (a step, fork or boundary event was added before it)"))
    return _unique(reasons)


def _reached_the_same_way(task, spec_diff) -> bool:
    # The waiting task keeps its place in the tree: its parent's counterpart must still lead to it, or the
    # joins and splits of the new version wait for tokens this instance never produced.
    new = spec_diff.alignment.get(task.task_spec)
    parent = task.parent
    if new is None or parent is None:
        return True  # removed steps are reported above; the root has no parent
    return spec_diff.alignment.get(parent.task_spec) in new.inputs


def _reason(task, version: int, text: str) -> dict:
    spec = task.task_spec
    element = getattr(spec, "bpmn_id", None) or spec.name
    label = getattr(spec, "bpmn_name", None) or element
    return {"element_id": element, "state": TaskState.get_name(task.state),
            "message": f"step {label!r} ({element}) " + text.format(v=version)}


def _unique(reasons: list[dict]) -> list[dict]:
    seen, out = set(), []
    for reason in reasons:
        if reason["message"] not in seen:
            seen.add(reason["message"])
            out.append(reason)
    return out
