"""Points: the append-only ledger, the counters its caps read, rule settings, dues, declared points, snapshots."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db

# Ids the service makes up for events of its own, and the ledger source each maps to; a platform's event ids
# may not start with these.
SOURCE_PREFIXES = {"meeting:": "meeting", "dues:": "dues", "claim:": "claim"}
BIG_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


def key_text(length: int) -> String:
    """A text key compared byte by byte on Postgres too (COLLATE "C"; SQLite's default BINARY already is).

    Ledger, counter and event-id keys are identifiers, never sorted for people; the database's locale collation
    made every index comparison of a bulk ingest a locale-aware string comparison. Byte order is also the order
    Python's sorted() gives, which the ingest sorts ids in.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class ScoreEvent(db.Model):
    """Every event id ever accepted (an id seen before awards nothing again)."""

    __tablename__ = "score_event"
    event_id: Mapped[str] = mapped_column(key_text(100), primary_key=True)
    member_id: Mapped[int] = mapped_column(Integer)  # no FK: ingest is bulk, validated against member ids first
    action: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScoreEntry(db.Model):
    """The ledger: append-only; a correction is a reversal entry pointing at the entry it cancels."""

    __tablename__ = "score_entry"
    __table_args__ = (Index("ix_score_entry_target", "target", "target_id", "occurred_at"),
                      # Platform events' ids are score_event's primary key already; index the service's own.
                      Index("ix_score_entry_source", "source", "source_id", postgresql_where=text("source <> 'event'"),
                            sqlite_where=text("source <> 'event'")))
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    target: Mapped[str] = mapped_column(key_text(10))  # member | org
    target_id: Mapped[int] = mapped_column(Integer)
    rule_id: Mapped[str] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(30))  # organizational_life | education | pioneer
    points: Mapped[int] = mapped_column(Integer)  # negative for a reversal
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)  # what the period is taken from
    source: Mapped[str] = mapped_column(key_text(20))  # event | meeting | dues | claim | reversal
    source_id: Mapped[str | None] = mapped_column(key_text(100))  # event id, meeting id, payment id, claim id
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("score_entry.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class ScoreCounter(db.Model):
    """Points awarded so far per (target, rule, China period): what a cap reads."""

    __tablename__ = "score_counter"
    target: Mapped[str] = mapped_column(key_text(10), primary_key=True)
    target_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(key_text(60), primary_key=True)
    period: Mapped[str] = mapped_column(key_text(10), primary_key=True)
    points: Mapped[int] = mapped_column(Integer, default=0)


class VideoProgress(db.Model):
    """The highest saved position of each video a member watched (replays credit nothing)."""

    __tablename__ = "video_progress"
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_id: Mapped[str] = mapped_column(key_text(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class VideoDay(db.Model):
    """Video seconds credited to a member on one China day (leftovers do not carry over)."""

    __tablename__ = "video_day"
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(key_text(10), primary_key=True)
    seconds: Mapped[int] = mapped_column(Integer, default=0)


class ScoreRuleSetting(db.Model):
    """An admin's change to a rule's points, cap or enabled flag (the logic stays the data file's)."""

    __tablename__ = "score_rule_setting"
    rule_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    points: Mapped[int | None] = mapped_column(Integer)
    cap: Mapped[int | None] = mapped_column(Integer)
    cap_set: Mapped[bool] = mapped_column(Boolean, default=False)  # cap None with cap_set: uncapped on purpose
    enabled: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class ScoreRuleAudit(db.Model):
    """Every change to a rule's settings: who, when, before and after."""

    __tablename__ = "score_rule_audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(60), index=True)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    before: Mapped[dict] = mapped_column(JSON)
    after: Mapped[dict] = mapped_column(JSON)


class IntegrationToken(db.Model):
    """A credential for a learning platform that posts score events (only its hash is stored)."""

    __tablename__ = "integration_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DuesPayment(db.Model):
    """党费: every payment is recorded; only an online one within its month earns points."""

    __tablename__ = "dues_payment"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # 2026-11
    channel: Mapped[str] = mapped_column(String(10))  # online | offline
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    points: Mapped[int] = mapped_column(Integer, default=0)


class ScoreClaim(db.Model):
    """积分申报: a member's declared points, approved by the branch, overturnable by a platform admin."""

    __tablename__ = "score_claim"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)  # the member's branch when applying
    # the declared-points item (申报积分项) claimed under: a declared rule, packaged or added by a platform admin
    rule_id: Mapped[str] = mapped_column(String(60), default="declared.claim", server_default="declared.claim")
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    evidence_ids: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|approved|rejected|overturned|cancelled
    decision_comment: Mapped[str | None] = mapped_column(Text)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("score_entry.id"))
    overturned_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    overturned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overturn_reason: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OrgScore(db.Model):
    """The nightly roll-up: an org's own points, its members' average and total for one period."""

    __tablename__ = "org_score"
    org_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    own: Mapped[float] = mapped_column(Numeric(14, 4))
    members_average: Mapped[float] = mapped_column(Numeric(14, 4))
    total: Mapped[float] = mapped_column(Numeric(14, 4))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Leaderboard(db.Model):
    """A ranking computed by the clock (members by learning points, or branches by total), stamped with its time."""

    __tablename__ = "leaderboard"
    __table_args__ = (UniqueConstraint("org_id", "kind", "period", name="uq_leaderboard_board"),)  # one board each
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # member | branch
    period: Mapped[str] = mapped_column(String(10))
    rows: Mapped[list] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ComplianceRow(db.Model):
    """One 督办达标 result of the nightly snapshot: a unit, a meeting type, a period."""

    __tablename__ = "compliance_row"
    __table_args__ = (Index("ix_compliance_lookup", "period", "org_id"),)
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    process_key: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(10))
    required: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(5))  # green | red
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomScoreRule(db.Model):
    """A scoring rule a platform admin added: for a meeting type deployed later (action meeting.<key>, the packaged
    per-event org rule's logic), or a declared-points item, 申报积分项 (action score_claim.<key>, kind declared,
    to the member). Points, cap and enabled change through score_rule_setting like any other rule's.
    """

    __tablename__ = "custom_score_rule"
    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    action: Mapped[str] = mapped_column(String(120), unique=True)
    category: Mapped[str] = mapped_column(String(30))
    points: Mapped[int] = mapped_column(Integer)
    cap: Mapped[int | None] = mapped_column(Integer)
    cap_period: Mapped[str | None] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class ComplianceSetting(db.Model):
    """A platform admin's 督办达标 requirement for a process key: overrides the packaged one or adds one."""

    __tablename__ = "compliance_setting"
    process_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    period: Mapped[str] = mapped_column(String(10))
    required: Mapped[int] = mapped_column(Integer)
    held_by: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
