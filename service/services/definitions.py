"""Deploying BPMN: validate, version by content, list, compare versions, switch types and versions on or off."""
import hashlib
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from workflows import BpmnValidationError, BpmnTooLarge

from .. import actions
from ..database import transactional, upsert, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import ProcessDefinition, ProcessInstance, ProcessType
from . import access, runtime

HELD_BY_VALUES = ("branch", "group")
INVITEE_VALUES = ("all", "committee")
# Bundled types deployed before process properties existed.
_HELD_BY_FALLBACK = {"group_meeting": "group"}

BUNDLED_DIR = Path(__file__).resolve().parent.parent.parent / "bpmn"


def deploy(xml: bytes, user=None) -> tuple[ProcessDefinition, bool]:
    """Validate and store a new version; identical XML returns the existing version. (def, created)."""
    info, properties = check(xml)
    _require_same_kind(info, properties)
    same = db.session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.key == info.key, ProcessDefinition.sha256 == hashlib.sha256(xml).hexdigest())
        .order_by(ProcessDefinition.version.desc())).first()
    if same is not None:
        return same, False
    latest = db.session.scalar(select(func.max(ProcessDefinition.version)).where(
        ProcessDefinition.key == info.key)) or 0
    definition = ProcessDefinition(key=info.key, version=latest + 1, name=info.name, category=info.category,
                                   xml=xml, sha256=hashlib.sha256(xml).hexdigest(), enabled=True,
                                   deployed_by=user.id if user else None, properties=properties)
    try:
        with db.session.begin_nested():  # two admins deploying the same key at once: one waits for the other
            db.session.add(definition)
            db.session.flush()
    except IntegrityError:
        raise ApiError("deploy_conflict", 409, f"Another version of '{info.key}' was deployed at the same moment; "
                       "send it again.") from None
    return definition, True


def _require_same_kind(info, properties: dict) -> None:
    """A key keeps its category and holder across versions: a meeting type cannot turn into a transfer (or take
    over a bundled key of another kind), and running instances and settings keep meaning the same thing."""
    first = db.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == info.key)
                               .order_by(ProcessDefinition.version.desc())).first()
    if first is None:
        return
    errors = []
    if first.category != info.category:
        errors.append(f"process '{info.key}' is a {first.category} process; a new version cannot make it "
                      f"{info.category} (deploy it under another id)")
    elif info.category == "meeting" and held_by(first) != (properties.get("held_by")
                                                           or _HELD_BY_FALLBACK.get(info.key, "branch")):
        errors.append(f"meetings of '{info.key}' are held by each {held_by(first)}; a new version cannot change "
                      "that (deploy it under another id)")
    if errors:
        raise BpmnValidationError([{"element_id": info.key, "line": None, "message": m} for m in errors])


def check(xml: bytes):
    """Validate completely: the engine's checks and what the service can run, all problems at once.

    Returns (info, process properties). Raises BpmnValidationError with every problem found (422 invalid_bpmn),
    BpmnTooLarge (413).
    """
    errors, info = [], None
    try:
        info = runtime.engine().validate(xml)
    except BpmnTooLarge:
        raise
    except BpmnValidationError as error:
        errors = list(error.errors)
    try:
        shape = runtime.engine().structure(xml)
    except BpmnValidationError:  # not even parseable: the engine's report says why
        raise BpmnValidationError(errors) from None
    category = shape["properties"].get("category") or "other"
    errors += _reserved_key(shape["key"]) + _unroutable_lanes(category, shape["lanes"])
    errors += _misplaced_actions(category, shape["user_tasks"]) + _bad_properties(shape, category)
    if errors:
        raise BpmnValidationError(errors)
    return info, shape["properties"]


RESERVED_KEYS = frozenset({"validate", "vocabulary"})  # paths under /api/process-definitions


def _reserved_key(key: str | None) -> list[dict]:
    if key not in RESERVED_KEYS:
        return []
    return [{"element_id": key, "line": None, "message": f"process id {key!r} is reserved; choose another"}]


def _unroutable_lanes(category: str, lanes: list[tuple]) -> list[dict]:
    # A process of a category whose subject is known may only use lanes that subject can route (known lanes
    # only: the engine reports names outside the vocabulary itself).
    subject = runtime.SUBJECTS.get(category)
    if subject is None:
        return []
    routable = subject.lanes
    return [{"element_id": lane_id, "line": line,
             "message": f"lane {name!r} cannot be routed in a {category} process; use one of {sorted(routable)}"}
            for name, lane_id, line in lanes if name not in routable and name in runtime.engine().lanes]


def _misplaced_actions(category: str, user_tasks) -> list[dict]:
    # An action works on one kind of subject: a meeting process cannot approve a transfer.
    if category != "meeting":
        return []
    fit = sorted(name for name, a in actions.REGISTRY.items() if "meeting" in a.subject_kinds)
    return [{"element_id": task.id, "line": task.line,
             "message": f"action {task.fields['action']!r} does not work on meetings; use one of {fit}"}
            for task in user_tasks if task.fields.get("action") in actions.REGISTRY
            and "meeting" not in actions.REGISTRY[task.fields["action"]].subject_kinds]


def _bad_properties(shape, category: str) -> list[dict]:
    errors = []
    for name, allowed in (("held_by", HELD_BY_VALUES), ("invitees", INVITEE_VALUES)):
        value = shape["properties"].get(name)
        if value is None or (category == "meeting" and value in allowed):
            continue
        errors.append({"element_id": shape["key"], "line": None, "message": f"property {name}={value!r}: "
                       + (f"use one of {list(allowed)}" if category == "meeting" else "only meetings have it")})
    return errors


START_VARIABLES = {"meeting": ["subject_kind", "subject_id", "scheduled_at"]}
PROPERTIES = {"category": ["meeting", "transfer", "other"], "held_by": list(HELD_BY_VALUES),
              "invitees": list(INVITEE_VALUES)}


def vocabulary() -> dict:
    """What a BPMN author may use: lanes (per category), actions with the variables they set, properties."""
    by_category = {category: sorted(runtime.SUBJECTS[kind].lanes)
                   for category, kind in (("meeting", "meeting"), ("transfer", "transfer")) if kind in runtime.SUBJECTS}
    return {"lanes": sorted(runtime.engine().lanes), "lanes_by_category": by_category,
            "actions": actions.vocabulary(), "start_variables": START_VARIABLES, "properties": PROPERTIES}


def validate_report(user, xml: bytes) -> dict:
    """A platform admin checks BPMN without deploying it: {valid, key, name, category, errors}."""
    access.require_platform_admin(user)
    try:
        info, properties = check(_non_empty(xml))
    except BpmnTooLarge:
        raise
    except BpmnValidationError as error:
        return {"valid": False, "key": None, "name": None, "category": None, "errors": error.errors}
    return {"valid": True, "key": info.key, "name": info.name, "category": info.category, "errors": [],
            "properties": properties}


def _non_empty(xml: bytes) -> bytes:
    if not xml or not xml.strip():
        raise BpmnValidationError([{"element_id": None, "message": "empty body", "line": None}])
    return xml


@transactional
def upload(user, xml: bytes) -> tuple[ProcessDefinition, bool]:
    """A platform admin deploys an uploaded BPMN file."""
    access.require_platform_admin(user)
    return deploy(_non_empty(xml), user)


def deploy_bundled() -> list[ProcessDefinition]:
    """Deploy every file in bpmn/ (idempotent: unchanged files add no version)."""
    return [deploy(path.read_bytes())[0] for path in sorted(BUNDLED_DIR.glob("*.bpmn"))]


def latest_enabled(key: str, category: str | None = None) -> ProcessDefinition:
    """The newest enabled version of a process, or a 422 problem (unknown, or switched off as a whole)."""
    switched = db.session.get(ProcessType, key)
    if switched is not None and not switched.enabled:
        raise ApiError("process_disabled", 422, f"Process '{key}' is switched off by a platform administrator.",
                       errors={"process_key": ["disabled"]})
    query = select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.enabled.is_(True))
    if category:
        query = query.where(ProcessDefinition.category == category)
    definition = db.session.scalars(query.order_by(ProcessDefinition.version.desc())).first()
    if definition is None:
        raise ApiError("unknown_process", 422, f"No enabled {category or ''} process '{key}'.".replace("  ", " "),
                       errors={"process_key": [f"unknown process '{key}'"]})
    return definition


def list_latest(category: str | None = None) -> list[dict]:
    """The latest version of each process key, with whether the type as a whole is switched on."""
    latest = select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v")) \
        .group_by(ProcessDefinition.key).subquery()
    query = select(ProcessDefinition).join(
        latest, (ProcessDefinition.key == latest.c.key) & (ProcessDefinition.version == latest.c.v))
    if category:
        query = query.where(ProcessDefinition.category == category)
    switched = {t.key: t.enabled for t in db.session.scalars(select(ProcessType))}
    startable = _startable_versions()
    return [_view(d, switched.get(d.key, True), startable.get(d.key))
            for d in db.session.scalars(query.order_by(ProcessDefinition.key))]


def _startable_versions(key: str | None = None) -> dict[str, int]:
    """{key: the newest enabled version}: what new instances start on (if the type is switched on)."""
    query = select(ProcessDefinition.key, func.max(ProcessDefinition.version)).where(
        ProcessDefinition.enabled.is_(True)).group_by(ProcessDefinition.key)
    if key is not None:
        query = query.where(ProcessDefinition.key == key)
    return dict(db.session.execute(query).all())


def _view(definition: ProcessDefinition, type_enabled: bool, startable: int | None) -> dict:
    """The latest version, and whether new instances may start (type on, some version enabled) and on which."""
    return {"key": definition.key, "name": definition.name, "version": definition.version,
            "category": definition.category, "enabled": type_enabled and startable is not None,
            "startable_version": startable if type_enabled else None,
            "type_enabled": type_enabled, "version_enabled": definition.enabled, "sha256": definition.sha256,
            "deployed_at": definition.deployed_at, "deployed_by": definition.deployed_by,
            "held_by": held_by(definition) if definition.category == "meeting" else None}


def latest_view(key: str) -> dict:
    """The latest version of one process, as listed; 404 process_not_found."""
    definition = get_definition(key)
    switched = db.session.get(ProcessType, key)
    return _view(definition, switched.enabled if switched is not None else True, _startable_versions(key).get(key))


def held_by(definition: ProcessDefinition) -> str:
    """Which unit holds meetings of this type: a branch (党支部) or a party group (党小组)."""
    return (definition.properties or {}).get("held_by") or _HELD_BY_FALLBACK.get(definition.key, "branch")


def get_definition(key: str, version: int | None = None) -> ProcessDefinition:
    """A definition (latest version unless one is named), or 404 process_not_found."""
    query = select(ProcessDefinition).where(ProcessDefinition.key == key)
    if version is not None:
        query = query.where(ProcessDefinition.version == version)
    definition = db.session.scalars(query.order_by(ProcessDefinition.version.desc())).first()
    if definition is None:
        raise ApiError("process_not_found", 404, f"No process '{key}'" + (f" version {version}." if version else "."))
    return definition


def versions(key: str) -> list[dict]:
    """Every version of a process, newest first, with how many instances still run on each."""
    get_definition(key)
    running = dict(db.session.execute(select(ProcessInstance.process_version, func.count()).where(
        ProcessInstance.process_key == key, ProcessInstance.status == "running")
        .group_by(ProcessInstance.process_version)).all())
    rows = db.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                              .order_by(ProcessDefinition.version.desc()))
    return [{"version": d.version, "name": d.name, "category": d.category, "sha256": d.sha256,
             "enabled": d.enabled, "deployed_at": d.deployed_at, "deployed_by": d.deployed_by,
             "running_instances": running.get(d.version, 0)} for d in rows]


def diff(key: str, from_version: int, to_version: int) -> dict:
    """What changed between two versions: elements added, removed, changed (field by field)."""
    old, new = get_definition(key, from_version), get_definition(key, to_version)
    return {"key": key, "from_version": old.version, "to_version": new.version,
            **runtime.engine().diff(old.xml, new.xml)}


@transactional
def set_type_enabled(user, key: str, enabled: bool) -> dict:
    """A platform admin switches a whole type on or off; running instances go on, new ones are refused."""
    access.require_platform_admin(user)
    definition = get_definition(key)
    upsert(ProcessType, {"key": key}, {"enabled": enabled, "updated_at": utcnow(), "updated_by": user.id})
    return _view(definition, enabled, _startable_versions(key).get(key))


@transactional
def set_version_enabled(user, key: str, version: int, enabled: bool) -> dict:
    """A platform admin switches one version on or off: new instances use the newest enabled version."""
    access.require_platform_admin(user)
    definition = get_definition(key, version)
    definition.enabled = enabled
    return next(v for v in versions(key) if v["version"] == version)


def get_xml(key: str, version: int | None) -> bytes:
    """A definition's XML, latest version unless one is named."""
    return get_definition(key, version).xml
