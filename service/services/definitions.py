"""Deploying BPMN: validate, version by content, list."""
import hashlib
from pathlib import Path

from sqlalchemy import func, select

from ..database import transactional
from ..errors import ApiError
from ..extensions import db
from ..models import ProcessDefinition
from . import access, runtime

BUNDLED_DIR = Path(__file__).resolve().parent.parent.parent / "bpmn"


def deploy(xml: bytes, user=None) -> tuple[ProcessDefinition, bool]:
    """Validate and store a new version; identical XML returns the existing version. (def, created)."""
    info = runtime.engine().validate(xml)
    _require_routable_lanes(info)
    same = db.session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.key == info.key, ProcessDefinition.sha256 == hashlib.sha256(xml).hexdigest())
        .order_by(ProcessDefinition.version.desc())).first()
    if same is not None:
        return same, False
    latest = db.session.scalar(select(func.max(ProcessDefinition.version)).where(
        ProcessDefinition.key == info.key)) or 0
    definition = ProcessDefinition(key=info.key, version=latest + 1, name=info.name, category=info.category,
                                   xml=xml, sha256=hashlib.sha256(xml).hexdigest(), enabled=True,
                                   deployed_by=user.id if user else None)
    db.session.add(definition)
    db.session.flush()
    return definition, True


def _require_routable_lanes(info) -> None:
    # A process of a category whose subject is known may only use lanes that subject can route.
    subject = runtime.SUBJECTS.get(info.category)
    if subject is None:
        return
    routable = subject.lanes
    errors = [{"element_id": lane_id, "line": line,
               "message": f"lane {name!r} cannot be routed in a {info.category} process; use one of {sorted(routable)}"}
              for name, lane_id, line in info.lanes if name not in routable]
    if errors:
        raise ApiError("invalid_bpmn", 422, "The BPMN file was rejected.", errors=errors)


@transactional
def upload(user, xml: bytes) -> tuple[ProcessDefinition, bool]:
    """A platform admin deploys an uploaded BPMN file."""
    access.require_platform_admin(user)
    if not xml or not xml.strip():
        raise ApiError("invalid_bpmn", 422, "The request carried no BPMN XML.",
                       errors=[{"element_id": None, "message": "empty body", "line": None}])
    return deploy(xml, user)


def deploy_bundled() -> list[ProcessDefinition]:
    """Deploy every file in bpmn/ (idempotent: unchanged files add no version)."""
    return [deploy(path.read_bytes())[0] for path in sorted(BUNDLED_DIR.glob("*.bpmn"))]


def latest_enabled(key: str, category: str | None = None) -> ProcessDefinition:
    """The newest enabled version of a process, or a 422 problem."""
    query = select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.enabled.is_(True))
    if category:
        query = query.where(ProcessDefinition.category == category)
    definition = db.session.scalars(query.order_by(ProcessDefinition.version.desc())).first()
    if definition is None:
        raise ApiError("unknown_process", 422, f"No enabled {category or ''} process '{key}'.".replace("  ", " "),
                       errors={"process_key": [f"unknown process '{key}'"]})
    return definition


def list_latest() -> list[ProcessDefinition]:
    """The latest version of each process key."""
    latest = select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v")) \
        .group_by(ProcessDefinition.key).subquery()
    return list(db.session.scalars(select(ProcessDefinition).join(
        latest, (ProcessDefinition.key == latest.c.key) & (ProcessDefinition.version == latest.c.v))
        .order_by(ProcessDefinition.key)))


def get_xml(key: str, version: int | None) -> bytes:
    """A definition's XML, latest version unless one is named."""
    query = select(ProcessDefinition).where(ProcessDefinition.key == key)
    if version is not None:
        query = query.where(ProcessDefinition.version == version)
    definition = db.session.scalars(query.order_by(ProcessDefinition.version.desc())).first()
    if definition is None:
        raise ApiError("process_not_found", 404, f"No process '{key}'" + (f" version {version}." if version else "."))
    return definition.xml
