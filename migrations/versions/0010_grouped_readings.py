"""Grouped readings: each text keeps its own assessment; a group's reading is a second row on its
latest text, naming the texts it read (issue #10 item 3).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=8), server_default='text', nullable=False))
        batch_op.add_column(sa.Column('message_ids', sa.JSON(), server_default='[]', nullable=False))
    # Before this, a text read with its group kept only the group's reading, whose words are longer
    # than the text (a text's own reading is its body, stripped): call those what they are, so they
    # are no longer shown as what the text said. Which texts they read was not kept.
    op.execute("UPDATE assessments SET kind = 'group' WHERE length(text) > "
               "(SELECT length(body) FROM messages WHERE messages.id = assessments.message_id)")
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index('uq_assessments_message_id_kind', ['message_id', 'kind'], unique=True)


def downgrade():
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index('uq_assessments_message_id_kind')
        batch_op.drop_column('message_ids')
        batch_op.drop_column('kind')
