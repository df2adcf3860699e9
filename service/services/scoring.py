"""Points through the caps: the one path every points source takes (score events, meetings, dues).

`apply_events` stores the batch's new event ids, loads the counter rows `rules.state_keys` names, scores with
the rules in force, writes the counters back and appends the awards to the ledger, all in the caller's
transaction and with one bulk statement per table (dialect upserts on Postgres and SQLite).

Concurrency. On Postgres a batch first takes `pg_advisory_xact_lock(namespace, bucket)` for every member and
org it names, bucket = id % LOCK_BUCKETS, in sorted order (so two batches never deadlock), and only then reads
counters; two overlapping batches therefore score one after the other and no cap is exceeded. Advisory locks
rather than `FOR UPDATE` on counter rows because most rows a batch needs do not exist yet (nothing to lock),
and buckets rather than one lock per member because a 10,000-member batch would otherwise take 10,000 locks
and overflow the server's lock table (max_locks_per_transaction x connections). Event ids are claimed by
`INSERT ... ON CONFLICT DO NOTHING RETURNING` in sorted order: an id another transaction is storing waits for
it and then counts as a duplicate, so an id never awards twice even when two batches send it for different
members. SQLite needs none of this: the app begins every transaction IMMEDIATE, so writers queue.

Bulk ingest on Postgres (`entries=False`: POST /api/score-events) takes `_ingest_copy`: same locks and rows, but
ids, new counter rows and ledger entries go by COPY on the transaction's connection, each statement in a worker
thread beside the batch's Python work. New ids are COPYed under a savepoint; if a concurrent batch stored one
meanwhile, the COPY fails on the key (after waiting for it), rolls back, and the ids are claimed as above and
the batch rescored, so an id still never awards twice.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import any_, bindparam, insert, select
from sqlalchemy.types import ARRAY

import rules

from ..database import transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Member, Org, ScoreCounter, ScoreEntry, ScoreEvent, VideoDay, VideoProgress
from ..models.scoring import SOURCE_PREFIXES
from . import access, ledger, score_rules
from .ledger import array_literal as _array_literal

LOCK_NAMESPACE = {"member": 53_01, "org": 53_02}  # pg_advisory_xact_lock(int4, int4): (namespace, bucket)
LOCK_BUCKETS = 1024
CHUNK = 5000  # ids per IN (...) on SQLite, well below its 32,766 variables
# Postgres bulk ingest by COPY with overlap (`_ingest_copy`); False: the generic statements (benchmarks compare).
COPY_INGEST = True


def apply_events(events: list[rules.Event], user=None, *, entries: bool = True
                 ) -> tuple[int, int, int, list[ScoreEntry]]:
    """Score new events through the caps and record them: (accepted, duplicates, points awarded, ledger entries).

    `entries=False` writes the ledger rows without building ORM objects for them (bulk ingest) and returns [].
    """
    if not events:
        return 0, 0, 0, []
    rule_list = score_rules.effective_rules()
    if not entries and COPY_INGEST and _postgres():
        accepted, points = _ingest_copy(events, rule_list, user)
        return accepted, len(events) - accepted, points, []
    _lock_targets(events)
    new_ids = _claim_ids(events)
    fresh = [event for event in events if event.id in new_ids]
    state = _load_state(rules.state_keys(fresh, rule_list), rule_list)
    loaded = _snapshot(state)
    awards = rules.score(fresh, rule_list, state)
    _write_state(state, loaded, {rule.id: rule.target for rule in rule_list})
    ledger = _append(awards, user, entries)
    return len(new_ids), len(events) - len(new_ids), sum(award.points for award in awards), ledger


@transactional
def ingest(user, integration, items: list[dict]) -> dict:
    """POST /api/score-events: a platform admin or an integration token; the whole batch or nothing (422)."""
    if integration is None:
        access.require_platform_admin(user)
    _require_known(items)
    events = [rules.Event(id=i["id"], action=i["action"], occurred_at=i["occurred_at"], member_id=i["member_id"],
                          object_id=i.get("object_id"), seconds=i.get("seconds")) for i in items]
    accepted, duplicates, points, _ = apply_events(events, user, entries=False)
    return {"accepted": accepted, "duplicates": duplicates, "points_awarded": points}


def member_actions() -> frozenset[str]:
    """What platforms may report: the actions of the member rules that score platform events."""
    return frozenset(r.action for r in rules.default_rules()
                     if r.target == "member" and r.kind in ("per_event", "video_progress"))


def _require_known(items: list[dict]) -> None:
    unknown = sorted({i["action"] for i in items} - member_actions())
    if unknown:
        raise ApiError("unknown_action", 422, f"Unknown actions: {', '.join(unknown)}.", actions=unknown,
                       allowed=sorted(member_actions()))
    wanted = {i["member_id"] for i in items}
    known = set()
    for ids in _chunks(wanted):
        known.update(db.session.scalars(select(Member.id).where(_in(Member.id, ids))))
    if wanted - known:
        missing = sorted(wanted - known)
        raise ApiError("unknown_members", 422, f"{len(missing)} member ids do not exist; nothing was recorded.",
                       member_ids=missing)


def award_meeting(meeting) -> list[ScoreEntry]:
    """Organisational-life points to the branch for a meeting that has just completed (in that transaction).

    The meeting counts in the period of its scheduled time (the time it was held), not of its completion: a
    meeting held on 30 November and approved on 2 December is November's. A group meeting counts for the group's
    branch. Types without a rule earn nothing and are not recorded.
    """
    action = "meeting." + meeting.process_key
    if not any(r.action == action for r in score_rules.effective_rules()):  # admin-defined meeting rules too
        return []
    branch = access.branch_of(db.session.get(Org, meeting.org_id))
    event = rules.Event(id=f"meeting:{meeting.id}", action=action, org_id=branch.id, occurred_at=meeting.scheduled_at)
    return apply_events([event])[3]


def source_of(event_id: str) -> tuple[str, str]:
    """The ledger's (source, source_id) for an event id: ('meeting', '12') for 'meeting:12', else ('event', id)."""
    for prefix, source in SOURCE_PREFIXES.items():
        if event_id.startswith(prefix):
            return source, event_id[len(prefix):]
    return "event", event_id


# --- dialect helpers ------------------------------------------------------------------------------------------

def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _in(column, values: list):
    """`column IN values`: one array parameter on Postgres instead of thousands of placeholders."""
    if _postgres():
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def _chunks(values: Iterable) -> Iterable[list]:
    values = sorted(values)
    if _postgres():
        yield values
        return
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


# --- locking and event ids ------------------------------------------------------------------------------------

LOCK_SQL = ("SELECT count(pg_advisory_xact_lock(k.ns, k.b)) FROM (SELECT ns, b FROM unnest(CAST(%(ns)s AS "
            "integer[]), CAST(%(b)s AS integer[])) AS u(ns, b) ORDER BY ns, b) AS k")


def _lock_targets(events: list[rules.Event]) -> None:
    """Postgres: advisory locks on every member and org bucket the batch names, in sorted order."""
    if not _postgres():
        return  # SQLite: BEGIN IMMEDIATE already serialises writers
    db.session.connection().exec_driver_sql(LOCK_SQL, _buckets(events))


def lock_target(target: str, target_id: int) -> None:
    """Postgres: the advisory lock every batch naming this member (or org) takes; for a counter changed outside
    scoring (an overturn giving cap room back)."""
    if _postgres():
        namespace, bucket = LOCK_NAMESPACE[target], target_id % LOCK_BUCKETS
        db.session.connection().exec_driver_sql(LOCK_SQL, {"ns": _array_literal([namespace]),
                                                           "b": _array_literal([bucket])})


def _buckets(events: list[rules.Event]) -> dict[str, str]:
    """The advisory-lock keys of the members and orgs the batch names, as LOCK_SQL's two arrays."""
    member, org = LOCK_NAMESPACE["member"], LOCK_NAMESPACE["org"]
    buckets = sorted({(member, m % LOCK_BUCKETS) for m in {e.member_id for e in events} if m is not None}
                     | {(org, o % LOCK_BUCKETS) for o in {e.org_id for e in events} if o is not None})
    return {"ns": _array_literal([ns for ns, _ in buckets]), "b": _array_literal([b for _, b in buckets])}


def _first_copies(events: list[rules.Event]) -> dict[str, rules.Event]:
    """Each id's copy the scorer takes (the earliest; on a tie the first sent), in the order ids first appear."""
    first: dict[str, rules.Event] = {}
    for event in events:
        kept = first.setdefault(event.id, event)
        if event.occurred_at < kept.occurred_at:
            first[event.id] = event
    return first


def _claim_ids(events: list[rules.Event]) -> set[str]:
    """Store the batch's event ids not stored before; the ids this call stored (the others are duplicates)."""
    first = _first_copies(events)
    if not _postgres():  # writers are serialised: what is not stored now is new
        for ids in _chunks(first):
            for stored in db.session.scalars(select(ScoreEvent.event_id).where(ScoreEvent.event_id.in_(ids))):
                del first[stored]
    chosen = list(first.values())
    stored = ledger.bulk_insert(ScoreEvent, {
        "event_id": list(first), "action": [e.action for e in chosen], "occurred_at": [e.occurred_at for e in chosen],
        "member_id": [e.member_id if e.member_id is not None else e.org_id for e in chosen],
        "received_at": [utcnow()] * len(chosen)}, ("event_id",), returning="event_id")
    return set(stored) if _postgres() else set(first)


# --- state: load, snapshot, write back ------------------------------------------------------------------------

def _load_state(keys: rules.StateKeys, rule_list: list[rules.Rule]) -> rules.ScoreState:
    """The counter and video rows the batch can touch."""
    targets = {rule.id: rule.target for rule in rule_list}
    state = rules.ScoreState()
    for target in ("member", "org"):
        wanted = {key for key in keys.points if targets[key[1]] == target}
        state.points.update(_load_counters(target, wanted))
    state.video_positions.update(_load_pairs(VideoProgress, "object_id", "position", keys.video_positions))
    state.video_seconds.update(_load_pairs(VideoDay, "day", "seconds", keys.video_seconds))
    return state


def _load_counters(target: str, wanted: set) -> dict:
    if not wanted:
        return {}
    c = ScoreCounter.__table__.c
    periods = sorted({key[2] for key in wanted})
    found = {}
    for ids in _chunks({key[0] for key in wanted}):
        query = select(c.target_id, c.rule_id, c.period, c.points).where(
            c.target == target, _in(c.target_id, ids), _in(c.period, periods))
        found.update({(t, r, p): points for t, r, p, points in db.session.execute(query) if (t, r, p) in wanted})
    return found


def _load_pairs(model, second: str, value: str, wanted: set) -> dict:
    """{(member_id, second): value} for the wanted keys of a table keyed by (member_id, second)."""
    if not wanted:
        return {}
    c = model.__table__.c
    seconds = sorted({key[1] for key in wanted})
    found = {}
    for ids in _chunks({key[0] for key in wanted}):
        query = select(c.member_id, c[second], c[value]).where(_in(c.member_id, ids), _in(c[second], seconds))
        found.update({(m, s): v for m, s, v in db.session.execute(query) if (m, s) in wanted})
    return found


def _snapshot(state: rules.ScoreState) -> tuple[dict, dict, dict]:
    return dict(state.points), dict(state.video_positions), dict(state.video_seconds)


def _changed(now: dict, before: dict) -> dict:
    return {key: value for key, value in now.items() if before.get(key) != value}


def _write_state(state: rules.ScoreState, loaded: tuple[dict, dict, dict], targets: dict[str, str]) -> None:
    """Upsert the rows scoring changed, nothing else."""
    points, positions, seconds = (_changed(now, before) for now, before in
                                  zip((state.points, state.video_positions, state.video_seconds), loaded))
    keys = list(points)
    ledger.bulk_insert(ScoreCounter, {
        "target": [targets[k[1]] for k in keys], "target_id": [k[0] for k in keys], "rule_id": [k[1] for k in keys],
        "period": [k[2] for k in keys], "points": list(points.values())}, ("target", "target_id", "rule_id", "period"),
        "points")
    ledger.bulk_insert(VideoProgress, {"member_id": [k[0] for k in positions], "object_id": [k[1] for k in positions],
                                       "position": list(positions.values())}, ("member_id", "object_id"), "position")
    ledger.bulk_insert(VideoDay, {"member_id": [k[0] for k in seconds], "day": [k[1] for k in seconds],
                                  "seconds": list(seconds.values())}, ("member_id", "day"), "seconds")


def _append(awards: list[rules.Award], user, entries: bool) -> list[ScoreEntry]:
    """One ledger entry per award, in one bulk INSERT (RETURNING the entries when they are wanted)."""
    if not awards:
        return []
    sources = [source_of(award.event_id) for award in awards]
    columns = {"target": [a.target for a in awards], "target_id": [a.target_id for a in awards],
               "rule_id": [a.rule_id for a in awards], "category": [a.category for a in awards],
               "points": [a.points for a in awards], "occurred_at": [a.occurred_at for a in awards],
               "source": [s[0] for s in sources], "source_id": [s[1] for s in sources],
               "created_at": [utcnow()] * len(awards), "created_by": [user.id if user is not None else None] * len(awards)}
    if entries:
        rows = [dict(zip(columns, row)) for row in zip(*columns.values())]
        return list(db.session.scalars(insert(ScoreEntry).returning(ScoreEntry), rows))
    ledger.bulk_insert(ScoreEntry, columns)
    return []


# --- Postgres bulk ingest: COPY, a statement at a time overlapped with the Python work --------------------------

_EVENT_COLUMNS = ("event_id", "member_id", "action", "occurred_at", "received_at")
_FIND_SQL = LOCK_SQL + "; SELECT event_id FROM score_event WHERE event_id = ANY(CAST(%(ids)s AS varchar[]))"
_PREFIXES = tuple(SOURCE_PREFIXES)


def _ingest_copy(events: list[rules.Event], rule_list: list[rules.Rule], user) -> tuple[int, int]:
    """apply_events(entries=False) on Postgres: (accepted, points awarded), the generic path's rows and locks.

    In order, each statement in a worker thread while this thread does the Python work beside it: locks + which
    ids are stored (state keys), load the state (the new ids' COPY text), COPY the new ids (scoring), COPY the
    ledger (the counter rows), then write the counter and video rows.
    """
    targets = {rule.id: rule.target for rule in rule_list}
    cursor = _raw_cursor()
    try:
        keys, first, stored = _find_copy(cursor, events, rule_list)
        chosen = [first[event_id] for event_id in sorted(first) if event_id not in stored]
        rows, body, times = _load_copy(cursor, keys, targets, chosen)
        awards, new, state, loaded = _claim_and_score(cursor, events, chosen, body, (keys, rows), rule_list)
        _write_copy(cursor, awards, state, loaded, targets, user, times)
    finally:
        cursor.close()
    return len(new), sum(award.points for award in awards)


def _raw_cursor():
    """A psycopg2 cursor on the session's connection: the same transaction."""
    return db.session.connection().connection.dbapi_connection.cursor()


def _find_copy(cursor, events: list[rules.Event], rule_list: list[rules.Rule]
               ) -> tuple[rules.StateKeys, dict[str, rules.Event], set[str]]:
    """Lock, and look up which ids score_event holds, while computing the state keys of every copy (a superset
    of what scoring reads) and each id's first copy: (keys, first copies, stored ids)."""
    params = {**_buckets(events), "ids": _array_literal([e.id for e in events])}
    with ledger.Meanwhile(ledger.fetch, cursor, _FIND_SQL, params) as found:  # locks first: no stale counter
        keys = rules.state_keys(events, rule_list)
        first = _first_copies(events)
    return keys, first, {row[0] for row in found.value()}


def _load_copy(cursor, keys: rules.StateKeys, targets: dict[str, str], chosen: list[rules.Event]
               ) -> tuple[list[tuple], str, dict[str, str]]:
    """Fetch the counter and video rows the batch can touch (one statement) while writing the new ids' COPY
    text: (rows, text, the new events' times as COPY text by id)."""
    query = ledger.state_query(([k for k in keys.points if targets[k[1]] == "member"],
                                [k for k in keys.points if targets[k[1]] == "org"],
                                keys.video_positions, keys.video_seconds))
    with ledger.Meanwhile(ledger.fetch, cursor, *query) as found:
        times = [ledger.utc_text(e.occurred_at) for e in chosen]
        received, ids = ledger.utc_text(utcnow()), ledger.copy_texts([e.id for e in chosen])
        body = "".join([f"{i}\t{e.member_id if e.member_id is not None else e.org_id}\t{a}\t{t}\t{received}\n"
                        for i, a, t, e in zip(ids, ledger.copy_texts([e.action for e in chosen]), times, chosen)])
    return found.value(), body, dict(zip([e.id for e in chosen], times))


def _state_of(keys: rules.StateKeys, rows: list[tuple]) -> rules.ScoreState:
    """The loaded rows as a ScoreState (rows the query returned beyond the keys are left out)."""
    state = rules.ScoreState()
    into = ((state.points, keys.points), (state.points, keys.points),
            (state.video_positions, keys.video_positions), (state.video_seconds, keys.video_seconds))
    for tag, first, second, third, value in rows:
        found, wanted = into[tag]
        key = (first, second, third) if tag < 2 else (first, second)
        if key in wanted:
            found[key] = value
    return state


def _claim_and_score(cursor, events: list[rules.Event], chosen: list[rules.Event], body: str, loaded_rows: tuple,
                     rule_list: list[rules.Rule]) -> tuple[list[rules.Award], list[str], rules.ScoreState, tuple]:
    """COPY the new ids while scoring the events that carry them: (awards, ids stored, state, state as loaded).

    `chosen` holds the copy to store of every id score_event did not hold, in id order. When a concurrent batch
    stored one of them since, the COPY fails; then the ids are claimed by INSERT ... ON CONFLICT DO NOTHING and
    the batch is scored again from the state as loaded, with just the ids this batch stored.
    """
    new = [e.id for e in chosen]
    with ledger.Meanwhile(ledger.copy_new, cursor, "score_event", _EVENT_COLUMNS, body) as claim:
        state = _state_of(*loaded_rows)
        loaded = _snapshot(state)
        new_set = set(new)
        awards = rules.score([e for e in events if e.id in new_set], rule_list, state)
    if not claim.value():
        stored = _claim_ids(chosen)  # in id order; waits for a batch storing one of them, as the COPY did
        new = [event_id for event_id in new if event_id in stored]
        state = rules.ScoreState(*(dict(part) for part in loaded))
        awards = rules.score([e for e in events if e.id in stored], rule_list, state)
    return awards, new, state, loaded


def _write_copy(cursor, awards: list[rules.Award], state: rules.ScoreState, loaded: tuple, targets: dict[str, str],
                user, times: dict[str, str]) -> None:
    """COPY the ledger while preparing the counter and video rows scoring changed, then write those."""
    sources = [("event", a.event_id) if not a.event_id.startswith(_PREFIXES) else source_of(a.event_id)
               for a in awards]
    body = ledger.entries_text(awards, sources, times, user)
    with ledger.Meanwhile(ledger.copy_in, cursor, "score_entry", ledger.ENTRY_COLUMNS, body) as entries:
        points, positions, seconds = (_changed(now, before) for now, before in
                                      zip((state.points, state.video_positions, state.video_seconds), loaded))
        writes = ledger.state_writes((("score_counter", {(targets[k[1]],) + k: v for k, v in points.items()},
                                       {(targets[k[1]],) + k for k in loaded[0]}),
                                      ("video_progress", positions, loaded[1]), ("video_day", seconds, loaded[2])))
    entries.value()
    ledger.run_writes(cursor, writes)
