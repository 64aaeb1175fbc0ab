"""Sign-in sessions that can be ended, and the clinic's idle limit.

- providers.session_token: part of every sign-in cookie; a new value ends all of a provider's
  sessions (sign-out, password change). Existing providers get a random one each.
- clinics.session_idle_minutes: a dashboard session ends after this long without a request (480).

Revision ID: 0005
Revises: 0001
Create Date: 2026-12-05 10:00:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
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


def downgrade():
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("session_idle_minutes")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("session_token")
