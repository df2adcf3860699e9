"""The member registry's records: organisation history, 流动党员 and smartphone exemptions."""
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class MembershipPeriod(db.Model):
    """One stretch of a member's belonging to one organisation (the member's history)."""

    __tablename__ = "membership_period"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    start_reason: Mapped[str] = mapped_column(String(30))  # registered | imported | transfer | merge | restored | into_system
    end_reason: Mapped[str | None] = mapped_column(String(30))  # transfer | merge | deleted | out_of_system
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("member_transfer.id"))


class ExemptionRequest(db.Model):
    """A branch asks its superior to approve a member's 使用智能手机不便 flag."""

    __tablename__ = "exemption_request"
    __table_args__ = (Index("uq_exemption_pending_member", "member_id", unique=True,
                            sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),)
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))  # age_60_plus | health
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | approved | rejected | cancelled
    decision_comment: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MemberFlow(db.Model):
    """A 流动党员 record: away (out) from, or hosted (in) by, the registering branch."""

    __tablename__ = "member_flow"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)  # the registering branch
    direction: Mapped[str] = mapped_column(String(5))  # out | in
    destination: Mapped[str] = mapped_column(String(200))
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date | None] = mapped_column(Date)
    contact: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FlowReport(db.Model):
    """A flowing member's report back to their branch (at least once a year)."""

    __tablename__ = "flow_report"
    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("member_flow.id"), index=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
