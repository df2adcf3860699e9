"""Approval chains computed from the org tree, shared by member and organisation transfers."""
from sqlalchemy import select

from ..database import lock_row, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Org, ProcessInstance
from ..models.orgs import REVIEWING_KINDS
from . import access, runtime


def reviewers_above(org: Org) -> list[Org]:
    """The committees and general branches above an org, nearest first."""
    return [a for a in access.ancestors(org) if a.kind in REVIEWING_KINDS]


def between(sending: Org, receiving: Org) -> list[int]:
    """Up the sending side to the nearest common ancestor, then down the receiving side (its branch excluded)."""
    up, down = reviewers_above(sending), reviewers_above(receiving)
    down_ids = [o.id for o in down]
    common = next((i for i, o in enumerate(up) if o.id in down_ids), None)
    if common is None:  # separate trees: all the way up one side and down the other
        return [o.id for o in up] + list(reversed(down_ids))
    top = up[common].id
    return [o.id for o in up[:common + 1]] + list(reversed(down_ids[:down_ids.index(top)]))


def common_ancestor(a: Org, b: Org) -> Org | None:
    """The nearest org that is a or above a and also b or above b."""
    above_b = {b.id} | {o.id for o in access.ancestors(b)}
    return next((o for o in [a, *access.ancestors(a)] if o.id in above_b), None)


def current_approver(subject) -> int:
    """The org whose admins the chain waits for now."""
    if subject.step >= len(subject.chain):
        raise ApiError("chain_finished", 409, "Every step of the approval chain has already approved.")
    return subject.chain[subject.step]


def chain_view(subject) -> list[dict]:
    """Each step with its org and where it stands: approved, current, waiting (or returned)."""
    names = dict(db.session.execute(select(Org.id, Org.name).where(Org.id.in_(subject.chain))).all())
    def state(i):
        if i < subject.step:
            return "approved"
        if i == subject.step:
            return {"pending": "current", "returned": "returned"}.get(subject.status, "not_reached")
        return "waiting" if subject.status == "pending" else "not_reached"
    return [{"org_id": org_id, "org_name": names.get(org_id), "state": state(i)}
            for i, org_id in enumerate(subject.chain)]


def cancel(subject, user, reason: str, code: str, what: str) -> None:
    """Withdraw a pending request: lock its instance first (the order task completion takes), decide under the lock."""
    instance = lock_row(ProcessInstance, subject.instance_id, undefer=(ProcessInstance.state,))
    db.session.refresh(subject)
    if subject.status != "pending" or instance.status != "running":
        raise ApiError(code, 409, f"The {what} is already {subject.status}.")
    subject.status, subject.outcome_comment, subject.completed_at = "cancelled", reason, utcnow()
    runtime.cancel_instance(instance, user, reason)


class ChainSubject:
    """Routing shared by subjects that walk an approval chain: superior_admin is the current step."""

    def resolve_lane(self, subject, lane: str):
        if lane == "superior_admin":
            return current_approver(subject), None
        org_id = self.side_org(subject, lane)
        if org_id is None:
            raise ApiError("unroutable_lane", 409, f"Lane '{lane}' cannot be routed for this transfer.")
        return org_id, None

    def side_org(self, subject, lane: str) -> int | None:
        return None

    def due_base(self, subject, now):
        return now

    def after_advance(self, subject, instance, open_actions: set[str], opened: set[str]) -> None:
        """When the process ends: carry out a still-pending request (the last step approved), then tell both sides."""
        if instance.status != "completed":
            return
        if subject.status == "pending":
            self.complete(subject)
        self.notify_outcome(subject)
