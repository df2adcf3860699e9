"""Scoring through the caps: per-event rules, China-time periods, duplicates, rule swaps, state keys."""
from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from rules import (CHINA, Event, Rule, ScoreState, default_rules, load_rule_set, moment_of, period_key, score,
                   state_keys)

RULES = default_rules()
UTC = timezone.utc


def china(*args) -> datetime:
    """An aware instant given in China wall-clock time."""
    return datetime(*args, tzinfo=CHINA)


def ev(event_id, action, at, member=1, **kw) -> Event:
    """An event of member `member` (or of an org when org_id is given)."""
    return Event(id=event_id, action=action, occurred_at=at, member_id=None if "org_id" in kw else member, **kw)


def points(awards) -> list[int]:
    """The awarded points in order."""
    return [award.points for award in awards]


def run(events, rules=RULES, state=None):
    """Score a batch on a fresh (or given) state; (awards, state)."""
    state = ScoreState() if state is None else state
    return score(events, rules, state), state


@pytest.mark.parametrize("action,each,cap", [("login", 1, 1), ("favorite", 1, 2), ("comment", 2, 4), ("like", 1, 1),
                                              ("share", 1, 2), ("exam", 2, 4), ("third_party", 1, 5),
                                              ("donation_published", 2, 2), ("donation_completed", 10, 10),
                                              ("wish_fulfilled", 10, 10), ("snapshot_approved", 2, 6)])
def test_daily_caps_stop_at_the_cap(action, each, cap):
    day = [ev(f"{action}{i}", action, china(2026, 11, 18, 9, i)) for i in range(cap // each + 2)]
    awards, state = run(day)
    assert sum(points(awards)) == cap
    assert points(awards) == [each] * (cap // each)
    assert state.points[(1, f"gansu.{action}", "2026-11-18")] == cap


def test_an_event_that_would_pass_the_cap_gets_the_remainder():
    rule = Rule(id="t.odd", action="odd", kind="per_event", category="education", points=3, cap=4, cap_period="day")
    awards, state = run([ev(f"o{i}", "odd", china(2026, 11, 18, 9, i)) for i in range(3)], [rule])
    assert points(awards) == [3, 1]
    assert state.points[(1, "t.odd", "2026-11-18")] == 4


def test_caps_are_per_member():
    awards, _ = run([ev("a", "like", china(2026, 11, 18, 9), member=1), ev("b", "like", china(2026, 11, 18, 9), member=2),
                     ev("c", "like", china(2026, 11, 18, 10), member=1)])
    assert [(a.target_id, a.points) for a in awards] == [(1, 1), (2, 1)]


def test_china_day_boundary_23_59_and_00_01():
    before = datetime(2026, 11, 18, 15, 59, tzinfo=UTC)   # 23:59 in Beijing
    after = datetime(2026, 11, 18, 16, 1, tzinfo=UTC)     # 00:01 on the 19th in Beijing
    same_utc_day_later = datetime(2026, 11, 18, 23, 0, tzinfo=UTC)
    awards, state = run([ev("a", "login", before), ev("b", "login", after), ev("c", "login", same_utc_day_later)])
    assert points(awards) == [1, 1]
    assert set(state.points) == {(1, "gansu.login", "2026-11-18"), (1, "gansu.login", "2026-11-19")}


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Pacific/Kiritimati", "Asia/Shanghai"])
def test_process_time_zone_changes_nothing(monkeypatch, zone):
    import time
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        local = datetime(2026, 11, 18, 15, 59, tzinfo=UTC).astimezone()   # aware in the process's zone
        events = [ev("a", "login", local), ev("b", "login", local + timedelta(minutes=2)),
                  ev("c", "login", local + timedelta(minutes=3))]
        awards, state = run(events)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert points(awards) == [1, 1]
    assert sorted(key[2] for key in state.points) == ["2026-11-18", "2026-11-19"]


@pytest.mark.parametrize("seconds,earned", [(None, 0), (0, 0), (30, 0), (31, 1), (600, 1)])
def test_read_needs_more_than_30_seconds(seconds, earned):
    awards, _ = run([ev("r", "read", china(2026, 11, 18, 9), seconds=seconds)])
    assert sum(points(awards)) == earned


def test_read_cap_is_five_a_day():
    awards, _ = run([ev(f"r{i}", "read", china(2026, 11, 18, 9, i), seconds=45) for i in range(7)])
    assert points(awards) == [1] * 5


def _video(event_id, at, position, video="v1", member=1):
    return ev(event_id, "video", at, member=member, object_id=video, seconds=position)


def test_video_credits_full_three_minute_units():
    awards, state = run([_video("a", china(2026, 11, 18, 9), 200), _video("b", china(2026, 11, 18, 9, 5), 360)])
    assert points(awards) == [1, 1]
    assert state.video_positions[(1, "v1")] == 360
    assert state.video_seconds[(1, "2026-11-18")] == 360


def test_video_replay_and_rewind_credit_nothing():
    events = [_video("a", china(2026, 11, 18, 9), 300), _video("b", china(2026, 11, 18, 9, 10), 100),
              _video("c", china(2026, 11, 18, 9, 20), 300), _video("d", china(2026, 11, 18, 9, 30), 359),
              _video("e", china(2026, 11, 18, 9, 40), 360)]
    awards, state = run(events)
    assert [(a.event_id, a.points) for a in awards] == [("a", 1), ("e", 1)]
    assert state.video_seconds[(1, "2026-11-18")] == 360


def test_video_replay_on_a_later_day_credits_nothing():
    awards, state = run([_video("a", china(2026, 11, 18, 9), 600), _video("b", china(2026, 11, 19, 9), 600)])
    assert points(awards) == [3]
    assert (1, "2026-11-19") not in state.video_seconds


def test_short_videos_accumulate_within_the_day():
    awards, _ = run([_video("a", china(2026, 11, 18, 9), 100, "v1"), _video("b", china(2026, 11, 18, 10), 100, "v2")])
    assert [(a.event_id, a.points) for a in awards] == [("b", 1)]


def test_video_leftover_does_not_carry_past_china_midnight():
    late = china(2026, 11, 18, 23, 59)
    early = china(2026, 11, 19, 0, 1)
    awards, state = run([_video("a", late, 170, "v1"), _video("b", early, 10, "v2")])
    assert awards == []
    assert state.video_seconds == {(1, "2026-11-18"): 170, (1, "2026-11-19"): 10}


def test_video_day_cap_is_ten_and_resets_next_day():
    events = [_video("a", china(2026, 11, 18, 9), 3600, "v1"), _video("b", china(2026, 11, 18, 12), 900, "v2"),
              _video("c", china(2026, 11, 19, 9), 3600, "v3")]
    awards, _ = run(events)
    assert [(a.event_id, a.points) for a in awards] == [("a", 10), ("c", 10)]


def test_video_without_object_or_position_earns_nothing():
    awards, state = run([ev("a", "video", china(2026, 11, 18, 9), seconds=900),
                         ev("b", "video", china(2026, 11, 18, 9), object_id="v1")])
    assert awards == [] and state.video_positions == {}


def _dues(event_id, at, month, channel="online", **kw):
    return ev(event_id, "dues", at, month=month, channel=channel, **kw)


def test_dues_online_within_the_month_earn_five_once():
    awards, _ = run([_dues("a", china(2026, 11, 5), "2026-11"), _dues("b", china(2026, 11, 6), "2026-11")])
    assert [(a.rule_id, a.points, a.category) for a in awards] == [("sanjin.dues", 5, "organizational_life")]


@pytest.mark.parametrize("month,channel,at", [
    ("2026-10", "online", china(2026, 11, 5)),     # back-payment
    ("2026-12", "online", china(2026, 11, 5)),     # paid ahead of the month
    ("2026-11", "offline", china(2026, 11, 5)),    # recorded by the admin
    ("2026-11", "online", datetime(2026, 11, 30, 16, 30, tzinfo=UTC)),  # 00:30 on 1 December in Beijing
])
def test_dues_back_payment_offline_or_outside_the_month_earn_nothing(month, channel, at):
    assert run([_dues("a", at, month, channel)])[0] == []


def test_dues_paid_in_the_last_china_minute_count():
    at = datetime(2026, 11, 30, 15, 59, tzinfo=UTC)  # 23:59 on 30 November in Beijing
    assert points(run([_dues("a", at, "2026-11")])[0]) == [5]


def test_dues_paid_at_decides_the_month():
    recorded = china(2026, 12, 2)
    assert run([_dues("a", recorded, "2026-11", paid_at=china(2026, 11, 30, 12))])[0][0].points == 5
    assert run([_dues("a", recorded, "2026-11", paid_at=china(2026, 10, 30, 12))])[0] == []


def test_declared_points_come_from_the_approval():
    awards, state = run([ev("c1", "score_claim", china(2026, 11, 18), points=7), ev("c2", "score_claim", china(2026, 11, 18))])
    assert [(a.rule_id, a.points, a.target) for a in awards] == [("declared.claim", 7, "member")]
    assert state.points == {(1, "declared.claim", "2026"): 7}   # uncapped but counted by China year


def test_an_uncapped_counted_rule_never_clamps_and_a_cap_set_later_counts_what_was_awarded():
    counted = Rule(id="t.item", action="item", kind="declared", category="pioneer", points=0, cap_period="month")
    awards, state = run([ev(f"c{i}", "item", china(2026, 11, 18, 9, i), points=40) for i in range(3)], [counted])
    assert [a.points for a in awards] == [40, 40, 40] and state.points == {(1, "t.item", "2026-11"): 120}
    capped = replace(counted, cap=130)
    later, _ = run([ev("c9", "item", china(2026, 11, 20), points=40)], [capped], state)
    assert [a.points for a in later] == [10]   # 120 already this month: 10 left of 130


@pytest.mark.parametrize("key,points_,period,first,second", [
    ("branch_congress", 30, "quarter", china(2026, 10, 1), china(2026, 12, 31, 23, 59)),
    ("committee_meeting", 10, "month", china(2026, 11, 1), china(2026, 11, 30, 23)),
    ("group_meeting", 10, "month", china(2026, 11, 1), china(2026, 11, 20)),
    ("party_class", 30, "quarter", china(2026, 4, 1), china(2026, 6, 30)),
    ("theme_day", 10, "month", china(2026, 11, 3), china(2026, 11, 4)),
    ("org_life_meeting", 30, "year", china(2026, 1, 10), china(2026, 12, 20)),
])
def test_meetings_earn_once_per_period_for_the_branch(key, points_, period, first, second):
    action = f"meeting.{key}"
    later = china(2027, 1, 1, 0, 1)
    awards, state = run([ev("m1", action, first, org_id=7), ev("m2", action, second, org_id=7),
                         ev("m3", action, later, org_id=7), ev("m4", action, second, org_id=8)])
    assert [(a.event_id, a.target, a.target_id, a.points) for a in awards] == [
        ("m1", "org", 7, points_), ("m4", "org", 8, points_), ("m3", "org", 7, points_)]
    assert (7, f"gansu.meeting.{key}", period_key(first, period)) in state.points


def test_congress_quarter_turns_at_china_new_year():
    awards, _ = run([ev("a", "meeting.branch_congress", datetime(2026, 12, 31, 15, 59, tzinfo=UTC), org_id=1),
                     ev("b", "meeting.branch_congress", datetime(2026, 12, 31, 16, 1, tzinfo=UTC), org_id=1)])
    assert points(awards) == [30, 30]


def test_week_caps_use_china_iso_weeks():
    rule = Rule(id="t.weekly", action="w", kind="per_event", category="pioneer", points=1, cap=1, cap_period="week")
    sunday_night = china(2026, 11, 22, 23, 59)   # Sunday of ISO week 47
    awards, state = run([ev("a", "w", sunday_night), ev("b", "w", sunday_night + timedelta(minutes=2)),
                         ev("c", "w", sunday_night + timedelta(days=1))], [rule])
    assert points(awards) == [1, 1]
    assert {k[2] for k in state.points} == {"2026-W47", "2026-W48"}


def test_meeting_event_without_org_is_refused_before_any_change():
    state = ScoreState()
    good = ev("a", "login", china(2026, 11, 18))
    with pytest.raises(ValueError, match="org_id"):
        score([good, ev("b", "meeting.theme_day", china(2026, 11, 18))], RULES, state)
    assert state == ScoreState()


def test_duplicate_ids_award_once_within_and_across_batches():
    first = ev("same", "comment", china(2026, 11, 18, 9))
    awards, state = run([first, replace(first, occurred_at=china(2026, 11, 18, 10)), ev("other", "comment", china(2026, 11, 18, 11))])
    assert [a.event_id for a in awards] == ["same", "other"]
    assert state.accepted == ["same", "other"]
    again, _ = run([first, ev("third", "comment", china(2026, 11, 18, 12))], state=state)
    assert again == []   # 'third' would exceed the daily cap of 4; 'same' is a duplicate
    assert state.accepted == ["same", "other", "third"]


def test_seen_ids_loaded_by_the_caller_are_skipped():
    state = ScoreState(seen={"old"})
    awards, _ = run([ev("old", "login", china(2026, 11, 18)), ev("new", "like", china(2026, 11, 18))], state=state)
    assert [a.event_id for a in awards] == ["new"]
    assert state.accepted == ["new"]


def test_disabled_rules_award_nothing_and_keep_no_counters():
    rules = [replace(r, enabled=False) if r.action == "login" else r for r in RULES]
    awards, state = run([ev("a", "login", china(2026, 11, 18)), ev("b", "like", china(2026, 11, 18))], rules)
    assert [a.rule_id for a in awards] == ["gansu.like"]
    assert state.accepted == ["a", "b"]
    assert list(state.points) == [(1, "gansu.like", "2026-11-18")]


def test_unknown_actions_are_accepted_and_earn_nothing():
    awards, state = run([ev("a", "watch_tv", china(2026, 11, 18))])
    assert awards == [] and state.accepted == ["a"]


def test_changed_points_apply_only_to_later_batches():
    state = ScoreState()
    first, _ = run([ev("a", "favorite", china(2026, 11, 18, 9))], state=state)
    richer = [replace(r, points=2, cap=5) if r.id == "gansu.favorite" else r for r in RULES]
    later, _ = run([ev("b", "favorite", china(2026, 11, 18, 10)), ev("c", "favorite", china(2026, 11, 18, 11)),
                    ev("d", "favorite", china(2026, 11, 18, 12))], richer, state)
    assert points(first) == [1]
    assert points(later) == [2, 2]    # 1 + 2 + 2 = 5 = the new cap; 'd' gets nothing
    assert state.points[(1, "gansu.favorite", "2026-11-18")] == 5


def test_order_is_by_time_then_id_whatever_the_input_order():
    events = [ev(f"f{i}", "favorite", china(2026, 11, 18, 9 + i % 3)) for i in range(6)]
    expected = None
    for seed in range(5):
        random.Random(seed).shuffle(events)
        got = [a.event_id for a in run(list(events))[0]]
        expected = expected or got
        assert got == expected
    assert expected == ["f0", "f3"]


def test_awards_carry_the_ledger_fields():
    at = china(2026, 11, 18, 9)
    (award,) = run([ev("a", "exam", at, member=42)])[0]
    assert award == ("a", "gansu.exam", "education", "member", 42, 2, at)


def test_attendance_placeholders_are_off_until_enabled():
    attendance = load_rule_set("sanjin_attendance")
    event = ev("a", "attend.group_meeting", china(2026, 11, 18))
    assert run([event], RULES + attendance)[0] == []
    enabled = [replace(r, enabled=True) for r in attendance]
    assert [a.rule_id for a in run([event], RULES + enabled)[0]] == ["sanjin.attend.group_meeting"]


def test_repeated_rule_ids_refused():
    with pytest.raises(ValueError, match="twice"):
        score([], RULES + RULES[:1], ScoreState())


def _mixed_batch(seed, n=400):
    rng = random.Random(seed)
    start = china(2026, 11, 18)
    events = []
    for i in range(n):
        action = rng.choice(["login", "read", "video", "video", "favorite", "dues", "meeting.theme_day", "score_claim"])
        at = start + timedelta(minutes=rng.randrange(3 * 24 * 60))
        kw = {"org_id": rng.randrange(3)} if action.startswith("meeting") else {}
        if action == "read":
            kw["seconds"] = rng.randrange(60)
        if action == "video":
            kw.update(object_id=f"v{rng.randrange(3)}", seconds=rng.randrange(1200))
        if action == "dues":
            kw.update(month=rng.choice(["2026-11", "2026-10"]), channel=rng.choice(["online", "offline"]))
        events.append(ev(f"e{seed}-{i % (n - 20)}", action, at, member=rng.randrange(4), **kw))
    return events


def test_state_keys_are_all_a_batch_needs():
    """Scoring with only the rows state_keys names gives what scoring with everything gives."""
    full = ScoreState()
    for seed in range(4):
        batch = _mixed_batch(seed)
        keys = state_keys(batch, RULES)
        loaded = keys.subset_of(full)
        expected = score(batch, RULES, full)
        assert score(batch, RULES, loaded) == expected
        assert set(loaded.points) <= keys.points
        assert set(loaded.video_positions) <= keys.video_positions
        assert set(loaded.video_seconds) <= keys.video_seconds
    assert full.points and full.video_positions


def test_state_keys_name_exact_rows():
    batch = [ev("a", "login", datetime(2026, 11, 18, 16, 1, tzinfo=UTC), member=5),
             ev("b", "meeting.branch_congress", china(2026, 11, 18), org_id=9),
             _video("c", china(2026, 11, 18, 9), 300, "v9", member=5),
             ev("d", "score_claim", china(2026, 11, 18), points=3), ev("e", "nothing", china(2026, 11, 18))]
    rules = RULES + [Rule(id="x.off", action="login", kind="per_event", category="education", points=1, cap=1,
                          cap_period="year", enabled=False)]
    keys = state_keys(batch, rules)
    assert keys.event_ids == {"a", "b", "c", "d", "e"}
    assert keys.points == {(5, "gansu.login", "2026-11-19"), (9, "gansu.meeting.branch_congress", "2026-Q4"),
                           (5, "gansu.video", "2026-11-18"), (1, "declared.claim", "2026")}
    assert keys.video_positions == {(5, "v9")}
    assert keys.video_seconds == {(5, "2026-11-18")}


def test_moment_matches_period_key_across_history():
    rng = random.Random(3)
    summer_time = datetime(1988, 7, 1, 15, 30, tzinfo=UTC)   # 00:30 on 2 July: China kept summer time 1986-91
    assert moment_of(summer_time).day == "1988-07-02"
    instants = [summer_time, datetime(1991, 9, 14, 16, 30, tzinfo=UTC),
                datetime(2026, 11, 18, 15, 59, 59, 999999, tzinfo=UTC), datetime(2026, 11, 18, 16, 0, tzinfo=UTC)]
    instants += [datetime(1950, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(150 * 365 * 86400))
                 for _ in range(3000)]
    for at in instants:
        assert tuple(moment_of(at)) == tuple(period_key(at, p) for p in ("day", "week", "month", "quarter", "year")), at


def test_a_days_video_seconds_stay_within_a_day_whatever_the_positions():
    from datetime import datetime, timezone
    from rules import Event, ScoreState, default_rules, score
    at = datetime(2026, 11, 18, 4, 0, tzinfo=timezone.utc)
    events = [Event(id=f"v{i}", member_id=1, action="video", occurred_at=at, object_id=name, seconds=2_000_000_000)
              for i, name in enumerate("ab")]
    state = ScoreState()
    awards = score(events, default_rules(), state)
    assert sum(a.points for a in awards) == 10 and max(state.video_seconds.values()) <= 86_400
