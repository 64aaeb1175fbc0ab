"""The practice clock: one practice patient lives through the next hours in a moment.

Moving a practice patient's clock forward by D moves that patient's own history D into the past:
every timestamp of their rows (their record, sessions, check-ins, texts, assessments, findings and
the alerts about those findings). The real dispatcher, run at the real now, then finds due what it
would find due D later, and does what it would do then. Nobody else's rows are read differently:
real patients and the real clock are untouched, and the dispatcher runs unchanged.

A jump is walked event by event, as time would pass: to the next moment something is due for this
patient (a check-in, a reminder, a check-in turning missed, an alert timer, a retried text), one
ordinary dispatcher pass there, then on to the next, so a day shows its reminder, its missed
check-in and every re-alert, in order. An unacknowledged emergency re-alerts every few minutes, so
a jump stops after MAX_PASSES passes or TIME_BUDGET_SECONDS, whichever comes first, and says how
far it got: the page that asked is kept waiting no longer than that.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from .. import dispatch, schedule
from ..extensions import db
from ..models import Assessment, CheckIn, Escalation, Message, Patient, TreatmentSession, UTCDateTime, audit

MAX_PASSES = 60
TIME_BUDGET_SECONDS = 8.0


@dataclass(frozen=True)
class Moved:
    requested: timedelta
    moved: timedelta  # less than requested when MAX_PASSES stopped the walk
    passes: int
    texts: Counter[str]  # what this patient was sent meanwhile, by purpose ("checkin", "reminder", ...)
    alerts: int  # alert and re-alert texts about this patient's findings

    @property
    def complete(self) -> bool:
        return self.moved >= self.requested


def _owned_rows(patient_id: int) -> list[tuple[Any, Any]]:
    """(table, condition) for every row that is this patient's history."""
    sessions = sa.select(TreatmentSession.id).where(TreatmentSession.patient_id == patient_id)
    escalations = sa.select(Escalation.id).where(Escalation.patient_id == patient_id)
    return [
        (Patient, Patient.id == patient_id),
        (TreatmentSession, TreatmentSession.patient_id == patient_id),
        (CheckIn, CheckIn.session_id.in_(sessions)),
        (Message, sa.or_(Message.patient_id == patient_id, Message.escalation_id.in_(escalations))),
        (Assessment, Assessment.patient_id == patient_id),
        (Escalation, Escalation.patient_id == patient_id),
    ]


def shift_history(patient: Patient, by: timedelta) -> int:
    """Move every timestamp of the patient's rows `by` into the past; returns the rows moved.

    Every UTC timestamp column of those tables is moved, so a column added later moves too.
    Computed in Python and written back by primary key: the same on SQLite and PostgreSQL.
    """
    if patient.practice is not True:
        raise ValueError("only a practice patient's history can be moved")
    moved = 0
    for model, condition in _owned_rows(patient.id):
        table = model.__table__
        columns = [c for c in table.columns if isinstance(c.type, UTCDateTime)]
        rows = db.session.execute(sa.select(table.c.id, *columns).where(condition)).all()
        if not rows:
            continue
        update = (table.update().where(table.c.id == sa.bindparam("row_id"))
                  .values({c.name: sa.bindparam(f"new_{c.name}", type_=c.type) for c in columns}))
        db.session.execute(update, [
            {"row_id": row.id, **{f"new_{c.name}": (None if row[i] is None else row[i] - by)
                                  for i, c in enumerate(columns, 1)}}
            for row in rows])
        moved += len(rows)
    db.session.execute(sa.update(Patient).where(Patient.id == patient.id)
                       .values(practice_clock_seconds=Patient.practice_clock_seconds + int(by.total_seconds()))
                       .execution_options(synchronize_session=False))
    db.session.expire_all()
    return moved


def next_event(patient_id: int, now: datetime) -> datetime | None:
    """The first moment after `now` at which the dispatcher has something to do for this patient."""
    sessions = sa.select(TreatmentSession.id).where(TreatmentSession.patient_id == patient_id)
    escalations = sa.select(Escalation.id).where(Escalation.patient_id == patient_id)
    later = lambda column: column > now  # noqa: E731
    moments = [
        sa.select(sa.func.min(CheckIn.due_at)).where(CheckIn.session_id.in_(sessions), CheckIn.status == "planned",
                                                    later(CheckIn.due_at)),
        sa.select(sa.func.min(CheckIn.reminder_due_at)).where(
            CheckIn.session_id.in_(sessions), CheckIn.status == "sent", CheckIn.reminded_at.is_(None),
            later(CheckIn.reminder_due_at)),
        sa.select(sa.func.min(Escalation.next_alert_at)).where(Escalation.patient_id == patient_id,
                                                               Escalation.status == "open",
                                                               later(Escalation.next_alert_at)),
        sa.select(sa.func.min(Message.send_after)).where(
            sa.or_(Message.patient_id == patient_id, Message.escalation_id.in_(escalations)),
            Message.status == "pending", later(Message.send_after)),
    ]
    found = [db.session.scalar(moment) for moment in moments]
    # The last check-in of an episode turns missed a day after it went (dispatch._mark_missed).
    last_reply = timedelta(hours=schedule.LAST_CHECKIN_REPLY_HOURS)
    found += [sent_at + last_reply for sent_at in db.session.scalars(
        sa.select(CheckIn.sent_at).where(CheckIn.session_id.in_(sessions), CheckIn.status == "sent",
                                         CheckIn.protocol_id != "C0", CheckIn.sent_at.is_not(None)))
              if sent_at + last_reply > now]
    return min((moment for moment in found if moment is not None), default=None)


def _texts_since(patient_id: int, after_id: int) -> tuple[Counter[str], int]:
    escalations = sa.select(Escalation.id).where(Escalation.patient_id == patient_id)
    rows = db.session.execute(
        sa.select(Message.purpose, Message.patient_id).where(
            Message.id > after_id, Message.direction == "out",
            sa.or_(Message.patient_id == patient_id, Message.escalation_id.in_(escalations)))
    ).all()
    texts = Counter(purpose for purpose, owner in rows if owner == patient_id)
    return texts, sum(1 for purpose, owner in rows if owner != patient_id and purpose == "alert")


def advance(patient: Patient, by: timedelta, *, now: datetime, actor: str) -> Moved:
    """Move a practice patient's clock `by` forward, event by event (numbered in the module docstring).

    1. Find the patient's next event after `now`; the step is the time to it, or what is left.
    2. Move the patient's history back by the step and commit.
    3. Run one ordinary dispatcher pass at the real `now` (it commits as it goes).
    4. Until the whole of `by` is moved, or MAX_PASSES passes ran, or TIME_BUDGET_SECONDS passed.
    """
    if by < timedelta(0):
        raise ValueError("the practice clock only moves forward")
    patient_id, clinic_id = patient.id, patient.clinic_id
    before = db.session.scalar(sa.select(sa.func.max(Message.id))) or 0
    moved, passes = timedelta(0), 0
    started = time.monotonic()
    while True:
        upcoming = next_event(patient_id, now)
        step = by - moved if upcoming is None else min(upcoming - now, by - moved)
        if step > timedelta(0):
            shift_history(db.session.get(Patient, patient_id), step)
            moved += step
        db.session.commit()
        dispatch.run_once(now=now)
        passes += 1
        if moved >= by or passes >= MAX_PASSES or time.monotonic() - started >= TIME_BUDGET_SECONDS:
            break
    texts, alerts = _texts_since(patient_id, before)
    audit("practice.clock_moved", actor=actor, clinic_id=clinic_id, subject=f"patient:{patient_id}", at=now,
          requested_seconds=int(by.total_seconds()), moved_seconds=int(moved.total_seconds()), passes=passes)
    db.session.commit()
    return Moved(requested=by, moved=moved, passes=passes, texts=texts, alerts=alerts)
