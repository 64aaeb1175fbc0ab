"""Sign-in sessions that can be ended, the clinic's idle limit, and the access log.

- providers.session_token: part of every sign-in cookie; a new value ends all of a provider's
  sessions (sign-out, password change). Existing providers get a random one each.
- clinics.session_idle_minutes: a dashboard session ends after this long without a request (480).
- access_events: who opened which patient's record, and when.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-05 10:00:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_token", sa.String(length=32), nullable=True))
    providers = sa.table("providers", sa.column("id", sa.Integer), sa.column("session_token", sa.String))
    connection = op.get_bind()
    for (provider_id,) in connection.execute(sa.select(providers.c.id)).all():
        connection.execute(providers.update().where(providers.c.id == provider_id)
                           .values(session_token=secrets.token_hex(16)))
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.alter_column("session_token", existing_type=sa.String(length=32), nullable=False)

    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_idle_minutes", sa.Integer(), server_default=sa.text("480"),
                                      nullable=False))

    op.create_table(
        "access_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("record", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name=op.f("fk_access_events_clinic_id_clinics")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_access_events_patient_id_patients")),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"],
                                name=op.f("fk_access_events_provider_id_providers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_events")),
    )
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.create_index("ix_access_events_clinic_id_id", ["clinic_id", "id"], unique=False)
        batch_op.create_index("ix_access_events_patient_id_id", ["patient_id", "id"], unique=False)
        batch_op.create_index("ix_access_events_provider_id_id", ["provider_id", "id"], unique=False)


def downgrade():
    op.drop_table("access_events")
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("session_idle_minutes")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("session_token")
