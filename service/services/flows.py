"""流动党员: members away from their branch (out) or staying with another branch (in), and their reports back.

A flow-in member is hosted, not transferred: they stay a member of their own branch, so nothing here adds them
to the host's meetings or gives them a vote there (no voting at the host side).
"""
from datetime import date, datetime

from sqlalchemy import and_, not_, or_, select

from rules.periods import CHINA

from ..database import lock_row, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import FlowReport, Member, MemberFlow, Org
from . import access


def china_today() -> date:
    """Today's date in China."""
    return datetime.now(CHINA).date()


def active_clause(today: date) -> tuple:
    """SQL conditions for a running flow: not ended, and not past its planned end (a China date)."""
    return (MemberFlow.ended_at.is_(None), or_(MemberFlow.to_date.is_(None), MemberFlow.to_date >= today))


def is_active(flow: MemberFlow, today: date) -> bool:
    """What active_clause decides, for one flow in hand."""
    return flow.ended_at is None and (flow.to_date is None or flow.to_date >= today)


@transactional
def create_flow(user, data: dict) -> dict:
    """Register a flow-out (by the member's branch) or a flow-in (by the hosting branch)."""
    member = lock_row(Member, data["member_id"])  # two registrations for one member queue here
    if member is None:
        raise ApiError("member_not_found", 404, f"Member {data['member_id']} does not exist.")
    org = _registering_org(member, data)
    access.require_admin(user, org)
    if member.deleted_at is not None:
        raise ApiError("member_deleted", 422, f"Member {member.id} is in the history library.")
    if data["to_date"] is not None and data["to_date"] < data["from_date"]:
        raise ApiError("invalid_dates", 422, "to_date must not be before from_date.",
                       errors={"to_date": ["must not be before from_date"]})
    _require_no_active_flow(member, data["direction"])
    flow = MemberFlow(member_id=member.id, org_id=org.id, direction=data["direction"],
                      destination=data["destination"].strip(), from_date=data["from_date"], to_date=data["to_date"],
                      contact=data["contact"].strip(), created_by=user.id, created_at=utcnow())
    db.session.add(flow)
    db.session.flush()
    return flow_view(flow, member.name)


def _registering_org(member: Member, data: dict) -> Org:
    """Out: the member's own branch. In: the hosting branch named by org_id, another than the member's."""
    home = db.session.get(Org, member.org_id)
    if data["direction"] == "out":
        if data["org_id"] not in (None, home.id):
            raise ApiError("invalid_org", 422, "A flow-out is registered by the member's own branch.",
                           errors={"org_id": [f"must be {home.id} (the member's branch) or omitted"]})
        return home
    if data["org_id"] is None:
        raise ApiError("validation_error", 422, "The request data is invalid.",
                       errors={"org_id": ["the hosting branch is required for a flow-in"]})
    host = access.get_org(data["org_id"])
    if host.kind != "branch":
        raise ApiError("invalid_org", 422, f"Organisation {host.id} is a {host.kind}; a branch hosts a flow-in.",
                       errors={"org_id": ["must be a branch (党支部)"]})
    if host.id == home.id:
        raise ApiError("same_branch", 422, "A flow-in is hosted by another branch than the member's own.",
                       errors={"org_id": ["must differ from the member's branch"]})
    return host


def _require_no_active_flow(member: Member, direction: str) -> None:
    existing = db.session.scalars(select(MemberFlow.id).where(
        MemberFlow.member_id == member.id, MemberFlow.direction == direction,
        *active_clause(china_today()))).first()
    if existing is not None:
        raise ApiError("flow_exists", 409, f"Member {member.id} already has an active flow-{direction} "
                       f"({existing}); end it first.", flow_id=existing)


def list_flows(user, filters: dict) -> list[dict]:
    """Flows registered by the org and its subtree (default: every org the caller administers); admins only."""
    query = select(MemberFlow, Member.name).join(Member, Member.id == MemberFlow.member_id)
    query = query.where(MemberFlow.org_id.in_(_listable_orgs(user, filters.get("org_id"))))
    if filters.get("direction"):
        query = query.where(MemberFlow.direction == filters["direction"])
    today = china_today()
    if filters.get("active") is not None:
        running = and_(*active_clause(today))
        query = query.where(running if filters["active"] else not_(running))
    return [flow_view(flow, name, today) for flow, name in db.session.execute(query.order_by(MemberFlow.id))]


def _listable_orgs(user, org_id: int | None):
    if org_id is not None:
        org = access.get_org(org_id)
        access.require_admin(user, org)
        return access.subtree_ids([org.id])
    if access.is_platform_admin(user):
        return select(Org.id)
    mine = access.admin_org_ids(user)
    if not mine:
        raise ApiError("forbidden", 403, "Only administrators list 流动党员.")
    return access.subtree_ids(sorted(mine))


def get_flow(user, flow_id: int) -> dict:
    """One flow, for admins over its registering branch or the member's branch, and for the member."""
    flow = _visible(user, db.session.get(MemberFlow, flow_id), flow_id)
    return flow_view(flow, db.session.get(Member, flow.member_id).name)


def _visible(user, flow: MemberFlow | None, flow_id: int) -> MemberFlow:
    if flow is None or not (user.member_id == flow.member_id or _administers_registrar(user, flow) or
                            access.administers(user, _home_branch(flow))):
        raise ApiError("flow_not_found", 404, f"Flow {flow_id} does not exist.")
    return flow


def _administers_registrar(user, flow: MemberFlow) -> bool:
    return access.administers(user, db.session.get(Org, flow.org_id))


def _home_branch(flow: MemberFlow) -> Org:
    return db.session.get(Org, db.session.get(Member, flow.member_id).org_id)


def _open_for_change(user, flow_id: int) -> MemberFlow:
    """The flow, locked, visible to the caller, and not yet ended."""
    flow = _visible(user, lock_row(MemberFlow, flow_id), flow_id)
    if flow.ended_at is not None:
        raise ApiError("flow_ended", 409, f"Flow {flow_id} has ended.")
    return flow


@transactional
def add_report(user, flow_id: int, note: str) -> FlowReport:
    """A report back (思想汇报) by the member or an admin of the registering branch; re-arms the reminder."""
    flow = _open_for_change(user, flow_id)
    if user.member_id != flow.member_id and not _administers_registrar(user, flow):
        raise ApiError("forbidden", 403, "Only the member or the registering branch's admins record reports.")
    now = utcnow()
    report = FlowReport(flow_id=flow.id, reported_at=now, note=note.strip(), recorded_by=user.id)
    db.session.add(report)
    flow.last_reported_at, flow.report_reminded_at = now, None  # re-armed: the clock reminds again a period on
    db.session.flush()
    return report


def list_reports(user, flow_id: int) -> list[FlowReport]:
    """The flow's reports, oldest first."""
    _visible(user, db.session.get(MemberFlow, flow_id), flow_id)
    return list(db.session.scalars(select(FlowReport).where(FlowReport.flow_id == flow_id).order_by(FlowReport.id)))


@transactional
def end_flow(user, flow_id: int) -> dict:
    """The registering branch ends a flow (the member is back, or transferred)."""
    flow = _open_for_change(user, flow_id)
    if not _administers_registrar(user, flow):
        raise ApiError("forbidden", 403, f"You do not administer organisation {flow.org_id}.")
    flow.ended_at = utcnow()
    return flow_view(flow, db.session.get(Member, flow.member_id).name)


def flow_view(flow: MemberFlow, member_name: str | None, today: date | None = None) -> dict:
    """The flow's columns, the member's name and whether it is active."""
    columns = {c.key: getattr(flow, c.key) for c in MemberFlow.__table__.columns}
    return {**columns, "member_name": member_name, "active": is_active(flow, today or china_today())}
