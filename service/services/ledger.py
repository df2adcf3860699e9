"""The points ledger: append-only. Every award is an entry; a correction is a reversal entry, never an edit.

`append` writes one entry through the ORM. For bulk score ingest on Postgres (scoring.apply_events) this module
also holds the storage mechanics: COPY text of ledger entries and state rows, `COPY ... FROM STDIN` on the
transaction's own psycopg2 connection, upserts from arrays, and `Meanwhile`, which runs one statement in a
worker thread while the caller does Python work.
"""
from __future__ import annotations

import re
import threading
from datetime import datetime, timezone

from psycopg2 import errors
from sqlalchemy import text

from ..database import utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import ScoreEntry

# What COPY's text format treats specially inside a field (a NUL cannot be stored in text anyway).
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def append(target: str, target_id: int, rule_id: str, category: str, points: int, occurred_at: datetime,
           source: str, source_id, user=None, note: str | None = None) -> ScoreEntry:
    """Record points earned (or, with a negative amount, taken back) by a member or an org."""
    entry = ScoreEntry(target=target, target_id=target_id, rule_id=rule_id, category=category, points=points,
                       occurred_at=occurred_at, source=source, source_id=str(source_id) if source_id is not None
                       else None, note=note, created_at=utcnow(), created_by=user.id if user else None)
    db.session.add(entry)
    db.session.flush()
    return entry


def reverse(entry: ScoreEntry, user, reason: str) -> ScoreEntry:
    """Cancel an entry with an opposite one in the same period; the original stays. Twice is 409."""
    from sqlalchemy import select
    if db.session.scalars(select(ScoreEntry.id).where(ScoreEntry.reverses_id == entry.id)).first():
        raise ApiError("already_reversed", 409, f"Ledger entry {entry.id} has already been reversed.")
    reversal = append(entry.target, entry.target_id, entry.rule_id, entry.category, -entry.points,
                      entry.occurred_at, "reversal", entry.id, user, reason)
    reversal.reverses_id = entry.id
    return reversal


# --- bulk writes on Postgres: COPY text, COPY, upserts, one statement beside the Python work ----------------------

ENTRY_COLUMNS = ("target", "target_id", "rule_id", "category", "points", "occurred_at", "source", "source_id",
                 "created_at", "created_by")
# the state tables a scored batch writes: (key columns, value column)
STATE_TABLES = {"score_counter": (("target", "target_id", "rule_id", "period"), "points"),
                "video_progress": (("member_id", "object_id"), "position"),
                "video_day": (("member_id", "day"), "seconds")}
_INTEGER_COLUMNS = {"target_id", "member_id", "points", "position", "seconds"}
OVERLAP = True  # Meanwhile runs its call in a worker thread; False: first, in this thread (benchmarks compare)


def entries_text(awards: list, sources: list[tuple[str, str]], times: dict[str, str], user=None) -> str:
    """COPY text of one ledger entry (ENTRY_COLUMNS) per award. `sources[i]` is award i's (source, source_id),
    `times` maps an award's event id to its time as COPY text (utc_text)."""
    created, by = utc_text(utcnow()), "\\N" if user is None else str(user.id)
    tail = f"\t{created}\t{by}\n"
    texts = (copy_texts(column) for column in ([a.target for a in awards], [a.rule_id for a in awards],
                                                [a.category for a in awards], [s for s, _ in sources],
                                                [i for _, i in sources]))
    return "".join([f"{t}\t{a.target_id}\t{r}\t{c}\t{a.points}\t{times[a.event_id]}\t{s}\t{i}{tail}"
                    for a, t, r, c, s, i in zip(awards, *texts)])


def state_writes(tables: tuple[tuple[str, dict, set], ...]) -> list[tuple[str, str, object]]:
    """The statements that write, for each (STATE_TABLES name, {key: value} changed, keys that existed when
    loaded), the new rows by COPY and the others by one upsert on the primary key: [("copy", table, COPY text) or
    ("sql", statement, parameters)]. Under the batch's advisory locks no other writer adds a key meanwhile."""
    writes: list[tuple[str, str, object]] = []
    for table, rows, known in tables:
        key_columns, value_column = STATE_TABLES[table]
        names = key_columns + (value_column,)
        new = [key + (value,) for key, value in rows.items() if key not in known]
        old = [key + (value,) for key, value in rows.items() if key in known]
        if new:
            columns = [copy_texts(c) if isinstance(c[0], str) else c for c in zip(*new)]
            writes.append(("copy", table, "".join(["\t".join(map(str, row)) + "\n" for row in zip(*columns)])))
        if old:
            arrays = ", ".join(f"CAST(%({n})s AS {'integer' if n in _INTEGER_COLUMNS else 'varchar'}[])" for n in names)
            writes.append(("sql", f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({arrays}) ON "
                           f"CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {value_column} = "
                           f"excluded.{value_column}",
                           {n: array_literal(list(c)) for n, c in zip(names, zip(*old))}))
    return writes


def run_writes(cursor, writes: list[tuple[str, str, object]]) -> None:
    """Send what state_writes prepared."""
    for kind, what, data in writes:
        if kind == "copy":
            copy_in(cursor, what, STATE_TABLES[what][0] + (STATE_TABLES[what][1],), data)
        else:
            cursor.execute(what, data)


def state_query(wanted: tuple) -> tuple[str | None, dict]:
    """One statement for the rows of (member counter keys, org counter keys, video_progress keys, video_day
    keys): rows (tag 0-3, id, second key, period or NULL, value), a superset to filter by the keys."""
    parts, params = [], {}
    for tag, (table, first, columns, second) in enumerate((
            ("score_counter", "target = 'member' AND target_id", "target_id, rule_id, period, points", "period"),
            ("score_counter", "target = 'org' AND target_id", "target_id, rule_id, period, points", "period"),
            ("video_progress", "member_id", "member_id, object_id, NULL, position", "object_id"),
            ("video_day", "member_id", "member_id, day, NULL, seconds", "day"))):
        if wanted[tag]:
            parts.append(f"SELECT {tag}, {columns} FROM {table} WHERE {first} = ANY(CAST(%(i{tag})s AS integer[])) "
                         f"AND {second} = ANY(CAST(%(s{tag})s AS varchar[]))")
            params[f"i{tag}"] = array_literal(sorted({k[0] for k in wanted[tag]}))
            params[f"s{tag}"] = array_literal(sorted({k[-1] for k in wanted[tag]}))
    return " UNION ALL ".join(parts) or None, params


def fetch(cursor, sql: str | None, params: dict) -> list[tuple]:
    """The rows of a statement (none for None)."""
    if sql is None:
        return []
    cursor.execute(sql, params)
    return cursor.fetchall()


def copy_new(cursor, table: str, columns: tuple[str, ...], body: str) -> bool:
    """COPY rows under a savepoint; False, and nothing stored, when one's primary key is stored already (having
    waited for a transaction storing it to end, as an INSERT would)."""
    if not body:
        return True
    cursor.execute("SAVEPOINT bulk_copy")
    try:
        copy_in(cursor, table, columns, body)
        stored = True
    except errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT bulk_copy")
        stored = False
    cursor.execute("RELEASE SAVEPOINT bulk_copy")
    return stored


def copy_in(cursor, table: str, columns: tuple[str, ...], body: str) -> None:
    """`COPY table (columns) FROM STDIN` of COPY text on a raw psycopg2 cursor, sent in one piece."""
    data = body.encode()
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", _OnePiece(data), size=len(data) + 1)


def copy_texts(values: list[str]) -> list[str]:
    """Strings as COPY text fields: unchanged unless one holds a backslash, tab or line break (then escaped)."""
    if not _COPY_SPECIAL.search("".join(values)):
        return values
    return [value.translate(_COPY_ESCAPES) for value in values]


def utc_text(at: datetime) -> str:
    """An aware datetime as naive UTC text, '2026-11-18 01:00:00[.ffffff]' (what UTCDateTime stores)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given to a UTCDateTime column")
    return at.astimezone(timezone.utc).isoformat(" ")[:-6]  # without its "+00:00"


def array_literal(values: list) -> str:
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


def bulk_insert(model, columns: dict[str, list], keys: tuple[str, ...] = (), update: str | None = None,
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
    if connection.dialect.name != "postgresql":
        marks = ", ".join("?" for _ in names)
        connection.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks}) {conflict}",
                                   list(zip(*values)))
        return []
    arrays = ", ".join(f"CAST(:{name} AS {_element_type(table.c[name].type, connection.dialect)}[])" for name in names)
    sql = (f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays}) {conflict}"
           + (f" RETURNING {returning}" if returning else ""))
    result = connection.execute(text(sql), {name: array_literal(column) for name, column in zip(names, values)})
    return list(result.scalars()) if returning else []


def _element_type(column_type, dialect) -> str:
    """The column's type for an array cast: a collation (the ledger keys' COLLATE "C") belongs to the column."""
    return column_type.compile(dialect).split(" COLLATE ")[0]


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


class _OnePiece:
    """A file for psycopg2's copy_expert that hands over all its bytes at the first read (one send, no chunks)."""

    def __init__(self, data: bytes):
        self.data = data

    def read(self, size: int = -1) -> bytes:
        data, self.data = self.data, b""
        return data


class Meanwhile:
    """`with Meanwhile(call, *args) as job:` runs call(*args) in a new thread while the body runs; job.value() is
    its result after the block (its exception raised there). For one statement on the transaction's raw psycopg2
    connection, which releases the GIL while the server works, beside Python work in the body, which must not
    use the database. The block always waits for the call, also when the body raises: the connection is never
    left busy. A thread per call, never a shared pool: a batch waiting on another's lock must not hold up that
    other batch's statements."""

    def __init__(self, call, *args):
        self._call, self._args, self._result, self._error = call, args, None, None
        self._thread = threading.Thread(target=self._run, name="score-ingest-sql", daemon=True)

    def _run(self) -> None:
        try:
            self._result = self._call(*self._args)
        except BaseException as error:  # handed over by value()
            self._error = error

    def __enter__(self) -> "Meanwhile":
        if OVERLAP:
            self._thread.start()
        else:
            self._run()
        return self

    def __exit__(self, *exc_info) -> None:
        if OVERLAP:
            self._thread.join()

    def value(self):
        """The call's result; its exception is raised here."""
        if self._error is not None:
            raise self._error
        return self._result
