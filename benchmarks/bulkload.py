"""Bulk loading for the benchmarks: Postgres COPY from generated rows (executemany elsewhere), a stderr progress bar.

``bulk_write(connection, table, columns, rows, total, bar)`` writes an iterable of tuples (values in ``columns``
order, datetimes aware UTC as the models use) into ``table`` inside the caller's transaction. On psycopg2 it streams
one ``COPY ... FROM STDIN`` per table from ``io.StringIO`` chunks built on demand, so Python formats the next chunk
while the server process parses the previous one (the two cores overlap); on other drivers it sends chunks
through SQLAlchemy's executemany, applying the column types.
"""

from __future__ import annotations

import io
import sys
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from itertools import islice

NULL = "\\N"


class ProgressBar:
    """A one-line stderr bar: label, bar, count, rate; redrawn at most 5 times a second."""

    def __init__(self, label: str, total: int, stream=None, width: int = 28):
        self.label, self.total, self.width = label, max(total, 1), width
        self.stream = stream or sys.stderr
        self.done, self.started, self._drawn = 0, time.perf_counter(), 0.0
        self._tty = getattr(self.stream, "isatty", lambda: False)()
        self._next_line, self._printed = 0.1, -1  # without a terminal: a plain line every 10 %

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if self._tty and now - self._drawn >= 0.2:
            self._drawn = now
            self.stream.write("\r" + self._text(now))
            self.stream.flush()
        elif not self._tty and self.done / self.total >= self._next_line:
            self._next_line = int(10 * self.done / self.total) / 10 + 0.1
            self._line(now)

    def close(self) -> None:
        if self._tty:
            self.stream.write("\r" + self._text(time.perf_counter()) + "\n")
            self.stream.flush()
        elif self._printed != self.done:
            self._line(time.perf_counter())

    def _line(self, now: float) -> None:
        self._printed = self.done
        self.stream.write(self._text(now) + "\n")
        self.stream.flush()

    def _text(self, now: float) -> str:
        share = min(self.done / self.total, 1.0)
        filled = int(share * self.width)
        rate = self.done / max(now - self.started, 1e-9)
        return (f"{self.label:<18} [{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%} "
                f"{self.done:>11,}/{self.total:,} {rate:>9,.0f} rows/s")


class NoProgress:
    """The bar's interface, silent."""

    def __init__(self, *_args, **_kwargs):
        pass

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def bar_factory(progress):
    """True: stderr bars; False/None: none; a callable (label, total) -> bar is used as it is."""
    if callable(progress):
        return progress
    return ProgressBar if progress else NoProgress


def _timestamp(value: datetime) -> str:
    # The models store naive UTC (UTCDateTime); COPY must write the same thing.
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(" ")


def _escape(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


_FORMAT = {str: _escape, int: str, bool: lambda v: "t" if v else "f", type(None): lambda v: NULL,
           datetime: _timestamp, date: date.isoformat, float: repr, Decimal: str}


def copy_line(row) -> str:
    """One row in COPY text format."""
    return "\t".join([_FORMAT[type(v)](v) for v in row]) + "\n"


class _CopySource:
    """The file object ``copy_expert`` reads: builds the next StringIO chunk only when the last one is used up."""

    def __init__(self, rows, chunk: int, bar):
        self._rows, self._chunk, self._bar = iter(rows), chunk, bar
        self._buffer = io.StringIO()
        self.count = 0

    def read(self, size: int = -1) -> str:
        data = self._buffer.read(size)
        while not data:
            batch = list(islice(self._rows, self._chunk))
            if not batch:
                return ""
            self._buffer = io.StringIO("".join(map(copy_line, batch)))
            self.count += len(batch)
            self._bar.update(len(batch))
            data = self._buffer.read(size)
        return data


def uses_copy(connection) -> bool:
    """Whether ``bulk_write`` will COPY on this SQLAlchemy connection (Postgres through psycopg2)."""
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg2"


def bulk_write(connection, table, columns, rows, total: int, bar=None, chunk: int = 20000) -> int:
    """Write the rows (tuples in ``columns`` order) to ``table`` (a SQLAlchemy Table); returns the row count."""
    bar = bar or NoProgress()
    try:
        if uses_copy(connection):
            return _copy(connection, table, columns, rows, chunk, bar)
        return _executemany(connection, table, columns, rows, chunk, bar)
    finally:
        bar.close()


def _copy(connection, table, columns, rows, chunk, bar) -> int:
    source = _CopySource(rows, chunk, bar)
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f'COPY "{table.name}" ({names}) FROM STDIN', source, size=1 << 16)
    finally:
        cursor.close()
    return source.count


def _executemany(connection, table, columns, rows, chunk, bar) -> int:
    statement, rows, count = table.insert(), iter(rows), 0
    while batch := list(islice(rows, chunk)):
        connection.execute(statement, [dict(zip(columns, row)) for row in batch])
        count += len(batch)
        bar.update(len(batch))
    return count


def reset_sequences(connection, tables) -> None:
    """Postgres: move each table's id sequence past the explicit ids written (SQLite needs nothing)."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"GREATEST((SELECT max(id) FROM \"{table}\"), 1), (SELECT count(*) > 0 FROM \"{table}\"))")


def analyze(connection, tables) -> None:
    """Fresh planner statistics for the loaded tables (autovacuum would get there, minutes later)."""
    for table in tables:
        connection.exec_driver_sql(f'ANALYZE "{table}"')
