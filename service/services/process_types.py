"""Which meeting types an organisation's branches may start (会议类型管理, as AI党建云 has it).

A 党委 or 党总支 switches a meeting type off for its whole subtree; a switch-off anywhere above a branch
wins, so a lower level cannot undo its superior's choice. A platform admin's switch for the whole type
(process_type) comes first. Switching back on removes the org's own switch-off only.
"""
from sqlalchemy import delete, select

from ..database import transactional, upsert, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Org, OrgProcessSetting
from ..models.orgs import REVIEWING_KINDS
from . import access, definitions


def switched_off_by(org: Org, process_key: str) -> Org | None:
    """The nearest org at or above ``org`` that switched the type off for its subtree, or None."""
    chain = [org, *access.ancestors(org)]
    off = set(db.session.scalars(select(OrgProcessSetting.org_id).where(
        OrgProcessSetting.org_id.in_([o.id for o in chain]), OrgProcessSetting.process_key == process_key,
        OrgProcessSetting.enabled.is_(False))))
    return next((o for o in chain if o.id in off), None)


def require_allowed(org: Org, process_key: str) -> None:
    """422 process_disabled_for_org when a superior switched the meeting type off for this org."""
    by = switched_off_by(org, process_key)
    if by is not None:
        raise ApiError("process_disabled_for_org", 422, f"'{by.name}' has switched meeting type '{process_key}' off "
                       f"for the organisations under it.", errors={"process_key": ["disabled for this organisation"]},
                       disabled_by=by.id)


def meeting_types(user, org_id: int) -> list[dict]:
    """Every meeting type with whether branches under ``org_id`` may start it, and who decided."""
    org = access.get_org(org_id)
    if not access.administers(user, org):
        raise ApiError("forbidden", 403, f"You do not administer organisation {org.id}.")
    chain = [org, *access.ancestors(org)]
    off = {}
    for row in db.session.scalars(select(OrgProcessSetting).where(
            OrgProcessSetting.org_id.in_([o.id for o in chain]), OrgProcessSetting.enabled.is_(False))):
        off.setdefault(row.process_key, set()).add(row.org_id)
    out = []
    for d in definitions.list_latest(category="meeting"):
        by = next((o for o in chain if o.id in off.get(d["key"], ())), None)
        out.append({"process_key": d["key"], "name": d["name"], "held_by": d["held_by"],
                    "type_enabled": d["type_enabled"], "enabled": d["enabled"] and by is None,
                    "switched_off_here": by is not None and by.id == org.id,
                    "disabled_by": by.id if by is not None else None})
    return out


@transactional
def set_meeting_type(user, org_id: int, process_key: str, enabled: bool) -> dict:
    """A 党委/党总支 admin (or a superior's, or a platform admin) switches a meeting type off or back on."""
    org = access.get_org(org_id)
    access.require_admin(user, org)
    if org.kind not in REVIEWING_KINDS:
        raise ApiError("invalid_org", 422, "Meeting types are chosen by a 党委 or 党总支 for the branches under it.",
                       errors={"org_id": ["must be a committee or general branch"]})
    definition = definitions.get_definition(process_key)
    if definition.category != "meeting":
        raise ApiError("not_a_meeting_type", 422, f"'{process_key}' is not a meeting type.",
                       errors={"process_key": ["not a meeting type"]})
    if enabled:
        db.session.execute(delete(OrgProcessSetting).where(OrgProcessSetting.org_id == org.id,
                                                           OrgProcessSetting.process_key == process_key))
    else:
        upsert(OrgProcessSetting, {"org_id": org.id, "process_key": process_key},
               {"enabled": False, "updated_at": utcnow(), "updated_by": user.id})
    return next(t for t in meeting_types(user, org.id) if t["process_key"] == process_key)
