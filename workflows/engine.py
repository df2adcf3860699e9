"""The public engine facade used by the service layer."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Callable
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from . import state as codec
from . import migration, structure, validation, xmlsafe
from .errors import BpmnValidationError, WorkflowError
from .runtime import FastWorkflow, json_copy, tasks_in_state
from .script_engine import SafeScriptEngine
from .specs import CompiledSpec, SpecCache, build_specs

ROLE_LANES = frozenset({
    "branch_admin", "superior_admin", "member", "sending_admin", "receiving_admin", "platform_admin",
})
DEFAULT_MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class DefinitionInfo:
    """What the service needs to store about a validated BPMN definition."""

    key: str
    name: str
    category: str
    sha256: str
    lanes: tuple = ()  # (name, element id, line) of every lane, for routing checks by the caller


@dataclass(frozen=True)
class ReadyTask:
    """A manual or user task waiting for a person."""

    id: str
    spec_id: str
    name: str
    lane: str | None
    action: str | None
    due: str | None


class Engine:
    """Validates BPMN definitions and starts/loads instances of them."""

    def __init__(self, *, actions: Collection[str], lanes: Collection[str] = ROLE_LANES,
                 max_bytes: int = DEFAULT_MAX_BYTES, cache_size: int = 128) -> None:
        self.actions = frozenset(actions)
        self.lanes = frozenset(lanes)
        self.max_bytes = max_bytes
        self.cache = SpecCache(cache_size)
        self.script_engine = SafeScriptEngine()

    def validate(self, xml: bytes | str) -> DefinitionInfo:
        """Check a BPMN document completely; raise BpmnValidationError listing all problems."""
        info, _ = self._compile(xml)
        return info

    def start(self, key: str, version: int, load_xml: Callable[[], bytes], data: dict) -> Instance:
        """Create a new instance with initial ``data`` and run it until it waits."""
        compiled = self._spec(key, version, load_xml)
        workflow = FastWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=self.script_engine)
        instance = Instance(compiled, version, workflow)
        instance._start(_checked_data(data))
        return instance

    def load(self, key: str, version: int, load_xml: Callable[[], bytes], state: str) -> Instance:
        """Restore an instance from ``Instance.dumps`` output."""
        compiled = self._spec(key, version, load_xml)
        doc = codec.decode(state)
        if doc.get("process") != key:
            raise WorkflowError(f"state belongs to process {doc.get('process')!r}, not {key!r}")
        try:
            workflow = codec.restore(doc, compiled.spec, compiled.subprocess_specs, self.script_engine)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise WorkflowError(f"corrupt workflow state: {exc!r}") from None
        return Instance(compiled, version, workflow)

    def migrate(self, key: str, from_version: int, load_from: Callable[[], bytes], to_version: int,
                load_to: Callable[[], bytes], state: str) -> Instance:
        """Restore an instance saved on ``from_version`` and move it onto ``to_version``.

        Raises ``migration.MigrationRefused`` (a WorkflowError with ``reasons``) when the change is not compatible.
        """
        old = self.load(key, from_version, load_from, state)
        new = self._spec(key, to_version, load_to)
        try:
            migration.migrate(old._workflow, new.spec, to_version)
        except migration.MigrationRefused:
            raise
        except (SpiffWorkflowException, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise migration.MigrationRefused([{"element_id": getattr(getattr(exc, "task_spec", None), "bpmn_id", None),
                                               "state": None, "message": f"cannot migrate: {exc}"}]) from None
        return Instance(new, to_version, old._workflow)

    def structure(self, xml: bytes | str) -> dict:
        """Process properties and user tasks of a BPMN document (parsed safely, not validated)."""
        root = xmlsafe.parse(xmlsafe.to_bytes(xml), self.max_bytes)
        return {"key": structure.process_key(root), "properties": structure.properties(root),
                "lanes": structure.lanes(root), "user_tasks": structure.user_tasks(root)}

    def diff(self, old_xml: bytes | str, new_xml: bytes | str) -> dict:
        """Elements added, removed and changed between two BPMN documents (DI ignored)."""
        return structure.diff(xmlsafe.parse(xmlsafe.to_bytes(old_xml), self.max_bytes),
                              xmlsafe.parse(xmlsafe.to_bytes(new_xml), self.max_bytes))

    def _spec(self, key: str, version: int, load_xml: Callable[[], bytes]) -> CompiledSpec:
        def build() -> CompiledSpec:
            """Parse and validate the stored XML (cache miss only)."""
            info, compiled = self._compile(load_xml())
            if info.key != key:
                raise WorkflowError(f"BPMN defines process {info.key!r}, expected {key!r}")
            return compiled
        return self.cache.get((key, version), build)

    def _compile(self, xml: bytes | str) -> tuple[DefinitionInfo, CompiledSpec]:
        data = xmlsafe.to_bytes(xml)
        root = xmlsafe.parse(data, self.max_bytes)
        checked = validation.validate_tree(root, self.actions, self.lanes)
        if checked.errors:
            raise BpmnValidationError(checked.errors)
        spec, subprocess_specs = build_specs(root, checked.key)
        info = DefinitionInfo(checked.key, checked.name, checked.category, hashlib.sha256(data).hexdigest(),
                              tuple(checked.lanes))
        return info, CompiledSpec(checked.key, spec, subprocess_specs, dict(checked.due))


class Instance:
    """One running (or finished) process instance."""

    SERIALIZER_VERSION = codec.SERIALIZER_VERSION

    def __init__(self, compiled: CompiledSpec, version: int, workflow: FastWorkflow) -> None:
        self._compiled = compiled
        self._version = version
        self._workflow = workflow
        self._broken: str | None = None

    @property
    def completed(self) -> bool:
        """True once the process has reached its end."""
        return self._workflow.is_completed()

    @property
    def data(self) -> dict:
        """A copy of the process variables as of now (what gateways read)."""
        wf = self._workflow
        if wf.is_completed():
            return json_copy(wf.data)
        merged: dict = json_copy(wf.last_task.data) if wf.last_task is not None else {}
        for task in tasks_in_state(wf, TaskState.READY | TaskState.WAITING):
            merged.update(json_copy(task.data))
        return merged

    def has_waiting_timers(self) -> bool:
        """True while a timer event is waiting, i.e. the clock should ``refresh`` this instance."""
        waiting = tasks_in_state(self._workflow, TaskState.WAITING)
        return any(isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)
                   for t in waiting)

    def ready_tasks(self) -> list[ReadyTask]:
        """READY manual/user tasks, in a stable order."""
        self._usable()
        tasks = tasks_in_state(self._workflow, TaskState.READY)
        return [self._describe(t) for t in tasks if t.task_spec.manual]

    def complete(self, task_id: str, data: dict) -> None:
        """Merge ``data`` into a READY user task, run it, then run engine steps until waiting."""
        self._usable()
        task = self._ready_task(task_id)
        task.data.update(json_copy(_checked_data(data)))
        self._guarded(task.task_spec.bpmn_id, task.run)
        self._guarded(task.task_spec.bpmn_id, self._workflow.do_engine_steps)

    def refresh(self) -> None:
        """Fire timers that are due, then run engine steps."""
        self._usable()
        self._guarded(None, self._workflow.refresh_timers)
        self._guarded(None, self._workflow.do_engine_steps)

    def cancel(self) -> None:
        """Cancel every unfinished task of the instance."""
        self._usable()
        self._guarded(None, self._workflow.cancel)

    def dumps(self) -> str:
        """JSON state without any spec; feed it back to ``Engine.load``."""
        self._usable()
        return codec.dumps(self._workflow, self._compiled.key, self._version)

    def _start(self, data: dict) -> None:
        # Descendants inherit the root's data as they become ready.
        self._workflow.task_tree.data.update(json_copy(data))
        self._guarded(None, self._workflow.do_engine_steps)

    def _describe(self, task) -> ReadyTask:
        spec = task.task_spec
        form = getattr(spec, "form", None)
        spec_id = spec.bpmn_id or spec.name
        return ReadyTask(
            id=str(task.id), spec_id=spec_id, name=spec.bpmn_name or spec_id, lane=spec.lane,
            action=(form.key or None) if form is not None else None,
            due=self._compiled.due.get(spec_id),
        )

    def _ready_task(self, task_id: str):
        try:
            task = self._workflow.get_task_from_id(UUID(str(task_id)))
        except (ValueError, SpiffWorkflowException):
            task = None
        if task is None:
            raise WorkflowError(f"unknown task id {task_id!r}")
        if task.state != TaskState.READY or not task.task_spec.manual:
            state_name = TaskState.get_name(task.state)
            raise WorkflowError(f"task is not a ready user task (state {state_name})", task.task_spec.bpmn_id)
        return task

    def _guarded(self, element_id: str | None, step: Callable[[], object]) -> None:
        # A failure mid-step leaves SpiffWorkflow's tree half-updated, so the
        # instance is poisoned: the caller must reload the last saved state.
        try:
            step()
        except WorkflowError as exc:
            self._broken = exc.message
            raise
        except SpiffWorkflowException as exc:
            self._broken = str(exc)
            spec = getattr(exc, "task_spec", None)
            raise WorkflowError(str(exc), getattr(spec, "bpmn_id", None) or element_id) from None
        except (ValueError, TypeError, AttributeError) as exc:
            # SpiffWorkflow lets some bad data escape raw (e.g. a malformed timer date); never save that state.
            self._broken = f"{type(exc).__name__}: {exc}"
            raise WorkflowError(f"bad process data: {exc}", element_id) from None

    def _usable(self) -> None:
        if self._broken is not None:
            raise WorkflowError(f"instance failed earlier ({self._broken}); reload it from saved state")


def _checked_data(data: dict) -> dict:
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise WorkflowError("data must be a dict with string keys")
    return data
