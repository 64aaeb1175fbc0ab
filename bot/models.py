"""The tables. Every timestamp is stored in UTC and comes back timezone-aware.

The durable rows are the system's memory: check-ins are the schedule, outbound messages are the
outbox the dispatcher claims from, escalations carry their own alert timers. Nothing that matters
lives only in a process.
"""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta, timezone
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db
from .protocol import PROTOCOL

_TIMINGS = PROTOCOL.escalation  # the protocol's defaults for each clinic's settings


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp that is always UTC and timezone-aware in Python, on SQLite and PostgreSQL alike.

    SQLite has no time zones, so values are stored there as naive UTC (which still sorts and
    compares correctly); a naive datetime from our own code is a bug, so it is refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: sa.Dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect: sa.Dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Clinic(db.Model):
    __tablename__ = "clinics"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    # How texts are signed ("Harbor PT"): short, so every text still fits one SMS segment.
    sms_name: so.Mapped[str] = so.mapped_column(sa.String(20))
    phone: so.Mapped[str] = so.mapped_column(sa.String(20))
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default="America/New_York")
    quiet_start: so.Mapped[time] = so.mapped_column(sa.Time, default=PROTOCOL.quiet_start)
    quiet_end: so.Mapped[time] = so.mapped_column(sa.Time, default=PROTOCOL.quiet_end)
    business_open: so.Mapped[time] = so.mapped_column(sa.Time, default=time(8, 0))
    business_close: so.Mapped[time] = so.mapped_column(sa.Time, default=time(17, 0))
    # ISO weekdays the clinic is open, e.g. "12345" for Monday to Friday.
    business_days: so.Mapped[str] = so.mapped_column(sa.String(7), default="12345")
    emergency_realert_minutes: so.Mapped[int] = so.mapped_column(default=_TIMINGS["emergency_realert_minutes"])
    emergency_backup_minutes: so.Mapped[int] = so.mapped_column(default=_TIMINGS["emergency_backup_minutes"])
    urgent_backup_minutes: so.Mapped[int] = so.mapped_column(default=_TIMINGS["urgent_backup_minutes"])
    daily_text_limit: so.Mapped[int] = so.mapped_column(default=_TIMINGS["daily_text_limit"])
    # A dashboard session left this long without a request ends (the remember-me cookie too).
    session_idle_minutes: so.Mapped[int] = so.mapped_column(default=8 * 60, server_default=sa.text("480"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    providers: so.Mapped[list[Provider]] = so.relationship(back_populates="clinic")
    patients: so.Mapped[list[Patient]] = so.relationship(back_populates="clinic")

    @property
    def session_idle_limit(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    def __repr__(self) -> str:
        return f"<Clinic {self.id}>"


class Provider(UserMixin, db.Model):
    __tablename__ = "providers"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    clinic_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("clinics.id"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    phone: so.Mapped[Optional[str]] = so.mapped_column(sa.String(20), index=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    role: so.Mapped[str] = so.mapped_column(sa.String(16), default="provider")  # provider | admin
    duty: so.Mapped[str] = so.mapped_column(sa.String(16), default="off")  # on_call | backup | off
    active: so.Mapped[bool] = so.mapped_column(default=True)
    # Part of every sign-in cookie: a new value ends every session and remember-me cookie at once.
    session_token: so.Mapped[str] = so.mapped_column(sa.String(32), default=lambda: secrets.token_hex(16))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    clinic: so.Mapped[Clinic] = so.relationship(back_populates="providers")

    def set_password(self, password: str) -> None:
        """A new password signs the provider out everywhere (a thief's copy of a cookie too)."""
        self.password_hash = generate_password_hash(password)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        self.session_token = secrets.token_hex(16)

    def get_id(self) -> str:
        """Flask-Login's "alternative id": what the session and remember-me cookies carry."""
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"<Provider {self.id}>"


class Patient(db.Model):
    __tablename__ = "patients"
    __table_args__ = (sa.UniqueConstraint("clinic_id", "phone", name="uq_patients_clinic_phone"),
                      sa.Index("ix_patients_clinic_name", "clinic_id", "name"))  # the patients list

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    clinic_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("clinics.id"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    phone: so.Mapped[str] = so.mapped_column(sa.String(20), index=True)  # E.164
    language: so.Mapped[str] = so.mapped_column(sa.String(2), default="en")  # en | es
    timezone: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64))  # None: the clinic's
    opted_out_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    precautions: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    # Set when Twilio says the number cannot take texts for good (gateways.NUMBER_PROBLEMS).
    phone_problem_code: so.Mapped[Optional[int]] = so.mapped_column()
    # A practice patient (bot/practice, console backend only): fictional, on a fictional 555-01xx
    # number, and moved through time by the practice clock. Counts and exports leave them out.
    practice: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # How far the practice clock has moved this practice patient's history into the past.
    practice_clock_seconds: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    clinic: so.Mapped[Clinic] = so.relationship(back_populates="patients")
    sessions: so.Mapped[list[TreatmentSession]] = so.relationship(
        back_populates="patient", order_by="TreatmentSession.ended_at"
    )

    @property
    def tz_name(self) -> str:
        return self.timezone or self.clinic.timezone

    @property
    def short_name(self) -> str:
        """First name and last initial: the least a provider needs to recognise the patient."""
        parts = self.name.split()
        if not parts:
            return "Patient"
        return parts[0] if len(parts) == 1 else f"{parts[0]} {parts[-1][0]}."

    def __repr__(self) -> str:
        return f"<Patient {self.id}>"


class TreatmentSession(db.Model):
    """One dry-needling session and the follow-up episode it starts."""

    __tablename__ = "treatment_sessions"
    __table_args__ = (sa.Index("ix_treatment_sessions_patient_ended", "patient_id", "ended_at"),)  # latest episode

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    patient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("patients.id"), index=True)
    provider_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("providers.id"))
    ended_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    regions: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="open")  # open | closed | superseded
    closed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    patient: so.Mapped[Patient] = so.relationship(back_populates="sessions")
    provider: so.Mapped[Optional[Provider]] = so.relationship()
    checkins: so.Mapped[list[CheckIn]] = so.relationship(
        back_populates="session", order_by="CheckIn.due_at"
    )

    def __repr__(self) -> str:
        return f"<TreatmentSession {self.id}>"


class CheckIn(db.Model):
    """One planned text of the protocol (C0-C5, or an extra one), and what became of it."""

    __tablename__ = "checkins"
    __table_args__ = (sa.Index("ix_checkins_status_due_at", "status", "due_at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    session_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("treatment_sessions.id"), index=True)
    protocol_id: so.Mapped[str] = so.mapped_column(sa.String(8))  # C0..C5 | extra
    due_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    # planned -> sent -> replied | missed; or skipped | cancelled | failed
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="planned")
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    sent_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    reminder_due_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    reminded_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    replied_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    status_reason: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    session: so.Mapped[TreatmentSession] = so.relationship(back_populates="checkins")

    def __repr__(self) -> str:
        return f"<CheckIn {self.id} {self.protocol_id} {self.status}>"


class Message(db.Model):
    """Every text in or out. Outbound rows are the outbox: pending -> sending -> queued/sent/...

    `to_number` is kept on outbound rows so a resend or a reconciliation uses the number the text
    was meant for, even if the patient's number is edited meanwhile.
    """

    __tablename__ = "messages"
    __table_args__ = (
        sa.Index("ix_messages_status_send_after", "status", "send_after"),
        sa.Index("ix_messages_patient_created", "patient_id", "created_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    clinic_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("clinics.id"), index=True)
    direction: so.Mapped[str] = so.mapped_column(sa.String(3))  # in | out
    patient_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("patients.id"))
    provider_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("providers.id"))
    checkin_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("checkins.id"), index=True)
    # use_alter: messages -> escalations -> assessments -> messages is a cycle; this key is added last.
    escalation_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("escalations.id", use_alter=True),
                                                              index=True)
    reply_to_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("messages.id"), index=True)
    # checkin | reminder | answer | alert | digest | notice | inbound
    purpose: so.Mapped[str] = so.mapped_column(sa.String(16))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    to_number: so.Mapped[Optional[str]] = so.mapped_column(sa.String(20))
    twilio_sid: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64), unique=True)
    # in: received | out: pending, sending, queued, sent, delivered, undelivered, failed, held, twiml
    status: so.Mapped[str] = so.mapped_column(sa.String(16))
    error_code: so.Mapped[Optional[int]] = so.mapped_column()
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    send_after: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    claimed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    sent_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    patient: so.Mapped[Optional[Patient]] = so.relationship()
    provider: so.Mapped[Optional[Provider]] = so.relationship()
    checkin: so.Mapped[Optional[CheckIn]] = so.relationship()

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.direction} {self.purpose} {self.status}>"


class Assessment(db.Model):
    """What triage decided about one text, or about texts sent within two minutes read together,
    and under which protocol version.

    Every text has its own reading (`kind` "text"): what it said, shown beside it. When the texts
    of a group read together say more than the latest one alone, that reading is kept too (`kind`
    "group", on the latest text, `message_ids` naming every text it read), and it is the one a
    finding it raised points at. At most one of each a text.
    """

    __tablename__ = "assessments"
    __table_args__ = (
        sa.Index("ix_assessments_patient_created", "patient_id", "created_at"),  # a patient's latest soreness
        sa.Index("ix_assessments_created_at", "created_at"),  # the latest replies
        sa.Index("uq_assessments_message_id_kind", "message_id", "kind", unique=True),  # one of each a text
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    message_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("messages.id"), index=True)
    patient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("patients.id"), index=True)
    session_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("treatment_sessions.id"), index=True)
    checkin_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("checkins.id"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(8), default="text", server_default="text")  # text | group
    # The texts a group reading read, oldest first (empty for a text's own reading: message_id).
    message_ids: so.Mapped[list[int]] = so.mapped_column(sa.JSON, default=list, server_default="[]")
    level: so.Mapped[str] = so.mapped_column(sa.String(16))
    # What triage read: the text, or the group's texts joined.
    text: so.Mapped[str] = so.mapped_column(sa.Text)
    soreness: so.Mapped[Optional[int]] = so.mapped_column()
    symptoms: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    rules: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    reasons: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    hours_since_session: so.Mapped[Optional[float]] = so.mapped_column()
    protocol_version: so.Mapped[str] = so.mapped_column(sa.String(16))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    message: so.Mapped[Message] = so.relationship()
    patient: so.Mapped[Patient] = so.relationship()

    def __repr__(self) -> str:
        return f"<Assessment {self.id} {self.level}>"


class Escalation(db.Model):
    """A finding beyond the expected course, alerted by urgency until a provider acknowledges it."""

    __tablename__ = "escalations"
    # At most one open finding per episode (and one per patient outside any episode): the database
    # refuses a second, so two texts at the same moment cannot both open one and page twice
    # (`escalation.open_escalation`). Two indexes because a unique index never matches NULLs.
    __table_args__ = (
        sa.Index("ix_escalations_status_next_alert", "status", "next_alert_at"),
        sa.Index("ix_escalations_clinic_status_created", "clinic_id", "status", "created_at"),  # the queue
        sa.Index("uq_escalations_open_per_session", "patient_id", "session_id", unique=True,
                 sqlite_where=sa.text("status = 'open' AND session_id IS NOT NULL"),
                 postgresql_where=sa.text("status = 'open' AND session_id IS NOT NULL")),
        sa.Index("uq_escalations_open_without_session", "patient_id", unique=True,
                 sqlite_where=sa.text("status = 'open' AND session_id IS NULL"),
                 postgresql_where=sa.text("status = 'open' AND session_id IS NULL")),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    clinic_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("clinics.id"), index=True)
    patient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("patients.id"), index=True)
    session_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("treatment_sessions.id"))
    # None for findings without a reply, e.g. "not responding".
    assessment_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("assessments.id"))
    level: so.Mapped[str] = so.mapped_column(sa.String(16))  # routine | urgent | emergency
    rule: so.Mapped[str] = so.mapped_column(sa.String(16))  # the rule id that set the level
    code: so.Mapped[str] = so.mapped_column(sa.String(8), unique=True)  # "ACK <code>" from a phone
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="open")  # open | acknowledged | resolved
    # When the current level's alerting began (an upgrade restarts the clock).
    alert_started_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    alerts_sent: so.Mapped[int] = so.mapped_column(default=0)
    next_alert_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    backup_alerted_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    digest_sent_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    patient_choice: so.Mapped[Optional[str]] = so.mapped_column(sa.String(8))  # call | wait
    patient_choice_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    acknowledged_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("providers.id"))
    acknowledged_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    # The care team has dealt with it (from the dashboard or the practice system through the API).
    resolved_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("providers.id"))
    resolved_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    # How it was closed on the dashboard: handled | not_actionable (None: closed elsewhere), and the
    # provider's note for the chart. Not in the audit log (a note may hold health details).
    resolution: so.Mapped[Optional[str]] = so.mapped_column(sa.String(16))
    resolution_note: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    patient: so.Mapped[Patient] = so.relationship()
    assessment: so.Mapped[Optional[Assessment]] = so.relationship()
    acknowledged_by: so.Mapped[Optional[Provider]] = so.relationship(foreign_keys=[acknowledged_by_id])
    resolved_by: so.Mapped[Optional[Provider]] = so.relationship(foreign_keys=[resolved_by_id])

    def __repr__(self) -> str:
        return f"<Escalation {self.id} {self.level} {self.status}>"


class DigestEntry(db.Model):
    """A finding named in a digest text. A page names its finding on the message row; a digest
    names several, and a provider's bare ACK or a mistyped code's list must see them too."""

    __tablename__ = "digest_entries"

    message_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("messages.id"), primary_key=True)
    escalation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("escalations.id"), primary_key=True, index=True)

    message: so.Mapped[Message] = so.relationship()
    escalation: so.Mapped[Escalation] = so.relationship()


class ApiKey(db.Model):
    """A clinic's key to the API. Only a hash is kept: the key itself is shown once, when made.

    A key reads `ak_<prefix>_<secret>`; the prefix finds the row, the SHA-256 of the whole key
    must match. Keys are long random strings, so a fast hash is as safe here as a slow one.
    """

    __tablename__ = "api_keys"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    clinic_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("clinics.id"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(80))  # what it is for ("WebPT bridge")
    prefix: so.Mapped[str] = so.mapped_column(sa.String(16), unique=True)
    key_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_by: so.Mapped[str] = so.mapped_column(sa.String(32))  # cli | provider:<id>
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    last_used_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    revoked_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)

    clinic: so.Mapped[Clinic] = so.relationship()

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.prefix}>"


class IdempotencyRecord(db.Model):
    """The first answer to a POST carrying an Idempotency-Key, replayed to its retries until it expires.

    A row without a status is a request still running: a retry meanwhile is told to wait (409).
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (sa.UniqueConstraint("clinic_id", "key", name="uq_idempotency_records_clinic_key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    clinic_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("clinics.id"))
    key: so.Mapped[str] = so.mapped_column(sa.String(255))
    # SHA-256 of the method, path and body: the same key with another request is a client bug.
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(64))
    status_code: so.Mapped[Optional[int]] = so.mapped_column()
    content_type: so.Mapped[Optional[str]] = so.mapped_column(sa.String(100))
    location: so.Mapped[Optional[str]] = so.mapped_column(sa.String(255))
    body: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)

    def __repr__(self) -> str:
        return f"<IdempotencyRecord {self.id}>"


class WebhookEndpoint(db.Model):
    """Where a clinic wants events POSTed, and which ones. The secret signs them (Standard Webhooks)."""

    __tablename__ = "webhook_endpoints"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    clinic_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("clinics.id"), index=True)
    url: so.Mapped[str] = so.mapped_column(sa.String(2048))
    description: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    events: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    secret: so.Mapped[str] = so.mapped_column(sa.String(64))  # whsec_<base64>; needed to sign, so kept
    active: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.id}>"


class WebhookEvent(db.Model):
    """Something an integrator asked to hear about, written in the same transaction as the change."""

    __tablename__ = "webhook_events"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    clinic_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("clinics.id"), index=True)
    # The webhook-id header: receivers deduplicate on it, so it is the same on every retry.
    message_id: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)
    type: so.Mapped[str] = so.mapped_column(sa.String(40))
    body: so.Mapped[str] = so.mapped_column(sa.Text)  # the exact JSON sent and signed
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<WebhookEvent {self.id} {self.type}>"


class WebhookDelivery(db.Model):
    """One event to one endpoint: pending -> claimed -> delivered, or back to pending with a back-off,
    or failed after the last attempt. The dispatcher claims these as it claims texts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    event_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("webhook_events.id"), index=True)
    endpoint_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("webhook_endpoints.id"), index=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="pending")
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    next_attempt_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    claimed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    last_attempt_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    last_status_code: so.Mapped[Optional[int]] = so.mapped_column()
    last_error: so.Mapped[Optional[str]] = so.mapped_column(sa.String(200))
    delivered_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    event: so.Mapped[WebhookEvent] = so.relationship()
    endpoint: so.Mapped[WebhookEndpoint] = so.relationship()

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} {self.status}>"


class AuditEvent(db.Model):
    """Who changed what, and when. Rows are only ever added."""

    __tablename__ = "audit_events"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    clinic_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("clinics.id"), index=True)
    actor: so.Mapped[str] = so.mapped_column(sa.String(32))  # system | provider:<id> | patient:<id>
    action: so.Mapped[str] = so.mapped_column(sa.String(48))
    subject: so.Mapped[Optional[str]] = so.mapped_column(sa.String(48))  # e.g. escalation:12
    detail: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action}>"


def audit(action: str, *, actor: str = "system", clinic_id: Optional[int] = None,
          subject: Optional[str] = None, at: Optional[datetime] = None, **detail: Any) -> AuditEvent:
    """Record a state change in the current transaction (ids only, never phone numbers or bodies)."""
    event = AuditEvent(actor=actor, action=action, clinic_id=clinic_id, subject=subject,
                       detail=detail, created_at=at or utcnow())
    db.session.add(event)
    return event


class DispatcherHeartbeat(db.Model):
    """One dispatcher process's latest sign of life, so a dispatcher that stopped is noticed.

    Written after every pass that completed (`dispatch.beat`); `/healthz`, `flask doctor` and
    `/metrics` read the freshest row. `name` is host:pid; rows of processes gone a week are pruned.
    """

    __tablename__ = "dispatcher_heartbeats"

    name: so.Mapped[str] = so.mapped_column(sa.String(120), primary_key=True)
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    beat_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)
    interval_seconds: so.Mapped[float] = so.mapped_column(sa.Float)  # how often this process runs its passes

    def __repr__(self) -> str:
        return f"<DispatcherHeartbeat {self.name}>"


class AccessEvent(db.Model):
    """The access log (HIPAA): who opened which patient's record, and when. Rows are only ever added.

    `record` says what was opened: the patient's "course" (their page), an episode's export
    ("export-csv", or "export-print" for the chart note), or one "finding"; `record_id` is the
    finding's or the exported session's id.
    """

    __tablename__ = "access_events"
    __table_args__ = (
        sa.Index("ix_access_events_clinic_id_id", "clinic_id", "id"),
        sa.Index("ix_access_events_patient_id_id", "patient_id", "id"),
        sa.Index("ix_access_events_provider_id_id", "provider_id", "id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    clinic_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("clinics.id"))
    provider_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("providers.id"))
    patient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("patients.id"))
    record: so.Mapped[str] = so.mapped_column(sa.String(16))  # course | export-csv | export-print | finding
    record_id: so.Mapped[Optional[int]] = so.mapped_column()
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    provider: so.Mapped[Provider] = so.relationship()
    patient: so.Mapped[Patient] = so.relationship()

    def __repr__(self) -> str:
        return f"<AccessEvent {self.id} {self.record}>"
