"""Scoring and compliance rules: pure Python over dataclasses, no Flask, no SQLAlchemy, no I/O but data files.

- periods: China-time (Asia/Shanghai) period labels and bounds for caps, reads and compliance.
- registry / kinds: rule kinds behind one interface (`RuleKind.award(rule, event, when, state) -> int`):
  per_event, video_progress, dues, declared.
- model: `Rule`, `Event`, `Award` (frozen, self-validating dataclasses).
- state / scoring: `ScoreState`, `StateKeys`, `score(events, rules, state)`, `state_keys(events, rules)`.
- sets: rule sets as JSON under rules/data/ (gansu, sanjin_dues, declared, optional sanjin_attendance).
- rollup: org totals by the 三晋先锋 formulas. compliance: 督办达标 rows from rules/data/compliance.json.

Points are a reference, never the measure of a person; every rule can be switched off.
"""
from .periods import CHINA, PERIODS, parse_period, period_bounds, period_key

# Shown wherever points are: a reference, never the measure of a person (2026 rules).
NOTICE = "积分仅供参考，不作为评价党员的唯一依据"
from .registry import KINDS, RuleKind, kind_of, register
from .kinds import Declared, Dues, PerEvent, VideoProgress  # importing registers the kinds
from .model import CATEGORIES, CHANNELS, TARGETS, UNITS, Award, Event, Moment, Rule
from .state import ScoreState, StateKeys
from .scoring import moment_of, score, state_keys
from .sets import (DEFAULT_SETS, EDITABLE, OPTIONAL_SETS, apply_overrides, default_rules, load_rule_set,
                   rule_from_mapping, rules_from_data)
from .rollup import ORG_KINDS, OrgTotal, roll_up
from .compliance import (COMPLIANCE_PERIODS, Requirement, count_held, evaluate, load_requirements, months_in,
                         requirements_from_data)

__all__ = [
    "NOTICE", "CHINA", "PERIODS", "period_bounds", "period_key", "parse_period",
    "KINDS", "RuleKind", "kind_of", "register", "Declared", "Dues", "PerEvent", "VideoProgress",
    "CATEGORIES", "CHANNELS", "TARGETS", "UNITS", "Award", "Event", "Moment", "Rule",
    "ScoreState", "StateKeys", "moment_of", "score", "state_keys",
    "DEFAULT_SETS", "EDITABLE", "OPTIONAL_SETS", "apply_overrides", "default_rules", "load_rule_set",
    "rule_from_mapping", "rules_from_data",
    "ORG_KINDS", "OrgTotal", "roll_up",
    "COMPLIANCE_PERIODS", "Requirement", "count_held", "evaluate", "load_requirements", "months_in",
    "requirements_from_data",
]
