"""Process definitions, running instances, the human-task inbox table and the audit trail."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class ProcessDefinition(db.Model):
    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    xml: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    sha256: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deployed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # camunda:property pairs of the process element (category, held_by, ...), read once at deploy
    properties: Mapped[dict | None] = mapped_column(JSON)


class ProcessInstance(db.Model):
    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_instance_subject", "subject_kind", "subject_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    process_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = deferred(mapped_column(Text))
    serializer_version: Mapped[str] = mapped_column(String(20))
    subject_kind: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | completed | cancelled
    has_timers: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HumanTask(db.Model):
    __tablename__ = "human_task"
    __table_args__ = (
        UniqueConstraint("instance_id", "spiff_task_id"),
        Index("ix_task_inbox", "state", "org_id", "role"),
        Index("ix_task_assignee", "assignee_id", "state"),
        Index("ix_task_completed_by", "completed_by", "state"),
        Index("ix_task_due", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    spec_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
    process_key: Mapped[str] = mapped_column(String(100))
    subject_kind: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int] = mapped_column(Integer)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | completed | cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the clock reminded once


class TaskEvent(db.Model):
    """Append-only audit trail of everything people did to an instance."""

    __tablename__ = "task_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # started | completed | comment | claim | unclaim | cancelled | edited
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    task_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)
    data_digest: Mapped[str | None] = mapped_column(String(64))


class JobLock(db.Model):
    """A lease so that two clock processes never run the same job at once."""

    __tablename__ = "job_lock"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProcessType(db.Model):
    """A platform admin's switch for a whole process key (every version); no row means enabled."""

    __tablename__ = "process_type"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class OrgProcessSetting(db.Model):
    """An organisation's choice whether the branches below it may start a meeting type (会议类型管理).

    The nearest setting up the tree decides; no setting anywhere means allowed.
    """

    __tablename__ = "org_process_setting"
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
