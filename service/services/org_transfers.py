"""Organisation transfers (组织迁移/合并): move an org with its subtree under a new parent, or merge a branch.

Both parents' admins approve (or, when asked, their nearest common ancestor); completion re-parents the org
and re-routes the open superior tasks of its meetings, so inboxes follow the new tree at once.
"""
from sqlalchemy import select, update

from ..database import lock_row, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import (ExemptionRequest, HumanTask, Meeting, Member, Org, OrgTransfer, ProcessInstance,
                      Transfer)
from ..models.orgs import ALLOWED_PARENTS
from . import access, chains, flows, membership, notifications, runtime
from .definitions import latest_enabled
from .transfers import move_account_grants

PROCESS_KEY = "org_transfer"
CHAIN_KINDS = ("transfer", "org_transfer")  # their chains are fixed when they start


class OrgTransferSubject(chains.ChainSubject):
    """How the runtime routes and reacts for organisation transfers."""

    lanes = frozenset({"superior_admin"})

    def load(self, subject_id: int) -> OrgTransfer:
        return db.session.get(OrgTransfer, subject_id)

    def complete(self, move: OrgTransfer) -> None:
        _complete(move)

    def notify_outcome(self, move: OrgTransfer) -> None:
        _notify_outcome(move)


runtime.SUBJECTS["org_transfer"] = OrgTransferSubject()


@transactional
def create_org_transfer(user, data: dict) -> OrgTransfer:
    """Ask to move an org under a new parent, or to merge a branch into another."""
    other = data.get("into_org_id") if data["kind"] == "merge" else None
    for org_id in sorted({data["org_id"], *([other] if other is not None else [])}):
        lock_row(Org, org_id)  # both sides of a merge, in id order: two chained merges cannot both start
    org = db.session.get(Org, data["org_id"])
    if org is None:
        raise ApiError("org_not_found", 404, f"Organisation {data['org_id']} does not exist.")
    access.require_admin(user, org)
    access.require_active(org, "org_id")
    _require_not_reorganising(org.id)
    move = OrgTransfer(kind=data["kind"], org_id=org.id, from_parent_id=org.parent_id, reason=data["reason"],
                       requested_by=user.id, status="pending", step=0)
    if data["kind"] == "move":
        target = _check_move(org, data)
        move.new_parent_id = target.id
    else:
        target = _check_merge(org, data)
        _require_not_reorganising(target.id)
        move.into_org_id = target.id
    parents = [access.get_org(org.parent_id) if org.parent_id else None,
               target if data["kind"] == "move" else access.get_org(target.parent_id)]
    move.chain = _chain(parents, data.get("approved_by") or "parents")
    _require_quiet(move)
    db.session.add(move)
    db.session.flush()
    move.instance_id = runtime.start_instance(latest_enabled(PROCESS_KEY, category="transfer"), "org_transfer",
                                              move, user, {"kind": move.kind}).id
    return move


def _require_not_reorganising(org_id: int) -> None:
    """One reorganisation at a time per org: being moved, merged away, or merged into."""
    pending = db.session.scalars(select(OrgTransfer.id).where(
        OrgTransfer.status == "pending",
        (OrgTransfer.org_id == org_id) | (OrgTransfer.into_org_id == org_id))).first()
    if pending is not None:
        raise ApiError("org_transfer_pending", 409, f"Organisation {org_id} is already in a pending move or merge "
                       f"({pending}).", org_transfer_id=pending)


def _check_move(org: Org, data: dict) -> Org:
    if org.kind == "group":
        raise ApiError("invalid_org", 422, "A party group moves with its branch; move the branch.",
                       errors={"org_id": ["a group"]})
    parent = access.get_org(_required(data, "new_parent_id"))
    access.require_active(parent, "new_parent_id")
    if parent.id == org.parent_id:
        raise ApiError("same_parent", 422, "The organisation is already under that parent.")
    if parent.kind not in ALLOWED_PARENTS[org.kind] or parent.id in access.subtree_ids([org.id]):
        raise ApiError("invalid_parent", 422, f"A {org.kind} cannot be placed under organisation {parent.id}.",
                       errors={"new_parent_id": ["not an allowed parent"]})
    return parent


def _check_merge(org: Org, data: dict) -> Org:
    into = access.get_org(_required(data, "into_org_id"))
    access.require_active(into, "into_org_id")
    if org.kind != "branch" or into.kind != "branch" or into.id == org.id:
        raise ApiError("invalid_org", 422, "A merge moves one branch's members into another branch.",
                       errors={"into_org_id": ["must be another branch"]})
    return into


def _required(data: dict, name: str) -> int:
    if data.get(name) is None:
        raise ApiError("validation_error", 422, f"Give {name}.", errors={name: ["required"]})
    return data[name]


def _chain(parents: list, approved_by: str) -> list[int]:
    present = [p for p in parents if p is not None]
    if approved_by == "common_ancestor" and len(present) == 2:
        common = chains.common_ancestor(*present)
        if common is None:
            raise ApiError("no_common_ancestor", 422, "The two parents have no common ancestor to approve.")
        return [common.id]
    return list(dict.fromkeys(p.id for p in present))


def _require_quiet(move: OrgTransfer) -> None:
    """Nothing that was routed on the old tree may still be in flight."""
    ids = access.subtree_ids([move.org_id])
    if move.kind == "merge":
        ids = ids + [move.into_org_id]
    pending = db.session.scalars(select(Transfer.id).where(
        Transfer.status == "pending", (Transfer.from_org_id.in_(ids)) | (Transfer.to_org_id.in_(ids)))).first()
    if pending is not None:
        raise ApiError("transfers_pending", 409, f"Member transfer {pending} touching this organisation is "
                       "pending; finish or cancel it first (its approval chain follows the old tree).",
                       transfer_id=pending)
    if move.kind == "merge" and db.session.scalars(select(Meeting.id).where(
            Meeting.org_id.in_(access.subtree_ids([move.org_id])),
            Meeting.status.not_in(("completed", "cancelled")))).first():
        raise ApiError("meetings_running", 409, "The branch still has meetings in progress; finish or cancel them.")


def _complete(move: OrgTransfer) -> None:
    org = _lock_involved(move)
    _require_quiet(move)
    _lock_instances_in_flight(org, move)
    old_reviewers = [o.id for o in chains.reviewers_above(org)]
    target = access.get_org(move.new_parent_id or move.into_org_id)
    if target.retired_at is not None:
        raise ApiError("target_retired", 409, f"{target.name} has since been merged into another branch; "
                       "return this request (approved=false with a reason) and start a new one.")
    if move.kind == "move":
        if target.id in access.subtree_ids([org.id]):
            raise ApiError("invalid_parent", 409, "The new parent has since been moved under this organisation; "
                           "return this request.")
        org.parent_id = target.id
        db.session.flush()
    else:
        _merge(org, target)
    _reroute(org if move.kind == "move" else access.get_org(move.into_org_id), old_reviewers)
    move.status, move.completed_at = "completed", utcnow()


def _lock_involved(move: OrgTransfer) -> Org:
    """Lock the orgs whose place in the tree this decides, in id order (two opposite moves then serialise)."""
    target = access.get_org(move.new_parent_id or move.into_org_id)
    ids = {move.org_id, target.id, *(a.id for a in access.ancestors(target))}
    for org_id in sorted(ids):
        lock_row(Org, org_id)
    return db.session.get(Org, move.org_id)


def _lock_instances_in_flight(org: Org, move: OrgTransfer) -> None:
    """Lock, in id order, the instances whose tasks this re-routes, before any member or task row is touched.

    Task completions lock their instance first too, so one in flight finishes (and its new tasks get re-routed)
    instead of deadlocking against the members and tasks this updates.
    """
    ids = access.subtree_ids([org.id])
    meetings = select(Meeting.instance_id).where(Meeting.org_id.in_(ids), Meeting.instance_id.is_not(None))
    requests = select(ExemptionRequest.instance_id).join(Member, Member.id == ExemptionRequest.member_id).where(
        ExemptionRequest.status == "pending", Member.org_id.in_(ids), ExemptionRequest.instance_id.is_not(None))
    db.session.execute(select(ProcessInstance.id).where(
        ProcessInstance.status == "running",
        ProcessInstance.id.in_(meetings) | ProcessInstance.id.in_(requests))
        .order_by(ProcessInstance.id).with_for_update()).all()


def _merge(org: Org, into: Org) -> None:
    for group in list(db.session.scalars(select(Org).where(Org.parent_id == org.id))):
        group.parent_id = into.id
    for member in list(db.session.scalars(select(Member).where(Member.org_id == org.id))):
        if member.deleted_at is not None:  # the history library goes along, so the branch can still restore them
            member.org_id, member.group_id, member.committee_role = into.id, None, None
            move_account_grants(member, [org.id], into.id)
            continue
        group_id = member.group_id
        membership.move(member, into.id, "merge")
        member.group_id = group_id  # the groups came along
        move_account_grants(member, [org.id], into.id)
    flows.rehome(org.id, into.id)
    org.retired_at, org.merged_into_id = utcnow(), into.id


def _reroute(org: Org, old_reviewers: list[int]) -> None:
    """Open superior tasks about the org's subtree now wait for the superiors of the new tree."""
    ids = access.subtree_ids([org.id])
    rows = db.session.execute(select(HumanTask.id, Meeting.org_id).join(
        Meeting, Meeting.id == HumanTask.subject_id).where(
        HumanTask.subject_kind == "meeting", HumanTask.state == "open", HumanTask.role == "superior_admin",
        Meeting.org_id.in_(ids))).all()
    superiors: dict[int, int | None] = {}  # few distinct branches, many tasks: one UPDATE per new superior
    for meeting_org in {m for _, m in rows}:
        superior = access.superior_of(access.branch_of(db.session.get(Org, meeting_org)))
        superiors[meeting_org] = superior.id if superior else None
    by_target: dict[int | None, list[int]] = {}
    for task_id, meeting_org in rows:
        by_target.setdefault(superiors[meeting_org], []).append(task_id)
    for target, task_ids in by_target.items():
        for start in range(0, len(task_ids), 1000):
            db.session.execute(update(HumanTask).where(HumanTask.id.in_(task_ids[start:start + 1000]),
                                                       HumanTask.state == "open",
                                                       HumanTask.org_id.is_distinct_from(target))
                               .values(org_id=target, assignee_id=None).execution_options(synchronize_session=False))
    others = db.session.scalars(select(HumanTask).where(
        HumanTask.state == "open", HumanTask.org_id.in_(old_reviewers),
        HumanTask.subject_kind.not_in(("meeting", *CHAIN_KINDS))))
    for task in list(others):  # e.g. exemption requests: few; each subject knows its own routing
        subject = runtime.SUBJECTS[task.subject_kind].load(task.subject_id)
        org_id, assignee = runtime.SUBJECTS[task.subject_kind].resolve_lane(subject, task.role)
        if org_id != task.org_id:
            task.org_id, task.assignee_id = org_id, assignee


def _notify_outcome(move: OrgTransfer) -> None:
    word = {"completed": "已完成", "returned": "已退回"}.get(move.status)
    if word is None:
        return
    org = db.session.get(Org, move.org_id)
    what = "组织合并" if move.kind == "merge" else "组织迁移"
    sides = [move.org_id, move.from_parent_id, move.new_parent_id, move.into_org_id]
    admins = [u for o in sides if o for u in notifications.admins_of(o)]
    notifications.to_users(admins, f"org_transfer_{move.status}", f"{what}{word}：{org.name}",
                           move.outcome_comment, ("org_transfer", move.id))


def get_visible(user, move_id: int) -> OrgTransfer:
    """The move, if the caller administers the org, a parent involved or a chain step; else 404."""
    move = db.session.get(OrgTransfer, move_id)
    sides = [] if move is None else [move.org_id, move.from_parent_id, move.new_parent_id, move.into_org_id,
                                     *move.chain]
    if move is None or not any(access.administers(user, db.session.get(Org, o)) for o in sides if o):
        raise ApiError("org_transfer_not_found", 404, f"Organisation transfer {move_id} does not exist.")
    return move


@transactional
def cancel_org_transfer(user, move_id: int, reason: str) -> OrgTransfer:
    """The requesting side withdraws a pending move or merge."""
    move = get_visible(user, move_id)
    access.require_admin(user, access.get_org(move.org_id))
    chains.cancel(move, user, reason, "org_transfer_finished", "organisation transfer")
    return move


def org_transfer_view(move: OrgTransfer) -> dict:
    """The move with its chain, open tasks and timeline."""
    columns = {c.key: getattr(move, c.key) for c in OrgTransfer.__table__.columns}
    return {**columns, "chain": chains.chain_view(move),
            "open_tasks": runtime.open_tasks(move.instance_id) if move.instance_id else [],
            "timeline": runtime.timeline(move.instance_id)}
