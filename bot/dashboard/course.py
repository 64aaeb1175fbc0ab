"""A patient's course: every text in and out, what triage read in each reply, the check-ins, the
findings, and soreness drawn over the protocol's expected band; and an episode's export (CSV, or a
page to print for the chart note).

The page is read in a constant number of statements whatever the number of texts
(`records.load_course`); what follows arranges those rows without touching the database again.
Every opening and every export is written to the access log, each export under its own kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required
from markupsafe import Markup
from werkzeug.wrappers import Response

from .. import clock, phones, records
from ..extensions import db
from ..models import Assessment, CheckIn, Escalation, Message, Patient, TreatmentSession
from ..protocol import PROTOCOL, Window
from . import _clinic, _own, bp, local_time, record_access, soreness_chart
from .forms import ConfirmForm

# What a carrier's code means for the person reading the page (Twilio's error dictionary).
CARRIER_ERRORS = {
    21211: "not a valid phone number",
    21265: "the number is a short code",
    21408: "texts to this region are not enabled",
    21610: "the patient replied STOP to this number",
    21612: "this sender cannot reach that number",
    21614: "not a number that can take texts",
    21635: "a landline",
    30003: "phone off or out of coverage",
    30004: "blocked by the carrier or the person",
    30005: "unknown number, or no longer in service",
    30006: "a landline, or a carrier that cannot be reached",
    30007: "filtered by the carrier",
    30008: "unknown carrier error",
}
# Drawing a chart takes pygal about 20 ms: the course draws the latest episodes' only (an older
# one's chart is on its printable page), so a patient with many sessions still opens at once.
CHARTED_EPISODES = 3
SENDERS = {"checkin": "Check-in", "reminder": "Reminder", "answer": "Answer", "notice": "Notice",
           "digest": "Digest"}


@dataclass(frozen=True)
class Line:
    """One text on the course, with the assessment of the reply it ended (if any) and its finding."""
    message: Message
    sender: str
    assessment: Assessment | None          # what this text alone said
    finding: Escalation | None
    together: Assessment | None = None     # the reading of the texts it ended, when that said more
    together_finding: Escalation | None = None

    @property
    def carrier_error(self) -> str:
        code = self.message.error_code
        if code is None:
            return ""
        meaning = CARRIER_ERRORS.get(code)
        return f"error {code}: {meaning}" if meaning else f"error {code}"

    @property
    def read_together(self) -> bool:
        """Triage also read this text together with the ones just before it (sent within minutes)."""
        return self.together is not None


@dataclass(frozen=True)
class Point:
    """A row of the chart's table: a score, a finding, or both, at one moment."""
    at: datetime
    hours: float
    checkin: str
    soreness: int | None
    window: Window
    finding: Escalation | None


@dataclass(frozen=True)
class Episode:
    record: records.EpisodeRecord
    lines: list[Line]
    points: list[Point]
    chart: Markup | None  # None: an older episode, its points in the table only

    @property
    def session(self) -> TreatmentSession:
        return self.record.session

    @property
    def checkins(self) -> list[CheckIn]:
        return self.record.checkins

    @property
    def findings(self) -> list[Escalation]:
        return self.record.findings


def _hours_after(session: TreatmentSession, moment: datetime) -> float:
    return round((moment - session.ended_at).total_seconds() / 3600, 1)


def lines_of(messages: list[Message], assessments: list[Assessment], findings: list[Escalation],
             checkins: list[CheckIn]) -> list[Line]:
    """Each text beside the assessment of what it ended and the finding that assessment raised."""
    read = {a.message_id: a for a in assessments if a.kind == "text"}
    together = {a.message_id: a for a in assessments if a.kind == "group"}
    raised = {f.assessment_id: f for f in findings if f.assessment_id is not None}
    planned = {c.id: c.protocol_id for c in checkins}
    lines = []
    for m in messages:
        if m.direction == "in":
            sender = "Patient"
        else:
            sender = SENDERS.get(m.purpose, m.purpose.capitalize())
            if m.checkin_id in planned:
                sender += f" {planned[m.checkin_id]}"
        assessment, group = read.get(m.id), together.get(m.id)
        lines.append(Line(m, sender, assessment, raised.get(assessment.id) if assessment else None,
                          group, raised.get(group.id) if group else None))
    return lines


def points_of(record: records.EpisodeRecord) -> list[Point]:
    """The chart's data as rows: every score, and every finding (on its score when it has one)."""
    session = record.session
    planned = {c.id: c.protocol_id for c in record.checkins}
    raised = {f.assessment_id: f for f in record.findings if f.assessment_id is not None}
    points = []
    for a in record.assessments:
        finding = raised.get(a.id)
        if a.kind == "group" and finding is None:
            continue                    # a group's score is its latest text's, charted from that text
        if a.soreness is None and finding is None:
            continue
        hours = a.hours_since_session if a.hours_since_session is not None else _hours_after(session, a.created_at)
        points.append(Point(a.created_at, round(hours, 1), planned.get(a.checkin_id or 0, ""), a.soreness,
                            PROTOCOL.window(hours), finding))
    for f in record.findings:
        if f.assessment_id is None:  # raised without a reply, e.g. not responding
            hours = _hours_after(session, f.created_at)
            points.append(Point(f.created_at, hours, "", None, PROTOCOL.window(hours), f))
    return sorted(points, key=lambda p: (p.at, p.hours))


def chart_of(record: records.EpisodeRecord, points: list[Point]) -> Markup:
    """The chart of `points`, its hour axis long enough for every check-in still planned or done."""
    session = record.session
    due = [_hours_after(session, c.due_at) for c in record.checkins if c.status != "cancelled"]
    x_max = soreness_chart.x_extent(PROTOCOL.windows, [p.hours for p in points] + due)
    readings = [soreness_chart.Reading(p.hours, p.soreness, p.checkin or "reply")
                for p in points if p.soreness is not None]
    marks = [soreness_chart.Mark(p.hours, p.soreness, f"{p.finding.level} {p.finding.rule}")
             for p in points if p.finding is not None]
    title = (f"Soreness (0-10) against hours since the session of {local_time(session.ended_at, record.patient.tz_name)}"
             f", over the protocol's expected band: {len(readings)} scores, {len(marks)} findings, "
             "listed in the table below.")
    # pygal escapes every text it is given; the numbers and labels here are ours, not the patient's.
    return Markup(soreness_chart.render(readings, marks, PROTOCOL.windows, x_max=x_max, title=title))


def episode_of(record: records.EpisodeRecord, *, charted: bool = True) -> Episode:
    points = points_of(record)
    return Episode(record, lines_of(record.messages, record.assessments, record.findings, record.checkins),
                   points, chart_of(record, points) if charted else None)


@bp.app_template_filter("national_phone")
def national_phone(number: str) -> str:
    return phones.national(number)


def _logged(answer: ResponseReturnValue, patient: Patient, record: str, record_id: int | None = None
            ) -> ResponseReturnValue:
    """Write the access to the log and hand out the answer only once that is committed.

    The page is rendered first: committing expires every loaded row, and rendering after it would
    read each one back with a statement of its own."""
    record_access(patient, record, record_id)
    db.session.commit()
    return answer


@bp.get("/patients/<int:patient_id>")
@login_required
def patient(patient_id: int) -> ResponseReturnValue:
    row = _own(Patient, patient_id)
    course = records.load_course(row)
    episodes = [episode_of(record, charted=n < CHARTED_EPISODES)  # the latest first
                for n, record in enumerate(reversed(course.episodes))]
    others = lines_of(course.unattached_messages, course.unattached_assessments, course.unattached_findings, [])
    page = render_template("dashboard/patient.html", clinic=_clinic(), patient=row, episodes=episodes,
                           others=others, other_findings=course.unattached_findings, windows=PROTOCOL.windows,
                           form=ConfirmForm())
    return _logged(page, row, "course")


@bp.get("/sessions/<int:session_id>/export.csv")
@login_required
def export_csv(session_id: int) -> ResponseReturnValue:
    """The episode as CSV for the chart: one row a check-in, text, assessment or finding, named."""
    session = _own(TreatmentSession, session_id)
    body = records.to_csv(records.load(session), named=True)
    return _logged(Response(body, content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="aftercare-episode-{session.id}.csv"'}),
        session.patient, "export-csv", session.id)


@bp.get("/sessions/<int:session_id>/print")
@login_required
def export_print(session_id: int) -> ResponseReturnValue:
    """The episode on one printable page, for the chart note."""
    session = _own(TreatmentSession, session_id)
    episode = episode_of(records.load(session))
    page = render_template("dashboard/episode_print.html", clinic=_clinic(), patient=session.patient,
                           episode=episode, windows=PROTOCOL.windows, now=clock.now(),
                           protocol_version=PROTOCOL.version)
    return _logged(page, session.patient, "export-print", session.id)
