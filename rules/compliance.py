"""Compliance supervision (督办达标): is each required meeting held often enough, per unit and period?

Requirements are data (rules/data/compliance.json). Held meetings come in as counts per (org_id, process_key,
China month label); longer periods add up their months. Evaluating a month checks the monthly requirements
of that month; a quarter checks the quarterly ones and each month inside it; a year checks the yearly ones,
each quarter and each month. Rows of requirements held by groups are per group, the others per branch.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from typing import Any, Hashable, Iterable, Mapping, Sequence

from .periods import parse_period, period_key
from .sets import data_text

COMPLIANCE_PERIODS = ("month", "quarter", "year")   # shortest first
HELD_BY = ("branch", "group")


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    """`required` completed meetings of `process_key` per `period`, held by each unit of kind `held_by`."""

    process_key: str
    period: str
    required: int
    held_by: str = "branch"
    label: str = ""

    def __post_init__(self) -> None:
        owner = f"requirement {self.process_key!r}"
        if not isinstance(self.process_key, str) or not self.process_key:
            raise ValueError(f"{owner}: process_key must be a non-empty string")
        if self.period not in COMPLIANCE_PERIODS:
            raise ValueError(f"{owner}: unknown period {self.period!r}; one of {COMPLIANCE_PERIODS}")
        if not isinstance(self.required, int) or isinstance(self.required, bool) or self.required < 1:
            raise ValueError(f"{owner}: required must be an integer >= 1")
        if self.held_by not in HELD_BY:
            raise ValueError(f"{owner}: held_by must be one of {HELD_BY}")


def requirements_from_data(data: Any, source: str = "compliance data") -> list[Requirement]:
    """Requirements from a parsed document {"requirements": [...]}; ValueError on anything malformed."""
    if not isinstance(data, Mapping) or not isinstance(data.get("requirements"), list):
        raise ValueError(f"{source}: an object with a 'requirements' list is expected")
    known = {f.name for f in fields(Requirement)}
    result = []
    for item in data["requirements"]:
        if not isinstance(item, Mapping) or set(item) - known or not {"process_key", "period", "required"} <= set(item):
            raise ValueError(f"{source}: bad requirement {item!r}; fields are {sorted(known)}")
        result.append(Requirement(**item))
    if len({(r.process_key, r.period) for r in result}) != len(result):
        raise ValueError(f"{source}: a process key and period appear twice")
    return result


def load_requirements(name: str = "compliance") -> list[Requirement]:
    """The packaged requirements (default rules/data/compliance.json)."""
    return list(_load(name))


@lru_cache(maxsize=None)
def _load(name: str) -> tuple[Requirement, ...]:
    try:
        data = json.loads(data_text(name))
    except json.JSONDecodeError as error:
        raise ValueError(f"rules/data/{name}.json is not JSON: {error}") from None
    return tuple(requirements_from_data(data, f"rules/data/{name}.json"))


def count_held(completions: Iterable[tuple[Hashable, str, datetime]]) -> Counter:
    """Counts per (org_id, process_key, China month) from (org_id, process_key, completed_at) triples."""
    return Counter((org_id, key, period_key(at, "month")) for org_id, key, at in completions)


def months_in(label: str) -> list[str]:
    """The month labels inside a month, quarter or year label."""
    kind = parse_period(label)
    year = int(label[:4])
    if kind == "month":
        return [label]
    if kind == "quarter":
        first = 3 * int(label[-1]) - 2
        return [f"{year}-{m:02d}" for m in range(first, first + 3)]
    if kind == "year":
        return [f"{year}-{m:02d}" for m in range(1, 13)]
    raise ValueError(f"compliance periods are months, quarters or years, not {label!r}")


def _sub_periods(label: str, period: str) -> list[tuple[str, list[str]]]:
    """The `period`-long labels inside `label`, each with its months."""
    months = months_in(label)
    if period == "month":
        return [(month, [month]) for month in months]
    if period == "quarter":
        quarters = sorted({f"{m[:4]}-Q{(int(m[5:]) - 1) // 3 + 1}" for m in months})
        return [(quarter, months_in(quarter)) for quarter in quarters]
    return [(label[:4], months)]


def evaluate(period_label: str, held_counts: Mapping[tuple[Hashable, str, str], int],
             units: Iterable[tuple[Hashable, str]], requirements: Sequence[Requirement] | None = None) -> list[dict]:
    """Rows {org_id, process_key, period, required, held, status} for every unit (org_id, kind) and requirement.

    `status` is "green" when held >= required, else "red". Units of kinds other than branch and group are
    ignored, so a whole subtree can be passed.
    """
    kind = parse_period(period_label)
    if kind not in COMPLIANCE_PERIODS:
        raise ValueError(f"compliance periods are months, quarters or years, not {period_label!r}")
    depth = COMPLIANCE_PERIODS.index(kind)
    plan = [(r, _sub_periods(period_label, r.period))
            for r in (_load("compliance") if requirements is None else requirements)
            if COMPLIANCE_PERIODS.index(r.period) <= depth]
    get = held_counts.get
    rows = []
    for org_id, unit_kind in units:
        for requirement, periods in plan:
            if requirement.held_by != unit_kind:
                continue
            key = requirement.process_key
            for label, months in periods:
                held = sum(get((org_id, key, month), 0) for month in months)
                rows.append({"org_id": org_id, "process_key": key, "period": label, "required": requirement.required,
                             "held": held, "status": "green" if held >= requirement.required else "red"})
    return rows
