"""Dispatcher heartbeats: one row per dispatcher process, its latest completed pass.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dispatcher_heartbeats',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('interval_seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_dispatcher_heartbeats'))
    )
    with op.batch_alter_table('dispatcher_heartbeats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatcher_heartbeats_beat_at'), ['beat_at'], unique=False)


def downgrade():
    with op.batch_alter_table('dispatcher_heartbeats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispatcher_heartbeats_beat_at'))

    op.drop_table('dispatcher_heartbeats')
