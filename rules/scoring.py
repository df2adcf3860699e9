"""Scoring a batch of events: order, de-duplicate, ask each rule's kind, apply the cap, emit awards.

Deterministic: events are taken in (occurred_at, id) order whatever order they arrive in, and every period
is China time (Asia/Shanghai), whatever the process's TZ. Events of one batch are ordered among themselves;
an event arriving in a later batch than events after it is scored against the counters as they stand.
"""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Callable, Iterable, NamedTuple, Sequence

from .model import Award, Event, Moment, Rule
from .periods import CHINA, PERIODS
from .registry import RuleKind, kind_of
from .state import ScoreState, StateKeys

# China has kept UTC+8 without daylight saving since September 1991; from 1992 on, a fixed offset is exact.
_FIXED_OFFSET_FROM = 694224000.0  # 1992-01-01T00:00:00Z
_CHINA_OFFSET = 8 * 3600
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class _Step(NamedTuple):
    rule: Rule
    kind: RuleKind
    period: int         # index into Moment, -1 without a cap_period (no counter)
    member: bool        # target member (else org)
    keys: Callable | None   # the kind's keys() when it names rows of its own


Plan = dict[str, tuple[_Step, ...]]


def moment_of(at: datetime) -> Moment:
    """The China day, week, month, quarter and year labels of an aware instant."""
    return _moment(_china_ordinal(at, at.timestamp()))


def _china_ordinal(at: datetime, timestamp: float) -> int:
    if timestamp >= _FIXED_OFFSET_FROM:
        return int((timestamp + _CHINA_OFFSET) // 86400) + _EPOCH_ORDINAL
    return at.astimezone(CHINA).toordinal()


@lru_cache(maxsize=8192)
def _moment(ordinal: int) -> Moment:
    day = date.fromordinal(ordinal)
    iso_year, iso_week, _ = day.isocalendar()
    return Moment(day.isoformat(), f"{iso_year}-W{iso_week:02d}", f"{day.year}-{day.month:02d}",
                  f"{day.year}-Q{(day.month - 1) // 3 + 1}", str(day.year))


def _plan(rules: Iterable[Rule]) -> Plan:
    """Enabled rules by action; ValueError on a repeated rule id."""
    ids: set[str] = set()
    plan: dict[str, list[_Step]] = {}
    for rule in rules:
        if rule.id in ids:
            raise ValueError(f"rule id {rule.id!r} appears twice")
        ids.add(rule.id)
        if rule.enabled:
            period = -1 if rule.cap_period is None else PERIODS.index(rule.cap_period)
            kind = kind_of(rule.kind)
            own_keys = kind.keys if type(kind).keys is not RuleKind.keys else None
            plan.setdefault(rule.action, []).append(_Step(rule, kind, period, rule.target == "member", own_keys))
    return {action: tuple(steps) for action, steps in plan.items()}


def _target(step: _Step, event: Event):
    target_id = event.member_id if step.member else event.org_id
    if target_id is None:
        raise ValueError(f"event {event.id!r}: rule {step.rule.id} needs {step.rule.target}_id")
    return target_id


def _ordered(events: Iterable[Event], plan: Plan) -> list[tuple]:
    """(timestamp, id, position, event, steps) in scoring order; checks targets before any state changes.

    The position breaks ties between equal ids at one instant, so the sort never compares events.
    """
    rows = []
    for position, event in enumerate(events):
        steps = plan.get(event.action, ())
        for step in steps:
            if (event.member_id if step.member else event.org_id) is None:
                _target(step, event)
        rows.append((event.occurred_at.timestamp(), event.id, position, event, steps))
    rows.sort()
    return rows


def score(events: Iterable[Event], rules: Sequence[Rule], state: ScoreState) -> list[Award]:
    """Award points for new events under enabled rules, updating `state` in place; awards of 0 are omitted."""
    seen, accepted, counters = state.seen, state.accepted, state.points
    awards: list[Award] = []
    for timestamp, event_id, _, event, steps in _ordered(events, _plan(rules)):
        if event_id in seen:
            continue
        seen.add(event_id)
        accepted.append(event_id)
        if not steps:
            continue
        # _china_ordinal inlined: this loop is the ingest hot path
        when = _moment(int((timestamp + _CHINA_OFFSET) // 86400) + _EPOCH_ORDINAL
                       if timestamp >= _FIXED_OFFSET_FROM else event.occurred_at.astimezone(CHINA).toordinal())
        for rule, kind, period, member, _ in steps:
            points = kind.award(rule, event, when, state)
            if points <= 0:
                continue
            target_id = event.member_id if member else event.org_id
            if period >= 0:  # counted: grant what is left of the cap in the event's China period
                key = (target_id, rule.id, when[period])
                used = counters.get(key, 0)
                if rule.cap is not None:  # else uncapped but counted, for a cap set later
                    points = min(points, rule.cap - used)
                    if points <= 0:
                        continue
                counters[key] = used + points
            awards.append(Award(event_id, rule.id, rule.category, rule.target, target_id, points, event.occurred_at))
    return awards


def state_keys(events: Iterable[Event], rules: Sequence[Rule]) -> StateKeys:
    """Exactly the state rows `score(events, rules, ...)` may read or write, to load before scoring."""
    plan = _plan(rules)
    keys = StateKeys()
    event_ids, points = keys.event_ids, keys.points
    for event in events:
        event_ids.add(event.id)
        steps = plan.get(event.action)
        if not steps:
            continue
        when = moment_of(event.occurred_at)
        for step in steps:
            if step.period >= 0:
                points.add((_target(step, event), step.rule.id, when[step.period]))
            if step.keys is not None:
                step.keys(step.rule, event, when, keys)
    return keys
