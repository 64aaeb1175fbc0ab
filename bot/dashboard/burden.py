"""The alert burden page: a table and a small chart per clinic week (bot/burden.py computes them).

The rows come in four statements whatever the clinic's size (check-ins sent, replies, findings,
alerts), with the columns the numbers need and no patient data; practice patients are left out.
Texts are counted in SQL per quarter hour, so at most 672 rows a week come back: on PostgreSQL,
50,000 patients with 200,000 check-ins and 200,000 replies inside the 12 weeks (and 400,000 of
each before them) took about 0.8 s a page (2.9 s when every text's timestamp came back). The time
grows with the texts of the weeks shown, not with older history; findings come back one row
each, as the median needs them.
The chart is drawn by pygal (a well-kept SVG chart library, so no hand-made pixel arithmetic) and
served as its own image, so the page keeps its no-inline-style policy; the table is its text
alternative. Any provider of the clinic may read it: it holds counts, not patients.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required
from .. import burden, clock
from ..extensions import db
from ..models import AuditEvent, CheckIn, Clinic, Escalation, Message, Patient, TreatmentSession
from . import _clinic, bp
from .charts import Style, pygal

DEFAULT_WEEKS, MAX_WEEKS = 12, 52
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# The audit action the findings queue writes when a provider marks a finding "not actionable".
NOT_ACTIONABLE_ACTION = "escalation.not_actionable"


def _weeks() -> int:
    raw = request.args.get("weeks", "").strip()
    if not raw:
        return DEFAULT_WEEKS
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WEEKS:
        abort(400, description=f"weeks must be a whole number from 1 to {MAX_WEEKS}")
    return int(raw)


def _quarter_hour(column: sa.ColumnElement) -> sa.ColumnElement[int]:
    """Which quarter hour since 1970 (UTC) a timestamp falls in, in the database's own terms."""
    if db.engine.dialect.name == "sqlite":  # stored as naive UTC text (models.UTCDateTime)
        return sa.cast(sa.func.strftime("%s", column), sa.Integer) / 900
    return sa.cast(sa.func.floor(sa.extract("epoch", column) / 900), sa.Integer)


def _counted(column: sa.ColumnElement, query: sa.Select) -> list[burden.Counted]:
    """(start of each quarter hour, how many rows fell in it): one statement, grouped in SQL."""
    quarter = _quarter_hour(column).label("quarter")
    rows = db.session.execute(query.add_columns(quarter, sa.func.count()).group_by(quarter)).all()
    return [(EPOCH + int(q) * burden.QUARTER_HOUR, n) for q, n in rows]


def _rows(clinic: Clinic, start: datetime) -> dict[str, list]:
    """The clinic's rows since `start`, in four statements; texts are counted in SQL."""
    real = Patient.practice.is_(False)
    sent = _counted(CheckIn.sent_at, sa.select().select_from(CheckIn)
                    .join(TreatmentSession, CheckIn.session_id == TreatmentSession.id)
                    .join(Patient, TreatmentSession.patient_id == Patient.id)
                    .where(Patient.clinic_id == clinic.id, real, CheckIn.sent_at >= start))
    replies = _counted(Message.created_at, sa.select().select_from(Message).join(Patient, Message.patient_id == Patient.id)
                       .where(Message.clinic_id == clinic.id, Message.direction == "in", real,
                              Message.created_at >= start))
    dismissed = (sa.select(AuditEvent.id)
                 .where(AuditEvent.clinic_id == clinic.id, AuditEvent.action == NOT_ACTIONABLE_ACTION,
                        AuditEvent.subject == sa.literal("escalation:") + sa.cast(Escalation.id, sa.String))
                 .exists())
    findings = [burden.FindingRow(opened, level, acked, bool(not_actionable)) for opened, level, acked, not_actionable
                in db.session.execute(
                    sa.select(Escalation.created_at, Escalation.level, Escalation.acknowledged_at, dismissed)
                    .join(Patient, Escalation.patient_id == Patient.id)
                    .where(Escalation.clinic_id == clinic.id, real, Escalation.created_at >= start))]
    alerts = _counted(Message.created_at, sa.select().select_from(Message)
                      .join(Escalation, Message.escalation_id == Escalation.id)
                      .join(Patient, Escalation.patient_id == Patient.id)
                      # IS NOT NULL lets PostgreSQL read the escalation_id index for alert texts only
                      .where(Message.escalation_id.is_not(None), Message.clinic_id == clinic.id,
                             Message.direction == "out", Message.purpose == "alert", real,
                             Message.created_at >= start))
    return dict(checkins_sent=sent, replies=replies, findings=findings, alerts=alerts)


def _weeks_of(clinic: Clinic, weeks: int) -> list[burden.Week]:
    tz = ZoneInfo(clinic.timezone)
    start, mondays = burden.window(clock.now(), tz, weeks)
    return burden.weekly(mondays=mondays, tz=tz, **_rows(clinic, start))


@bp.get("/burden")
@login_required
def burden_page() -> ResponseReturnValue:
    clinic = _clinic()
    weeks = _weeks()
    rows = _weeks_of(clinic, weeks)
    return render_template("dashboard/burden.html", clinic=clinic, weeks=list(reversed(rows)), count=weeks,
                           levels=burden.FINDING_LEVELS, chart_weeks=weeks)


CHART_STYLE = Style(background="#ffffff", plot_background="#ffffff", foreground="#1d2430",
                    foreground_strong="#1d2430", foreground_subtle="#5f6b7a", colors=("#1f4e79", "#e8710a"),
                    font_family="system-ui, sans-serif", label_font_size=12, major_label_font_size=12,
                    title_font_size=14, legend_font_size=12)


@bp.get("/burden.svg")
@login_required
def burden_chart() -> ResponseReturnValue:
    """Alerts and findings per 100 check-ins, week by week: a bar chart (pygal, SVG)."""
    clinic = _clinic()
    rows = _weeks_of(clinic, _weeks())
    chart = pygal.Bar(style=CHART_STYLE, width=480, height=280, js=(), show_legend=True, legend_at_bottom=True,
                      x_label_rotation=0, truncate_label=-1, print_values=False, show_minor_x_labels=False,
                      x_labels_major_every=max(1, len(rows) // 6), title=f"Per 100 check-ins ({clinic.timezone})")
    chart.x_labels = [w.start.strftime("%b %d") for w in rows]
    chart.add("Alerts", [round(w.alerts_per_100, 1) if w.alerts_per_100 is not None else None for w in rows])
    chart.add("Findings", [round(100 * w.finding_count / w.checkins_sent, 1) if w.checkins_sent else None
                           for w in rows])
    return Response(chart.render(is_unicode=True), mimetype="image/svg+xml")
