"""The providers' dashboard: open findings first, then patients and their episodes.

Every page needs a login and shows the signed-in provider's clinic only: each query is scoped
by `current_user.clinic_id`, and a row from another clinic is a 404, never a leak. Times are
shown in the clinic's time zone (a patient's own page, in the patient's). Every opening of a
patient's record is written to the access log (`record_access`); admins read it at /access-log.
Signing in and out is in `auth`, how long a session lasts in `sessions`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from .. import clock, episodes, escalation, replies
from ..extensions import db
from ..models import AccessEvent, Clinic, Escalation, Patient, TreatmentSession
from . import sessions
from .forms import ConfirmForm

bp = Blueprint("dashboard", __name__)


@bp.after_request
def keep_no_copy(response: Response) -> Response:
    """Dashboard pages show patient data: no browser or proxy cache may keep them."""
    response.headers["Cache-Control"] = "no-store"
    if g.get("background_poll"):  # the queue's refresh is not the provider's activity
        return response
    return sessions.keep_alive(response)


def admin_required(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """A page for the clinic's admins: a provider gets 403 (use below @login_required)."""
    @functools.wraps(view)
    def admins_only(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return admins_only


def record_access(patient: Patient, record: str, record_id: int | None = None) -> None:
    """Write to the access log that the signed-in provider opened `record` of `patient`
    ("course", "export-csv", "export-print" or "finding"); committed with the request's other changes."""
    db.session.add(AccessEvent(clinic_id=patient.clinic_id, provider_id=current_user.id, patient_id=patient.id,
                               record=record, record_id=record_id, created_at=clock.now()))


@bp.app_template_filter("local")
def local_time(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %b %d, %H:%M %Z")


def _clinic() -> Clinic:
    return db.session.get(Clinic, current_user.clinic_id)


def _own(model: type, row_id: int) -> object:
    """A row of the signed-in provider's clinic, or 404."""
    row = db.session.get(model, row_id)
    clinic_id = row.patient.clinic_id if isinstance(row, TreatmentSession) else getattr(row, "clinic_id", None)
    if row is None or clinic_id != current_user.clinic_id:
        abort(404)
    return row


@bp.app_errorhandler(CSRFError)
def form_expired(error: CSRFError) -> ResponseReturnValue:
    """A form posted without a valid token (expired, or from another site): do nothing, say so."""
    flash("This page expired. Please try again.")
    target = "dashboard.index" if current_user.is_authenticated else "dashboard.login"
    return redirect(url_for(target), code=303)


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    """The findings queue (bot/dashboard/queue.py), then the latest replies."""
    clinic = _clinic()
    findings = queue.findings_queue(clinic.id, clock.now())
    recent = replies.latest_replies(clinic.id)
    flagged = db.session.scalar(
        sa.select(sa.func.count()).where(Patient.clinic_id == clinic.id, Patient.phone_problem_code.is_not(None))
    )
    return render_template("dashboard/index.html", clinic=clinic, recent=recent, flagged=flagged,
                           **queue.queue_page_args(findings))


@bp.post("/escalations/<int:escalation_id>/ack")
@login_required
def acknowledge(escalation_id: int) -> ResponseReturnValue:
    esc = _own(Escalation, escalation_id)
    if ConfirmForm().validate_on_submit():
        if escalation.acknowledge(esc, current_user, clock.now(), via="dashboard"):
            flash(f"Acknowledged {esc.code}.")
        db.session.commit()
    return redirect(url_for("dashboard.index"))


@bp.post("/sessions/<int:session_id>/close")
@login_required
def close_session(session_id: int) -> ResponseReturnValue:
    session = _own(TreatmentSession, session_id)
    if ConfirmForm().validate_on_submit():
        episodes.close_episode(session, actor=f"provider:{current_user.id}", now=clock.now())
        db.session.commit()
        flash("Episode closed; its remaining texts are cancelled.")
    return redirect(url_for("dashboard.patient", patient_id=session.patient_id))


from . import (access_log, auth, burden, course, enrolment, errors,  # noqa: E402,F401  (views on `bp`)
               patient_list, queue, set_password, settings)
