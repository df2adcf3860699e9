"""Moving people and organisations: member transfers (党员组织关系转接) and org moves and merges."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db

_PENDING = text("status = 'pending'")


class Transfer(db.Model):
    """A member's transfer: in the system, out of it (介绍信), or into it (registration)."""

    __tablename__ = "member_transfer"
    # One pending transfer a member, enforced by the database as well as by the service's lock.
    __table_args__ = (Index("uq_transfer_pending_member", "member_id", unique=True,
                            sqlite_where=_PENDING, postgresql_where=_PENDING),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # in_system | out_of_system | into_system
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))  # into_system: set on completion
    from_org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    to_org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    destination: Mapped[str | None] = mapped_column(String(200))  # out_of_system: the receiving org's name
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    chain: Mapped[list] = mapped_column(JSON, default=list)  # approving org ids, in order
    step: Mapped[int] = mapped_column(Integer, default=0)  # index into chain of the approver now asked
    member_data: Mapped[dict | None] = mapped_column(JSON)  # into_system: the member being registered
    letter_no: Mapped[str | None] = mapped_column(String(60))
    letter_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    letter_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    receipt_note: Mapped[str | None] = mapped_column(Text)
    outcome_comment: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OrgTransfer(db.Model):
    """Moving a branch (with its groups and members) under a new parent, or merging it into another."""

    __tablename__ = "org_transfer"
    __table_args__ = (Index("uq_org_transfer_pending", "org_id", unique=True,
                            sqlite_where=_PENDING, postgresql_where=_PENDING),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # move | merge
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    from_parent_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
    new_parent_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))  # move
    into_org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))  # merge: the branch that stays
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    chain: Mapped[list] = mapped_column(JSON, default=list)
    step: Mapped[int] = mapped_column(Integer, default=0)
    outcome_comment: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
