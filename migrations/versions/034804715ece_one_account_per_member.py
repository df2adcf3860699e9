"""one account per member

Revision ID: 034804715ece
Revises: 7c4d8ce2cb04
Create Date: 2026-11-21 07:26:52.948560

"""
from alembic import op
import sqlalchemy as sa

import service.database


# revision identifiers, used by Alembic.
revision = '034804715ece'
down_revision = '7c4d8ce2cb04'
branch_labels = None
depends_on = None


def upgrade():
    # A member has at most one account (otherwise an admin could answer or sign in as them).
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index('ix_app_user_member_id')
        batch_op.create_index('ix_app_user_member_id', ['member_id'], unique=True)


def downgrade():
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index('ix_app_user_member_id')
        batch_op.create_index('ix_app_user_member_id', ['member_id'], unique=False)
