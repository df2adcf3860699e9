"""The glue between the workflow engine and the database.

Instances are stored without their spec; after every advance the READY user tasks are mirrored into
the human_task table, which is all the inbox ever reads.
"""
import re
from datetime import timedelta
from typing import Callable, Protocol

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from workflows import Engine

from .. import actions
from ..database import lock_row, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import HumanTask, ProcessDefinition, ProcessInstance, TaskEvent, User


class Subject(Protocol):
    """What the runtime needs from a kind of subject (meeting, transfer, ...)."""

    lanes: frozenset[str]  # the BPMN lanes resolve_lane can route

    def load(self, subject_id: int): ...
    def resolve_lane(self, subject, lane: str) -> tuple[int | None, int | None]: ...  # (org_id, assignee)
    def due_base(self, subject, now): ...  # camunda:dueDate counts from here (e.g. not before the meeting)
    def after_advance(self, subject, instance: ProcessInstance, open_actions: set[str],
                      opened: set[str]) -> None: ...  # opened: actions whose tasks this advance created


SUBJECTS: dict[str, Subject] = {}


def install_engine(app) -> None:
    """One engine (and so one parsed-spec cache) per app."""
    app.extensions["orglife_engine"] = Engine(actions=actions.names(),
                                              max_bytes=app.config["BPMN_MAX_BYTES"])


def engine() -> Engine:
    """The app's workflow engine."""
    return current_app.extensions["orglife_engine"]


def xml_loader(key: str, version: int) -> Callable[[], bytes]:
    def load() -> bytes:
        return db.session.scalars(select(ProcessDefinition.xml).where(
            ProcessDefinition.key == key, ProcessDefinition.version == version)).one()
    return load


def start_instance(definition: ProcessDefinition, subject_kind: str, subject, user,
                   data: dict | None = None) -> ProcessInstance:
    """Create an instance for a subject, run it to its first wait, and mirror its tasks."""
    wf = engine().start(definition.key, definition.version, xml_loader(definition.key, definition.version),
                        {"subject_kind": subject_kind, "subject_id": subject.id, **(data or {})})
    instance = ProcessInstance(process_key=definition.key, process_version=definition.version,
                               subject_kind=subject_kind, subject_id=subject.id, state="",
                               serializer_version=wf.SERIALIZER_VERSION)
    db.session.add(instance)
    db.session.flush()
    record_event(instance, None, "started", user, task_name=definition.name)
    _store(instance, wf, subject)
    return instance


def load_workflow(instance: ProcessInstance):
    """Rehydrate an instance's state against the cached spec."""
    return engine().load(instance.process_key, instance.process_version,
                         xml_loader(instance.process_key, instance.process_version), instance.state)


def complete(task: HumanTask, user, data: dict) -> tuple[HumanTask, list[HumanTask]]:
    """Complete one human task: lock, claim atomically, run the action, advance, mirror. One transaction."""
    action = actions.REGISTRY[task.action]
    payload = action.schema().load(data or {})
    instance = lock_row(ProcessInstance, task.instance_id, undefer=(ProcessInstance.state,))
    _claim_for_completion(task, user)
    subject = SUBJECTS[instance.subject_kind].load(instance.subject_id)
    wf = load_workflow(instance)
    ctx = actions.ActionContext(user=user, task=task, instance=instance, subject=subject,
                                variables=dict(wf.data))
    variables = action.handler(ctx, payload)
    wf.complete(task.spiff_task_id, variables)
    record_event(instance, task, "completed", user, comment=_comment_of(payload), data=payload)
    return task, _store(instance, wf, subject)


def _claim_for_completion(task: HumanTask, user) -> None:
    # Of two racing requests only one flips open -> completed.
    update_open_task(task, [], ApiError("task_not_open", 409, f"Task {task.id} is no longer open."),
                     state="completed", completed_at=utcnow(), completed_by=user.id)


def update_open_task(task: HumanTask, conditions: list, error: ApiError, **values) -> None:
    """A conditional UPDATE of a still-open task (the race guard); raises `error` if it matched nothing."""
    done = db.session.execute(update(HumanTask).where(HumanTask.id == task.id, HumanTask.state == "open", *conditions)
                              .values(**values).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise error
    for name, value in values.items():  # the row now holds these; no need to read it back
        set_committed_value(task, name, value)


def cancel_instance(instance: ProcessInstance, user, reason: str) -> None:
    """Cancel a running instance and close its open tasks."""
    wf = load_workflow(instance)
    wf.cancel()
    record_event(instance, None, "cancelled", user, comment=reason)
    _store(instance, wf, SUBJECTS[instance.subject_kind].load(instance.subject_id), cancelled=True)


def move_to_version(instance: ProcessInstance, wf, version: int, user) -> None:
    """Save an instance the engine has migrated onto ``version``; its subject records the version too."""
    before = instance.process_version
    subject = SUBJECTS[instance.subject_kind].load(instance.subject_id)
    instance.process_version = version
    if hasattr(subject, "process_version"):
        subject.process_version = version
    record_event(instance, None, "migrated", user, task_name=f"流程迁移到第 {version} 版",
                 comment=f"version {before} -> {version}")
    _store(instance, wf, subject)


def refresh_instance(instance: ProcessInstance) -> None:
    """Fire due timers of one instance (the clock's job)."""
    wf = load_workflow(instance)
    before = {t.id for t in wf.ready_tasks()}
    wf.refresh()
    if {t.id for t in wf.ready_tasks()} != before or wf.completed:  # the timeline shows the clock's step
        record_event(instance, None, "timer", None, task_name="时间到（自动推进）")
    _store(instance, wf, SUBJECTS[instance.subject_kind].load(instance.subject_id))


def _store(instance: ProcessInstance, wf, subject, cancelled: bool = False) -> list[HumanTask]:
    """Save the state, mirror READY tasks into the inbox table; returns the instance's open tasks."""
    instance.state = wf.dumps()
    instance.serializer_version = wf.SERIALIZER_VERSION
    instance.updated_at = utcnow()
    if cancelled:
        instance.status = "cancelled"
    elif wf.completed:
        instance.status = "completed"
    instance.has_timers = instance.status == "running" and wf.has_waiting_timers()
    open_rows, opened = _sync_tasks(instance, wf.ready_tasks() if instance.status == "running" else [], subject)
    SUBJECTS[instance.subject_kind].after_advance(subject, instance, {t.action for t in open_rows}, opened)
    return open_rows


def _sync_tasks(instance: ProcessInstance, ready, subject) -> tuple[list[HumanTask], set[str]]:
    existing = {t.spiff_task_id: t for t in db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state == "open"))}
    ready_ids = {r.id for r in ready}
    for spiff_id, row in existing.items():
        if spiff_id not in ready_ids:
            row.state = "cancelled"
    rows = [existing.get(r.id) or _new_task(instance, r, subject) for r in ready]
    db.session.add_all(rows)
    db.session.flush()
    return sorted(rows, key=lambda t: t.id), {r.action for r in ready if r.id not in existing}


def _new_task(instance: ProcessInstance, ready, subject) -> HumanTask:
    kind = SUBJECTS[instance.subject_kind]
    org_id, assignee = kind.resolve_lane(subject, ready.lane)
    now = utcnow()
    return HumanTask(instance_id=instance.id, spiff_task_id=ready.id, spec_id=ready.spec_id, name=ready.name,
                     action=ready.action, role=ready.lane, org_id=org_id, assignee_id=assignee,
                     process_key=instance.process_key, subject_kind=instance.subject_kind,
                     subject_id=instance.subject_id, created_at=now,
                     due_at=kind.due_base(subject, now) + parse_duration(ready.due) if ready.due else None)


def open_tasks(instance_id: int) -> list[HumanTask]:
    """The instance's open tasks, oldest first."""
    return list(db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.state == "open").order_by(HumanTask.id)))


def timeline(instance_id: int | None) -> list[dict]:
    """The instance's audit trail for people to read, oldest first, with each actor's username."""
    events = db.session.execute(select(TaskEvent, User.username).outerjoin(User, User.id == TaskEvent.actor_id)
                                .where(TaskEvent.instance_id == instance_id).order_by(TaskEvent.id))
    return [{"at": e.at, "actor_id": e.actor_id, "actor_name": name, "kind": e.kind, "task_name": e.task_name,
             "action": e.action, "comment": e.comment} for e, name in events]


def record_event(instance, task, kind: str, user, task_name=None, comment=None, data=None) -> TaskEvent:
    """Append to the audit trail."""
    import hashlib
    import json
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest() if data else None
    event = TaskEvent(instance_id=instance.id, task_id=task.id if task else None, kind=kind,
                      actor_id=user.id if user else None, at=utcnow(),
                      task_name=task.name if task else task_name, action=task.action if task else None,
                      comment=comment, data_digest=digest)
    db.session.add(event)
    return event


def _comment_of(payload: dict) -> str | None:
    return payload.get("comment") or payload.get("reason")


_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of weeks/days/hours/minutes/seconds (camunda:dueDate)."""
    m = _DURATION.match(text or "")
    if not m or text in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    w, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return timedelta(weeks=w, days=d, hours=h, minutes=mi, seconds=s)
