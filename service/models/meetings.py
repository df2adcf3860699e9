"""Meetings, who was invited and came, their minutes, attachments and notices."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class Meeting(db.Model):
    __tablename__ = "meeting"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    process_version: Mapped[int]
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location: Mapped[str | None] = mapped_column(String(200))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="created", index=True)
    feedback_open: Mapped[bool] = mapped_column(Boolean, default=False)
    check_in_open: Mapped[bool] = mapped_column(Boolean, default=False)
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the latest notice went out
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the clock's "meeting soon" notice
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Attendance(db.Model):
    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    voting: Mapped[bool] = mapped_column(Boolean)  # a full member at invitation time (表决权)
    feedback: Mapped[bool | None] = mapped_column(Boolean)
    feedback_reason: Mapped[str | None] = mapped_column(Text)
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_in_method: Mapped[str | None] = mapped_column(String(20))  # code | proxy | organiser | video
    evidence_ids: Mapped[list] = mapped_column(JSON, default=list)  # screenshots proving video attendance
    self_assessment: Mapped[str | None] = mapped_column(Text)  # 民主评议: the member's own account
    self_assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[str | None] = mapped_column(String(30))  # 民主评议: the branch's rating
    rating_comment: Mapped[str | None] = mapped_column(Text)


class Minutes(db.Model):
    __tablename__ = "minutes"
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), unique=True)
    host: Mapped[str] = mapped_column(String(100))
    recorder: Mapped[str] = mapped_column(String(100))
    topics: Mapped[list] = mapped_column(JSON)
    content: Mapped[str] = mapped_column(Text)
    decisions: Mapped[str | None] = mapped_column(Text)
    votes: Mapped[list] = mapped_column(JSON, default=list)  # [{motion, yes, no, abstain, expected, passed}]
    summary: Mapped[str | None] = mapped_column(Text)  # 党课: the summary after the class
    attachment_ids: Mapped[list] = mapped_column(JSON, default=list)
    attendees: Mapped[list] = mapped_column(JSON, default=list)
    absentees: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class MinutesRevision(db.Model):
    """Every edit of completed minutes keeps what was there before (the audit trail of 会议记录)."""

    __tablename__ = "minutes_revision"
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    revised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revised_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reason: Mapped[str] = mapped_column(Text)
    changed: Mapped[list] = mapped_column(JSON)  # field names
    before: Mapped[dict] = mapped_column(JSON)
    after: Mapped[dict] = mapped_column(JSON)


class PeerAssessment(db.Model):
    """民主评议: one member's rating of another."""

    __tablename__ = "peer_assessment"
    __table_args__ = (UniqueConstraint("meeting_id", "rater_id", "ratee_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    ratee_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    rating: Mapped[str] = mapped_column(String(30))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(db.Model):
    """An uploaded file (photo, screenshot, PDF, Office document) belonging to a meeting."""

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))  # path under ATTACHMENT_DIR
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(db.Model):
    """A notice in someone's list: to a member (meeting notices) or to a user (task reminders)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_member", "member_id", "read_at"),
                      Index("ix_notification_user", "user_id", "read_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(30))  # meeting_notice | meeting_reminder | task_overdue | ...
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    subject_kind: Mapped[str | None] = mapped_column(String(30))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
