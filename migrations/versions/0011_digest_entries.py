"""Digest entries: which findings each digest text named, so a provider's bare ACK and a mistyped
code's list see digested findings (issue #13).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 07:00:00.000000

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'digest_entries',
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('escalation_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['escalation_id'], ['escalations.id'], name=op.f('fk_digest_entries_escalation_id_escalations')),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_digest_entries_message_id_messages')),
        sa.PrimaryKeyConstraint('message_id', 'escalation_id', name=op.f('pk_digest_entries')),
    )
    with op.batch_alter_table('digest_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_entries_escalation_id'), ['escalation_id'], unique=False)
    # Digests sent before this kept no list, but each finding in one was audited
    # ("escalation.digested", naming the provider) at the moment its digest row was written: link
    # each finding still open to the digest row of that clinic, provider and moment.
    bind = op.get_bind()
    messages = sa.table('messages', sa.column('id'), sa.column('clinic_id'), sa.column('provider_id'),
                        sa.column('purpose'), sa.column('created_at', sa.DateTime(timezone=True)))
    escalations = sa.table('escalations', sa.column('id'), sa.column('status'),
                           sa.column('digest_sent_at', sa.DateTime(timezone=True)))
    events = sa.table('audit_events', sa.column('clinic_id'), sa.column('action'), sa.column('subject'),
                      sa.column('detail', sa.JSON), sa.column('created_at', sa.DateTime(timezone=True)))
    digests = {(row.clinic_id, row.provider_id, _utc(row.created_at)): row.id for row in bind.execute(
        sa.select(messages.c.id, messages.c.clinic_id, messages.c.provider_id, messages.c.created_at)
        .where(messages.c.purpose == 'digest'))}
    open_ids = set(bind.scalars(sa.select(escalations.c.id).where(escalations.c.status == 'open',
                                                                  escalations.c.digest_sent_at.is_not(None))))
    links = set()
    for row in bind.execute(sa.select(events.c.clinic_id, events.c.subject, events.c.detail, events.c.created_at)
                            .where(events.c.action == 'escalation.digested')):
        escalation_id = int(row.subject.split(':', 1)[1])
        message_id = digests.get((row.clinic_id, (row.detail or {}).get('provider_id'), _utc(row.created_at)))
        if escalation_id in open_ids and message_id is not None:
            links.add((message_id, escalation_id))
    entries = sa.table('digest_entries', sa.column('message_id'), sa.column('escalation_id'))
    if links:
        op.bulk_insert(entries, [{'message_id': m, 'escalation_id': e} for m, e in sorted(links)])


def _utc(value: datetime) -> datetime:
    """The same instant as a naive UTC value, whether the driver gave it naive (SQLite) or aware."""
    return value if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def downgrade():
    with op.batch_alter_table('digest_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_entries_escalation_id'))
    op.drop_table('digest_entries')
