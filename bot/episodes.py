"""Episodes of follow-up: enrolment, opt-out and back, closing, and correcting the session time.

The doors (CLI, dashboard, webhook) call these and never change schedule rows themselves, so
every path cancels, re-plans and audits the same way. Callers commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from . import schedule, validation
from .extensions import db
from .models import CheckIn, Clinic, Message, Patient, Provider, TreatmentSession, audit

# Outbound purposes that are the schedule's own texts, withdrawn when the schedule is cancelled.
SCHEDULED_PURPOSES = ("checkin", "reminder")


def quiet_hours(clinic: Clinic) -> schedule.QuietHours:
    return schedule.QuietHours(clinic.quiet_start, clinic.quiet_end)


def patient_zone(patient: Patient) -> ZoneInfo:
    return ZoneInfo(patient.tz_name)


@dataclass(frozen=True)
class Enrolment:
    patient: Patient
    session: TreatmentSession
    checkins: list[CheckIn]


def on_file(clinic: Clinic) -> Callable[[str], validation.OnFile | None]:
    """Whose number is this, at this clinic: the lookup `validation.enrolment` needs for a number on file."""
    def owner(phone: str) -> validation.OnFile | None:
        patient = db.session.scalar(sa.select(Patient).where(Patient.clinic_id == clinic.id, Patient.phone == phone))
        if patient is None:
            return None
        return validation.OnFile(patient.id, patient.name, patient.language, list(patient.precautions),
                                 patient.timezone)
    return owner


def enroll(*, clinic: Clinic, phone: str, name: str | None, ended_at: datetime, regions: Sequence[str],
           precautions: Sequence[str] | None = None, language: str | None = None, timezone_name: str | None = None,
           provider: Provider | None = None, now: datetime, actor: str = "system",
           new_session_for: int | None = None, rename: str | None = None,
           change_precautions: Sequence[str] | None = None) -> Enrolment:
    """Start a new episode: the patient (created, or the one on file), the session, its planned check-ins.

    A number on file is never taken over silently: without `new_session_for` (that patient's id)
    it is refused (`validation.PatientOnFile`, field `phone`, naming the patient by id). A new
    session keeps the patient's name, language and precautions unless `rename`,
    `change_precautions` or `language` change them on purpose; their open episode's remaining
    schedule is cancelled (superseded). A patient who has opted out gets the plan recorded but
    nothing sent until START. Fields at fault raise `validation.ValidationError` naming each of
    them, before anything is written.
    """
    # The same rules as every door (the doors have cleaned these already; this is the guarantee).
    raw = dict(name=name, phone=phone, ended_at=ended_at, regions=regions, precautions=precautions,
               language=language, timezone=timezone_name, new_session_for=new_session_for, rename=rename,
               change_precautions=change_precautions)
    clean = validation.enrolment(raw, clinic_zone=clinic.timezone, now=now, on_file=on_file(clinic))

    if clean.new_session_for is None:
        patient = Patient(clinic_id=clinic.id, phone=clean.phone, name=clean.name, language=clean.language,
                          precautions=clean.precautions, created_at=now)
        try:
            with db.session.begin_nested():  # the unique (clinic, phone) index decides a race
                db.session.add(patient)
        except sa.exc.IntegrityError:
            # Another door enrolled this number since it was checked: it is on file now, and said so.
            validation.enrolment(raw, clinic_zone=clinic.timezone, now=now, on_file=on_file(clinic))
            raise
    else:
        patient = db.session.get(Patient, clean.new_session_for)
    # A new session's changes on purpose, by field name only (the audit log holds no names).
    changed = [field for field, value in (("name", clean.name), ("language", clean.language),
                                          ("precautions", clean.precautions), ("timezone", clean.timezone))
               if clean.new_session_for is not None and value is not None and getattr(patient, field) != value]
    patient.name, patient.language, patient.precautions = clean.name, clean.language, clean.precautions
    if clean.timezone is not None:
        patient.timezone = clean.timezone
    db.session.flush()

    for old in db.session.scalars(sa.select(TreatmentSession).where(
            TreatmentSession.patient_id == patient.id, TreatmentSession.status == "open")):
        old.status, old.closed_at = "superseded", now
        cancel_schedule(old, reason="new episode", now=now)
        audit("episode.superseded", actor=actor, clinic_id=clinic.id, subject=f"session:{old.id}", at=now)

    session = TreatmentSession(patient=patient, provider=provider, ended_at=clean.ended_at,
                               regions=list(clean.regions), created_at=now)
    db.session.add(session)
    planned = schedule.plan_checkins(ended_at=clean.ended_at, regions=clean.regions, precautions=patient.precautions,
                                     tz=patient_zone(patient), quiet=quiet_hours(clinic), now=now)
    rows = [CheckIn(session=session, protocol_id=p.protocol_id, due_at=p.due_at, created_at=now) for p in planned]
    if patient.opted_out_at is not None:
        for row in rows:
            row.status, row.status_reason = "cancelled", "opted out"
    db.session.add_all(rows)
    db.session.flush()
    audit("episode.enrolled", actor=actor, clinic_id=clinic.id, subject=f"session:{session.id}", at=now,
          patient_id=patient.id, regions=list(clean.regions), checkins=len(rows),
          new_session_for=clean.new_session_for, changed=changed)
    return Enrolment(patient, session, rows)


def cancel_schedule(session: TreatmentSession, *, reason: str, now: datetime) -> int:
    """Cancel what is still to be sent for an episode: planned check-ins and unsent scheduled texts."""
    checkin_ids = sa.select(CheckIn.id).where(CheckIn.session_id == session.id)
    cancelled = db.session.execute(
        sa.update(CheckIn).where(CheckIn.session_id == session.id, CheckIn.status == "planned")
        .values(status="cancelled", status_reason=reason).execution_options(synchronize_session="fetch")
    ).rowcount
    db.session.execute(
        sa.update(Message).where(Message.checkin_id.in_(checkin_ids), Message.status == "pending",
                                 Message.purpose.in_(SCHEDULED_PURPOSES))
        .values(status="cancelled", updated_at=now).execution_options(synchronize_session="fetch")
    )
    return cancelled


def open_session(patient: Patient) -> TreatmentSession | None:
    return db.session.scalar(
        sa.select(TreatmentSession).where(TreatmentSession.patient_id == patient.id,
                                          TreatmentSession.status == "open")
        .order_by(TreatmentSession.ended_at.desc()).limit(1)
    )


def opt_out(patient: Patient, *, now: datetime, source: str) -> None:
    """The patient said STOP (or the carrier says they did): nothing more is sent until START."""
    if patient.opted_out_at is None:
        patient.opted_out_at = now
    for session in db.session.scalars(sa.select(TreatmentSession).where(
            TreatmentSession.patient_id == patient.id, TreatmentSession.status == "open")):
        cancel_schedule(session, reason="opted out", now=now)
    audit("patient.opted_out", actor=f"patient:{patient.id}" if source == "sms" else "system",
          clinic_id=patient.clinic_id, subject=f"patient:{patient.id}", at=now, source=source)


def opt_in(patient: Patient, *, now: datetime) -> int:
    """START/UNSTOP: texts resume; check-ins cancelled by the opt-out and still ahead are re-planned."""
    patient.opted_out_at = None
    session = open_session(patient)
    restored = 0
    if session is not None:
        restored = db.session.execute(
            sa.update(CheckIn).where(CheckIn.session_id == session.id, CheckIn.status == "cancelled",
                                     CheckIn.status_reason == "opted out", CheckIn.due_at > now)
            .values(status="planned", status_reason=None).execution_options(synchronize_session="fetch")
        ).rowcount
    audit("patient.opted_in", actor=f"patient:{patient.id}", clinic_id=patient.clinic_id,
          subject=f"patient:{patient.id}", at=now, restored=restored)
    return restored


def close_episode(session: TreatmentSession, *, actor: str, now: datetime) -> None:
    """The provider closes the episode: the rest of its schedule is cancelled."""
    if session.status != "open":
        return
    session.status, session.closed_at = "closed", now
    cancelled = cancel_schedule(session, reason="episode closed", now=now)
    audit("episode.closed", actor=actor, clinic_id=session.patient.clinic_id, subject=f"session:{session.id}",
          at=now, cancelled=cancelled)


def correct_session_time(session: TreatmentSession, new_ended_at: datetime, *, actor: str, now: datetime) -> int:
    """The session time was entered wrong: re-plan the check-ins still to come from the right time."""
    patient = session.patient
    new_ended_at = validation.session_end(new_ended_at, zone=patient.tz_name, now=now)
    states = [schedule.CheckInState(c.id, c.protocol_id, c.status, c.due_at) for c in session.checkins]
    moves = schedule.moved_plan(new_ended_at=new_ended_at, checkins=states,
                                tz=patient_zone(patient), quiet=quiet_hours(patient.clinic))
    old = session.ended_at
    session.ended_at = new_ended_at
    for checkin in session.checkins:
        if checkin.id in moves:
            checkin.due_at = moves[checkin.id]
    audit("episode.time_corrected", actor=actor, clinic_id=patient.clinic_id, subject=f"session:{session.id}",
          at=now, old=old.isoformat(), new=new_ended_at.isoformat(), moved=len(moves))
    return len(moves)
