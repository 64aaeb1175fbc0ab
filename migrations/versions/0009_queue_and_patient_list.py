"""The findings queue and the patients list: how a finding was closed, and the indexes their pages
sort and filter by (so each page reads a few index pages, not every row of a busy clinic).

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-05 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolution', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('resolution_note', sa.Text(), nullable=True))
        batch_op.create_index('ix_escalations_clinic_status_created', ['clinic_id', 'status', 'created_at'],
                              unique=False)
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_clinic_name', ['clinic_id', 'name'], unique=False)
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index('ix_assessments_patient_created', ['patient_id', 'created_at'], unique=False)
        batch_op.create_index('ix_assessments_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('treatment_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_treatment_sessions_patient_ended', ['patient_id', 'ended_at'], unique=False)


def downgrade():
    with op.batch_alter_table('treatment_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_treatment_sessions_patient_ended')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index('ix_assessments_created_at')
        batch_op.drop_index('ix_assessments_patient_created')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_clinic_name')
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_escalations_clinic_status_created')
        batch_op.drop_column('resolution_note')
        batch_op.drop_column('resolution')
