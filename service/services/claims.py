"""积分申报 (declared points): a member applies, the branch admin decides (process score_claim), a platform
admin may later overturn an approval with a reason. Nothing is deleted: an overturn is a reversal entry.
"""
from sqlalchemy import false, or_, select, true

from ..database import lock_row, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import HumanTask, Member, Org, ProcessInstance, ScoreClaim, ScoreEntry, User
from . import access, ledger, notifications, runtime, score_rules
from .definitions import latest_enabled

PROCESS_KEY = "score_claim"
SUBJECT_KIND = "score_claim"
RULE_ID = "declared.claim"
DEFAULT_CATEGORY = "pioneer"  # the packaged rule's, should the rule ever be missing
WITHDRAWN = "党员撤回申报"
OVERTURNED = "审核结果被撤销"
RULE_OFF_NOTE = "积分申报规则已停用：审核通过，记 0 分"


class ClaimSubject:
    """How the runtime routes and reacts for score claims."""

    lanes = frozenset({"branch_admin"})

    def load(self, subject_id: int) -> ScoreClaim:
        return db.session.get(ScoreClaim, subject_id)

    def resolve_lane(self, claim: ScoreClaim, lane: str):
        # The branch the member belonged to when applying decides, even if they have moved since.
        if lane == "branch_admin":
            return claim.org_id, None
        raise ApiError("unroutable_lane", 409, f"Lane '{lane}' cannot be routed for a score claim.")

    def due_base(self, claim: ScoreClaim, now):
        return now

    def after_advance(self, claim: ScoreClaim, instance, open_actions: set[str], opened: set[str]) -> None:
        # Whatever path the BPMN took, its `approved` variable says how it ended.
        if instance.status == "completed" and claim.status == "pending":
            decider = _decider(instance)
            _refuse_own_decision(claim, decider)
            variables = runtime.load_workflow(instance).data
            _decide(claim, decider, bool(variables.get("approved")), variables.get("review_comment"))


runtime.SUBJECTS[SUBJECT_KIND] = ClaimSubject()


def _decider(instance: ProcessInstance) -> User | None:
    """Who completed the deciding task (the runtime marked it completed just before this advance)."""
    user_id = db.session.scalars(select(HumanTask.completed_by).where(
        HumanTask.instance_id == instance.id, HumanTask.state == "completed")
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())).first()
    return db.session.get(User, user_id) if user_id is not None else None


def _refuse_own_decision(claim: ScoreClaim, user: User | None) -> None:
    # Raised inside the completion's transaction, so the task stays open and nothing is recorded.
    if user is not None and user.member_id == claim.member_id:
        raise ApiError("own_claim", 403, f"Score claim {claim.id} is your own; another admin of the branch decides it.")


def _decide(claim: ScoreClaim, user: User | None, approved: bool, comment: str | None) -> None:
    claim.status = "approved" if approved else "rejected"
    claim.decided_at, claim.decision_comment = utcnow(), comment
    entry = _award(claim, user) if approved else None
    if entry is not None:
        claim.entry_id = entry.id
    _notify(claim, entry)


def _award(claim: ScoreClaim, user: User | None) -> ScoreEntry:
    """The ledger entry of an approval: the claimed points, or 0 while the rule is switched off."""
    rule = score_rules.rule(RULE_ID)
    enabled = rule is not None and rule.enabled
    return ledger.append("member", claim.member_id, RULE_ID, rule.category if rule else DEFAULT_CATEGORY,
                         claim.points if enabled else 0, claim.decided_at, "claim", claim.id, user,
                         None if enabled else RULE_OFF_NOTE)


def _notify(claim: ScoreClaim, entry: ScoreEntry | None) -> None:
    if entry is None:
        title = "积分申报未通过"
    elif entry.points:
        title = f"积分申报已通过：{entry.points} 分"
    else:
        title = "积分申报已通过：规则已停用，记 0 分"
    notifications.to_members([claim.member_id], "score_claim_decided", title, claim.decision_comment,
                             (SUBJECT_KIND, claim.id))


@transactional
def create_claim(user, data: dict) -> dict:
    """A member declares points for themself; starts the process in their branch's inbox."""
    member = _claimant(user)
    org = access.branch_of(db.session.get(Org, member.org_id))
    claim = ScoreClaim(member_id=member.id, org_id=org.id, points=data["points"], reason=data["reason"],
                       evidence_ids=list(data["evidence"]), status="pending", created_by=user.id, created_at=utcnow())
    db.session.add(claim)
    db.session.flush()
    instance = runtime.start_instance(latest_enabled(PROCESS_KEY), SUBJECT_KIND, claim, user,
                                      {"member_id": member.id, "points": claim.points})
    claim.instance_id = instance.id
    return claim_view(claim)


def _claimant(user) -> Member:
    """The caller's own member row, locked so a deletion or transfer cannot slip past the checks."""
    member = lock_row(Member, user.member_id) if user.member_id is not None else None
    if member is None:
        raise ApiError("forbidden", 403, "Only a member's own account declares points.")
    if member.deleted_at is not None:
        raise ApiError("member_deleted", 422, f"Member {member.id} is in the history library.")
    return member


def get_claim(user, claim_id: int) -> dict:
    """A claim with its open task and timeline: for the member, admins over the branch and platform admins."""
    return claim_view(_visible(user, claim_id))


def _visible(user, claim_id: int) -> ScoreClaim:
    claim = db.session.get(ScoreClaim, claim_id)
    if claim is None or not _may_see(user, claim):
        raise ApiError("claim_not_found", 404, f"Score claim {claim_id} does not exist.")
    return claim


def _may_see(user, claim: ScoreClaim) -> bool:
    return claim.member_id == user.member_id or access.administers(user, db.session.get(Org, claim.org_id))


def list_claims(user, filters: dict) -> list[dict]:
    """Claims the caller may see (an org's subtree, or else all they administer plus their own), newest first."""
    query = select(ScoreClaim).where(_scope(user, filters.get("org_id")))
    for name in ("member_id", "status"):
        if filters.get(name) is not None:
            query = query.where(getattr(ScoreClaim, name) == filters[name])
    return claim_views(list(db.session.scalars(query.order_by(ScoreClaim.id.desc()))))


def _scope(user, org_id: int | None):
    if org_id is not None:
        org = access.get_org(org_id)
        access.require_admin(user, org)
        return ScoreClaim.org_id.in_(access.subtree_ids([org.id]))
    if access.is_platform_admin(user):
        return true()
    own = ScoreClaim.member_id == user.member_id if user.member_id is not None else false()
    admin_orgs = access.admin_org_ids(user)
    if not admin_orgs and user.member_id is None:
        raise ApiError("forbidden", 403, "Only members and administrators list score claims.")
    return or_(own, ScoreClaim.org_id.in_(access.subtree_ids(sorted(admin_orgs)))) if admin_orgs else own


@transactional
def cancel_claim(user, claim_id: int) -> dict:
    """The member withdraws a pending claim; its task leaves the branch's inbox."""
    claim = _visible(user, claim_id)
    if claim.member_id != user.member_id:
        raise ApiError("forbidden", 403, f"Only the member who applied withdraws score claim {claim.id}.")
    # The order a task completion locks in (instance, then the claim), and decide only under the lock.
    instance = lock_row(ProcessInstance, claim.instance_id, undefer=(ProcessInstance.state,))
    db.session.refresh(claim)
    if claim.status != "pending":
        raise ApiError("claim_not_pending", 409, f"Score claim {claim.id} is {claim.status}.")
    claim.status, claim.decision_comment = "cancelled", WITHDRAWN
    if instance is not None and instance.status == "running":
        runtime.cancel_instance(instance, user, WITHDRAWN)
    return claim_view(claim)


@transactional
def overturn_claim(user, claim_id: int, reason: str) -> dict:
    """A platform admin overturns an approval: a reversal entry; the claim and its award stay on record."""
    access.require_platform_admin(user)
    claim = _locked_approval(claim_id)
    ledger.reverse(db.session.get(ScoreEntry, claim.entry_id), user, reason)
    claim.status, claim.overturned_by, claim.overturned_at, claim.overturn_reason = \
        "overturned", user.id, utcnow(), reason
    runtime.record_event(db.session.get(ProcessInstance, claim.instance_id), None, "overturned", user,
                         task_name=OVERTURNED, comment=reason)
    notifications.to_members([claim.member_id], "score_claim_overturned", f"积分申报{OVERTURNED}", reason,
                             (SUBJECT_KIND, claim.id))
    return claim_view(claim)


def _locked_approval(claim_id: int) -> ScoreClaim:
    """The claim, locked (of two overturns at once the second sees the first's status), if it is an approval."""
    claim = lock_row(ScoreClaim, claim_id)
    if claim is None:
        raise ApiError("claim_not_found", 404, f"Score claim {claim_id} does not exist.")
    if claim.status == "overturned":
        raise ApiError("already_overturned", 409, f"Score claim {claim.id} was overturned already.")
    if claim.status != "approved":
        raise ApiError("claim_not_approved", 409, f"Score claim {claim.id} is {claim.status}; only approvals "
                       "are overturned.")
    return claim


def claim_view(claim: ScoreClaim) -> dict:
    """The claim with its award, open tasks and timeline."""
    tasks = runtime.open_tasks(claim.instance_id) if claim.instance_id else []
    return {**claim_views([claim])[0], "open_tasks": tasks, "timeline": runtime.timeline(claim.instance_id)}


def claim_views(claims: list[ScoreClaim]) -> list[dict]:
    """Claims as dicts with their ledger entries (the award and any reversal), read in one query."""
    entries = _entries([c.entry_id for c in claims if c.entry_id is not None])
    return [_view(claim, entries) for claim in claims]


def _entries(entry_ids: list[int]) -> dict:
    """Awards by id, and their reversals keyed ('reversal', award id)."""
    if not entry_ids:
        return {}
    rows = db.session.scalars(select(ScoreEntry).where(
        or_(ScoreEntry.id.in_(entry_ids), ScoreEntry.reverses_id.in_(entry_ids))))
    return {(("reversal", e.reverses_id) if e.reverses_id is not None else e.id): e for e in rows}


def _view(claim: ScoreClaim, entries: dict) -> dict:
    columns = {c.key: getattr(claim, c.key) for c in ScoreClaim.__table__.columns if c.key != "evidence_ids"}
    award, reversal = entries.get(claim.entry_id), entries.get(("reversal", claim.entry_id))
    return {**columns, "evidence": claim.evidence_ids or [],
            "awarded_points": award.points if award else None, "award_note": award.note if award else None,
            "reversal_entry_id": reversal.id if reversal else None,
            "net_points": (award.points + (reversal.points if reversal else 0)) if award else None}


def cancel_for_member(member_id: int, user, reason: str) -> int:
    """A member who leaves their branch has their pending claims withdrawn (instances locked first, in id order)."""
    pending = list(db.session.scalars(select(ScoreClaim).where(
        ScoreClaim.member_id == member_id, ScoreClaim.status == "pending").order_by(ScoreClaim.instance_id)))
    for claim in pending:
        instance = lock_row(ProcessInstance, claim.instance_id, undefer=(ProcessInstance.state,))
        db.session.refresh(claim)
        if claim.status != "pending":
            continue
        claim.status, claim.decision_comment = "cancelled", reason
        if instance is not None and instance.status == "running":
            runtime.cancel_instance(instance, user, reason)
    return len(pending)
