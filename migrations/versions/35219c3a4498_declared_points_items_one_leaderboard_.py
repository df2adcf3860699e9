"""declared-points items, one leaderboard per board, byte-order ingest keys, partial ledger source index

Revision ID: 35219c3a4498
Revises: 5983b8c0d8f1
Create Date: 2026-11-21 12:01:47.623031

- score_claim.rule_id: the declared-points item a claim is made under (existing claims: declared.claim).
- leaderboard: one row per (org, kind, period); older duplicates of a board are deleted, the latest kept.
- score_entry's (source, source_id) index leaves platform events out (their ids are score_event's key).
- Postgres: the ingest's text keys compare byte by byte (COLLATE "C"); this rewrites those tables and indexes.
- declared.claim is now counted per China year (a cap set later counts the year's awards): its counters are
  filled in from the ledger (awards and their reversals, which keep the award's time).
"""
from collections import Counter
from datetime import datetime, timedelta

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '35219c3a4498'
down_revision = '5983b8c0d8f1'
branch_labels = None
depends_on = None

# (table, column, length) of the ingest's key columns
KEY_COLUMNS = (("score_event", "event_id", 100), ("score_entry", "target", 10), ("score_entry", "source", 20),
               ("score_entry", "source_id", 100), ("score_counter", "target", 10), ("score_counter", "rule_id", 60),
               ("score_counter", "period", 10), ("video_progress", "object_id", 100), ("video_day", "day", 10))
NOT_EVENT = sa.text("source <> 'event'")
CHINA_OFFSET = timedelta(hours=8)  # Asia/Shanghai has had no daylight saving since 1991


def _count_declared_claims():
    """score_counter rows of declared.claim per member and China year, net of reversals, from the ledger."""
    entries = op.get_bind().execute(sa.text(
        "SELECT target_id, occurred_at, points FROM score_entry WHERE rule_id = 'declared.claim' AND target = 'member'"))
    years = Counter()
    for member_id, occurred_at, points in entries:
        at = occurred_at if isinstance(occurred_at, datetime) else datetime.fromisoformat(str(occurred_at))
        years[(member_id, str((at.replace(tzinfo=None) + CHINA_OFFSET).year))] += points
    counter = sa.table("score_counter", sa.column("target"), sa.column("target_id"), sa.column("rule_id"),
                       sa.column("period"), sa.column("points"))
    rows = [{"target": "member", "target_id": member_id, "rule_id": "declared.claim", "period": year, "points": points}
            for (member_id, year), points in sorted(years.items()) if points > 0]
    if rows:
        op.bulk_insert(counter, rows)


def upgrade():
    op.execute("DELETE FROM leaderboard WHERE id NOT IN (SELECT MAX(id) FROM leaderboard GROUP BY org_id, kind, period)")
    with op.batch_alter_table('leaderboard', schema=None) as batch_op:
        batch_op.drop_index('ix_leaderboard_org_id')
        batch_op.create_unique_constraint('uq_leaderboard_board', ['org_id', 'kind', 'period'])

    with op.batch_alter_table('score_claim', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rule_id', sa.String(length=60), server_default='declared.claim', nullable=False))

    op.drop_index('ix_score_entry_source', table_name='score_entry')
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length in KEY_COLUMNS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar({length}) COLLATE "C"')
    op.create_index('ix_score_entry_source', 'score_entry', ['source', 'source_id'], postgresql_where=NOT_EVENT,
                    sqlite_where=NOT_EVENT)
    _count_declared_claims()


def downgrade():
    op.execute("DELETE FROM score_counter WHERE rule_id = 'declared.claim'")  # not counted before
    op.drop_index('ix_score_entry_source', table_name='score_entry')
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length in KEY_COLUMNS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar({length}) COLLATE "default"')
    op.create_index('ix_score_entry_source', 'score_entry', ['source', 'source_id'])

    with op.batch_alter_table('score_claim', schema=None) as batch_op:
        batch_op.drop_column('rule_id')

    with op.batch_alter_table('leaderboard', schema=None) as batch_op:
        batch_op.drop_constraint('uq_leaderboard_board', type_='unique')
        batch_op.create_index('ix_leaderboard_org_id', ['org_id'], unique=False)
