"""Rule sets as data: JSON files under rules/data/, loaded and validated into Rule objects.

A file is `{"name", "source", "note", "rules": [{...Rule fields...}]}`. Admins change a rule's points, cap
and enabled flag through `apply_overrides`; its kind, action and period stay what the file says.
"""
from __future__ import annotations

import json
import re
from dataclasses import fields, replace
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

from .model import Rule

DEFAULT_SETS = ("gansu", "sanjin_dues", "declared")
OPTIONAL_SETS = ("sanjin_attendance",)
EDITABLE = frozenset({"points", "cap", "enabled"})
_RULE_FIELDS = frozenset(f.name for f in fields(Rule))
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def data_text(name: str) -> str:
    """The text of a packaged data file rules/data/{name}.json; ValueError when there is none."""
    if not _NAME.match(name):
        raise ValueError(f"not a data file name: {name!r}")
    path = resources.files(__package__).joinpath("data", f"{name}.json")
    if not path.is_file():
        raise ValueError(f"no data file {name!r} in rules/data")
    return path.read_text(encoding="utf-8")


def rule_from_mapping(item: Any, source: str = "rule data") -> Rule:
    """One Rule from a JSON object; ValueError naming unknown or missing fields and bad values."""
    if not isinstance(item, Mapping):
        raise ValueError(f"{source}: each rule must be an object, not {type(item).__name__}")
    unknown = sorted(set(item) - _RULE_FIELDS)
    if unknown:
        raise ValueError(f"{source}: rule {item.get('id')!r} has unknown fields {unknown}")
    missing = sorted({"id", "action", "kind", "category", "points"} - set(item))
    if missing:
        raise ValueError(f"{source}: rule {item.get('id')!r} lacks {missing}")
    return Rule(**item)


def rules_from_data(data: Any, source: str = "rule data") -> list[Rule]:
    """Rules from a parsed rule-set document; ValueError on anything malformed or a repeated id."""
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        raise ValueError(f"{source}: a rule set is an object with a 'rules' list")
    rules = [rule_from_mapping(item, source) for item in data["rules"]]
    _unique(rules, source)
    return rules


@lru_cache(maxsize=None)
def _load(name: str) -> tuple[Rule, ...]:
    try:
        data = json.loads(data_text(name))
    except json.JSONDecodeError as error:
        raise ValueError(f"rules/data/{name}.json is not JSON: {error}") from None
    return tuple(rules_from_data(data, f"rules/data/{name}.json"))


def load_rule_set(name: str) -> list[Rule]:
    """The rules of the packaged set `name` (gansu, sanjin_dues, sanjin_attendance, declared)."""
    return list(_load(name))


def default_rules(names: Iterable[str] = DEFAULT_SETS) -> list[Rule]:
    """The default rules: 甘肃 + 三晋先锋 dues + 积分申报; ValueError if two sets share a rule id."""
    rules = [rule for name in names for rule in _load(name)]
    _unique(rules, "default rules")
    return rules


def apply_overrides(rules: Iterable[Rule], overrides: Mapping[str, Mapping[str, Any]]) -> list[Rule]:
    """The rules with admins' edits ({rule_id: {points?, cap?, enabled?}}) applied and validated."""
    rules = list(rules)
    unknown = sorted(set(overrides) - {rule.id for rule in rules})
    if unknown:
        raise ValueError(f"overrides name unknown rules {unknown}")
    return [_override(rule, overrides[rule.id]) if rule.id in overrides else rule for rule in rules]


def _override(rule: Rule, changes: Mapping[str, Any]) -> Rule:
    bad = sorted(set(changes) - EDITABLE)
    if bad:
        raise ValueError(f"rule {rule.id}: only {sorted(EDITABLE)} may change, not {bad}")
    if "cap" in changes and rule.cap_period is None:
        raise ValueError(f"rule {rule.id} is uncapped; its cap cannot be set")
    return replace(rule, **changes)


def _unique(rules: list[Rule], source: str) -> None:
    ids = [rule.id for rule in rules]
    repeated = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if repeated:
        raise ValueError(f"{source}: rule ids appear twice: {repeated}")
