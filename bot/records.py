"""An episode's record, gathered once and written out as the practice system wants it (FHIR or CSV).

An episode is one session and its follow-up. Its texts are the patient's, from its enrolment until
the next episode's (alerts to providers are not part of the patient's record; findings are).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

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


# -- CSV ---------------------------------------------------------------------------------------------

CSV_COLUMNS = ("episode_id", "patient_id", "kind", "id", "time_utc", "local_time", "time_zone", "protocol_id",
               "status", "direction", "level", "soreness", "rule", "text")


def _cell(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP: CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(record: EpisodeRecord) -> str:
    """One row per check-in, text, assessment and finding, in time order, times in UTC and local."""
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
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    order = {"checkin": 0, "message": 1, "assessment": 2, "group_assessment": 3, "finding": 4}
    for moment, row in sorted(rows, key=lambda r: (r[0], order[str(r[1]["kind"])], r[1]["id"])):
        row.update(episode_id=record.session.id, patient_id=record.patient.id,
                   time_utc=moment.isoformat(), local_time=moment.astimezone(record.zone).isoformat(),
                   time_zone=zone_name)
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()
