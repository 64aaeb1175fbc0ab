"""The providers' dashboard: open findings first, then patients and their episodes.

Every page needs a login and shows the signed-in provider's clinic only: each query is scoped
by `current_user.clinic_id`, and a row from another clinic is a 404, never a leak. Times are
shown in the clinic's time zone (a patient's own page, in the patient's).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError

from .. import clock, episodes, escalation, phones
from ..extensions import db, login_manager
from ..models import (Assessment, AuditEvent, Clinic, Escalation, Message, Patient, Provider, TreatmentSession,
                      audit)
from ..protocol import PROTOCOL
from .forms import ConfirmForm, LoginForm

bp = Blueprint("dashboard", __name__)

login_manager.login_view = "dashboard.login"
login_manager.login_message = "Please sign in to see this page."


@login_manager.user_loader
def load_provider(provider_id: str) -> Provider | None:
    return db.session.get(Provider, int(provider_id)) if provider_id.isdigit() else None


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


# Password guessing: after this many wrong passwords for one email address within the window,
# that address cannot sign in until the window has passed (a correct password starts it afresh).
SIGN_IN_ATTEMPTS = 5
SIGN_IN_WINDOW = timedelta(minutes=15)


def _sign_in_key(email: str) -> str:
    """Who the attempts were for, as a keyed hash: the audit log keeps no address anyone mistyped."""
    return "sign-in:" + phones.pseudonym(email, current_app.config["SECRET_KEY"])


def _locked_out(key: str, now: datetime) -> bool:
    since = max(now - SIGN_IN_WINDOW, db.session.scalar(
        sa.select(sa.func.max(AuditEvent.created_at))
        .where(AuditEvent.action == "provider.signed_in", AuditEvent.subject == key)) or now - SIGN_IN_WINDOW)
    failures = db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent)
        .where(AuditEvent.action == "provider.sign_in_failed", AuditEvent.subject == key,
               AuditEvent.created_at > since))
    return failures >= SIGN_IN_ATTEMPTS


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        now, email = clock.now(), form.email.data.strip().lower()
        key = _sign_in_key(email)
        if _locked_out(key, now):
            form.password.errors.append(f"Too many wrong passwords for this account. Try again in "
                                        f"{SIGN_IN_WINDOW.seconds // 60} minutes, or ask the clinic's admin.")
            return render_template("dashboard/login.html", form=form), 429
        provider = db.session.scalar(sa.select(Provider).where(Provider.email == email))
        if provider is not None and provider.active and provider.check_password(form.password.data):
            login_user(provider, remember=form.remember.data)
            audit("provider.signed_in", actor=f"provider:{provider.id}", clinic_id=provider.clinic_id, subject=key,
                  at=now)
            db.session.commit()
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("dashboard.index"))
        audit("provider.sign_in_failed", clinic_id=provider.clinic_id if provider else None, subject=key, at=now)
        db.session.commit()
        form.password.errors.append("That email and password do not match an active account.")
    return render_template("dashboard/login.html", form=form), 200 if request.method == "GET" or form.errors == {} else 400


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    logout_user()
    return redirect(url_for("dashboard.login"))


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    clinic = _clinic()
    open_findings = db.session.scalars(
        sa.select(Escalation).where(Escalation.clinic_id == clinic.id, Escalation.status == "open")
        .order_by(Escalation.created_at.desc())
    ).all()
    open_findings = sorted(open_findings, key=lambda e: -PROTOCOL.rank(e.level))
    recent = db.session.scalars(
        sa.select(Assessment).join(Patient).where(Patient.clinic_id == clinic.id)
        .order_by(Assessment.created_at.desc()).limit(25)
    ).all()
    flagged = db.session.scalars(
        sa.select(Patient).where(Patient.clinic_id == clinic.id, Patient.phone_problem_code.is_not(None))
    ).all()
    return render_template("dashboard/index.html", clinic=clinic, findings=open_findings, recent=recent,
                           flagged=flagged, form=ConfirmForm())


@bp.post("/escalations/<int:escalation_id>/ack")
@login_required
def acknowledge(escalation_id: int) -> ResponseReturnValue:
    esc = _own(Escalation, escalation_id)
    if ConfirmForm().validate_on_submit():
        if escalation.acknowledge(esc, current_user, clock.now(), via="dashboard"):
            flash(f"Acknowledged {esc.code}.")
        db.session.commit()
    return redirect(url_for("dashboard.index"))


@bp.get("/patients")
@login_required
def patients() -> ResponseReturnValue:
    clinic = _clinic()
    rows = db.session.scalars(sa.select(Patient).where(Patient.clinic_id == clinic.id).order_by(Patient.name)).all()
    return render_template("dashboard/patients.html", clinic=clinic, patients=rows)


@bp.get("/patients/<int:patient_id>")
@login_required
def patient(patient_id: int) -> ResponseReturnValue:
    row = _own(Patient, patient_id)
    texts = db.session.scalars(sa.select(Message).where(Message.patient_id == row.id)
                               .order_by(Message.created_at.desc(), Message.id.desc()).limit(100)).all()
    findings = db.session.scalars(sa.select(Escalation).where(Escalation.patient_id == row.id)
                                  .order_by(Escalation.created_at.desc())).all()
    assessments = {a.message_id: a for a in db.session.scalars(
        sa.select(Assessment).where(Assessment.patient_id == row.id))}
    return render_template("dashboard/patient.html", clinic=_clinic(), patient=row, texts=texts,
                           findings=findings, assessments=assessments, form=ConfirmForm())


@bp.post("/sessions/<int:session_id>/close")
@login_required
def close_session(session_id: int) -> ResponseReturnValue:
    session = _own(TreatmentSession, session_id)
    if ConfirmForm().validate_on_submit():
        episodes.close_episode(session, actor=f"provider:{current_user.id}", now=clock.now())
        db.session.commit()
        flash("Episode closed; its remaining texts are cancelled.")
    return redirect(url_for("dashboard.patient", patient_id=session.patient_id))
