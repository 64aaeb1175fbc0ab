"""Findings beyond the expected course reach a provider, by urgency, until someone acknowledges them.

- emergency: the on-call provider now, again every 5 minutes; from 15 minutes on, the backup
  provider and the clinic's phone too.
- urgent: the on-call provider now; from 30 minutes on, the backup too, every 30 minutes.
- routine: one digest per provider at the start of the clinic's next business day.

Timings are clinic settings (defaults from the protocol). Alerts are outbox rows, so the dispatcher
sends them; quiet hours never apply to them. Every change is an audit event.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from . import messages
from .extensions import db
from .models import (Assessment, Clinic, DigestEntry, Escalation, Message, Patient, Provider, TreatmentSession,
                     audit)
from .protocol import PROTOCOL
from .schedule import at_local

log = logging.getLogger(__name__)

ALERTED_LEVELS = ("emergency", "urgent")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


@dataclass(frozen=True)
class Timings:
    emergency_realert: timedelta
    emergency_backup: timedelta
    urgent_backup: timedelta

    @classmethod
    def of(cls, clinic: Clinic) -> Timings:
        return cls(timedelta(minutes=clinic.emergency_realert_minutes),
                   timedelta(minutes=clinic.emergency_backup_minutes),
                   timedelta(minutes=clinic.urgent_backup_minutes))


@dataclass(frozen=True)
class AlertStep:
    targets: tuple[str, ...]  # on_call | backup | clinic
    next_at: datetime | None


def alert_step(level: str, opened_at: datetime, now: datetime, timings: Timings) -> AlertStep:
    """Who is alerted at `now` for an unacknowledged finding, and when to look again. Pure."""
    waited = now - opened_at
    if level == "emergency":
        targets = ("on_call", "backup", "clinic") if waited >= timings.emergency_backup else ("on_call",)
        return AlertStep(targets, now + timings.emergency_realert)
    if level == "urgent":
        targets = ("on_call", "backup") if waited >= timings.urgent_backup else ("on_call",)
        return AlertStep(targets, now + timings.urgent_backup)
    return AlertStep((), None)


def next_business_start(now: datetime, tz: ZoneInfo, opens: time, days: str) -> datetime:
    """The next opening time of the clinic after `now` (today's, if it is still to come). Pure."""
    local = now.astimezone(tz)
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        if str(day.isoweekday()) in days:
            start = at_local(local, day, opens)
            if start > local:
                return start.astimezone(timezone.utc)
    return now + timedelta(days=1)  # a clinic with no business days set still hears within a day


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(5))


def _recipients(clinic: Clinic, roles: Sequence[str]) -> list[tuple[Provider | None, str]]:
    """(provider, number) for each role; the clinic's phone stands in when no one holds a role
    (and for the role "clinic", which no provider holds)."""
    providers = db.session.scalars(
        sa.select(Provider).where(Provider.clinic_id == clinic.id, Provider.active.is_(True),
                                  Provider.phone.is_not(None))
    ).all()
    by_duty: dict[str, list[Provider]] = defaultdict(list)
    for p in providers:
        by_duty[p.duty].append(p)
    out: list[tuple[Provider | None, str]] = []
    for role in roles:
        if by_duty.get(role):
            out.extend((p, p.phone) for p in by_duty[role])
        else:
            out.append((None, clinic.phone))
    seen: set[str] = set()
    return [(p, n) for p, n in out if not (n in seen or seen.add(n))]


def _alert_text(esc: Escalation, now: datetime, *, backup: bool) -> str:
    words = esc.assessment.text if esc.assessment else ""
    session = db.session.get(TreatmentSession, esc.session_id) if esc.session_id else None
    hours = int((now - session.ended_at).total_seconds() // 3600) if session else 0
    fields = dict(level=esc.level.upper(), patient=esc.patient.short_name, hours=hours,
                  rule=esc.rule, words=words, code=esc.code)
    if backup:
        minutes = int((now - (esc.alert_started_at or esc.created_at)).total_seconds() // 60)
        return messages.render("alert.backup", minutes=minutes, **fields)
    return messages.render("alert", **fields)


def _queue_alerts(esc: Escalation, clinic: Clinic, roles: Sequence[str], now: datetime) -> int:
    backup = "backup" in roles
    body = _alert_text(esc, now, backup=backup)
    count = 0
    for provider, number in _recipients(clinic, roles):
        db.session.add(Message(clinic_id=clinic.id, direction="out", provider_id=provider.id if provider else None,
                               escalation_id=esc.id, purpose="alert", body=body, to_number=number,
                               status="pending", send_after=now, created_at=now, updated_at=now))
        count += 1
    esc.alerts_sent += count
    if backup and esc.backup_alerted_at is None:
        esc.backup_alerted_at = now
    audit("escalation.alerted", clinic_id=clinic.id, subject=f"escalation:{esc.id}", at=now,
          roles=list(roles), recipients=count)
    return count


def open_escalation(*, patient: Patient, session: TreatmentSession | None, level: str, rule: str,
                    assessment: Assessment | None, now: datetime) -> Escalation:
    """Raise a finding for the providers, or raise an open one for the same episode to this level.

    One open escalation per episode keeps a patient who writes three worried texts from paging
    the on-call three times; a more urgent finding upgrades it and restarts its alerts. Texts that
    arrive at the same moment are handled at the same moment, so each step is atomic:

    1. Look for the episode's open finding.
    2. None: insert one inside a savepoint. The database holds at most one open finding per
       episode (a partial unique index), so of requests racing here one inserts and pages; each
       other's insert fails, rolls back to the savepoint, and looks again (1), finding the
       winner's finding as if its text had come second.
    3. An open finding at this level or higher takes the new one as added evidence: no page.
    4. A lower one is raised by a conditional UPDATE (still open, still at the level read), and
       only the request whose UPDATE changed the row restarts its alerts. If another request
       raised or acknowledged it meanwhile, look again (1).
    """
    clinic = patient.clinic
    session_id = session.id if session else None
    evidence = dict(level=level, rule=rule, assessment_id=assessment.id if assessment else None)
    while True:
        open_one = _open_finding(patient.id, session_id)
        if open_one is None:
            esc = _insert_finding(patient, session_id, level, rule, assessment, now)
            if esc is None:
                continue
            audit("escalation.opened", clinic_id=clinic.id, subject=f"escalation:{esc.id}", at=now, **evidence)
            _start_alerting(esc, clinic, now)
            return esc
        if PROTOCOL.rank(open_one.level) >= PROTOCOL.rank(level):
            audit("escalation.finding_added", clinic_id=clinic.id, subject=f"escalation:{open_one.id}", at=now,
                  **evidence)
            return open_one
        previous = open_one.level
        raised = db.session.execute(
            sa.update(Escalation).where(Escalation.id == open_one.id, Escalation.status == "open",
                                        Escalation.level == previous)
            .values(level=level, rule=rule, alert_started_at=now, backup_alerted_at=None,
                    assessment_id=assessment.id if assessment else Escalation.assessment_id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if raised != 1:
            continue
        esc = db.session.get(Escalation, open_one.id, populate_existing=True)  # as the UPDATE left it
        audit("escalation.upgraded", clinic_id=clinic.id, subject=f"escalation:{esc.id}", at=now,
              previous=previous, level=level, rule=rule)
        _start_alerting(esc, clinic, now)
        return esc


def _insert_finding(patient: Patient, session_id: int | None, level: str, rule: str,
                    assessment: Assessment | None, now: datetime) -> Escalation | None:
    """A new open finding, or None if another request opened one for the episode first."""
    esc = Escalation(clinic_id=patient.clinic_id, patient=patient, session_id=session_id, assessment=assessment,
                     level=level, rule=rule, code=_unique_code(), created_at=now, alert_started_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(esc)
    except IntegrityError:
        if _open_finding(patient.id, session_id) is None:
            raise  # not the one-open-finding index: let it surface
        log.info("an open finding for patient id=%s was opened meanwhile by another request", patient.id)
        return None
    return esc


def _open_finding(patient_id: int, session_id: int | None) -> Escalation | None:
    return db.session.scalar(
        sa.select(Escalation).where(Escalation.patient_id == patient_id, Escalation.session_id == session_id,
                                    Escalation.status == "open")
        .order_by(Escalation.id.desc()).limit(1)
        .execution_options(populate_existing=True)  # another request may have changed it meanwhile
    )


def _unique_code() -> str:
    while True:
        code = _new_code()
        if db.session.scalar(sa.select(Escalation.id).where(Escalation.code == code)) is None:
            return code


def _start_alerting(esc: Escalation, clinic: Clinic, now: datetime) -> None:
    if esc.level in ALERTED_LEVELS:
        step = alert_step(esc.level, esc.alert_started_at or esc.created_at, now, Timings.of(clinic))
        _queue_alerts(esc, clinic, step.targets, now)
        esc.next_alert_at = step.next_at
    else:
        esc.next_alert_at = next_business_start(now, ZoneInfo(clinic.timezone), clinic.business_open,
                                                clinic.business_days)


def run_timers(now: datetime) -> int:
    """Re-alert unacknowledged emergencies and urgents, and send routine digests that are due.

    1. Find open escalations whose next alert time has come.
    2. Claim each by moving its timer with a conditional update (exactly one row changed), so
       several dispatcher processes never alert twice for the same step.
    3. Queue the alerts (emergency/urgent) or collect the finding into its provider's digest.
    """
    due = db.session.execute(
        sa.select(Escalation.id, Escalation.next_alert_at)
        .where(Escalation.status == "open", Escalation.next_alert_at <= now).order_by(Escalation.next_alert_at)
    ).all()
    queued = 0
    digests: dict[tuple[int, int | None, str], list[Escalation]] = defaultdict(list)
    for esc_id, next_at in due:
        claimed = db.session.execute(
            sa.update(Escalation).where(Escalation.id == esc_id, Escalation.next_alert_at == next_at,
                                        Escalation.status == "open")
            .values(next_alert_at=None).execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            continue
        esc = db.session.get(Escalation, esc_id, populate_existing=True)  # the claim changed it
        clinic = db.session.get(Clinic, esc.clinic_id)
        if esc.level in ALERTED_LEVELS:
            step = alert_step(esc.level, esc.alert_started_at or esc.created_at, now, Timings.of(clinic))
            queued += _queue_alerts(esc, clinic, step.targets, now)
            esc.next_alert_at = step.next_at
        else:
            provider, number = _digest_recipient(esc, clinic)
            digests[(clinic.id, provider.id if provider else None, number)].append(esc)
    for (clinic_id, provider_id, number), items in digests.items():
        queued += _queue_digest(clinic_id, provider_id, number, items, now)
    db.session.commit()
    return queued


def _digest_recipient(esc: Escalation, clinic: Clinic) -> tuple[Provider | None, str]:
    """The treating provider when they can be texted, else whoever is on call, else the clinic."""
    session = db.session.get(TreatmentSession, esc.session_id) if esc.session_id else None
    treating = session.provider if session else None
    if treating is not None and treating.active and treating.phone:
        return treating, treating.phone
    return _recipients(clinic, ["on_call"])[0]


def _queue_digest(clinic_id: int, provider_id: int | None, number: str, items: list[Escalation],
                  now: datetime) -> int:
    entries = [f"{e.patient.short_name} {e.rule} ({e.code})" for e in items]
    body = messages.render_list("digest", field="items", entries=entries, count=len(entries))
    digest = Message(clinic_id=clinic_id, direction="out", provider_id=provider_id, purpose="digest",
                     body=body, to_number=number, status="pending", send_after=now, created_at=now, updated_at=now)
    db.session.add(digest)
    for e in items:
        db.session.add(DigestEntry(message=digest, escalation=e))
        e.digest_sent_at = now
        e.alerts_sent += 1
        audit("escalation.digested", clinic_id=clinic_id, subject=f"escalation:{e.id}", at=now,
              provider_id=provider_id)
    return 1


def acknowledge(esc: Escalation, provider: Provider | None, now: datetime, *, via: str,
                actor: str | None = None) -> bool:
    """Mark a finding as taken in hand; its re-alerts stop. False if it was not open.

    `provider` is None when a practice system acknowledges through the API without naming one;
    `actor` then says which key did it.
    """
    if esc.status != "open" or (provider is not None and esc.clinic_id != provider.clinic_id):
        return False
    esc.status, esc.acknowledged_at, esc.next_alert_at = "acknowledged", now, None
    esc.acknowledged_by_id = provider.id if provider else None
    audit("escalation.acknowledged", actor=actor or f"provider:{provider.id}", clinic_id=esc.clinic_id,
          subject=f"escalation:{esc.id}", at=now, via=via)
    return True


def resolve(esc: Escalation, provider: Provider | None, now: datetime, *, via: str, actor: str | None = None) -> bool:
    """The care team has dealt with a finding: it is closed, and alerts stop if they had not.

    An open finding resolved at once counts as acknowledged at the same moment. False if it was
    already resolved.
    """
    if esc.status == "resolved" or (provider is not None and esc.clinic_id != provider.clinic_id):
        return False
    if esc.acknowledged_at is None:
        esc.acknowledged_at, esc.acknowledged_by_id = now, provider.id if provider else None
    esc.status, esc.resolved_at, esc.next_alert_at = "resolved", now, None
    esc.resolved_by_id = provider.id if provider else None
    audit("escalation.resolved", actor=actor or f"provider:{provider.id}", clinic_id=esc.clinic_id,
          subject=f"escalation:{esc.id}", at=now, via=via)
    return True


RESOLUTIONS = ("handled", "not_actionable")


def close_finding(esc: Escalation, provider: Provider, now: datetime, *, resolution: str, note: str,
                  via: str) -> bool:
    """Resolve a finding saying how: `handled` (with a note for the chart) or `not_actionable`
    (nothing was wrong: the alert burden counts these). False if it was already resolved.

    The note stays on the finding, not in the audit log, which keeps ids only.
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}")
    if not resolve(esc, provider, now, via=via):
        return False
    esc.resolution, esc.resolution_note = resolution, note or None
    audit("escalation.resolution_recorded", actor=f"provider:{provider.id}", clinic_id=esc.clinic_id,
          subject=f"escalation:{esc.id}", at=now, via=via, resolution=resolution, note=bool(note))
    return True


def acknowledge_by_text(provider: Provider, text: str, now: datetime) -> str:
    """A provider's text: "ACK <code>" acknowledges that alert, "ACK" alone their latest open one
    (or, when the latest texts named several open findings, asks which)."""
    words = text.strip().upper().split()
    if not words or words[0] != "ACK" or len(words) > 2:
        return messages.render("ack.help")
    if len(words) == 2:
        code = words[1][:12]
        esc = db.session.scalar(sa.select(Escalation).where(Escalation.code == words[1],
                                                            Escalation.clinic_id == provider.clinic_id))
        if esc is None:       # a mistyped code: say so, and give the codes they could have meant
            codes = [e.code for e in alerted_open(provider)]
            if not codes:
                return messages.render("ack.unknown_none", code=code)
            return messages.render_list("ack.unknown", field="codes", entries=codes, code=code)
        if esc.status != "open":
            return messages.render("ack.already", code=esc.code)
    else:                 # a bare ACK: the finding of the provider's latest page or digest
        together = _latest_alerted(provider)
        if len(together) > 1:
            return messages.render_list("ack.which", field="codes", entries=[e.code for e in together],
                                        count=len(together))
        esc = together[0] if together else None
    if esc is None or not acknowledge(esc, provider, now, via="sms"):
        return messages.render("ack.none")
    return messages.render("ack.done", code=esc.code, patient=esc.patient.short_name, level=esc.level.upper())


def _alerts_to(provider: Provider) -> sa.Subquery:
    """(created_at, escalation_id) of every page and digest entry sent to `provider`.

    A page names its finding on its own row (only pages do); a digest names its findings in
    `digest_entries`."""
    pages = sa.select(Message.created_at, Message.escalation_id).where(Message.provider_id == provider.id)
    digests = sa.select(Message.created_at, DigestEntry.escalation_id).join(
        DigestEntry, DigestEntry.message_id == Message.id).where(Message.provider_id == provider.id)
    return sa.union_all(pages, digests).subquery()


_URGENCY = sa.case({level: k for k, level in enumerate(("emergency", "urgent", "routine"))},
                   value=Escalation.level, else_=3)


def alerted_open(provider: Provider) -> list[Escalation]:
    """The open findings this provider has been alerted to, most urgent first, then oldest."""
    alerted = sa.select(_alerts_to(provider).c.escalation_id)
    return list(db.session.scalars(
        sa.select(Escalation).where(Escalation.status == "open", Escalation.clinic_id == provider.clinic_id,
                                    Escalation.id.in_(alerted))
        .order_by(_URGENCY, Escalation.created_at, Escalation.id)))


def _latest_alerted(provider: Provider) -> list[Escalation]:
    """The open findings named by the provider's latest alert texts that name any: one for a page,
    several for a digest or for pages sent in the same round (the phone shows them together)."""
    alerts = _alerts_to(provider)
    rows = db.session.execute(
        sa.select(Escalation, alerts.c.created_at).join(alerts, alerts.c.escalation_id == Escalation.id)
        .where(Escalation.status == "open", Escalation.clinic_id == provider.clinic_id)
        .order_by(alerts.c.created_at.desc(), _URGENCY, Escalation.created_at, Escalation.id)).all()
    latest = rows[0].created_at if rows else None
    return list(dict.fromkeys(esc for esc, at in rows if at == latest))


def awaiting_choice(patient: Patient) -> Escalation | None:
    """The open routine or urgent finding a patient's CALL or WAIT answers, if any."""
    return db.session.scalar(
        sa.select(Escalation).where(Escalation.patient_id == patient.id, Escalation.status == "open",
                                    Escalation.level.in_(("routine", "urgent")))
        .order_by(Escalation.id.desc()).limit(1)
    )


def record_patient_choice(patient: Patient, choice: str, now: datetime) -> Escalation | None:
    """CALL or WAIT after a routine or urgent finding; CALL raises a routine one to urgent."""
    esc = awaiting_choice(patient)
    if esc is None:
        return None
    esc.patient_choice, esc.patient_choice_at = choice, now
    audit("escalation.patient_choice", actor=f"patient:{patient.id}", clinic_id=esc.clinic_id,
          subject=f"escalation:{esc.id}", at=now, choice=choice)
    if choice == "call" and esc.level == "routine":
        audit("escalation.upgraded", clinic_id=esc.clinic_id, subject=f"escalation:{esc.id}", at=now,
              previous="routine", level="urgent", rule=esc.rule, why="patient asked for a call")
        esc.level, esc.alert_started_at = "urgent", now
        _start_alerting(esc, patient.clinic, now)
    return esc
