"""Practice patients: a flag marking a patient as practice data, and how far the practice clock has
moved their history (bot/practice).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-05 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('practice', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('practice_clock_seconds', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('practice_clock_seconds')
        batch_op.drop_column('practice')
