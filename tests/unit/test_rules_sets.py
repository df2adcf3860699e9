"""Rule and event validation, the packaged rule sets and admins' overrides."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from rules import (CHINA, DEFAULT_SETS, KINDS, Event, Rule, apply_overrides, default_rules, load_rule_set,
                   rule_from_mapping, rules_from_data)

BASE = {"id": "t.x", "action": "x", "kind": "per_event", "category": "education", "points": 1}
NOW = datetime(2026, 11, 18, tzinfo=CHINA)

GANSU = {  # action: (points, cap, cap_period, category, target) from DOMAIN.md "Scoring"
    "login": (1, 1, "day", "education", "member"), "favorite": (1, 2, "day", "education", "member"),
    "comment": (2, 4, "day", "education", "member"), "like": (1, 1, "day", "education", "member"),
    "share": (1, 2, "day", "education", "member"), "read": (1, 5, "day", "education", "member"),
    "video": (1, 10, "day", "education", "member"), "exam": (2, 4, "day", "education", "member"),
    "third_party": (1, 5, "day", "education", "member"),
    "donation_published": (2, 2, "day", "pioneer", "member"), "donation_completed": (10, 10, "day", "pioneer", "member"),
    "wish_fulfilled": (10, 10, "day", "pioneer", "member"), "snapshot_approved": (2, 6, "day", "pioneer", "member"),
    "meeting.branch_congress": (30, 30, "quarter", "organizational_life", "org"),
    "meeting.committee_meeting": (10, 10, "month", "organizational_life", "org"),
    "meeting.group_meeting": (10, 10, "month", "organizational_life", "org"),
    "meeting.party_class": (30, 30, "quarter", "organizational_life", "org"),
    "meeting.theme_day": (10, 10, "month", "organizational_life", "org"),
    "meeting.org_life_meeting": (30, 30, "year", "organizational_life", "org"),
}


def test_gansu_set_is_domain_md():
    rules = {r.action: r for r in load_rule_set("gansu")}
    assert {a: (r.points, r.cap, r.cap_period, r.category, r.target) for a, r in rules.items()} == GANSU
    assert all(r.id == f"gansu.{r.action}" and r.enabled and r.label for r in rules.values())
    assert (rules["read"].min_seconds, rules["video"].kind, rules["video"].unit, rules["video"].unit_seconds) == (
        30, "video_progress", "seconds", 180)


def test_default_rules_are_gansu_dues_and_declared():
    assert DEFAULT_SETS == ("gansu", "sanjin_dues", "declared")
    rules = default_rules()
    assert len(rules) == len(GANSU) + 2
    dues = [r for r in rules if r.action == "dues"]
    assert [(r.id, r.kind, r.points, r.cap, r.cap_period) for r in dues] == [("sanjin.dues", "dues", 5, 5, "month")]
    assert [r.kind for r in rules if r.action == "score_claim"] == ["declared"]


def test_attendance_set_is_a_disabled_placeholder():
    rules = load_rule_set("sanjin_attendance")
    assert sorted(r.action for r in rules) == sorted(f"attend.{k}" for k in (
        "branch_congress", "committee_meeting", "group_meeting", "party_class", "theme_day", "org_life_meeting"))
    assert not any(r.enabled for r in rules)
    assert all(r.target == "member" for r in rules)


def test_loaded_sets_cannot_be_changed_through_the_returned_list():
    first = load_rule_set("gansu")
    first.clear()
    assert load_rule_set("gansu")


@pytest.mark.parametrize("name", ["nope", "../gansu", "Gansu", ""])
def test_unknown_rule_set_names(name):
    with pytest.raises(ValueError):
        load_rule_set(name)


@pytest.mark.parametrize("change,message", [
    ({"kind": "magic"}, "unknown rule kind"), ({"category": "fun"}, "unknown category"),
    ({"cap": 3, "cap_period": "decade"}, "unknown cap_period"), ({"points": -1}, "points"),
    ({"points": True}, "points"), ({"points": 1.5}, "points"), ({"target": "group"}, "unknown target"),
    ({"cap": 3}, "needs a cap_period"), ({"cap": -1, "cap_period": "day"}, "cap"),
    ({"unit": "minutes"}, "unknown unit"), ({"unit": "seconds", "unit_seconds": 180}, "needs unit"),
    ({"unit_seconds": 180}, "unit_seconds"), ({"kind": "video_progress"}, "needs unit"),
    ({"kind": "video_progress", "unit": "seconds"}, "unit_seconds"), ({"min_seconds": -5}, "min_seconds"),
    ({"enabled": "yes"}, "enabled"), ({"id": ""}, "id"), ({"action": ""}, "action"),
])
def test_bad_rules_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        Rule(**{**BASE, **change})


def test_rule_data_errors_are_clear():
    with pytest.raises(ValueError, match="unknown fields"):
        rule_from_mapping({**BASE, "pionts": 2})
    with pytest.raises(ValueError, match="lacks"):
        rule_from_mapping({"id": "t.x", "action": "x", "kind": "per_event"})
    with pytest.raises(ValueError, match="object"):
        rule_from_mapping(["t.x"])
    with pytest.raises(ValueError, match="'rules' list"):
        rules_from_data({"rule": []})
    with pytest.raises(ValueError, match="twice"):
        rules_from_data({"rules": [BASE, BASE]})
    assert rules_from_data(json.loads(json.dumps({"rules": [BASE]}))) == [Rule(**BASE)]


def test_all_kinds_registered():
    assert set(KINDS) == {"per_event", "video_progress", "dues", "declared"}


def test_overrides_change_points_cap_and_enabled_only():
    rules = default_rules()
    changed = apply_overrides(rules, {"gansu.like": {"points": 2, "cap": 4}, "gansu.login": {"enabled": False}})
    by_id = {r.id: r for r in changed}
    assert (by_id["gansu.like"].points, by_id["gansu.like"].cap, by_id["gansu.like"].cap_period) == (2, 4, "day")
    assert by_id["gansu.login"].enabled is False
    assert [r.id for r in changed] == [r.id for r in rules]
    assert {r.id: r for r in rules}["gansu.like"].points == 1   # the originals stay as they were


@pytest.mark.parametrize("overrides,message", [
    ({"gansu.like": {"kind": "declared"}}, "only"), ({"gansu.like": {"cap_period": "year"}}, "only"),
    ({"gansu.nope": {"points": 1}}, "unknown rules"), ({"gansu.like": {"points": -2}}, "points"),
    ({"t.x": {"cap": 5}}, "uncapped"),
])
def test_bad_overrides_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(default_rules() + [Rule(**BASE)], overrides)


def test_a_cap_period_without_a_cap_is_uncapped_and_takes_a_cap_later():
    counted = Rule(**{**BASE, "cap_period": "year"})
    assert (counted.cap, counted.cap_period) == (None, "year")
    claim = {r.id: r for r in default_rules()}["declared.claim"]
    assert (claim.cap, claim.cap_period) == (None, "year")
    [capped] = apply_overrides([claim], {"declared.claim": {"cap": 20}})
    assert (capped.cap, capped.cap_period) == (20, "year")
    [uncapped] = apply_overrides([capped], {"declared.claim": {"cap": None}})
    assert (uncapped.cap, uncapped.cap_period) == (None, "year")


@pytest.mark.parametrize("change,message", [
    ({"occurred_at": datetime(2026, 11, 18)}, "aware"), ({"seconds": -1}, "seconds"), ({"seconds": 2.5}, "seconds"),
    ({"points": -3}, "points"), ({"id": ""}, "id"), ({"id": 5}, "id"), ({"action": ""}, "action"),
    ({"month": "2026-11"}, "channel"), ({"channel": "cash", "month": "2026-11"}, "channel"),
    ({"channel": "online", "month": "2026-13"}, "month"), ({"channel": "online", "month": "2026-Q4"}, "month"),
    ({"channel": "online", "month": "2026-11", "paid_at": datetime(2026, 11, 18)}, "paid_at"),
])
def test_bad_events_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        Event(**{"id": "e", "action": "x", "occurred_at": NOW, **change})


def test_events_are_frozen_and_aware_in_any_zone():
    event = Event(id="e", action="x", occurred_at=datetime(2026, 11, 18, tzinfo=timezone.utc), member_id=1)
    with pytest.raises(AttributeError):
        event.member_id = 2
