"""The scoring data: rules (what earns points), events (what happened) and awards (what was earned).

All three are frozen dataclasses that validate themselves, so a bad rule file or a bad event fails where it
is built, with a ValueError naming the field, never half-way through a batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Hashable, NamedTuple

from .periods import PERIODS, parse_period
from .registry import kind_of

CATEGORIES = ("organizational_life", "education", "pioneer")  # 组织生活, 教育学习, 先锋模范
TARGETS = ("member", "org")
UNITS = ("event", "seconds")
CHANNELS = ("online", "offline")


class Moment(NamedTuple):
    """The China-time period labels of one instant, in the order of PERIODS."""

    day: str
    week: str
    month: str
    quarter: str
    year: str


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(ok: bool, owner: str, message: str) -> None:
    if not ok:
        raise ValueError(f"{owner}: {message}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One scoring rule. `cap` points at most per (target, rule, China `cap_period`); None = uncapped.

    A `cap_period` without a `cap` is uncapped but counted: the scorer keeps the period's counter, so a cap an
    admin sets later (only a rule with a cap_period can take one) counts what the period has awarded already.

    `unit` is "event" (points per event) or "seconds" (points per full `unit_seconds` accumulated).
    `min_seconds` is exclusive: an event earns only with `seconds` > min_seconds (甘肃: read > 30 s).
    """

    id: str
    action: str
    kind: str
    category: str
    points: int
    target: str = "member"
    unit: str = "event"
    unit_seconds: int | None = None
    cap: int | None = None
    cap_period: str | None = None
    enabled: bool = True
    min_seconds: int | None = None
    label: str = ""

    def __post_init__(self) -> None:
        owner = f"rule {self.id!r}"
        _require(isinstance(self.id, str) and bool(self.id), owner, "id must be a non-empty string")
        _require(isinstance(self.action, str) and bool(self.action), owner, "action must be a non-empty string")
        _require(self.category in CATEGORIES, owner, f"unknown category {self.category!r}; one of {CATEGORIES}")
        _require(_is_int(self.points) and self.points >= 0, owner, f"points must be an integer >= 0, not {self.points!r}")
        _require(self.target in TARGETS, owner, f"unknown target {self.target!r}; one of {TARGETS}")
        _require(isinstance(self.enabled, bool), owner, "enabled must be true or false")
        _require(isinstance(self.label, str), owner, "label must be a string")
        self._check_unit(owner)
        self._check_cap(owner)
        kind_of(self.kind).check(self)

    def _check_unit(self, owner: str) -> None:
        _require(self.unit in UNITS, owner, f"unknown unit {self.unit!r}; one of {UNITS}")
        if self.unit == "seconds":
            _require(_is_int(self.unit_seconds) and self.unit_seconds > 0, owner, "unit_seconds must be an integer > 0")
        else:
            _require(self.unit_seconds is None, owner, "unit_seconds only goes with unit 'seconds'")
        _require(self.min_seconds is None or (_is_int(self.min_seconds) and self.min_seconds >= 0), owner,
                 "min_seconds must be an integer >= 0 or absent")

    def _check_cap(self, owner: str) -> None:
        _require(self.cap_period is None or self.cap_period in PERIODS, owner,
                 f"unknown cap_period {self.cap_period!r}; one of {PERIODS}")
        _require(self.cap is None or self.cap_period is not None, owner, "a cap needs a cap_period")
        _require(self.cap is None or (_is_int(self.cap) and self.cap >= 0), owner, "cap must be an integer >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something a member (or an org) did. The rule's target says which of member_id / org_id counts.

    `seconds`: time on screen for `read`, the saved progress position for `video`. `points`: what an
    approval grants (积分申报). `month`, `channel`, `paid_at`: a dues payment (paid_at defaults to occurred_at).
    """

    id: str
    action: str
    occurred_at: datetime
    member_id: Hashable | None = None
    org_id: Hashable | None = None
    object_id: str | None = None
    seconds: int | None = None
    points: int | None = None
    month: str | None = None
    channel: str | None = None
    paid_at: datetime | None = None

    def __post_init__(self) -> None:
        owner = f"event {self.id!r}"
        _require(isinstance(self.id, str) and bool(self.id), owner, "id must be a non-empty string")
        _require(isinstance(self.action, str) and bool(self.action), owner, "action must be a non-empty string")
        _require(_aware(self.occurred_at), owner, "occurred_at must be an aware datetime")
        for name in ("seconds", "points"):
            value = getattr(self, name)
            _require(value is None or (_is_int(value) and value >= 0), owner, f"{name} must be an integer >= 0")
        if self.month is not None or self.channel is not None or self.paid_at is not None:
            self._check_dues(owner)

    def _check_dues(self, owner: str) -> None:
        _require(self.channel in CHANNELS, owner, f"channel must be one of {CHANNELS}")
        _require(isinstance(self.month, str) and _is_month(self.month), owner, "month must look like 2026-11")
        _require(self.paid_at is None or _aware(self.paid_at), owner, "paid_at must be an aware datetime")


class Award(NamedTuple):
    """Points one event earned under one rule, after the cap: one ledger row (a NamedTuple: cheap, immutable)."""

    event_id: str
    rule_id: str
    category: str
    target: str
    target_id: Hashable
    points: int
    occurred_at: datetime


def _aware(value: object) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


def _is_month(label: str) -> bool:
    try:
        return parse_period(label) == "month"
    except ValueError:
        return False
