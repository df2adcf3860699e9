"""Members (党员), login accounts and their role grants."""
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db


class Member(db.Model):
    __tablename__ = "member"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    category: Mapped[str] = mapped_column(String(20))  # full | probationary
    joined_at: Mapped[date] = mapped_column(Date)
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(10))
    committee_role: Mapped[str | None] = mapped_column(String(30))
    smartphone_exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # in the history library (党员历史库)
    deleted_reason: Mapped[str | None] = mapped_column(String(200))
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # personal data erased; the row stays for references
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)  # 身份证号
    smartphone_exempt_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the superior approved the flag


class User(db.Model):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True, unique=True)  # one account a member
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    grants: Mapped[list["RoleGrant"]] = relationship(lazy="joined", cascade="all, delete-orphan")


class RoleGrant(db.Model):
    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("user_id", "role", "org_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    role: Mapped[str] = mapped_column(String(30))  # platform_admin | org_admin | member
    org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
