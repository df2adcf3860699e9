"""The scoring rules in force: the packaged rule sets with the admins' changes (points, cap, enabled) applied."""
from sqlalchemy import select

import rules

from ..extensions import db
from ..models import ScoreRuleSetting


def overrides() -> dict[str, dict]:
    """rule id -> the fields an admin changed."""
    out: dict[str, dict] = {}
    for row in db.session.scalars(select(ScoreRuleSetting)):
        changed = {name: getattr(row, name) for name in ("points", "enabled") if getattr(row, name) is not None}
        if row.cap_set:
            changed["cap"] = row.cap
        out[row.rule_id] = changed
    return out


def effective_rules() -> list[rules.Rule]:
    """Every rule of the default sets as it applies now."""
    return rules.apply_overrides(rules.default_rules(), overrides())


def rule(rule_id: str) -> rules.Rule | None:
    """One rule as it applies now, or None."""
    return next((r for r in effective_rules() if r.id == rule_id), None)
