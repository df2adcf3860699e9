"""The scoring rules in force: the packaged rule sets, plus the rules admins added (custom_score_rule) for
meeting types deployed later and for declared-points items (申报积分项), with the admins' changes (points,
cap, enabled) applied.

A change is stored in score_rule_setting and audited in score_rule_audit; scoring reads the rules in force at
the start of every batch, so a change applies to events scored from then on and never rewrites past awards.
"""
from dataclasses import asdict
from functools import lru_cache

from sqlalchemy import select

import rules

from ..database import dialect_insert, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import CustomScoreRule, ScoreRuleAudit, ScoreRuleSetting
from . import access, definitions

CUSTOM_SET = "custom"
DECLARED_KIND = "declared"
DECLARED_ACTION = "score_claim."  # an added declared item's action: score_claim.<key>, one action per item
DECLARED_ID = "custom.declared."


def overrides() -> dict[str, dict]:
    """rule id -> the fields an admin changed."""
    out: dict[str, dict] = {}
    for row in db.session.scalars(select(ScoreRuleSetting)):
        out[row.rule_id] = _changed_fields(row)
    return out


def _changed_fields(row: ScoreRuleSetting) -> dict:
    changed = {name: getattr(row, name) for name in ("points", "enabled") if getattr(row, name) is not None}
    if row.cap_set:
        changed["cap"] = row.cap
    return changed


def custom_rules() -> list[rules.Rule]:
    """The rules admins added: per meeting to the branch, or a declared item to the member (by action prefix)."""
    return [_custom_rule(row) for row in db.session.scalars(select(CustomScoreRule).order_by(CustomScoreRule.id))]


def _custom_rule(row: CustomScoreRule) -> rules.Rule:
    declared = row.action.startswith(DECLARED_ACTION)
    return rules.Rule(id=row.id, action=row.action, kind=DECLARED_KIND if declared else "per_event",
                      category=row.category, points=row.points, target="member" if declared else "org",
                      cap=row.cap, cap_period=row.cap_period, label=row.label)


def _all_base() -> list[rules.Rule]:
    return rules.default_rules() + custom_rules()


def effective_rules() -> list[rules.Rule]:
    """Every rule (default sets and added ones) as it applies now."""
    return rules.apply_overrides(_all_base(), overrides())


def rule(rule_id: str) -> rules.Rule | None:
    """One rule as it applies now, or None."""
    return next((r for r in effective_rules() if r.id == rule_id), None)


@lru_cache(maxsize=1)
def _set_of() -> dict[str, str]:
    return {r.id: name for name in rules.DEFAULT_SETS for r in rules.load_rule_set(name)}


def _set_name(rule_id: str) -> str:
    return _set_of().get(rule_id, CUSTOM_SET)


def rule_views() -> list[dict]:
    """The rules in force with the set each comes from, for GET /api/score-rules."""
    return [{**asdict(r), "set": _set_name(r.id)} for r in effective_rules()]


@transactional
def create_rule(user, data: dict) -> dict:
    """A platform admin adds a rule: a meeting type's points (`process_key`) or a declared item (`declared`)."""
    access.require_platform_admin(user)
    made = _declared_item(data["declared"]) if data.get("declared") else _meeting_rule(data)
    _insert_custom(made, user)
    db.session.add(ScoreRuleAudit(rule_id=made.id, changed_by=user.id, changed_at=utcnow(), before={},
                                  after=_editable(made)))
    db.session.flush()
    return {**asdict(made), "set": CUSTOM_SET}


def _meeting_rule(data: dict) -> rules.Rule:
    """The organisational-life rule of a meeting type that has none (e.g. one uploaded): per meeting, to the branch."""
    definition = definitions.get_definition(data["process_key"])
    if definition.category != "meeting":
        raise ApiError("not_a_meeting_type", 422, f"'{definition.key}' is not a meeting type.",
                       errors={"process_key": ["not a meeting type"]})
    action, rule_id = "meeting." + definition.key, "custom.meeting." + definition.key
    if len(rule_id) > 60:
        raise ApiError("invalid_rule", 422, "Process keys longer than 45 characters cannot carry a rule.",
                       errors={"process_key": ["too long"]})
    existing = next((r for r in _all_base() if r.action == action), None)
    if existing is not None:
        raise ApiError("rule_exists", 409, f"Meetings of '{definition.key}' already earn by rule {existing.id!r}; "
                       "change it with PUT /api/score-rules/{id}.", rule_id=existing.id)
    return _built(id=rule_id, action=action, kind="per_event", category=data.get("category", "organizational_life"),
                  points=data["points"], target="org", cap=data.get("cap"), cap_period=data.get("cap_period"),
                  label=data.get("label") or definition.name)


def _declared_item(item: dict) -> rules.Rule:
    """A declared-points item (申报积分项): its base points (基本分) and, optionally, a maximum per China period."""
    rule_id = DECLARED_ID + item["key"]
    existing = next((r for r in _all_base() if r.id == rule_id), None)
    if existing is not None:
        raise ApiError("rule_exists", 409, f"The declared item {item['key']!r} exists already; change it with "
                       "PUT /api/score-rules/{id}.", rule_id=existing.id)
    return _built(id=rule_id, action=DECLARED_ACTION + item["key"], kind=DECLARED_KIND, category=item["category"],
                  points=item["points"], target="member", cap=item.get("cap"), cap_period=item["cap_period"],
                  label=item["label"])


def _built(**fields) -> rules.Rule:
    try:
        return rules.Rule(**fields)
    except ValueError as error:
        raise ApiError("invalid_rule", 422, str(error)) from None


def declared_items() -> dict[str, rules.Rule]:
    """The declared-points items in force (enabled or not), by rule id."""
    return {r.id: r for r in effective_rules() if r.kind == DECLARED_KIND}


def _editable(r: rules.Rule) -> dict:
    return {name: getattr(r, name) for name in sorted(rules.EDITABLE)}


@transactional
def update_rule(user, rule_id: str, changes: dict) -> dict:
    """A platform admin changes a rule's points, cap or enabled flag; stored, audited, in force from now on."""
    access.require_platform_admin(user)
    _check_changes(changes)
    row = _locked_setting(_known(rule_id))
    if "cap" in changes and changes["cap"] is None and _base(rule_id).cap is not None:
        raise ApiError("invalid_rule_change", 422, f"Rule {rule_id!r} comes with a cap: it may change, not go.",
                       errors={"cap": ["may change, not be removed"]})
    before = rules.apply_overrides([_base(rule_id)], {rule_id: _changed_fields(row)})[0]
    merged = {**_changed_fields(row), **changes}
    try:
        after = rules.apply_overrides([_base(rule_id)], {rule_id: merged})[0]
    except ValueError as error:
        raise ApiError("invalid_rule_change", 422, str(error)) from None
    for name, value in changes.items():
        setattr(row, name, value)
    row.cap_set = row.cap_set or "cap" in changes
    row.updated_at, row.updated_by = utcnow(), user.id
    db.session.add(ScoreRuleAudit(rule_id=rule_id, changed_by=user.id, changed_at=row.updated_at,
                                  before=_editable(before), after=_editable(after)))
    return {**asdict(after), "set": _set_name(rule_id)}


def _insert_custom(made: rules.Rule, user) -> None:
    """Insert the added rule; of two admins adding one at once, the second gets 409 rule_exists."""
    added = db.session.execute(dialect_insert(CustomScoreRule.__table__).values(
        id=made.id, action=made.action, category=made.category, points=made.points, cap=made.cap,
        cap_period=made.cap_period, label=made.label, created_at=utcnow(), created_by=user.id)
        .on_conflict_do_nothing())
    if added.rowcount != 1:
        raise ApiError("rule_exists", 409, f"Rule {made.id!r} exists already.", rule_id=made.id)


def _check_changes(changes: dict) -> None:
    fixed = sorted(set(changes) - rules.EDITABLE)
    if fixed:
        raise ApiError("not_editable", 422, f"Only {', '.join(sorted(rules.EDITABLE))} may change; the rule's logic "
                       f"is not editable: {', '.join(fixed)}.", errors={name: ["not editable"] for name in fixed})
    if not changes:
        raise ApiError("validation_error", 422, "Send at least one of points, cap, enabled.",
                       errors={"_schema": ["nothing to change"]})


def _base(rule_id: str) -> rules.Rule:
    return next(r for r in _all_base() if r.id == rule_id)


def _known(rule_id: str) -> str:
    if rule_id not in _set_of() and db.session.get(CustomScoreRule, rule_id) is None:
        raise ApiError("rule_not_found", 404, f"Scoring rule {rule_id!r} does not exist.")
    return rule_id


def _locked_setting(rule_id: str) -> ScoreRuleSetting:
    """The rule's settings row, created if missing, locked (FOR UPDATE) so two edits apply one after the other."""
    db.session.execute(dialect_insert(ScoreRuleSetting.__table__)
                       .values(rule_id=rule_id, cap_set=False, updated_at=utcnow())
                       .on_conflict_do_nothing(index_elements=["rule_id"]))
    query = (select(ScoreRuleSetting).where(ScoreRuleSetting.rule_id == rule_id).with_for_update()
             .execution_options(populate_existing=True))
    return db.session.scalars(query).one()


def audit(user, rule_id: str) -> list[ScoreRuleAudit]:
    """Every change to the rule, newest first (who changed it is for platform admins to see)."""
    access.require_platform_admin(user)
    _known(rule_id)
    return list(db.session.scalars(select(ScoreRuleAudit).where(ScoreRuleAudit.rule_id == rule_id)
                                   .order_by(ScoreRuleAudit.id.desc())))
