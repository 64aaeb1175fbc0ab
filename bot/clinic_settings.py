"""Changing a clinic's settings: each change audited, and the texts still to go moved to match.

Quiet hours and the clinic's time zone decide when planned check-ins go out, so a change to
either moves every planned (not yet sent) check-in of the clinic's open episodes, with the same
schedule functions that planned them (`schedule.moved_plan`, `schedule.respect_quiet_hours`): the
page then shows when the next text now goes. Texts already sent, and alerts (never held by quiet
hours), are untouched. Callers validate first (`validation.clinic_settings`) and commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from . import episodes, schedule, validation
from .extensions import db
from .models import CheckIn, Clinic, Patient, TreatmentSession, UTCDateTime, audit

# Settings whose change moves planned check-ins.
SCHEDULE_FIELDS = frozenset({"quiet_start", "quiet_end", "timezone"})


@dataclass(frozen=True)
class Moved:
    """A planned check-in's time before and after a settings change."""

    checkin_id: int
    patient_id: int
    zone: str
    old: datetime
    new: datetime


@dataclass(frozen=True)
class Outcome:
    changed: tuple[str, ...]  # the fields that changed, in the form's order
    moved: tuple[Moved, ...]  # planned check-ins whose time changed
    next_planned: Moved | None  # the clinic's next planned text after the change (moved or not)


def _plain(value: Any) -> Any:
    """A setting as the audit log keeps it (JSON): times as HH:MM."""
    return value.strftime("%H:%M") if isinstance(value, time) else value


def apply(clinic: Clinic, clean: validation.ClinicSettings, *, actor: str, now: datetime) -> Outcome:
    """Store the settings; audit one event per changed field (old -> new); move planned texts."""
    changed: list[str] = []
    for spec in fields(clean):
        old, new = getattr(clinic, spec.name), getattr(clean, spec.name)
        if old == new:
            continue
        setattr(clinic, spec.name, new)
        changed.append(spec.name)
        audit("clinic.setting_changed", actor=actor, clinic_id=clinic.id, subject=f"clinic:{clinic.id}", at=now,
              field=spec.name, old=_plain(old), new=_plain(new))
    moved: list[Moved] = []
    if SCHEDULE_FIELDS.intersection(changed):
        db.session.flush()
        moved = replan(clinic, now=now)
        audit("clinic.checkins_moved", actor=actor, clinic_id=clinic.id, subject=f"clinic:{clinic.id}", at=now,
              moved=len(moved), checkin_ids=[m.checkin_id for m in moved][:200])
    return Outcome(tuple(changed), tuple(moved), next_planned(clinic, now=now, moved=moved))


@dataclass(frozen=True)
class _Episode:
    """What re-timing needs of one open episode: when its session ended, on whose clock."""

    session_id: int
    ended_at: datetime
    patient_id: int
    zone: str


def _planned(clinic: Clinic, now: datetime) -> dict[_Episode, list[schedule.CheckInState]]:
    """Every check-in of the clinic still to be sent, by episode: one statement, plain columns."""
    rows = db.session.execute(
        sa.select(CheckIn.id, CheckIn.protocol_id, CheckIn.status, CheckIn.due_at, TreatmentSession.id,
                  TreatmentSession.ended_at, Patient.id, Patient.timezone)
        .join(TreatmentSession, CheckIn.session_id == TreatmentSession.id)
        .join(Patient, TreatmentSession.patient_id == Patient.id)
        .where(Patient.clinic_id == clinic.id, TreatmentSession.status == "open", CheckIn.status == "planned",
               CheckIn.due_at > now)
        .order_by(CheckIn.due_at, CheckIn.id)
    ).all()
    by_episode: dict[_Episode, list[schedule.CheckInState]] = defaultdict(list)
    for checkin_id, protocol_id, status, due_at, session_id, ended_at, patient_id, zone in rows:
        episode = _Episode(session_id, ended_at, patient_id, zone or clinic.timezone)
        by_episode[episode].append(schedule.CheckInState(checkin_id, protocol_id, status, due_at))
    return by_episode


def replan(clinic: Clinic, *, now: datetime) -> list[Moved]:
    """Re-time the clinic's planned check-ins after its quiet hours or zone changed.

    C1-C5 are timed from the session again, as when they were planned; C0 and the extra check-in
    (timed from when they were asked for) keep their time unless it now falls in quiet hours. A
    text whose new time has passed goes at once (the dispatcher's next pass), or at the end of
    the quiet hours it is now in, never into the past.
    """
    quiet = episodes.quiet_hours(clinic)
    moved: list[Moved] = []
    for episode, states in _planned(clinic, now).items():
        tz = ZoneInfo(episode.zone)
        new_times = schedule.moved_plan(new_ended_at=episode.ended_at, checkins=states, tz=tz, quiet=quiet)
        for c in states:
            new = new_times.get(c.id) or schedule.respect_quiet_hours(c.due_at, tz, quiet)
            if new < now:  # its new time has passed: now, or when the quiet hours we are in end
                new = schedule.respect_quiet_hours(now, tz, quiet)
            if new != c.due_at:
                moved.append(Moved(c.id, episode.patient_id, episode.zone, c.due_at, new))
    _move(moved)
    return moved


def _move(moved: Sequence[Moved]) -> None:
    """One statement for all: each row moves only if it is still planned at the time read, so a
    check-in a dispatcher claimed meanwhile keeps the time it was sent at."""
    if not moved:
        return
    table = CheckIn.__table__
    db.session.execute(
        sa.update(table).where(table.c.id == sa.bindparam("checkin_id"), table.c.status == "planned",
                               table.c.due_at == sa.bindparam("old_due", type_=UTCDateTime))
        .values(due_at=sa.bindparam("new_due", type_=UTCDateTime)),
        [{"checkin_id": m.checkin_id, "old_due": m.old, "new_due": m.new} for m in moved])
    db.session.expire_all()  # the CheckIn objects read above no longer say when they go


def next_planned(clinic: Clinic, *, now: datetime, moved: list[Moved] | tuple[Moved, ...] = ()) -> Moved | None:
    """The clinic's next planned text (old == new when it did not move), or None."""
    by_id = {m.checkin_id: m for m in moved}
    row = db.session.execute(
        sa.select(CheckIn.id, CheckIn.due_at, Patient.id, Patient.timezone)
        .join(TreatmentSession, CheckIn.session_id == TreatmentSession.id)
        .join(Patient, TreatmentSession.patient_id == Patient.id)
        .where(Patient.clinic_id == clinic.id, TreatmentSession.status == "open", CheckIn.status == "planned",
               CheckIn.due_at >= now)
        .order_by(CheckIn.due_at, CheckIn.id).limit(1)
    ).first()
    if row is None:
        return None
    checkin_id, due_at, patient_id, zone = row
    if checkin_id in by_id:
        return by_id[checkin_id]
    return Moved(checkin_id, patient_id, zone or clinic.timezone, due_at, due_at)


def current(clinic: Clinic) -> dict[str, Any]:
    """The clinic's settings as the form shows them (strings, times as HH:MM)."""
    values = {spec.name: getattr(clinic, spec.name) for spec in fields(validation.ClinicSettings)}
    return {name: _plain(value) if not isinstance(value, int) else str(value) for name, value in values.items()}

