"""Practice patients: made like a real patient, on a number no real person has, and their page.

A practice patient is enrolled through the same validation and enrolment service as a real one
(`validation.enrolment`, `episodes.enroll`) and then marked `practice`. Its number is taken from
the 555-01xx numbers set aside for fiction in North America, and from those only one that no
patient of any clinic, no provider and no clinic has: the inbound webhook knows a patient by
number alone, so a practice text must never be read as someone else's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
import sqlalchemy as sa

from .. import episodes, replies, validation
from ..extensions import db
from ..models import (Assessment, AuditEvent, CheckIn, Clinic, Escalation, Message, Patient, Provider,
                      TreatmentSession, audit)

# Area codes tried for practice numbers after the clinic's own (each has 100 fictional numbers).
AREA_CODES = ("212", "312", "415", "617", "202", "305", "512", "206", "303", "404")
THREAD_LENGTH = 80  # the latest texts a practice phone shows (the patient's page has them all)
ALERTS_SHOWN = 30  # the latest alerts per finding


class NoNumberLeft(RuntimeError):
    """Every fictional number is taken."""


def _fictional_numbers(clinic: Clinic) -> list[str]:
    """+1 AAA 555 01xx numbers, the clinic's own area code first when it has a North American one."""
    areas = list(AREA_CODES)
    try:
        own = phonenumbers.parse(clinic.phone)
        if own.country_code == 1:
            areas.insert(0, str(own.national_number)[:3])
    except phonenumbers.NumberParseException:
        pass
    return [f"+1{area}55501{n:02d}" for area in dict.fromkeys(areas) for n in range(100)]


def numbers_in_use(numbers: list[str]) -> set[str]:
    """Which of `numbers` a patient (of any clinic), a provider or a clinic already has."""
    taken: set[str] = set()
    for column in (Patient.phone, Provider.phone, Clinic.phone):
        taken.update(db.session.scalars(sa.select(column).where(column.in_(numbers))))
    return taken


def free_number(clinic: Clinic) -> str:
    candidates = _fictional_numbers(clinic)
    taken = numbers_in_use(candidates)
    for number in candidates:
        if number not in taken:
            try:
                return validation.phone(number)
            except validation.ValidationError:
                continue  # an area code this build of libphonenumber does not know
    raise NoNumberLeft("every fictional practice number is in use")


def number_is_theirs_alone(patient: Patient) -> bool:
    """True while no other patient (of any clinic) nor any provider has this practice patient's number."""
    others = db.session.scalar(sa.select(sa.func.count()).select_from(Patient)
                               .where(Patient.phone == patient.phone, Patient.id != patient.id))
    providers = db.session.scalar(sa.select(sa.func.count()).select_from(Provider)
                                  .where(Provider.phone == patient.phone))
    return not others and not providers


def create(clinic: Clinic, raw: Mapping[str, Any], *, provider: Provider, now: datetime,
           phone_region: str) -> Patient:
    """Enrol a practice patient from the form's fields; raises `validation.ValidationError` naming each.

    The number is chosen here, not typed. The provider who creates the patient is the treating
    provider, so routine findings reach their own phone in the next morning's digest.
    """
    number = free_number(clinic)
    zone = raw.get("timezone") or None
    clean = validation.enrolment(dict(raw, phone=number, timezone=None if zone == clinic.timezone else zone),
                                 clinic_zone=clinic.timezone, now=now, phone_region=phone_region)
    enrolment = episodes.enroll(clinic=clinic, phone=clean.phone, name=clean.name, ended_at=clean.ended_at,
                                regions=clean.regions, precautions=clean.precautions, language=clean.language,
                                timezone_name=clean.timezone, provider=provider, now=now,
                                actor=f"provider:{provider.id}")
    patient = enrolment.patient
    patient.practice = True
    audit("practice.patient_created", actor=f"provider:{provider.id}", clinic_id=clinic.id,
          subject=f"patient:{patient.id}", at=now, session_id=enrolment.session.id)
    return patient


def of_clinic(clinic_id: int) -> list[Patient]:
    return list(db.session.scalars(sa.select(Patient).where(Patient.clinic_id == clinic_id, Patient.practice.is_(True))
                                   .order_by(Patient.id.desc())))


def find(clinic_id: int, patient_id: int) -> Patient | None:
    """A practice patient of this clinic; None for another clinic's, a real patient, or none."""
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.clinic_id != clinic_id or not patient.practice:
        return None
    return patient


def phone_holders(clinic_id: int) -> list[Provider]:
    """The clinic's providers who can text (an ACK comes from the provider's own number)."""
    return list(db.session.scalars(sa.select(Provider).where(Provider.clinic_id == clinic_id,
                                                              Provider.active.is_(True), Provider.phone.is_not(None))
                                   .order_by(Provider.name)))


# -- what a practice patient's page shows ------------------------------------------------------

@dataclass
class Bubble:
    """One text on the patient's phone."""

    message: Message
    label: str  # what the text was: "Check-in C1", "Answer", "You"
    assessment: Assessment | None = None


@dataclass
class AlertGroup:
    """One alert text, sent at one moment to one or more phones."""

    at: datetime
    body: str
    recipients: list[str]
    statuses: list[str]


@dataclass
class Finding:
    escalation: Escalation
    alerts: list[AlertGroup] = field(default_factory=list)
    digest: str | None = None
    acknowledged_via: str | None = None  # "sms" | "dashboard"


@dataclass
class Upcoming:
    at: datetime
    what: str


@dataclass
class Page:
    patient: Patient
    session: TreatmentSession | None
    bubbles: list[Bubble]
    findings: list[Finding]
    upcoming: list[Upcoming]
    earlier_texts: int  # texts older than those shown
    latest_message_id: int  # of the texts on the page (the patient's and the alerts about them)


_PURPOSES = {"checkin": "Check-in", "reminder": "Reminder", "answer": "Answer", "notice": "Notice"}


def _label(message: Message) -> str:
    if message.direction == "in":
        return "Sent by the patient"
    label = _PURPOSES.get(message.purpose, message.purpose.capitalize())
    if message.purpose == "checkin" and message.checkin is not None:
        step = message.checkin.protocol_id
        label = "Welcome (C0)" if step == "C0" else f"Check-in {step}"
    return label


def page(patient: Patient) -> Page:
    """Everything the practice phone shows for one practice patient, read in a few queries."""
    texts = list(db.session.scalars(
        sa.select(Message).where(Message.patient_id == patient.id, Message.status.not_in(("cancelled", "held")))
        .order_by(Message.created_at.desc(), Message.id.desc()).limit(THREAD_LENGTH)
        .options(sa.orm.selectinload(Message.checkin))))[::-1]
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
        Message.patient_id == patient.id, Message.status.not_in(("cancelled", "held"))))
    assessments, _ = replies.readings_by_text([m.id for m in texts if m.direction == "in"])
    bubbles = [Bubble(m, _label(m), assessments.get(m.id)) for m in texts]
    session = episodes.open_session(patient) or db.session.scalar(
        sa.select(TreatmentSession).where(TreatmentSession.patient_id == patient.id)
        .order_by(TreatmentSession.ended_at.desc()).limit(1))
    findings = _findings(patient)
    latest = db.session.scalar(sa.select(sa.func.max(Message.id)).where(_shown(patient))) or 0
    return Page(patient=patient, session=session, bubbles=bubbles, findings=findings,
                upcoming=_upcoming(patient, findings), earlier_texts=max(0, total - len(texts)),
                latest_message_id=latest)


def _shown(patient: Patient) -> sa.ColumnElement[bool]:
    """The texts a practice phone page shows: the patient's, and the alerts about their findings."""
    escalations = sa.select(Escalation.id).where(Escalation.patient_id == patient.id)
    return sa.and_(sa.or_(Message.patient_id == patient.id, Message.escalation_id.in_(escalations)),
                   Message.status.not_in(("cancelled", "held")))


def texts_after(patient: Patient, message_id: int) -> int:
    """How many texts the page shows that are newer than `message_id`."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Message)
                             .where(_shown(patient), Message.id > message_id)) or 0


def _findings(patient: Patient) -> list[Finding]:
    escalations = list(db.session.scalars(sa.select(Escalation).where(Escalation.patient_id == patient.id)
                                          .order_by(Escalation.created_at.desc(), Escalation.id.desc())))
    if not escalations:
        return []
    by_id = {e.id: Finding(e) for e in escalations}
    providers = {p.id: p.name for p in db.session.scalars(sa.select(Provider).where(
        Provider.clinic_id == patient.clinic_id))}
    alerts = db.session.scalars(sa.select(Message).where(Message.escalation_id.in_(by_id), Message.purpose == "alert")
                                .order_by(Message.created_at, Message.id))
    grouped: dict[int, dict[tuple[datetime, str], AlertGroup]] = defaultdict(dict)
    for alert in alerts:
        groups = grouped[alert.escalation_id]
        group = groups.setdefault((alert.created_at, alert.body), AlertGroup(alert.created_at, alert.body, [], []))
        group.recipients.append(providers.get(alert.provider_id, "") if alert.provider_id else "the clinic's phone")
        group.statuses.append(alert.status)
    for esc_id, groups in grouped.items():
        by_id[esc_id].alerts = list(groups.values())[-ALERTS_SHOWN:]
    for finding in by_id.values():
        esc = finding.escalation
        if esc.digest_sent_at is not None:
            # A digest lists several findings by code; the finding's own time says when it went.
            finding.digest = db.session.scalar(
                sa.select(Message.body).where(Message.clinic_id == esc.clinic_id, Message.purpose == "digest",
                                              Message.body.contains(f"({esc.code})"))
                .order_by(Message.id.desc()).limit(1))
        if esc.acknowledged_at is not None:
            event = db.session.scalar(sa.select(AuditEvent).where(
                AuditEvent.action == "escalation.acknowledged", AuditEvent.subject == f"escalation:{esc.id}")
                .order_by(AuditEvent.id.desc()).limit(1))
            finding.acknowledged_via = (event.detail or {}).get("via") if event else None
    return list(by_id.values())


def _upcoming(patient: Patient, findings: list[Finding]) -> list[Upcoming]:
    """What the dispatcher will do next for this patient, soonest first."""
    rows = db.session.execute(
        sa.select(CheckIn.protocol_id, CheckIn.status, CheckIn.due_at, CheckIn.reminder_due_at, CheckIn.reminded_at)
        .join(TreatmentSession).where(TreatmentSession.patient_id == patient.id,
                                      CheckIn.status.in_(("planned", "sent")))
    ).all()
    items = [Upcoming(r.due_at, f"Check-in {r.protocol_id}") for r in rows if r.status == "planned"]
    items += [Upcoming(r.reminder_due_at, f"Reminder of {r.protocol_id}") for r in rows
              if r.status == "sent" and r.reminder_due_at is not None and r.reminded_at is None]
    for finding in findings:
        esc = finding.escalation
        if esc.status == "open" and esc.next_alert_at is not None:
            what = "Digest" if esc.level == "routine" else "Re-alert"
            items.append(Upcoming(esc.next_alert_at, f"{what} of {esc.code} ({esc.level})"))
    return sorted(items, key=lambda item: item.at)


def next_checkin_due(patient: Patient) -> datetime | None:
    """When this patient's next planned check-in is due (it may already be)."""
    return db.session.scalar(
        sa.select(sa.func.min(CheckIn.due_at)).join(TreatmentSession)
        .where(TreatmentSession.patient_id == patient.id, CheckIn.status == "planned"))
