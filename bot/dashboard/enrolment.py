"""Enrol after a session, record a new session for a patient, correct a session's time: in the browser.

Every field is cleaned by `validation.enrolment`, as at the CLI and the API; its errors are shown
beside their fields and everything typed is put back in the form. Saving takes two steps:
1. The form is checked and the planned texts are shown with their local send times, the zone
   named, computed by the same schedule and message functions the dispatcher uses.
2. "Save" posts the same fields again (checked again: the clock has moved) and enrols.
A number already on file is never taken over: the form shows whose it is (that opening of the
record is written to the access log) and asks whether this is a new session for them; their name
and precautions are kept unless the provider ticks the box that changes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from .. import clock, dispatch, episodes, schedule, validation
from ..extensions import db
from ..models import Clinic, Patient, TreatmentSession
from ..protocol import PROTOCOL
from . import _clinic, _own, bp, record_access
from .forms import ConfirmForm

# How this form offers the explicit choices a number on file needs (see validation.CHOICES).
CHOICES = {"new_session_for": "answer “Yes, a new session for them”",
           "rename": "tick “Change the name on file”",
           "change_precautions": "tick “Change the precautions on file”",
           "change_language": "tick “Change the language or time zone on file”",
           "change_timezone": "tick “Change the language or time zone on file”"}
FIELDS = ("name", "phone", "language", "timezone", "ended_at")
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


@dataclass(frozen=True)
class PlannedText:
    protocol_id: str
    due_at: datetime
    text: str


def _typed() -> dict[str, Any]:
    """The form as typed, to check and to put back."""
    form = request.form
    return dict({f: form.get(f, "") for f in FIELDS}, regions=form.getlist("regions"),
                precautions=form.getlist("precautions"), new_session_for=form.get("new_session_for", ""),
                change_name=bool(form.get("change_name")), change_precautions=bool(form.get("change_precautions")),
                change_language=bool(form.get("change_language")))


def _blank(clinic: Clinic, patient: Patient | None, now: datetime) -> dict[str, Any]:
    zone = patient.tz_name if patient else clinic.timezone
    return dict(name=patient.name if patient else "",
                phone=validation.phone_display(patient.phone, region=_region()) if patient else "",
                language=patient.language if patient else "en", timezone=zone,
                ended_at=now.astimezone(ZoneInfo(zone)).strftime(LOCAL_INPUT), regions=[],
                precautions=list(patient.precautions) if patient else [],
                new_session_for=str(patient.id) if patient else "", change_name=False, change_precautions=False,
                change_language=False)


def _region() -> str:
    return current_app.config["DEFAULT_PHONE_REGION"]


def _check(typed: dict[str, Any], clinic: Clinic, now: datetime) -> validation.Enrolment:
    """validation.enrolment on the form's fields; the boxes say what is changed on purpose."""
    session_for = typed["new_session_for"] or None
    raw = dict(phone=typed["phone"], ended_at=typed["ended_at"], regions=typed["regions"],
               language=typed["language"], timezone=typed["timezone"], new_session_for=session_for,
               name=None if typed["change_name"] else typed["name"],
               rename=typed["name"] if typed["change_name"] and session_for else None,
               # for a known patient no box ticked says nothing (keep them); clearing them is a change
               precautions=None if typed["change_precautions"] or (session_for and not typed["precautions"])
               else typed["precautions"],
               change_precautions=typed["precautions"] if typed["change_precautions"] and session_for else None,
               change_language=typed["change_language"], change_timezone=typed["change_language"])
    if typed["change_name"] and not session_for:
        raw["name"] = typed["name"]  # a new patient: the box means nothing, the name is theirs
    if typed["change_precautions"] and not session_for:
        raw["precautions"] = typed["precautions"]
    return validation.enrolment(raw, clinic_zone=clinic.timezone, now=now, phone_region=_region(),
                                on_file=episodes.on_file(clinic), choices=CHOICES,
                                sent_on_purpose=False)  # the select and the zone are always sent


def _plan(clean: validation.Enrolment, clinic: Clinic, zone: str, now: datetime) -> list[PlannedText]:
    """What the dispatcher will send and when: the same functions, before anything is saved."""
    tz = ZoneInfo(zone)
    planned = schedule.plan_checkins(ended_at=clean.ended_at, regions=clean.regions,
                                     precautions=clean.precautions, tz=tz, quiet=episodes.quiet_hours(clinic),
                                     now=now)
    return [PlannedText(p.protocol_id, p.due_at,
                        dispatch.checkin_text(p.protocol_id, regions=clean.regions, language=clean.language,
                                              clinic=clinic.sms_name, name=clean.name)) for p in planned]


def _form_page(typed: dict[str, Any], errors: dict[str, str], *, clinic: Clinic, patient: Patient | None,
               on_file: Patient | None = None, status: int = 200) -> ResponseReturnValue:
    try:
        zone = ZoneInfo(validation.time_zone(typed["timezone"]))
    except validation.ValidationError:
        zone = ZoneInfo(clinic.timezone)
    latest = clock.now().astimezone(zone).strftime(LOCAL_INPUT)  # the browser's picker offers no later time
    return render_template("dashboard/enrol.html", clinic=clinic, typed=typed, errors=errors, patient=patient,
                           latest=latest,
                           on_file=on_file, regions=sorted(PROTOCOL.regions),
                           precautions=sorted(PROTOCOL.precautions), languages=PROTOCOL.languages,
                           zones=sorted(available_timezones() - {"Factory", "localtime"}),
                           form=ConfirmForm()), status


def _enrol(patient: Patient | None) -> ResponseReturnValue:
    """Steps 1 and 2 of the module docstring, for a new patient (`patient` None) or a known one."""
    clinic, now = _clinic(), clock.now()
    if patient is not None:
        record_access(patient, "course")
        db.session.commit()
    if request.method == "GET":
        return _form_page(_blank(clinic, patient, now), {}, clinic=clinic, patient=patient)
    form = ConfirmForm()
    if not form.validate_on_submit():  # the CSRF error handler answers first; this is the guarantee
        return _form_page(_typed(), {"form": "This page expired. Please try again."}, clinic=clinic,
                          patient=patient, status=400)
    typed = _typed()
    if patient is not None:  # this page is for this patient only, whatever was posted
        typed["new_session_for"], typed["phone"] = str(patient.id), patient.phone
    return _enrol_checked_again(typed, clinic, patient, now)


def _enrol_checked_again(typed: dict[str, Any], clinic: Clinic, patient: Patient | None,
                         now: datetime) -> ResponseReturnValue:
    try:
        clean = _check(typed, clinic, now)
    except validation.PatientOnFile as exc:
        on_file = db.session.get(Patient, exc.patient_id)
        record_access(on_file, "course")
        db.session.commit()
        return _form_page(typed, exc.errors, clinic=clinic, patient=patient, on_file=on_file, status=409)
    except validation.ValidationError as exc:
        return _form_page(typed, exc.errors, clinic=clinic, patient=patient, status=400)
    known = db.session.get(Patient, clean.new_session_for) if clean.new_session_for else None
    zone = clean.timezone or (known.tz_name if known else clinic.timezone)
    typed["phone"] = validation.phone_display(clean.phone, region=_region())
    if request.form.get("step") == "edit":
        return _form_page(typed, {}, clinic=clinic, patient=patient)
    if request.form.get("step") != "save":
        return render_template("dashboard/enrol_preview.html", clinic=clinic, typed=typed, clean=clean,
                               known=known, zone=zone, plan=_plan(clean, clinic, zone, now), patient=patient,
                               form=ConfirmForm())
    try:
        enrolment = episodes.enroll(
            clinic=clinic, phone=clean.phone, name=None if known else clean.name, ended_at=clean.ended_at,
            regions=clean.regions, precautions=None if known else clean.precautions,
            language=clean.language, timezone_name=_zone_to_store(clean, clinic, known, typed), now=now,
            actor=f"provider:{current_user.id}", new_session_for=clean.new_session_for, rename=clean.rename,
            change_precautions=clean.change_precautions)
    except validation.PatientOnFile:  # someone enrolled this number since the preview: ask again
        db.session.rollback()
        return _enrol_checked_again(typed, clinic, patient, now)
    db.session.commit()
    flash(f"{'New session recorded' if known else 'Enrolled'}: {len(enrolment.checkins)} texts planned.")
    return redirect(url_for("dashboard.patient", patient_id=enrolment.patient.id), code=303)


def _zone_to_store(clean: validation.Enrolment, clinic: Clinic, known: Patient | None,
                   typed: dict[str, Any]) -> str | None:
    """None keeps the patient on the zone they have (a new one: the clinic's, following it if it moves)."""
    if known is not None:
        return clean.timezone if typed["change_language"] else None
    return None if clean.timezone == clinic.timezone else clean.timezone


@bp.route("/patients/new", methods=["GET", "POST"])
@login_required
def enrol_patient() -> ResponseReturnValue:
    return _enrol(None)


@bp.route("/patients/<int:patient_id>/sessions/new", methods=["GET", "POST"])
@login_required
def new_session(patient_id: int) -> ResponseReturnValue:
    return _enrol(_own(Patient, patient_id))


@bp.route("/sessions/<int:session_id>/time", methods=["GET", "POST"])
@login_required
def correct_time(session_id: int) -> ResponseReturnValue:
    """The session time was entered wrong: the check-ins still to come move with it."""
    session = _own(TreatmentSession, session_id)
    patient = session.patient
    record_access(patient, "course")
    db.session.commit()
    zone = patient.tz_name
    typed = {"ended_at": session.ended_at.astimezone(ZoneInfo(zone)).strftime(LOCAL_INPUT)}
    errors: dict[str, str] = {}
    if request.method == "POST":
        typed["ended_at"] = request.form.get("ended_at", "")
        if session.status != "open":
            errors["ended_at"] = f"This episode is {session.status}: only an open episode's time can be corrected."
        elif ConfirmForm().validate_on_submit():
            now = clock.now()
            try:
                ended = validation.session_end(typed["ended_at"], zone=zone, now=now)
            except validation.ValidationError as exc:
                errors = exc.errors
            else:
                moved = episodes.correct_session_time(session, ended, actor=f"provider:{current_user.id}", now=now)
                db.session.commit()
                flash(f"Session time corrected: {moved} check-in(s) re-planned.")
                return redirect(url_for("dashboard.patient", patient_id=patient.id), code=303)
    return render_template("dashboard/session_time.html", session=session, patient=patient, zone=zone,
                           typed=typed, errors=errors, form=ConfirmForm()), (400 if errors else 200)
