"""流动党员: members away from their branch (out) or staying with another branch (in), and their reports back.

A flow-in member is hosted, not transferred: they stay a member of their own branch, so nothing here adds them
to the host's meetings or gives them a vote there (no voting at the host side).
"""
from datetime import date

from sqlalchemy import and_, not_, or_, select

from ..database import china_today, lock_row, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import FlowReport, Member, MemberFlow, Org
from . import access, membership, notifications

ERASED = "（已清除）"  # what a purge leaves in the flow's free-text fields and reports
ENDED_NOTE = "流动结束：{reason}"  # the system's note (recorded_by null) when a flow ends because the member moved on


def active_clause(today: date) -> tuple:
    """SQL conditions for a running flow: not ended, and not past its planned end (a China date)."""
    return (MemberFlow.ended_at.is_(None), or_(MemberFlow.to_date.is_(None), MemberFlow.to_date >= today))


def is_active(flow: MemberFlow, today: date) -> bool:
    """What active_clause decides, for one flow in hand."""
    return flow.ended_at is None and (flow.to_date is None or flow.to_date >= today)


def may_see_member(user, member: Member | None) -> bool:
    """people.get_member's rule: the member themself, or an admin of their branch or above; never a purged one."""
    if member is None or member.purged_at is not None:
        return False
    return user.member_id == member.id or access.administers(user, db.session.get(Org, member.org_id))


@transactional
def create_flow(user, data: dict) -> dict:
    """Register a flow-out (by the member's branch) or a flow-in (by the hosting branch).

    The caller's right over the registering branch is checked before anything about the member is told:
    a flow-out for a member the caller does not administer is 404 member_not_found, and a flow-in is checked
    against the named host before the member is even looked up.
    """
    if data["direction"] == "in":
        org = _host(user, data["org_id"])
        member = _locked_member(data["member_id"], user)
        if member.org_id == org.id:
            raise ApiError("same_branch", 422, "A flow-in is hosted by another branch than the member's own.",
                           errors={"org_id": ["must differ from the member's branch"]})
    else:
        member = _locked_member(data["member_id"], user)
        org = _home_for_out(user, member, data["org_id"])
    if data["to_date"] is not None and data["to_date"] < data["from_date"]:
        raise ApiError("invalid_dates", 422, "to_date must not be before from_date.",
                       errors={"to_date": ["must not be before from_date"]})
    membership.require_no_pending_transfer(member.id)  # its completion ends the member's flows
    _require_no_active_flow(member, data["direction"], org)
    flow = MemberFlow(member_id=member.id, org_id=org.id, direction=data["direction"],
                      destination=data["destination"].strip(), from_date=data["from_date"], to_date=data["to_date"],
                      contact=data["contact"].strip(), created_by=user.id, created_at=utcnow())
    db.session.add(flow)
    db.session.flush()
    if flow.direction == "in":
        _tell_home_branch(flow, member, org)
    return flow_view(flow, member.name if may_see_member(user, member) else None)


def _host(user, org_id: int | None) -> Org:
    """The hosting branch of a flow-in: named, a branch, administered by the caller, not retired."""
    if org_id is None:
        raise ApiError("validation_error", 422, "The request data is invalid.",
                       errors={"org_id": ["the hosting branch is required for a flow-in"]})
    host = access.get_org(org_id)
    if host.kind != "branch":
        raise ApiError("invalid_org", 422, f"Organisation {host.id} is a {host.kind}; a branch hosts a flow-in.",
                       errors={"org_id": ["must be a branch (党支部)"]})
    access.require_admin(user, host)
    access.require_active(host)
    return host


def _locked_member(member_id: int, user) -> Member:
    """The member row, locked (two registrations for one member queue here); one already deleted is refused.

    A deleted member is only named as such to a caller who may see them: for anyone else they do not exist.
    """
    member = lock_row(Member, member_id)
    if member is None or member.purged_at is not None:
        raise ApiError("member_not_found", 404, f"Member {member_id} does not exist.")
    if member.deleted_at is not None:
        if not may_see_member(user, member):
            raise ApiError("member_not_found", 404, f"Member {member_id} does not exist.")
        raise ApiError("member_deleted", 422, f"Member {member.id} is in the history library.")
    return member


def _home_for_out(user, member: Member, org_id: int | None) -> Org:
    """A flow-out is registered by the member's own branch, by one of its admins (404 to anyone who can't see them)."""
    if not may_see_member(user, member):
        raise ApiError("member_not_found", 404, f"Member {member.id} does not exist.")
    home = db.session.get(Org, member.org_id)
    access.require_admin(user, home)
    if org_id not in (None, home.id):
        raise ApiError("invalid_org", 422, "A flow-out is registered by the member's own branch.",
                       errors={"org_id": ["must be the member's branch, or omitted"]})
    access.require_active(home)
    return home


def _require_no_active_flow(member: Member, direction: str, org: Org) -> None:
    """One active flow-out per member; one active flow-in per member and host (another host's can't block it)."""
    query = select(MemberFlow.id).where(MemberFlow.member_id == member.id, MemberFlow.direction == direction,
                                        *active_clause(china_today()))
    if direction == "in":
        query = query.where(MemberFlow.org_id == org.id)
    existing = db.session.scalars(query).first()
    if existing is not None:
        raise ApiError("flow_exists", 409, f"Member {member.id} already has an active flow-{direction} "
                       f"({existing}); end it first.", flow_id=existing)


def _tell_home_branch(flow: MemberFlow, member: Member, host: Org) -> None:
    """The member's own branch hears of every flow-in registered for one of its members (and can check it)."""
    body = (f"{host.name}登记{member.name}自{flow.from_date.isoformat()}起在该支部流入（流动党员）。"
            "如与实际不符，请与该支部或上级党组织联系。")
    notifications.to_users(notifications.admins_of(member.org_id), "flow_in_registered",
                           f"流入登记：{member.name}（{host.name}）", body, ("flow", flow.id))


def list_flows(user, filters: dict) -> list[dict]:
    """Flows registered by the org and its subtree (default: every org the caller administers); admins only."""
    query = select(MemberFlow, Member).join(Member, Member.id == MemberFlow.member_id)
    query = query.where(MemberFlow.org_id.in_(_listable_orgs(user, filters.get("org_id"))))
    if filters.get("direction"):
        query = query.where(MemberFlow.direction == filters["direction"])
    today = china_today()
    if filters.get("active") is not None:
        running = and_(*active_clause(today))
        query = query.where(running if filters["active"] else not_(running))
    seen: dict[tuple[int, bool], bool] = {}  # (branch, is the caller) -> may see; administers() walks the tree

    def name(member: Member) -> str | None:
        if member.purged_at is not None:
            return None
        key = (member.org_id, user.member_id == member.id)
        if key not in seen:
            seen[key] = may_see_member(user, member)
        return member.name if seen[key] else None

    return [flow_view(flow, name(member), today) for flow, member in db.session.execute(query.order_by(MemberFlow.id))]


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
    return _view_for(user, flow)


def _view_for(user, flow: MemberFlow) -> dict:
    member = db.session.get(Member, flow.member_id)
    return flow_view(flow, member.name if may_see_member(user, member) else None)


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
    return _view_for(user, flow)


# --- called by other services, inside their transactions ----------------------------------------------------------


def _open_flows(*conditions) -> list[MemberFlow]:
    """Flows not yet ended that match, locked (add_report and end_flow lock a flow too), in id order."""
    query = (select(MemberFlow).where(MemberFlow.ended_at.is_(None), *conditions).order_by(MemberFlow.id)
             .with_for_update().execution_options(populate_existing=True))
    return list(db.session.scalars(query))


def _end(flow: MemberFlow, reason: str, now) -> None:
    """End a flow for the system (no user) and keep why, as a note among its reports (recorded_by null)."""
    flow.ended_at = now
    db.session.add(FlowReport(flow_id=flow.id, reported_at=now, note=ENDED_NOTE.format(reason=reason)[:5000],
                              recorded_by=None))


def end_for_member(member_id: int, reason: str) -> int:
    """End every flow of the member not yet ended, both directions; how many.

    For a member who transfers (being away without transferring is over), leaves the system or is deleted.
    A flow already past its to_date but never ended is ended too, so no report can be added to it any more.
    Each ended flow gets a report row `流动结束：<reason>` with recorded_by null (last_reported_at is untouched:
    it is not a report by the member). Runs in the caller's transaction; commits nothing itself.
    """
    now = utcnow()
    ended = _open_flows(MemberFlow.member_id == member_id)
    for flow in ended:
        _end(flow, reason, now)
    db.session.flush()
    return len(ended)


def rehome(from_org_id: int, to_org_id: int) -> int:
    """A branch merged into another: the flows it registered now belong to that branch; how many moved.

    Every flow moves, ended ones too (the retired branch's history goes along). A flow-in that the merge made
    pointless is ended (note `流动结束：支部合并…`): one whose member now belongs to the host branch itself, or a
    second active flow-in of the same member at the receiving branch (the receiving branch's own is kept).
    """
    moved = list(db.session.scalars(select(MemberFlow).where(MemberFlow.org_id == from_org_id)
                                    .order_by(MemberFlow.id).with_for_update()
                                    .execution_options(populate_existing=True)))
    moved_ids = {flow.id for flow in moved}
    for flow in moved:
        flow.org_id = to_org_id
    now, today = utcnow(), china_today()
    for flow in _open_flows(MemberFlow.org_id == to_org_id, MemberFlow.direction == "in"):
        member = db.session.get(Member, flow.member_id)
        if member.org_id in (from_org_id, to_org_id):
            _end(flow, "支部合并后，接收支部即本人所在支部", now)
        elif flow.id in moved_ids and is_active(flow, today) and _kept_in_flow(flow, moved_ids, today):
            _end(flow, "支部合并，接收支部已有该党员的流入登记", now)
    db.session.flush()
    return len(moved)


def _kept_in_flow(flow: MemberFlow, moved_ids: set[int], today: date) -> bool:
    """Whether the receiving branch already had its own active flow-in of the same member."""
    return db.session.scalars(select(MemberFlow.id).where(
        MemberFlow.member_id == flow.member_id, MemberFlow.direction == "in", MemberFlow.org_id == flow.org_id,
        MemberFlow.id.not_in(moved_ids), *active_clause(today))).first() is not None


def erase_personal(member_id: int) -> None:
    """A purged member: their flows' contact and destination and every report note become （已清除）; open flows end.

    The end note (`流动结束：党员信息已清除`) is written after the erasure and names no one.
    """
    flow_ids = select(MemberFlow.id).where(MemberFlow.member_id == member_id)
    for report in db.session.scalars(select(FlowReport).where(FlowReport.flow_id.in_(flow_ids))):
        report.note = ERASED
    for flow in db.session.scalars(select(MemberFlow).where(MemberFlow.member_id == member_id)):
        flow.contact, flow.destination = ERASED, ERASED
    end_for_member(member_id, "党员信息已清除")


def flow_view(flow: MemberFlow, member_name: str | None, today: date | None = None) -> dict:
    """The flow's columns, the member's name (null if the caller may not see the member) and whether it is active."""
    columns = {c.key: getattr(flow, c.key) for c in MemberFlow.__table__.columns}
    return {**columns, "member_name": member_name, "active": is_active(flow, today or china_today())}
