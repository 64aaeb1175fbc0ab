"""The findings queue: what a provider between two patients needs first.

Open findings come first, emergency before urgent before routine, the oldest first within a level;
then the ones someone has acknowledged but nobody has resolved yet (of the last week). The queue
is one SQL statement whatever its length (the patient, the reply and the last alert come with
each finding), so it stays quick at a busy clinic; the page asks for it again every 10 seconds
(htmx, vendored in bot/static) and gets "204 No Content" while nothing changed.

Resolving asks how: handled (with a note for the chart) or not actionable. Both are audited
(`escalation.close_finding`); opening a finding's page is written to the access log.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from .. import clock, escalation, validation
from ..extensions import db, login_manager
from ..models import Clinic, Escalation, Message, Patient
from ..protocol import PROTOCOL
from . import _clinic, _own, bp, record_access
from .forms import ConfirmForm, ResolveForm

SHOWN = 100  # findings on the page at most; the count in the title is of all of them
IN_HAND_FOR = timedelta(days=7)  # acknowledged findings stay listed this long, unless resolved
POLL_SECONDS = 10
LEVELS = ("emergency", "urgent", "routine")
CHOICES = {"call": "Yes, a call today", "wait": "No, it can wait"}


@dataclass(frozen=True)
class QueueRow:
    finding: Escalation
    last_alert_at: datetime | None

    @property
    def open(self) -> bool:
        return self.finding.status == "open"


@dataclass(frozen=True)
class Queue:
    rows: list[QueueRow]
    open_count: int
    in_hand_count: int
    now: datetime

    @property
    def hidden(self) -> int:
        return self.open_count + self.in_hand_count - len(self.rows)

    def version(self) -> str:
        """Changes whenever what the page shows changes (the times "ago" move each minute)."""
        parts = [f"{self.open_count}/{self.in_hand_count}/{int(self.now.timestamp()) // 60}"]
        parts += [f"{r.finding.id}:{r.finding.status}:{r.finding.level}:{r.finding.alerts_sent}:"
                  f"{r.finding.patient_choice}:{r.last_alert_at}" for r in self.rows]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def level_rank() -> sa.ColumnElement[int]:
    """The protocol's rank of a finding's level, in SQL (higher is more urgent)."""
    return sa.case({level: PROTOCOL.rank(level) for level in LEVELS}, value=Escalation.level, else_=0)


def findings_queue(clinic_id: int, now: datetime, *, limit: int = SHOWN) -> Queue:
    """The clinic's open and in-hand findings in the order they should be dealt with (two statements)."""
    last_alert = (sa.select(sa.func.max(Message.created_at))
                  .where(Message.escalation_id == Escalation.id, Message.purpose == "alert")
                  .correlate(Escalation).scalar_subquery())
    waiting = sa.or_(Escalation.status == "open",
                     sa.and_(Escalation.status == "acknowledged", Escalation.acknowledged_at >= now - IN_HAND_FOR))
    rows = db.session.execute(
        sa.select(Escalation, last_alert.label("last_alert_at"))
        .where(Escalation.clinic_id == clinic_id, waiting)
        .options(so.joinedload(Escalation.patient), so.joinedload(Escalation.assessment),
                 so.joinedload(Escalation.acknowledged_by))
        .order_by(sa.case((Escalation.status == "open", 0), else_=1), level_rank().desc(),
                  Escalation.created_at, Escalation.id)
        .limit(limit)
    ).all()
    counts = dict(db.session.execute(
        sa.select(Escalation.status, sa.func.count()).where(Escalation.clinic_id == clinic_id, waiting)
        .group_by(Escalation.status)
    ).all())
    return Queue([QueueRow(esc, _latest(last, esc.digest_sent_at)) for esc, last in rows],
                 counts.get("open", 0), counts.get("acknowledged", 0), now)


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def ago(moment: datetime | None, now: datetime) -> str:
    """How long ago, as a provider glances at it: "just now", "12 min ago", "3 h 5 min ago", "2 days ago". Pure."""
    if moment is None:
        return ""
    minutes = max(0, int((now - moment).total_seconds() // 60))
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min ago" if minutes else f"{hours} h ago"
    days = hours // 24
    return f"{days} day{'s' if days != 1 else ''} ago"


@functools.lru_cache(maxsize=64)
def _home_region(clinic_phone: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(clinic_phone)) or "US"
    except phonenumbers.NumberParseException:
        return "US"


@bp.app_template_filter("phone")
def phone_for(number: str, clinic: Clinic) -> str:
    """A patient's number as the clinic writes it: national at home, international from abroad."""
    return validation.phone_display(number, region=_home_region(clinic.phone))


def queue_page_args(queue: Queue) -> dict[str, object]:
    return dict(queue=queue, now=queue.now, form=ConfirmForm(), choices=CHOICES, ago=ago,
                poll_seconds=POLL_SECONDS)


@bp.get("/findings/live")
def live_queue() -> ResponseReturnValue:
    """The queue alone, for the page's poll: 204 while it is unchanged since version `v`.

    A poll is not activity: it does not keep an idle session alive (see `keep_no_copy`). When the
    session has ended, htmx is told to load the sign-in page in place of the whole page.
    """
    if not current_user.is_authenticated:
        response = login_manager.unauthorized()
        if request.headers.get("HX-Request") == "true":
            response.headers["HX-Redirect"] = response.headers["Location"]
            response.status_code = 200
        return response
    g.background_poll = True
    queue = findings_queue(current_user.clinic_id, clock.now())
    if request.args.get("v") == queue.version():
        return "", 204
    return render_template("dashboard/_queue_live.html", clinic=_clinic(), **queue_page_args(queue))


@bp.get("/findings/<int:escalation_id>")
@login_required
def finding(escalation_id: int) -> ResponseReturnValue:
    esc = _own(Escalation, escalation_id)
    return _finding_page(esc, ResolveForm())


def _finding_page(esc: Escalation, form: ResolveForm, *, errors: dict[str, str] | None = None,
                  status: int = 200) -> ResponseReturnValue:
    now = clock.now()
    record_access(esc.patient, "finding", esc.id)
    db.session.commit()
    last_alert = db.session.scalar(sa.select(sa.func.max(Message.created_at))
                                   .where(Message.escalation_id == esc.id, Message.purpose == "alert"))
    return render_template("dashboard/finding.html", clinic=_clinic(), row=QueueRow(esc, _latest(last_alert, esc.digest_sent_at)),
                           now=now, ago=ago, choices=CHOICES, form=form, ack_form=ConfirmForm(),
                           errors=errors or {}), status


@bp.post("/escalations/<int:escalation_id>/resolve")
@login_required
def resolve(escalation_id: int) -> ResponseReturnValue:
    """Resolve a finding as handled (a note is needed) or as not actionable (a note is optional)."""
    esc = _own(Escalation, escalation_id)
    form = ResolveForm()
    if not form.validate_on_submit():
        abort(400)
    resolution = "not_actionable" if form.not_actionable.data else "handled"
    try:
        note = validation.note(form.note.data, required=resolution == "handled")
    except validation.ValidationError as error:
        return _finding_page(esc, form, errors=error.errors, status=400)
    if escalation.close_finding(esc, current_user, clock.now(), resolution=resolution, note=note, via="dashboard"):
        flash(f"{esc.code} marked not actionable." if resolution == "not_actionable" else f"Resolved {esc.code}.")
    else:
        flash(f"{esc.code} was already resolved.")
    db.session.commit()
    return redirect(url_for("dashboard.index"), code=303)


def patients_by_id(ids: set[int]) -> dict[int, Patient]:
    """These patients, loaded in one statement (not one lazy load per row that names them)."""
    if not ids:
        return {}
    return {p.id: p for p in db.session.scalars(sa.select(Patient).where(Patient.id.in_(ids)))}
