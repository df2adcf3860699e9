"""The scoring rules in force: the packaged rule sets with the admins' changes (points, cap, enabled) applied.

A change is stored in score_rule_setting and audited in score_rule_audit; scoring reads the rules in force at
the start of every batch, so a change applies to events scored from then on and never rewrites past awards.
"""
from dataclasses import asdict
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

import rules

from ..database import transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import ScoreRuleAudit, ScoreRuleSetting
from . import access


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


def effective_rules() -> list[rules.Rule]:
    """Every rule of the default sets as it applies now."""
    return rules.apply_overrides(rules.default_rules(), overrides())


def rule(rule_id: str) -> rules.Rule | None:
    """One rule as it applies now, or None."""
    return next((r for r in effective_rules() if r.id == rule_id), None)


@lru_cache(maxsize=1)
def _set_of() -> dict[str, str]:
    return {r.id: name for name in rules.DEFAULT_SETS for r in rules.load_rule_set(name)}


def rule_views() -> list[dict]:
    """The rules in force with the set each comes from, for GET /api/score-rules."""
    return [{**asdict(r), "set": _set_of()[r.id]} for r in effective_rules()]


def _editable(r: rules.Rule) -> dict:
    return {name: getattr(r, name) for name in sorted(rules.EDITABLE)}


@transactional
def update_rule(user, rule_id: str, changes: dict) -> dict:
    """A platform admin changes a rule's points, cap or enabled flag; stored, audited, in force from now on."""
    access.require_platform_admin(user)
    _check_changes(changes)
    row = _locked_setting(_known(rule_id))
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
    return {**asdict(after), "set": _set_of()[rule_id]}


def _check_changes(changes: dict) -> None:
    fixed = sorted(set(changes) - rules.EDITABLE)
    if fixed:
        raise ApiError("not_editable", 422, f"Only {', '.join(sorted(rules.EDITABLE))} may change; the rule's logic "
                       f"is not editable: {', '.join(fixed)}.", errors={name: ["not editable"] for name in fixed})
    if not changes:
        raise ApiError("validation_error", 422, "Send at least one of points, cap, enabled.",
                       errors={"_schema": ["nothing to change"]})


def _base(rule_id: str) -> rules.Rule:
    return next(r for r in rules.default_rules() if r.id == rule_id)


def _known(rule_id: str) -> str:
    if rule_id not in _set_of():
        raise ApiError("rule_not_found", 404, f"Scoring rule {rule_id!r} does not exist.")
    return rule_id


def _locked_setting(rule_id: str) -> ScoreRuleSetting:
    """The rule's settings row, created if missing, locked (FOR UPDATE) so two edits apply one after the other."""
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.session.execute(insert(ScoreRuleSetting.__table__).values(rule_id=rule_id, cap_set=False, updated_at=utcnow())
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
