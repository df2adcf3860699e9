"""The 督办达标 requirements in force: the packaged ones (rules/data/compliance.json) with platform admins' changes.

An admin may change a packaged requirement (period, count), switch it off, or add one for a meeting type
deployed later. Evaluation reads the requirements in force each time, so a change applies to every report and
snapshot from then on.
"""
from sqlalchemy import delete, select

from rules import COMPLIANCE_PERIODS, Requirement, load_requirements

from ..database import transactional, upsert, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import ComplianceSetting, ProcessType
from . import access, definitions


def requirements() -> list[Requirement]:
    """Every requirement in force, packaged order first, then the added ones by process key."""
    merged = {r.process_key: r for r in load_requirements()}
    for row in db.session.scalars(select(ComplianceSetting).order_by(ComplianceSetting.process_key)):
        if row.enabled:
            merged[row.process_key] = Requirement(process_key=row.process_key, period=row.period, required=row.required,
                                                  held_by=row.held_by, label=row.label)
        else:
            merged.pop(row.process_key, None)
    switched_off = set(db.session.scalars(select(ProcessType.key).where(ProcessType.enabled.is_(False))))
    return [r for r in merged.values() if r.process_key not in switched_off]  # nobody may hold those


def views() -> list[dict]:
    """The requirements with where each comes from (packaged, changed, added) and switched-off packaged ones."""
    packaged = {r.process_key: r for r in load_requirements()}
    settings = {row.process_key: row for row in db.session.scalars(select(ComplianceSetting))}
    out = []
    for key in [*packaged, *sorted(settings.keys() - packaged.keys())]:
        row, base = settings.get(key), packaged.get(key)
        source = "packaged" if row is None else ("changed" if base is not None else "added")
        current = base if row is None else Requirement(
            process_key=key, period=row.period, required=row.required, held_by=row.held_by, label=row.label)
        out.append({"process_key": key, "period": current.period, "required": current.required,
                    "held_by": current.held_by, "label": current.label,
                    "enabled": row.enabled if row is not None else True, "source": source})
    return out


@transactional
def put(user, process_key: str, data: dict) -> dict:
    """A platform admin sets the requirement of a meeting type (packaged or uploaded)."""
    access.require_platform_admin(user)
    definition = definitions.get_definition(process_key)
    if definition.category != "meeting":
        raise ApiError("not_a_meeting_type", 422, f"'{process_key}' is not a meeting type.",
                       errors={"process_key": ["not a meeting type"]})
    held_by = definitions.held_by(definition)
    if data.get("held_by", held_by) != held_by:
        raise ApiError("invalid_requirement", 422, f"'{process_key}' is held by each {held_by}, not each "
                       f"{data['held_by']}.", errors={"held_by": [f"must be {held_by}"]})
    if data["period"] not in COMPLIANCE_PERIODS:
        raise ApiError("invalid_requirement", 422, f"period must be one of {list(COMPLIANCE_PERIODS)}.",
                       errors={"period": ["invalid"]})
    upsert(ComplianceSetting, {"process_key": process_key}, {
        "period": data["period"], "required": data["required"], "held_by": held_by,
        "label": data.get("label") or definition.name, "enabled": data.get("enabled", True),
        "updated_at": utcnow(), "updated_by": user.id})
    return next(v for v in views() if v["process_key"] == process_key)


@transactional
def reset(user, process_key: str) -> None:
    """Back to the packaged requirement (or none, for a type that had none)."""
    access.require_platform_admin(user)
    if db.session.get(ComplianceSetting, process_key) is None:
        raise ApiError("requirement_not_found", 404, f"No changed requirement for '{process_key}'.")
    db.session.execute(delete(ComplianceSetting).where(ComplianceSetting.process_key == process_key))
