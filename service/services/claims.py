"""积分申报 (declared points): a member applies under a declared-points item (a rule of kind `declared`), the
branch admin decides (process score_claim), a platform admin may later overturn an approval with a reason.
Nothing is deleted: an overturn is a reversal entry.

An approval is scored like every other points source (scoring.apply_events, event `claim:<id>`), so the item's
cap per member and China period applies under the same advisory locks; an overturn gives that room back.
"""
from sqlalchemy import false, or_, select, true

import rules

from ..database import lock_row, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import HumanTask, Member, Org, ProcessInstance, ScoreClaim, ScoreCounter, ScoreEntry, User
from . import access, ledger, notifications, runtime, score_rules, scoring
from .definitions import latest_enabled

PROCESS_KEY = "score_claim"
SUBJECT_KIND = "score_claim"
RULE_ID = "declared.claim"  # the general item, what a claim naming none is made under
DEFAULT_CATEGORY = "pioneer"  # the packaged rule's, should the rule ever be missing
WITHDRAWN = "党员撤回申报"
OVERTURNED = "审核结果被撤销"
RULE_OFF_NOTE = "积分申报规则已停用：审核通过，记 0 分"
PERIOD_WORDS = {"day": "本日", "week": "本周", "month": "本月", "quarter": "本季度", "year": "本年度"}


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
    """The ledger entry of an approval, scored through the item's cap: the claimed points, fewer when the cap
    leaves less room, or 0 (cap used up, item switched off) in an entry of its own with a note saying why."""
    item = score_rules.rule(claim.rule_id)
    if item is None or not item.enabled:
        return _zero(claim, item, user, RULE_OFF_NOTE)
    event = rules.Event(id=f"claim:{claim.id}", action=item.action, member_id=claim.member_id,
                        occurred_at=claim.decided_at, points=claim.points)
    awarded = scoring.apply_events([event], user)[3]
    if not awarded:  # apply_events leaves out awards of 0
        return _zero(claim, item, user, _full_note(item) if item.cap is not None else RULE_OFF_NOTE)
    entry = awarded[0]
    if entry.points < claim.points:
        entry.note = (f"{PERIOD_WORDS[item.cap_period]}申报上限 {item.cap} 分，已记 {item.cap - entry.points} 分，"
                      f"本次记 {entry.points} 分")
    return entry


def _zero(claim: ScoreClaim, item: rules.Rule | None, user: User | None, note: str) -> ScoreEntry:
    return ledger.append("member", claim.member_id, claim.rule_id, item.category if item else DEFAULT_CATEGORY, 0,
                         claim.decided_at, "claim", claim.id, user, note)


def _full_note(item: rules.Rule) -> str:
    return f"{PERIOD_WORDS[item.cap_period]}申报上限 {item.cap} 分已记满：审核通过，记 0 分"


def _notify(claim: ScoreClaim, entry: ScoreEntry | None) -> None:
    notifications.to_members([claim.member_id], "score_claim_decided", _decision_title(claim, entry),
                             "\n".join(filter(None, [entry.note if entry else None, claim.decision_comment])) or None,
                             (SUBJECT_KIND, claim.id))


def _decision_title(claim: ScoreClaim, entry: ScoreEntry | None) -> str:
    if entry is None:
        return "积分申报未通过"
    if entry.points == claim.points:
        return f"积分申报已通过：{entry.points} 分"
    if entry.points:
        return f"积分申报已通过：记 {entry.points} 分（申报 {claim.points} 分，已达申报上限）"
    if entry.note == RULE_OFF_NOTE:
        return "积分申报已通过：规则已停用，记 0 分"
    return "积分申报已通过：已达申报上限，记 0 分"


@transactional
def create_claim(user, data: dict) -> dict:
    """A member declares points for themself under an item; starts the process in their branch's inbox."""
    member = _claimant(user)
    item, points = _item(data)
    org = access.branch_of(db.session.get(Org, member.org_id))
    claim = ScoreClaim(member_id=member.id, org_id=org.id, rule_id=item.id, points=points, reason=data["reason"],
                       evidence_ids=list(data["evidence"]), status="pending", created_by=user.id, created_at=utcnow())
    db.session.add(claim)
    db.session.flush()
    instance = runtime.start_instance(latest_enabled(PROCESS_KEY), SUBJECT_KIND, claim, user,
                                      {"member_id": member.id, "points": claim.points})
    claim.instance_id = instance.id
    return claim_view(claim)


def _item(data: dict) -> tuple[rules.Rule, int]:
    """The declared item the claim names (default the general one), in force, and the points claimed under it:
    the claim's own, else the item's base points (基本分)."""
    rule_id = data.get("rule_id") or RULE_ID
    item = score_rules.declared_items().get(rule_id)
    if item is None:
        raise ApiError("not_a_declared_item", 422, f"{rule_id!r} is not a declared-points item.",
                       errors={"rule_id": ["not a declared-points item"]})
    if not item.enabled:
        raise ApiError("declared_item_disabled", 422, f"The declared-points item {rule_id!r} is switched off.",
                       errors={"rule_id": ["switched off"]})
    points = data.get("points") or item.points
    if not points:
        raise ApiError("validation_error", 422, f"The item {rule_id!r} has no base points: name the points.",
                       errors={"points": ["Missing data for required field."]})
    if item.cap is not None and points > item.cap:
        raise ApiError("claim_over_cap", 422, f"The item {rule_id!r} grants at most {item.cap} points a "
                       f"{item.cap_period}.", errors={"points": [f"at most {item.cap}"]}, cap=item.cap,
                       cap_period=item.cap_period)
    return item, points


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
    award = db.session.get(ScoreEntry, claim.entry_id)
    ledger.reverse(award, user, reason)
    _give_room_back(award)
    claim.status, claim.overturned_by, claim.overturned_at, claim.overturn_reason = \
        "overturned", user.id, utcnow(), reason
    runtime.record_event(db.session.get(ProcessInstance, claim.instance_id), None, "overturned", user,
                         task_name=OVERTURNED, comment=reason)
    notifications.to_members([claim.member_id], "score_claim_overturned", f"积分申报{OVERTURNED}", reason,
                             (SUBJECT_KIND, claim.id))
    return claim_view(claim)


def _give_room_back(award: ScoreEntry) -> None:
    """Take the award out of the cap counter it went into, under the member's scoring lock, so a later claim in
    the period may use the room (an award from before the item was counted never drives it below 0)."""
    item = score_rules.rule(award.rule_id)
    if item is None or item.cap_period is None or award.points <= 0:
        return
    scoring.lock_target("member", award.target_id)
    key = ("member", award.target_id, award.rule_id, rules.period_key(award.occurred_at, item.cap_period))
    counter = db.session.get(ScoreCounter, key, populate_existing=True)
    if counter is not None:
        counter.points = max(counter.points - award.points, 0)


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
    """Claims as dicts with their item and ledger entries (the award and any reversal), read in one query."""
    entries = _entries([c.entry_id for c in claims if c.entry_id is not None])
    items = score_rules.declared_items() if claims else {}
    return [_view(claim, entries, items.get(claim.rule_id)) for claim in claims]


def _entries(entry_ids: list[int]) -> dict:
    """Awards by id, and their reversals keyed ('reversal', award id)."""
    if not entry_ids:
        return {}
    rows = db.session.scalars(select(ScoreEntry).where(
        or_(ScoreEntry.id.in_(entry_ids), ScoreEntry.reverses_id.in_(entry_ids))))
    return {(("reversal", e.reverses_id) if e.reverses_id is not None else e.id): e for e in rows}


def _view(claim: ScoreClaim, entries: dict, item: rules.Rule | None) -> dict:
    columns = {c.key: getattr(claim, c.key) for c in ScoreClaim.__table__.columns if c.key != "evidence_ids"}
    award, reversal = entries.get(claim.entry_id), entries.get(("reversal", claim.entry_id))
    return {**columns, "evidence": claim.evidence_ids or [],
            "rule_label": item.label if item else None, "category": _category(award, item),
            "awarded_points": award.points if award else None, "award_note": award.note if award else None,
            "reversal_entry_id": reversal.id if reversal else None,
            "net_points": (award.points + (reversal.points if reversal else 0)) if award else None}


def _category(award: ScoreEntry | None, item: rules.Rule | None) -> str | None:
    """The category the award counted in, else the item's."""
    if award is not None:
        return award.category
    return item.category if item else None


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
