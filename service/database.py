"""Transactions and column types shared by the models."""
import contextvars
import functools
from contextlib import contextmanager
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, select
from sqlalchemy.orm import undefer as load_now
from sqlalchemy.types import TypeDecorator

from .extensions import db

CHINA = ZoneInfo("Asia/Shanghai")
_depth = contextvars.ContextVar("transaction_depth", default=0)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def china_today():
    """Today's date in China (Asia/Shanghai)."""
    return datetime.now(CHINA).date()


class UTCDateTime(TypeDecorator):
    """Stores naive UTC (SQLite has no zones) and always hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


@contextmanager
def transaction():
    """Commit everything done inside on success, roll it all back on any error; reentrant."""
    depth = _depth.get()
    token = _depth.set(depth + 1)
    try:
        yield db.session
        if depth == 0:
            db.session.commit()
    except BaseException:
        if depth == 0:
            db.session.rollback()
        raise
    finally:
        _depth.reset(token)


def transactional(fn):
    """Run a service entry point inside one transaction."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with transaction():
            return fn(*args, **kwargs)

    return wrapper


def lock_row(model, row_id, undefer=()):
    """SELECT ... FOR UPDATE on Postgres; SQLite serialises writers itself."""
    # populate_existing: what we act on must be the row as locked, not an earlier copy in the session.
    query = (select(model).where(model.id == row_id).with_for_update()
             .options(*(load_now(column) for column in undefer)).execution_options(populate_existing=True))
    return db.session.scalars(query).first()


def dialect_insert(table):
    """An INSERT for the session's database that supports ON CONFLICT (Postgres or SQLite)."""
    from sqlalchemy.dialects import postgresql, sqlite
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(table)


def upsert(model, keys: dict, values: dict) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET values: two concurrent writers of one settings row both win
    in turn instead of one failing on the primary key."""
    db.session.execute(dialect_insert(model.__table__).values(**keys, **values)
                       .on_conflict_do_update(index_elements=list(keys), set_=values))
