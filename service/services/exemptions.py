"""使用智能手机不便: the branch asks, its superior approves (process smartphone_exempt); a platform admin may set it.

The approval (smartphone_exempt_approved_at) is what later excludes a member from the branch's average score;
the flag alone (smartphone_exempt) permits proxy sign-in.
"""
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..database import china_today, lock_row, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import ExemptionRequest, Member, Org, ProcessInstance
from . import access, membership, notifications, runtime
from .definitions import latest_enabled

PROCESS_KEY = "smartphone_exempt"
ELIGIBLE_AGE = 60
DIRECT_SETTING = "平台管理员直接设置"


class ExemptionSubject:
    """How the runtime routes and reacts for exemption requests."""

    lanes = frozenset({"branch_admin", "superior_admin"})

    def load(self, subject_id: int) -> ExemptionRequest:
        return db.session.get(ExemptionRequest, subject_id)

    def resolve_lane(self, request: ExemptionRequest, lane: str):
        branch = branch_of(request)
        if lane == "branch_admin":
            return branch.id, None
        if lane == "superior_admin":
            superior = access.superior_of(branch)
            if superior is None:
                raise ApiError("no_superior", 409, f"Organisation {branch.id} has no reviewing superior.")
            return superior.id, None
        raise ApiError("unroutable_lane", 409, f"Lane '{lane}' cannot be routed for an exemption request.")

    def due_base(self, request: ExemptionRequest, now):
        return now

    def after_advance(self, request: ExemptionRequest, instance, open_actions: set[str], opened: set[str]) -> None:
        # The decision is the process's: whatever path the BPMN took, its `approved` variable says how it ended.
        if instance.status == "completed" and request.status == "pending":
            variables = runtime.load_workflow(instance).data
            _decide(request, bool(variables.get("approved")), variables.get("review_comment"))


runtime.SUBJECTS["exemption"] = ExemptionSubject()


def branch_of(request: ExemptionRequest) -> Org:
    """The branch the member belongs to (the one that asks)."""
    return access.branch_of(db.session.get(Org, db.session.get(Member, request.member_id).org_id))


def _decide(request: ExemptionRequest, approved: bool, comment: str | None) -> None:
    now = utcnow()
    request.status = "approved" if approved else "rejected"
    request.decided_at, request.decision_comment = now, comment
    member = db.session.get(Member, request.member_id)
    if approved:
        member.smartphone_exempt, member.smartphone_exempt_approved_at = True, now
    outcome = "已通过" if approved else "未通过"
    notifications.to_users(notifications.admins_of(branch_of(request).id), "exemption_decided",
                           f"使用智能手机不便认定{outcome}：{member.name}", comment, ("exemption", request.id))


@transactional
def request_exemption(user, member_id: int, data: dict) -> dict:
    """The branch asks its superior to approve a member's flag; starts the process."""
    member = _locked_member(member_id)  # one request at a time per member: the check below runs under the lock
    access.require_admin(user, db.session.get(Org, member.org_id))
    if member.deleted_at is not None:
        raise ApiError("member_deleted", 422, f"Member {member.id} is in the history library.")
    if member.smartphone_exempt_approved_at is not None:
        raise ApiError("already_approved", 409, f"Member {member.id} is already approved as 使用智能手机不便.")
    membership.require_no_pending_transfer(member.id)  # its completion would leave the request with the old branch
    pending = _pending(member.id)
    if pending is not None:
        raise _pending_error(member.id, pending.id)
    _require_eligible(member, data["reason"])
    request = ExemptionRequest(member_id=member.id, reason=data["reason"], note=data.get("note"), status="pending",
                               requested_by=user.id, created_at=utcnow())
    db.session.add(request)
    try:
        db.session.flush()
    except IntegrityError:  # the partial unique index, should a request ever get past the lock (the session is dead)
        raise _pending_error(member_id, None) from None
    instance = runtime.start_instance(latest_enabled(PROCESS_KEY), "exemption", request, user,
                                      {"member_id": member.id, "reason": request.reason})
    request.instance_id = instance.id
    return exemption_view(request)


def _locked_member(member_id: int) -> Member:
    member = lock_row(Member, member_id)
    if member is None:
        raise ApiError("member_not_found", 404, f"Member {member_id} does not exist.")
    return member


def _pending(member_id: int) -> ExemptionRequest | None:
    return db.session.scalars(select(ExemptionRequest).where(
        ExemptionRequest.member_id == member_id, ExemptionRequest.status == "pending")).first()


def _pending_error(member_id: int, request_id: int | None) -> ApiError:
    return ApiError("request_pending", 409, f"Member {member_id} already has a pending request.",
                    request_id=request_id)


def _require_eligible(member: Member, reason: str) -> None:
    """Aged 60+ is checked when the birth date is known; health reasons are for the superior to judge."""
    if reason != "age_60_plus" or member.birth_date is None:
        return
    if _age(member.birth_date, china_today()) < ELIGIBLE_AGE:
        raise ApiError("not_eligible", 422, f"Member {member.id} is under {ELIGIBLE_AGE}; "
                       "ask for health reasons instead.", errors={"reason": [f"the member is under {ELIGIBLE_AGE}"]})


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def get_request(user, request_id: int) -> dict:
    """A request with its open tasks and timeline, for admins over the member's branch."""
    return exemption_view(_visible(user, request_id))


def _visible(user, request_id: int) -> ExemptionRequest:
    request = db.session.get(ExemptionRequest, request_id)
    if request is None or not access.administers(user, branch_of(request)):
        raise ApiError("exemption_not_found", 404, f"Exemption request {request_id} does not exist.")
    return request


def list_requests(user, filters: dict) -> list[ExemptionRequest]:
    """Requests about members of the org and its subtree (default: every org the caller administers)."""
    query = select(ExemptionRequest).join(Member, Member.id == ExemptionRequest.member_id)
    if filters.get("org_id") is not None:
        org = access.get_org(filters["org_id"])
        access.require_admin(user, org)
        query = query.where(Member.org_id.in_(access.subtree_ids([org.id])))
    elif not access.is_platform_admin(user):
        if not access.admin_org_ids(user):
            raise ApiError("forbidden", 403, "Only administrators list exemption requests.")
        query = query.where(Member.org_id.in_(access.subtree_ids(sorted(access.admin_org_ids(user)))))
    if filters.get("status"):
        query = query.where(ExemptionRequest.status == filters["status"])
    return list(db.session.scalars(query.order_by(ExemptionRequest.id.desc())))


@transactional
def cancel_request(user, request_id: int) -> dict:
    """The branch withdraws a pending request; its task leaves the superior's inbox."""
    request = _visible(user, request_id)
    if not _cancel(request, user, "支部撤回申请"):
        raise ApiError("request_not_pending", 409, f"Exemption request {request_id} is {request.status}.")
    return exemption_view(request)


def _cancel(request: ExemptionRequest, user, reason: str) -> bool:
    """Cancel the request and its process if it is still pending once its instance is locked."""
    # The order a task completion locks in (instance, then the request), and decide only under the lock.
    instance = lock_row(ProcessInstance, request.instance_id, undefer=(ProcessInstance.state,)) \
        if request.instance_id is not None else None
    db.session.refresh(request)
    if request.status != "pending":
        return False
    request.status, request.decision_comment = "cancelled", reason
    if instance is not None and instance.status == "running":
        runtime.cancel_instance(instance, user, reason)
    return True


def cancel_for_member(member_id: int, user, reason: str) -> None:
    """Cancel the member's pending request, if any (they transferred, left, or were deleted); user may be None.

    Runs inside the caller's transaction and commits nothing. It locks the request's process instance, then
    re-reads the request: a task completion's order. A completion that approves goes on to update the member row,
    so a caller should call this before it locks the member row itself; one that already holds that lock can
    deadlock with a superior approving at that moment (Postgres then aborts one of the two).
    """
    pending = _pending(member_id)
    if pending is not None:
        _cancel(pending, user, reason)


def erase_personal(member_id: int) -> None:
    """A purged member: the free text of their requests (note, decision_comment) is blanked."""
    for request in db.session.scalars(select(ExemptionRequest).where(ExemptionRequest.member_id == member_id)):
        request.note, request.decision_comment = None, None


@transactional
def set_exempt(user, member_id: int, exempt: bool) -> Member:
    """A platform admin sets (approved at once) or clears the flag; any pending request is cancelled."""
    access.require_platform_admin(user)
    cancel_for_member(member_id, user, DIRECT_SETTING)  # the instance before the member, as a task completion locks
    member = _locked_member(member_id)
    late = _pending(member_id)
    if late is not None:
        # Asked for between the cancel above and the member lock. Cancelling it now would lock its instance after
        # the member row, the reverse of a completion that approves (instance, then the member): refuse instead.
        raise ApiError("request_pending", 409, f"Member {member_id} was just asked for ({late.id}); try again.",
                       request_id=late.id)
    if member.deleted_at is not None:
        raise ApiError("member_deleted", 422, f"Member {member.id} is in the history library.")
    member.smartphone_exempt = exempt
    member.smartphone_exempt_approved_at = utcnow() if exempt else None
    return member


def exemption_view(request: ExemptionRequest) -> dict:
    """The request's columns, its open tasks and its timeline."""
    columns = {c.key: getattr(request, c.key) for c in ExemptionRequest.__table__.columns}
    tasks = runtime.open_tasks(request.instance_id) if request.instance_id else []
    return {**columns, "open_tasks": tasks, "timeline": runtime.timeline(request.instance_id)}
