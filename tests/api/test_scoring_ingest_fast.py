"""Bulk score ingest (apply_events with entries=False; on Postgres the COPY path): the same rows as a pure
rules.score run, ids that COPY text would mangle, a conflicting id stored by a concurrent batch, and meeting
points under the rules in force."""
import random
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

import rules
from service.extensions import db
from service.models import ScoreCounter, ScoreEntry, ScoreEvent, VideoDay, VideoProgress
from service.services import score_rules, scoring

CHINA8 = timezone(timedelta(hours=8))
ACTIONS = ("login", "read", "video", "like", "favorite", "comment", "share", "exam", "third_party",
           "donation_published", "snapshot_approved")
# ids COPY's text format treats specially, quotes and braces an array literal must quote, and plain ones
ODD_IDS = ("back\\slash", "tab\there", "new\nline", "carriage\rreturn", 'quo"te', "{brace}", "comma,id", "NULL",
           "\\N", "空格 id", "x" * 100)


def _postgres(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def _batch(rng: random.Random, members: list[int], day: datetime, n: int, prefix: str) -> list[rules.Event]:
    events = []
    for i in range(n):
        action = rng.choice(ACTIONS)
        extra = {}
        if action == "read":
            extra["seconds"] = rng.randrange(10, 120)
        elif action == "video":
            extra = {"object_id": rng.choice(("v1", "v\t2", "v\\3")), "seconds": rng.randrange(0, 2400)}
        events.append(rules.Event(id=f"{prefix}{i}", action=action, member_id=rng.choice(members),
                                  occurred_at=day + timedelta(seconds=rng.randrange(0, 30 * 3600)), **extra))
    events += [rules.Event(id=odd, action="comment", member_id=members[0], occurred_at=day) for odd in ODD_IDS]
    copies = [rng.choice(events) for _ in range(n // 10)]  # exact resends and conflicting copies
    events += [e if rng.random() < 0.5 else rules.Event(id=e.id, action=e.action, member_id=rng.choice(members),
                                                        occurred_at=e.occurred_at + timedelta(seconds=5))
               for e in copies]
    rng.shuffle(events)
    return events


@pytest.mark.parametrize("copy_ingest", [True, False], ids=["copy", "generic"])
def test_bulk_ingest_stores_what_a_pure_run_scores(world, clean_app, monkeypatch, copy_ingest):
    """Both Postgres paths (on SQLite both are the generic one)."""
    monkeypatch.setattr(scoring, "COPY_INGEST", copy_ingest)
    members = world.ids["members_a"] + [world.ids["member_b"]]
    rng, day = random.Random(7), datetime(2026, 11, 18, 6, 0, tzinfo=CHINA8)
    batches = [_batch(rng, members, day, 400, "a"), _batch(rng, members, day + timedelta(hours=20), 400, "b")]
    reference, results = rules.ScoreState(), []
    with clean_app.app_context():
        rule_list = score_rules.effective_rules()
        for batch in batches:
            results.append(scoring.apply_events(batch, entries=False))
            db.session.commit()
        expected = [rules.score(batch, rule_list, reference) for batch in batches]
        entries = db.session.scalars(select(ScoreEntry)).all()
        stored_ids = set(db.session.scalars(select(ScoreEvent.event_id)))
        counters = {(c.target_id, c.rule_id, c.period): c.points for c in db.session.scalars(select(ScoreCounter))}
        positions = {(v.member_id, v.object_id): v.position for v in db.session.scalars(select(VideoProgress))}
        seconds = {(v.member_id, v.day): v.seconds for v in db.session.scalars(select(VideoDay))}
        events = {e.event_id: e for e in db.session.scalars(select(ScoreEvent))}
    for (accepted, duplicates, points, rows), batch, awards in zip(results, batches, expected):
        assert rows == [] and accepted + duplicates == len(batch)
        assert points == sum(a.points for a in awards)
    assert results[1][0] == len({e.id for e in batches[1]} - {e.id for e in batches[0]})
    assert stored_ids == {e.id for batch in batches for e in batch}
    assert set(ODD_IDS) <= stored_ids
    assert Counter((e.target, e.target_id, e.rule_id, e.category, e.points, e.occurred_at, e.source, e.source_id)
                   for e in entries) == Counter((a.target, a.target_id, a.rule_id, a.category, a.points,
                                                 a.occurred_at, "event", a.event_id)
                                                for awards in expected for a in awards)
    assert all(e.created_by is None and e.reverses_id is None and e.note is None for e in entries)
    assert counters == reference.points and positions == reference.video_positions
    assert seconds == reference.video_seconds
    for event_id, stored in events.items():
        kept = _kept_copy(batches, event_id)
        assert (stored.member_id, stored.action, stored.occurred_at) == (kept.member_id, kept.action,
                                                                         kept.occurred_at)


def _kept_copy(batches, event_id: str) -> rules.Event:
    """The copy of an id the batch that first sent it kept: its earliest (on a tie, the first sent)."""
    for batch in batches:
        copies = [e for e in batch if e.id == event_id]
        if copies:
            return min(copies, key=lambda e: e.occurred_at)
    raise KeyError(event_id)


def test_a_copy_in_flight_in_another_batch_awards_once(world, clean_app):
    """Postgres: batch 1 stores id X for member 1 and has not committed; batch 2 sends X for member 2 (another
    lock bucket) with a fresh id. Batch 2's COPY waits for batch 1; when batch 1 commits, batch 2 counts X as a
    duplicate and still scores the rest; when batch 1 rolls back, batch 2 stores X."""
    if not _postgres(clean_app):
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): no batch is ever in flight beside another")
    m1, m2 = world.ids["members_a"][1], world.ids["members_a"][2]
    for outcome, at in (("commit", datetime(2026, 11, 18, 9, 0, tzinfo=CHINA8)),
                        ("rollback", datetime(2026, 11, 19, 9, 0, tzinfo=CHINA8))):  # a day each: fresh caps
        x = f"x-{outcome}"
        first = [rules.Event(id=x, action="comment", member_id=m1, occurred_at=at)]
        second = [rules.Event(id=x, action="comment", member_id=m2, occurred_at=at),
                  rules.Event(id=f"y-{outcome}", action="like", member_id=m2, occurred_at=at)]
        applied, finish, results = threading.Event(), threading.Event(), {}

        def batch_one():
            with clean_app.app_context():
                results[1] = scoring.apply_events(first, entries=False)
                applied.set()
                finish.wait(30)
                db.session.commit() if outcome == "commit" else db.session.rollback()

        def batch_two():
            with clean_app.app_context():
                results[2] = scoring.apply_events(second, entries=False)
                db.session.commit()

        one = threading.Thread(target=batch_one)
        one.start()
        assert applied.wait(30)
        two = threading.Thread(target=batch_two)
        two.start()
        _wait_for_a_lock_wait(clean_app)
        finish.set()
        one.join(30)
        two.join(30)
        assert results[1][:3] == (1, 0, 2)
        if outcome == "commit":
            assert results[2][:3] == (1, 1, 1)  # y only
            owners = [(m1, 2)]
        else:
            assert results[2][:3] == (2, 0, 3)
            owners = [(m2, 2)]
        with clean_app.app_context():
            rows = db.session.execute(select(ScoreEntry.target_id, ScoreEntry.points).where(
                ScoreEntry.source_id == x)).all()
            assert [tuple(r) for r in rows] == owners
            assert db.session.get(ScoreEvent, x).member_id == owners[0][0]


def _wait_for_a_lock_wait(app) -> None:
    """Until a backend of this database waits on a lock (batch 2's COPY on batch 1's id)."""
    deadline = time.monotonic() + 20
    with app.app_context():
        while time.monotonic() < deadline:
            waiting = db.session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                             "current_database() AND wait_event_type = 'Lock'"))
            db.session.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("batch 2 never waited for batch 1")


def test_meeting_points_follow_the_rules_in_force(world, clean_app, monkeypatch):
    """award_meeting asks the rules in force (admin-defined meeting rules included), not the packaged sets."""
    added = rules.Rule(id="custom.study_session", action="meeting.study_session", kind="per_event",
                       category="organizational_life", points=7, target="org", cap=7, cap_period="month")
    with clean_app.app_context():
        base = score_rules.effective_rules()
        monkeypatch.setattr(score_rules, "effective_rules", lambda: base + [added])
        meeting = SimpleNamespace(id=4242, process_key="study_session", org_id=world.ids["branch_a"],
                                  scheduled_at=datetime(2026, 11, 18, 9, 0, tzinfo=CHINA8))
        entries = scoring.award_meeting(meeting)
        assert [(e.rule_id, e.target, e.target_id, e.points, e.source, e.source_id) for e in entries] == [
            ("custom.study_session", "org", world.ids["branch_a"], 7, "meeting", "4242")]
        monkeypatch.setattr(score_rules, "effective_rules", lambda: base)
        unknown = SimpleNamespace(id=4243, process_key="study_session", org_id=world.ids["branch_a"],
                                  scheduled_at=meeting.scheduled_at)
        assert scoring.award_meeting(unknown) == []
        db.session.rollback()
