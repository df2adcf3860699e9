"""Member transfers (党员组织关系转接): in the system, out of it with a 介绍信, into it by registration.

While a transfer is pending the member stays with (and is the responsibility of) the sending branch;
only completion moves them, in the same transaction as the last approval.
"""
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from ..database import lock_row, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Member, Org, OrgTransfer, RoleGrant, Transfer, User
from . import access, chains, departures, membership, notifications, runtime
from .definitions import latest_enabled
from .people import require_free_phone

PROCESS_KEY = "member_transfer"


class TransferSubject(chains.ChainSubject):
    """How the runtime routes and reacts for member transfers."""

    lanes = frozenset({"superior_admin", "sending_admin", "receiving_admin"})

    def load(self, subject_id: int) -> Transfer:
        return db.session.get(Transfer, subject_id)

    def side_org(self, transfer: Transfer, lane: str) -> int | None:
        return {"sending_admin": transfer.from_org_id, "receiving_admin": transfer.to_org_id}.get(lane)

    def complete(self, transfer: Transfer) -> None:
        _complete(transfer)

    def notify_outcome(self, transfer: Transfer) -> None:
        _notify_outcome(transfer)


runtime.SUBJECTS["transfer"] = TransferSubject()


@transactional
def create_transfer(user, data: dict) -> Transfer:
    """Start a transfer of the kind asked for; 409 while the member has another one pending."""
    if data["kind"] == "into_system":
        transfer = _into_system(user, data)
    else:
        transfer = _from_branch(user, data)
    try:
        db.session.flush()
    except IntegrityError:  # the partial unique index caught a race the lock did not (SQLite)
        raise ApiError("transfer_pending", 409, "The member already has a pending transfer.")
    definition = latest_enabled(PROCESS_KEY, category="transfer")
    transfer.instance_id = runtime.start_instance(definition, "transfer", transfer, user,
                                                  {"kind": transfer.kind}).id
    return transfer


def _from_branch(user, data: dict) -> Transfer:
    member = db.session.get(Member, data["member_id"])
    if member is None or member.purged_at is not None:
        raise ApiError("member_not_found", 404, f"Member {data['member_id']} does not exist.")
    access.require_admin(user, access.get_org(member.org_id))
    # Branch, then member: the order a merge's completion takes, so the two serialise instead of deadlocking.
    sending = lock_row(Org, member.org_id)
    member = lock_row(Member, member.id)  # two requests for one member queue here
    if member.org_id != sending.id:
        raise ApiError("member_moved", 409, "The member has just moved to another branch; try again.")
    _require_no_reorganisation(sending)
    if member.deleted_at is not None:
        raise ApiError("member_deleted", 422, "The member is in the history library; restore them first.")
    membership.require_no_pending_transfer(member.id)
    transfer = Transfer(kind=data["kind"], member_id=member.id, from_org_id=sending.id, reason=data["reason"],
                        requested_by=user.id, status="pending", step=0)
    if data["kind"] == "in_system":
        receiving = _receiving_branch(data.get("to_org_id"))
        if receiving.id == sending.id:
            raise ApiError("same_org", 422, "The member already belongs to that branch.",
                           errors={"to_org_id": ["the member's own branch"]})
        _require_no_reorganisation(receiving)
        transfer.to_org_id, transfer.chain = receiving.id, chains.between(sending, receiving)
    else:
        transfer.destination = _required_text(data, "destination", "the organisation outside the system")
        transfer.chain = [o.id for o in chains.reviewers_above(sending)]
    db.session.add(transfer)
    return transfer


def _into_system(user, data: dict) -> Transfer:
    receiving = _receiving_branch(data.get("to_org_id"))
    access.require_admin(user, receiving)
    receiving = lock_row(Org, receiving.id)
    _require_no_reorganisation(receiving)
    person = data.get("member")
    if not person:
        raise ApiError("validation_error", 422, "Give the member being registered.",
                       errors={"member": ["required for into_system"]})
    require_free_phone(person.get("phone"))
    superior = access.superior_of(receiving)
    if superior is None:
        raise ApiError("no_superior", 409, f"Organisation {receiving.id} has no superior to approve.")
    transfer = Transfer(kind="into_system", to_org_id=receiving.id, reason=data["reason"], requested_by=user.id,
                        destination=_required_text(data, "origin", "the organisation the member comes from"),
                        member_data=_jsonable(person), chain=[superior.id], status="pending", step=0)
    db.session.add(transfer)
    return transfer


def _require_no_reorganisation(branch: Org) -> None:
    """A chain is computed from today's tree: not while the branch is being merged or merged into."""
    pending = db.session.scalars(select(OrgTransfer.id).where(
        OrgTransfer.status == "pending", OrgTransfer.kind == "merge",
        (OrgTransfer.org_id == branch.id) | (OrgTransfer.into_org_id == branch.id))).first()
    if pending is not None:
        raise ApiError("org_transfer_pending", 409, f"{branch.name} is being merged (organisation transfer "
                       f"{pending}); transfer members after it completes.", org_transfer_id=pending)


def _receiving_branch(org_id) -> Org:
    if org_id is None:
        raise ApiError("validation_error", 422, "Name the receiving branch.", errors={"to_org_id": ["required"]})
    org = access.get_org(org_id)
    if org.kind != "branch" or org.retired_at is not None:
        raise ApiError("invalid_org", 422, "Members are received by a branch (党支部) that is not retired.",
                       errors={"to_org_id": ["not an active branch"]})
    return org


def _required_text(data: dict, name: str, what: str) -> str:
    value = (data.get(name) or "").strip()
    if not value:
        raise ApiError("validation_error", 422, f"Give {what}.", errors={name: ["required"]})
    return value


def _jsonable(person: dict) -> dict:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in person.items()}


def _complete(transfer: Transfer) -> None:
    """The last step approved: move the member (or register them, or let them go) now."""
    if transfer.kind == "into_system":
        member = _register(transfer)
    else:
        # An exemption request's instance is locked before the member row, the order task completion uses.
        departures.member_left(db.session.get(Member, transfer.member_id), None,
                               "组织关系转接" if transfer.kind == "in_system" else "转出系统外")
        member = lock_row(Member, transfer.member_id)
        old_org = member.org_id
        if transfer.kind == "in_system":
            membership.move(member, transfer.to_org_id, "transfer", transfer.id)
            move_account_grants(member, access.subtree_ids([old_org]), transfer.to_org_id)
        else:
            membership.close_period(member, "out_of_system")
            member.deleted_at, member.deleted_reason = utcnow(), f"转出系统外：{transfer.destination}"[:200]
            move_account_grants(member, access.subtree_ids([old_org]), None)
    transfer.status, transfer.completed_at = "completed", utcnow()


def _register(transfer: Transfer) -> Member:
    if lock_row(Org, transfer.to_org_id).retired_at is not None:
        raise ApiError("org_retired", 409, "The receiving branch has since been merged into another; return this "
                       "transfer and register the member with the branch that took over.")
    person = dict(transfer.member_data)
    require_free_phone(person.get("phone"))
    for name in ("joined_at", "birth_date"):
        if person.get(name):
            person[name] = date.fromisoformat(person[name])
    member = Member(**person, org_id=transfer.to_org_id)
    db.session.add(member)
    db.session.flush()
    membership.open_period(member, "into_system", transfer.id)
    transfer.member_id = member.id
    return member


def move_account_grants(member: Member, old_orgs: list[int], new_org: int | None) -> None:
    """The member's account follows them: its member role moves to `new_org`; its rights over `old_orgs` end."""
    account = departures.account_of(member)
    if account is None:
        return
    db.session.execute(delete(RoleGrant).where(RoleGrant.user_id == account, RoleGrant.org_id.in_(old_orgs))
                       .execution_options(synchronize_session=False))
    if new_org is not None and not db.session.scalars(select(RoleGrant.id).where(
            RoleGrant.user_id == account, RoleGrant.role == "member", RoleGrant.org_id == new_org)).first():
        db.session.add(RoleGrant(user_id=account, role="member", org_id=new_org))
        db.session.flush()
    departures.release_claims(account, everything=new_org is None)
    loaded = db.session.identity_map.get(identity_key(User, account))
    if loaded is not None:  # the grants were changed behind the ORM's back
        db.session.expire(loaded, ["grants"])


def _notify_outcome(transfer: Transfer) -> None:
    word = {"completed": "已完成", "returned": "已退回"}.get(transfer.status)
    if word is None:
        return
    name = _member_name(transfer)
    admins = [u for org in (transfer.from_org_id, transfer.to_org_id) if org for u in notifications.admins_of(org)]
    notifications.to_users(admins, f"transfer_{transfer.status}", f"组织关系转接{word}：{name}",
                           transfer.outcome_comment, ("transfer", transfer.id))
    if transfer.member_id and transfer.status == "completed":
        notifications.to_members([transfer.member_id], "transfer_completed", f"您的组织关系转接{word}",
                                 None, ("transfer", transfer.id))


def _member_name(transfer: Transfer) -> str:
    if transfer.member_id:
        return db.session.get(Member, transfer.member_id).name
    return (transfer.member_data or {}).get("name", "")


def get_visible(user, transfer_id: int) -> Transfer:
    """The transfer, if the caller administers either side (or above), or is the member; else 404."""
    transfer = db.session.get(Transfer, transfer_id)
    if transfer is None or not _can_see(user, transfer):
        raise ApiError("transfer_not_found", 404, f"Transfer {transfer_id} does not exist.")
    return transfer


def _can_see(user, transfer: Transfer) -> bool:
    if transfer.member_id is not None and user.member_id == transfer.member_id:
        return True
    sides = [transfer.from_org_id, transfer.to_org_id, *transfer.chain]
    return any(access.administers(user, db.session.get(Org, o)) for o in sides if o is not None)


def list_transfers(user, filters: dict) -> list[Transfer]:
    """Transfers out of or into an org's subtree, newest first."""
    org = access.get_org(filters["org_id"])
    access.require_admin(user, org)
    ids = access.subtree_ids([org.id])
    query = select(Transfer).where((Transfer.from_org_id.in_(ids)) | (Transfer.to_org_id.in_(ids)))
    for name in ("status", "kind", "member_id"):
        if filters.get(name) is not None:
            query = query.where(getattr(Transfer, name) == filters[name])
    return list(db.session.scalars(query.order_by(Transfer.id.desc()).limit(filters.get("limit") or 200)))


@transactional
def cancel_transfer(user, transfer_id: int, reason: str) -> Transfer:
    """The starting side withdraws a pending transfer."""
    transfer = get_visible(user, transfer_id)
    access.require_admin(user, access.get_org(transfer.from_org_id or transfer.to_org_id))
    chains.cancel(transfer, user, reason, "transfer_finished", "transfer")
    return transfer


def transfer_view(transfer: Transfer) -> dict:
    """The transfer with its chain, open tasks and timeline."""
    columns = {c.key: getattr(transfer, c.key) for c in Transfer.__table__.columns}
    outside = {"out_of_system": "destination", "into_system": "origin"}.get(transfer.kind)
    return {**columns, "destination": transfer.destination if outside == "destination" else None,
            "origin": transfer.destination if outside == "origin" else None,
            "member_name": _member_name(transfer), "chain": chains.chain_view(transfer),
            "open_tasks": runtime.open_tasks(transfer.instance_id) if transfer.instance_id else [],
            "timeline": runtime.timeline(transfer.instance_id)}
