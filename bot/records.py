"""An episode's record, gathered once and written out as the practice system wants it (FHIR or CSV).

An episode is one session and its follow-up. Its texts are the patient's, from its enrolment until
the next episode's (alerts to providers are not part of the patient's record; findings are).
"""

from __future__ import annotations

import bisect
import csv
import io
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from .extensions import db
from .models import Assessment, CheckIn, Clinic, Escalation, Message, Patient, TreatmentSession


@dataclass(frozen=True)
class EpisodeRecord:
    clinic: Clinic
    patient: Patient
    session: TreatmentSession
    checkins: list[CheckIn]
    messages: list[Message]
    assessments: list[Assessment]
    findings: list[Escalation]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.patient.tz_name)


def load(session: TreatmentSession) -> EpisodeRecord:
    patient = session.patient
    following = db.session.scalar(
        sa.select(sa.func.min(TreatmentSession.created_at))
        .where(TreatmentSession.patient_id == patient.id, TreatmentSession.id != session.id,
               TreatmentSession.created_at > session.created_at))
    window = [Message.patient_id == patient.id, Message.created_at >= session.created_at,
              Message.purpose != "alert", Message.status != "cancelled"]
    if following is not None:
        window.append(Message.created_at < following)
    texts = list(db.session.scalars(sa.select(Message).where(*window).order_by(Message.created_at, Message.id)))
    assessments = list(db.session.scalars(sa.select(Assessment).where(Assessment.session_id == session.id)
                                          .order_by(Assessment.created_at, Assessment.id)))
    findings = list(db.session.scalars(sa.select(Escalation).where(Escalation.session_id == session.id)
                                       .order_by(Escalation.created_at, Escalation.id)))
    return EpisodeRecord(patient.clinic, patient, session, list(session.checkins), texts, assessments, findings)


@dataclass(frozen=True)
class Course:
    """A patient's whole record: each episode, oldest first, and what belongs to none (texts before
    the first enrolment, an assessment or finding without a session)."""
    episodes: list[EpisodeRecord]
    unattached_messages: list[Message]
    unattached_assessments: list[Assessment]
    unattached_findings: list[Escalation]


def load_course(patient: Patient) -> Course:
    """Every episode of `patient` in five statements, however many episodes and texts there are.

    Texts go to episodes as `load` assigns them: from an episode's enrolment until the next one's.
    """
    sessions = list(db.session.scalars(
        sa.select(TreatmentSession).where(TreatmentSession.patient_id == patient.id)
        .options(so.selectinload(TreatmentSession.checkins))
        .order_by(TreatmentSession.created_at, TreatmentSession.id)))
    texts = list(db.session.scalars(
        sa.select(Message).where(Message.patient_id == patient.id, Message.purpose != "alert",
                                 Message.status != "cancelled")
        .order_by(Message.created_at, Message.id)))
    assessments = list(db.session.scalars(sa.select(Assessment).where(Assessment.patient_id == patient.id)
                                          .order_by(Assessment.created_at, Assessment.id)))
    findings = list(db.session.scalars(
        sa.select(Escalation).where(Escalation.patient_id == patient.id)
        .options(so.joinedload(Escalation.acknowledged_by), so.joinedload(Escalation.resolved_by))
        .order_by(Escalation.created_at, Escalation.id)))

    starts = [s.created_at for s in sessions]
    by_session: dict[int, list[Message]] = {s.id: [] for s in sessions}
    early: list[Message] = []
    for m in texts:
        owner = bisect.bisect_right(starts, m.created_at) - 1
        (by_session[sessions[owner].id] if owner >= 0 else early).append(m)
    known = set(by_session)
    episodes = [EpisodeRecord(patient.clinic, patient, s, list(s.checkins), by_session[s.id],
                              [a for a in assessments if a.session_id == s.id],
                              [f for f in findings if f.session_id == s.id]) for s in sessions]
    return Course(episodes, early, [a for a in assessments if a.session_id not in known],
                  [f for f in findings if f.session_id not in known])


# -- CSV ---------------------------------------------------------------------------------------------

CSV_COLUMNS = ("episode_id", "patient_id", "kind", "id", "time_utc", "local_time", "time_zone", "protocol_id",
               "status", "direction", "level", "soreness", "rule", "text")


def _cell(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP: CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# The dashboard's export goes into a chart note, where a row must say whose it is.
NAMED_CSV_COLUMNS = CSV_COLUMNS[:2] + ("patient_name",) + CSV_COLUMNS[2:]


def to_csv(record: EpisodeRecord, *, named: bool = False) -> str:
    """One row per check-in, text, assessment and finding, in time order, times in UTC and local.

    `named` adds the patient's name to every row (the API's client knows whose episode it asked for)."""
    zone_name = record.patient.tz_name
    rows: list[tuple[datetime, dict[str, object]]] = []
    for c in record.checkins:
        rows.append((c.due_at, dict(kind="checkin", id=c.id, protocol_id=c.protocol_id, status=c.status,
                                    text=c.status_reason)))
    for m in record.messages:
        rows.append((m.created_at, dict(kind="message", id=m.id, status=m.status, direction=m.direction,
                                        text=m.body)))
    for a in record.assessments:  # a group's reading follows its latest text's own, naming the texts it read
        read = "" if a.kind == "text" else "texts " + ", ".join(map(str, a.message_ids)) + " read together: "
        rows.append((a.created_at, dict(kind="assessment" if a.kind == "text" else "group_assessment", id=a.id,
                                        level=a.level, soreness=a.soreness, rule=" ".join(a.rules),
                                        text=read + "; ".join(a.reasons))))
    for f in record.findings:
        rows.append((f.created_at, dict(kind="finding", id=f.id, status=f.status, level=f.level, rule=f.rule,
                                        text=f.code)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=NAMED_CSV_COLUMNS if named else CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    order = {"checkin": 0, "message": 1, "assessment": 2, "group_assessment": 3, "finding": 4}
    for moment, row in sorted(rows, key=lambda r: (r[0], order[str(r[1]["kind"])], r[1]["id"])):
        row.update(episode_id=record.session.id, patient_id=record.patient.id,
                   time_utc=moment.isoformat(), local_time=moment.astimezone(record.zone).isoformat(),
                   time_zone=zone_name, **({"patient_name": record.patient.name} if named else {}))
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()
