"""Moving running instances of a process to a newer version (platform admins).

Each instance is checked by the engine (SpiffWorkflow's spec diff): it moves only when no step it has passed or
waits at was removed and no step it waits at changed; otherwise it stays on its version and the answer says
why. The open inbox rows keep their ids (the waiting tasks are the same tasks); what lies ahead follows the new
version. Instances are locked in id order, so a migration and a task completion never interleave on one
instance. ``dry_run`` reports what would happen and changes nothing.
"""
from sqlalchemy import select

from workflows import MigrationRefused, WorkflowError

from ..database import lock_row, transactional
from ..errors import ApiError
from ..extensions import db
from ..models import ProcessDefinition, ProcessInstance
from . import access, definitions, runtime

MAX_PER_CALL = 5_000


@transactional
def migrate(user, key: str, data: dict) -> dict:
    """{to_version, migrated: [{instance_id, from_version}], refused: [{instance_id, from_version, reasons}]}."""
    access.require_platform_admin(user)
    target = _target(key, data.get("to_version"))
    ids, refused = _candidates(key, target.version, data.get("from_version"), data.get("instance_ids"))
    migrated = []
    for instance_id in ids:
        instance = lock_row(ProcessInstance, instance_id, undefer=(ProcessInstance.state,))
        if instance.status != "running" or instance.process_version == target.version:
            continue  # finished or moved meanwhile
        source = instance.process_version
        try:
            wf = runtime.engine().migrate(key, source, runtime.xml_loader(key, source), target.version,
                                          runtime.xml_loader(key, target.version), instance.state)
        except MigrationRefused as refusal:
            refused.append({"instance_id": instance.id, "from_version": source, "reasons": refusal.reasons})
            continue
        except WorkflowError as error:
            refused.append({"instance_id": instance.id, "from_version": source,
                            "reasons": [{"element_id": error.element_id, "state": None, "message": error.message}]})
            continue
        migrated.append({"instance_id": instance.id, "from_version": source,
                         "subject": {"kind": instance.subject_kind, "id": instance.subject_id}})
        if not data.get("dry_run"):
            runtime.move_to_version(instance, wf, target.version, user)
    return {"key": key, "to_version": target.version, "dry_run": bool(data.get("dry_run")),
            "migrated": migrated, "refused": refused}


def _target(key: str, version: int | None) -> ProcessDefinition:
    """The version to move to: the newest enabled one unless named; never a disabled one."""
    latest = definitions.latest_enabled(key)  # 422 when the type is switched off or has no enabled version
    if version is None:
        return latest
    target = definitions.get_definition(key, version)
    if not target.enabled:
        raise ApiError("version_disabled", 422, f"Version {version} of '{key}' is switched off; switch it on first.",
                       errors={"to_version": ["disabled"]})
    return target


def _candidates(key: str, to_version: int, from_version: int | None,
                instance_ids: list[int] | None) -> tuple[list[int], list[dict]]:
    """Running instances on older versions (ids in order) and the named ones that cannot move (newer or same)."""
    query = select(ProcessInstance.id, ProcessInstance.process_version).where(
        ProcessInstance.process_key == key, ProcessInstance.status == "running")
    if from_version is not None:
        query = query.where(ProcessInstance.process_version == from_version)
    if instance_ids:
        query = query.where(ProcessInstance.id.in_(instance_ids))
    rows = db.session.execute(query.order_by(ProcessInstance.id)).all()
    if instance_ids:
        missing = sorted(set(instance_ids) - {r.id for r in rows})
        if missing:
            raise ApiError("instance_not_found", 404, f"No running instances of '{key}' with ids {missing}.",
                           errors={"instance_ids": missing})
    ids = [r.id for r in rows if r.process_version < to_version]  # instances only move forward
    refused = [{"instance_id": r.id, "from_version": r.process_version, "reasons": [{
        "element_id": None, "state": None, "message": f"runs on version {r.process_version}, not older than "
                                                      f"version {to_version}: instances only move forward"}]}
        for r in rows if instance_ids and r.process_version >= to_version]
    if len(ids) > MAX_PER_CALL:
        raise ApiError("too_many_instances", 422, f"{len(ids)} instances; migrate at most {MAX_PER_CALL} per call "
                       "(name from_version or instance_ids).", errors={"instance_ids": ["too many"]})
    return ids, refused
