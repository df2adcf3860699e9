"""Notices (通知): meeting notices to invitees, reminders to admins; each person's list and 签阅."""
from sqlalchemy import func, or_, select, update

from ..database import transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Notification, RoleGrant


TITLE_MAX = 200  # the column's length; a long meeting title must not fail the notice


def to_members(member_ids, kind: str, title: str, body: str | None = None, subject=(None, None)) -> int:
    """Notify members (whether or not they have an account yet: the notice waits for them)."""
    rows = [Notification(member_id=m, kind=kind, title=title[:TITLE_MAX], body=body, subject_kind=subject[0],
                         subject_id=subject[1], created_at=utcnow()) for m in sorted(set(member_ids))]
    db.session.add_all(rows)
    return len(rows)


def to_users(user_ids, kind: str, title: str, body: str | None = None, subject=(None, None)) -> int:
    """Notify login accounts (admins: reminders about their tasks)."""
    rows = [Notification(user_id=u, kind=kind, title=title[:TITLE_MAX], body=body, subject_kind=subject[0],
                         subject_id=subject[1], created_at=utcnow()) for u in sorted(set(user_ids))]
    db.session.add_all(rows)
    return len(rows)


def admins_of(org_id: int) -> list[int]:
    """Users who hold org_admin on exactly this org (the people a task of that org waits for)."""
    return list(db.session.scalars(select(RoleGrant.user_id).where(
        RoleGrant.role == "org_admin", RoleGrant.org_id == org_id).distinct()))


def _mine(user):
    clauses = [Notification.user_id == user.id]
    if user.member_id is not None:
        clauses.append(Notification.member_id == user.member_id)
    return or_(*clauses)


def list_for(user, unread_only: bool = False, limit: int = 50, offset: int = 0) -> list[Notification]:
    """The caller's notices, newest first."""
    query = select(Notification).where(_mine(user))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(db.session.scalars(query.order_by(Notification.id.desc()).limit(limit).offset(offset)))


def unread_count(user) -> int:
    """How many of the caller's notices are unread."""
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        _mine(user), Notification.read_at.is_(None)))


@transactional
def mark_read(user, notification_id: int) -> Notification:
    """签阅: the caller has read the notice (reading twice keeps the first time)."""
    row = db.session.get(Notification, notification_id)
    if row is None or not (row.user_id == user.id or (row.member_id is not None and row.member_id == user.member_id)):
        raise ApiError("notification_not_found", 404, f"Notification {notification_id} does not exist.")
    if row.read_at is None:
        row.read_at = utcnow()
    return row


@transactional
def mark_all_read(user) -> int:
    """Mark every unread notice of the caller as read."""
    done = db.session.execute(update(Notification).where(_mine(user), Notification.read_at.is_(None))
                              .values(read_at=utcnow()).execution_options(synchronize_session=False))
    return done.rowcount


def reads_for(subject_kind: str, subject_id: int, kind: str) -> dict[int, object]:
    """member_id -> when they read the latest notice of this kind about the subject (None: not yet)."""
    rows = db.session.execute(select(Notification.member_id, Notification.read_at).where(
        Notification.subject_kind == subject_kind, Notification.subject_id == subject_id,
        Notification.kind == kind, Notification.member_id.is_not(None)).order_by(Notification.id))
    return {member_id: read_at for member_id, read_at in rows}  # later notices overwrite earlier ones
