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
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import any_, bindparam, insert, select, text
from sqlalchemy.types import ARRAY

import rules

from ..database import CHINA, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Member, Org, ScoreCounter, ScoreEntry, ScoreEvent, VideoDay, VideoProgress
from . import access, score_rules

LOCK_NAMESPACE = {"member": 53_01, "org": 53_02}  # pg_advisory_xact_lock(int4, int4): (namespace, bucket)
LOCK_BUCKETS = 1024
CHUNK = 5000  # ids per IN (...) on SQLite, well below its 32,766 variables
# Ids the service makes up for events of its own; a platform's event ids may not start with these.
SOURCE_PREFIXES = {"meeting:": "meeting", "dues:": "dues", "claim:": "claim"}


def apply_events(events: list[rules.Event], user=None, *, entries: bool = True
                 ) -> tuple[int, int, int, list[ScoreEntry]]:
    """Score new events through the caps and record them: (accepted, duplicates, points awarded, ledger entries).

    `entries=False` writes the ledger rows without building ORM objects for them (bulk ingest) and returns [].
    """
    if not events:
        return 0, 0, 0, []
    rule_list = score_rules.effective_rules()
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


PERIOD_KINDS = ("day", "month", "quarter", "year")


def parse_period(label: str | None) -> tuple[str, str]:
    """(label, kind) of a member-score period; default the current China month; 422 invalid_period."""
    if label is None:
        return utcnow().astimezone(CHINA).strftime("%Y-%m"), "month"
    try:
        kind = rules.parse_period(label)
    except ValueError:
        kind = None
    if kind not in PERIOD_KINDS:
        raise ApiError("invalid_period", 422, f"Not a period: {label!r}; use a day 2026-11-18, a month 2026-11, "
                       "a quarter 2026-Q4 or a year 2026.", errors={"period": ["invalid"]})
    return label, kind


def member_score(user, member_id: int, period: str | None) -> dict:
    """A member's points in a China-time period, straight from the ledger (real time); 404 unless visible."""
    member = db.session.get(Member, member_id)
    if member is None or not _may_read(user, member):
        raise ApiError("member_not_found", 404, f"Member {member_id} does not exist.")
    label, kind = parse_period(period)
    start, end = rules.period_bounds(label, kind)
    entries = list(db.session.scalars(select(ScoreEntry).where(
        ScoreEntry.target == "member", ScoreEntry.target_id == member.id, ScoreEntry.occurred_at >= start,
        ScoreEntry.occurred_at < end).order_by(ScoreEntry.occurred_at, ScoreEntry.id)))
    by_category = dict.fromkeys(rules.CATEGORIES, 0)
    for entry in entries:
        by_category[entry.category] = by_category.get(entry.category, 0) + entry.points
    return {"member_id": member.id, "period": label, "total": sum(by_category.values()),
            "by_category": by_category, "entries": entries}


def _may_read(user, member: Member) -> bool:
    """The member themself, and admins over the member's branch (its admins, superiors, platform admins)."""
    return user.member_id == member.id or access.administers(user, db.session.get(Org, member.org_id))


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


def _bulk_insert(model, columns: dict[str, list], keys: tuple[str, ...] = (), update: str | None = None,
                 returning: str | None = None) -> list:
    """One bulk INSERT of rows given by column; with `keys`, overwriting `update` on a key conflict (else skipping).

    Postgres: a single INSERT ... SELECT FROM unnest(<one array per column>), optionally RETURNING; SQLite: one
    executemany (no RETURNING). Values go through the columns' own bind processors, so they are stored exactly
    as the ORM would store them, without its per-row overhead. Rows are sent in key order, so two transactions
    waiting on each other's new keys wait in the same order and cannot deadlock.
    """
    if not next(iter(columns.values())):
        return []
    table, connection = model.__table__, db.session.connection()
    conflict = ""
    if keys:
        columns = _sorted_by(columns, keys)
        conflict = f"ON CONFLICT ({', '.join(keys)}) " + (f"DO UPDATE SET {update} = excluded.{update}" if update
                                                            else "DO NOTHING")
    names = list(columns)
    values = [_converted(table.c[name].type, connection.dialect, columns[name]) for name in names]
    if not _postgres():
        marks = ", ".join("?" for _ in names)
        connection.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks}) {conflict}",
                                   list(zip(*values)))
        return []
    arrays = ", ".join(f"CAST(:{name} AS {table.c[name].type.compile(connection.dialect)}[])" for name in names)
    sql = (f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays}) {conflict}"
           + (f" RETURNING {returning}" if returning else ""))
    result = connection.execute(text(sql), {name: _array_literal(column) for name, column in zip(names, values)})
    return list(result.scalars()) if returning else []


def _sorted_by(columns: dict[str, list], keys: tuple[str, ...]) -> dict[str, list]:
    key_of = list(zip(*(columns[k] for k in keys)))
    order = sorted(range(len(key_of)), key=key_of.__getitem__)
    return {name: [column[i] for i in order] for name, column in columns.items()}


def _converted(column_type, dialect, values: list) -> list:
    """Values through the column type's bind processor (e.g. aware -> naive UTC), each distinct value once."""
    process = column_type.bind_processor(dialect)
    if process is None:
        return values
    done: dict = {}
    out = []
    for value in values:
        if value is not None:
            converted = done.get(value)
            if converted is None:
                converted = done[value] = process(value)
            value = converted
        out.append(value)
    return out


def _array_literal(values: list) -> str:
    """A Postgres array in text form, '{1,NULL,3}' or '{"a","b"}': parsed by the server several times faster
    than the ARRAY[...] of one typed literal per element that psycopg2 writes for a list."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, int) and not isinstance(sample, bool):
        return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"
    if isinstance(sample, datetime):
        return "{" + ",".join("NULL" if v is None else f'"{v.isoformat(sep=" ")}"' for v in values) + "}"
    if None not in values and all(type(v) is str for v in values):
        body = '","'.join(values)
        if '\\' not in body and body.count('"') == 2 * (len(values) - 1):  # no quote inside any value
            return '{"' + body + '"}'
    return "{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}"


def _quoted(value) -> str:
    text_value = value if isinstance(value, str) else str(value)
    return '"' + text_value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- locking and event ids ------------------------------------------------------------------------------------

def _lock_targets(events: list[rules.Event]) -> None:
    """Postgres: advisory locks on every member and org bucket the batch names, in sorted order."""
    if not _postgres():
        return  # SQLite: BEGIN IMMEDIATE already serialises writers
    buckets = sorted({(LOCK_NAMESPACE["member"], e.member_id % LOCK_BUCKETS) for e in events if e.member_id is not None}
                     | {(LOCK_NAMESPACE["org"], e.org_id % LOCK_BUCKETS) for e in events if e.org_id is not None})
    db.session.execute(text("SELECT count(pg_advisory_xact_lock(k.ns, k.b)) FROM (SELECT ns, b FROM "
                            "unnest(CAST(:ns AS integer[]), CAST(:b AS integer[])) AS u(ns, b) ORDER BY ns, b) AS k"),
                       {"ns": [ns for ns, _ in buckets], "b": [b for _, b in buckets]})


def _claim_ids(events: list[rules.Event]) -> set[str]:
    """Store the batch's event ids not stored before; the ids this call stored (the others are duplicates)."""
    first: dict[str, rules.Event] = {}
    for event in events:  # a repeated id keeps the copy the scorer takes: the earliest
        kept = first.get(event.id)
        if kept is None or event.occurred_at < kept.occurred_at:
            first[event.id] = event
    if not _postgres():  # writers are serialised: what is not stored now is new
        for ids in _chunks(first):
            for stored in db.session.scalars(select(ScoreEvent.event_id).where(ScoreEvent.event_id.in_(ids))):
                del first[stored]
    chosen = list(first.values())
    stored = _bulk_insert(ScoreEvent, {
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
    _bulk_insert(ScoreCounter, {"target": [targets[k[1]] for k in keys], "target_id": [k[0] for k in keys],
                                "rule_id": [k[1] for k in keys], "period": [k[2] for k in keys],
                                "points": list(points.values())}, ("target", "target_id", "rule_id", "period"), "points")
    _bulk_insert(VideoProgress, {"member_id": [k[0] for k in positions], "object_id": [k[1] for k in positions],
                                 "position": list(positions.values())}, ("member_id", "object_id"), "position")
    _bulk_insert(VideoDay, {"member_id": [k[0] for k in seconds], "day": [k[1] for k in seconds],
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
    _bulk_insert(ScoreEntry, columns)
    return []
