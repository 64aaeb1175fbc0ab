"""One open finding per episode, held by the database (issue #10, item 2).

Two partial unique indexes: one open escalation per (patient, session), and one per patient for
findings outside any episode (a unique index never matches NULLs, so those need their own).

Data written before this could hold several open findings for one episode (two texts at the same
moment each opened one). Each such group keeps one open finding: the most urgent, the newest among
equals, so no emergency is closed in favour of an urgent. The others are closed as superseded:
status `resolved` (acknowledged and resolved now, by no one), their alerts stopped, and an audit
event `escalation.superseded` naming the finding kept. Downgrading drops the indexes; findings
closed here stay closed.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-05 04:00:00.000000

"""
from collections import defaultdict
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None

_RANK = {"routine": 0, "urgent": 1, "emergency": 2}  # as the protocol orders them, frozen here
_OPEN_WITH_SESSION = "status = 'open' AND session_id IS NOT NULL"
_OPEN_WITHOUT_SESSION = "status = 'open' AND session_id IS NULL"

escalations = sa.table(
    "escalations", sa.column("id", sa.Integer), sa.column("clinic_id", sa.Integer),
    sa.column("patient_id", sa.Integer), sa.column("session_id", sa.Integer), sa.column("level", sa.String),
    sa.column("status", sa.String), sa.column("next_alert_at", sa.DateTime(timezone=True)),
    sa.column("acknowledged_at", sa.DateTime(timezone=True)), sa.column("resolved_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)))
audit_events = sa.table(
    "audit_events", sa.column("clinic_id", sa.Integer), sa.column("actor", sa.String),
    sa.column("action", sa.String), sa.column("subject", sa.String), sa.column("detail", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)))


def _close_duplicate_open_findings():
    """Keep the most urgent (then newest) open finding of each episode; close the rest as superseded."""
    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored there as naive UTC, as the app's UTCDateTime does
    groups = defaultdict(list)
    for row in bind.execute(sa.select(escalations.c.id, escalations.c.clinic_id, escalations.c.patient_id,
                                      escalations.c.session_id, escalations.c.level, escalations.c.created_at)
                            .where(escalations.c.status == "open")):
        groups[(row.patient_id, row.session_id)].append(row)
    for rows in groups.values():
        if len(rows) < 2:
            continue
        kept = max(rows, key=lambda r: (_RANK.get(r.level, -1), r.created_at, r.id))
        for row in rows:
            if row.id == kept.id:
                continue
            bind.execute(escalations.update().where(escalations.c.id == row.id)
                         .values(status="resolved", next_alert_at=None, resolved_at=now,
                                 acknowledged_at=sa.func.coalesce(escalations.c.acknowledged_at, now)))
            bind.execute(audit_events.insert().values(
                clinic_id=row.clinic_id, actor="system", action="escalation.superseded",
                subject=f"escalation:{row.id}", created_at=now,
                detail={"by": kept.id, "why": "a second open finding for the same episode (migration 0008)"}))


def upgrade():
    _close_duplicate_open_findings()
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index('uq_escalations_open_per_session', ['patient_id', 'session_id'], unique=True,
                              sqlite_where=sa.text(_OPEN_WITH_SESSION), postgresql_where=sa.text(_OPEN_WITH_SESSION))
        batch_op.create_index('uq_escalations_open_without_session', ['patient_id'], unique=True,
                              sqlite_where=sa.text(_OPEN_WITHOUT_SESSION),
                              postgresql_where=sa.text(_OPEN_WITHOUT_SESSION))


def downgrade():
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index('uq_escalations_open_without_session')
        batch_op.drop_index('uq_escalations_open_per_session')
