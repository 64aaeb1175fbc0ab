"""The practice phone's pages. Behind the dashboard's login; one clinic's practice patients only.

Every form posts back here and the route does what a phone or the passing of time would: a text
goes through the signed webhook (`webhook.text_in`), time through `simulated_clock.advance`, and
the texts that result are sent by one ordinary dispatcher pass, as the running dispatcher would
within seconds. Forms carry the CSRF token; the page polls `live` for new texts (htmx).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from .. import clock, dispatch, validation
from ..dashboard import sessions
from ..extensions import db
from ..models import Clinic, Escalation, Message, Patient, Provider, audit
from ..protocol import PROTOCOL
from . import bp, patients, simulated_clock, webhook

log = logging.getLogger(__name__)

POLL_SECONDS = 5  # how often the page asks for new texts (PRACTICE_POLL_SECONDS overrides it)
MAX_TEXT = 1600  # what Twilio delivers as one inbound message
STEPS = {  # the clock's buttons: value -> (label, how far; None: to the next check-in)
    "next": ("Next check-in", None),
    "5m": ("+5 min", timedelta(minutes=5)),
    "1h": ("+1 hour", timedelta(hours=1)),
    "1d": ("+1 day", timedelta(days=1)),
}


@bp.after_request
def keep_no_copy(response: Response) -> Response:
    """No cache keeps these pages (as the dashboard's). Opening the page or acting on it keeps the
    provider signed in; the poll does not, so an open practice page still ends an idle session."""
    response.headers["Cache-Control"] = "no-store"
    if request.endpoint == "practice.live":
        return response
    return sessions.keep_alive(response)


def _clinic() -> Clinic:
    return db.session.get(Clinic, current_user.clinic_id)


def _patient(patient_id: int) -> Patient:
    patient = patients.find(current_user.clinic_id, patient_id)
    if patient is None:
        abort(404)
    return patient


def _actor() -> str:
    return f"provider:{current_user.id}"


# -- choosing or creating a practice patient ----------------------------------------------------

def _local_now_value(zone: str) -> str:
    """Now on a zone's clock, as an <input type="datetime-local"> value."""
    return clock.now().astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    clinic = _clinic()
    form = {"name": "", "language": "en", "timezone": clinic.timezone, "ended_at": _local_now_value(clinic.timezone),
            "regions": [], "precautions": []}
    return _index(clinic, form, {})


def _index(clinic: Clinic, form: dict, errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
    return render_template("practice/index.html", clinic=clinic, practice_patients=patients.of_clinic(clinic.id),
                           form=form, errors=errors, regions=sorted(PROTOCOL.regions),
                           precautions=sorted(PROTOCOL.precautions), languages=PROTOCOL.languages,
                           zones=_zone_suggestions(clinic)), status


def _zone_suggestions(clinic: Clinic) -> list[str]:
    usual = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
             "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico"]
    return list(dict.fromkeys([clinic.timezone, *usual]))


@bp.post("/patients")
@login_required
def create() -> ResponseReturnValue:
    clinic = _clinic()
    form = {"name": request.form.get("name", ""), "language": request.form.get("language", "en"),
            "timezone": request.form.get("timezone", "").strip() or clinic.timezone,
            "ended_at": request.form.get("ended_at", ""), "regions": request.form.getlist("regions"),
            "precautions": request.form.getlist("precautions")}
    now = clock.now()
    try:
        patient = patients.create(clinic, form, provider=current_user._get_current_object(), now=now,
                                  phone_region=current_app.config["DEFAULT_PHONE_REGION"])
    except validation.ValidationError as error:
        db.session.rollback()
        return _index(clinic, form, error.errors, 400)
    except patients.NoNumberLeft:
        db.session.rollback()
        return _index(clinic, form, {"name": "Every practice number is in use: reuse a practice patient."}, 409)
    db.session.commit()
    patient_id = patient.id
    log.info("practice patient id=%s created by provider id=%s", patient_id, current_user.id)
    dispatch.run_once(now=now)  # the welcome goes at once, as the running dispatcher would send it
    flash("Practice patient enrolled. The welcome text is on their phone below.")
    return redirect(url_for("practice.phone", patient_id=patient_id), code=303)


# -- the phone ------------------------------------------------------------------------------------

@bp.get("/patients/<int:patient_id>")
@login_required
def phone(patient_id: int) -> ResponseReturnValue:
    return _phone(_patient(patient_id))


def _phone(patient: Patient, errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    """The phone page; after a refused form, with the error beside its field and what was typed kept."""
    providers = patients.phone_holders(patient.clinic_id)
    chosen = request.form.get("provider", type=int)
    default_provider = next((p.id for p in providers if p.id in (chosen, current_user.id)),
                            next((p.id for p in providers if p.duty == "on_call"), None))
    return render_template("practice/phone.html", **_live_parts(patient), providers=providers,
                           default_provider=default_provider, steps=STEPS, errors=errors or {},
                           typed={"body": request.form.get("body", ""),
                                  "provider_body": request.form.get("provider_body", "")},
                           max_text=MAX_TEXT), status


@bp.get("/patients/<int:patient_id>/live")
@login_required
def live(patient_id: int) -> ResponseReturnValue:
    """The page's changing parts for the poll: 204 when nothing changed since version `v`."""
    parts = _live_parts(_patient(patient_id), seen=request.args.get("seen", type=int))
    if request.args.get("v") == parts["version"]:
        return "", 204
    return render_template("practice/_live.html", **parts)


def _live_parts(patient: Patient, seen: int | None = None) -> dict:
    """The polled parts of the page, rendered, and a version that changes when any of them does.

    The version is a hash of what the parts show, so a poll that would change nothing answers 204
    and htmx leaves the page (and the reader's place in it) alone.
    """
    view = patients.page(patient)
    clinic = patient.clinic
    now = clock.now()
    context = dict(view=view, patient=patient, clinic=clinic, now=now, zone=patient.tz_name,
                   patient_clock=timedelta(seconds=patient.practice_clock_seconds),
                   can_text=bool(patients.phone_holders(patient.clinic_id)))
    thread = render_template("practice/_thread.html", **context)
    status = render_template("practice/_status.html", **context)
    providers = render_template("practice/_providers.html", **context)
    version = hashlib.sha256("\x00".join((thread, status, providers)).encode()).hexdigest()[:16]
    latest = view.latest_message_id
    news = ""
    if seen is not None and latest > seen:
        count = patients.texts_after(patient, seen)
        news = f"{count} new text{'s' if count != 1 else ''}." if count else ""
    return dict(context, thread=thread, status=status, providers_html=providers, version=version, news=news,
                number=validation.phone_display(patient.phone, region=current_app.config["DEFAULT_PHONE_REGION"]),
                poll_seconds=current_app.config.get("PRACTICE_POLL_SECONDS", POLL_SECONDS),
                poll_url=url_for("practice.live", patient_id=patient.id, v=version, seen=latest))


def _back(patient_id: int, anchor: str) -> ResponseReturnValue:
    return redirect(url_for("practice.phone", patient_id=patient_id) + f"#{anchor}", code=303)


def _text(field: str) -> tuple[str, str | None]:
    """The typed text, or an error for its field."""
    text = request.form.get(field, "").strip()
    if not text:
        return "", "Type a text to send."
    if len(text) > MAX_TEXT:
        return "", f"A text can have at most {MAX_TEXT} characters (this one has {len(text)})."
    return text, None


@bp.post("/patients/<int:patient_id>/reply")
@login_required
def reply(patient_id: int) -> ResponseReturnValue:
    """The patient texts back: through the signed webhook, as from their phone."""
    patient = _patient(patient_id)
    body, error = _text("body")
    if error:
        return _phone(patient, {"body": error}, 400)
    if not patients.number_is_theirs_alone(patient):
        return _phone(patient, {"body": "Another patient or a provider now has this practice number, so a text "
                                        "from it could be read as theirs. Create a new practice patient."}, 409)
    db.session.commit()
    delivered = webhook.text_in(sender=patient.phone, to=patient.clinic.phone, body=body)
    audit("practice.texted", actor=_actor(), clinic_id=patient.clinic_id, subject=f"patient:{patient_id}",
          at=clock.now(), sent_as="patient", status=delivered.status)
    db.session.commit()
    if delivered.status != 200:
        flash(f"The webhook refused the text (HTTP {delivered.status}); see the server's log.")
    else:
        dispatch.run_once(now=clock.now())  # alerts go at once, as the running dispatcher would send them
    return _back(patient_id, "reply")


@bp.post("/patients/<int:patient_id>/provider-reply")
@login_required
def provider_reply(patient_id: int) -> ResponseReturnValue:
    """A provider texts the service (ACK, ACK <code>) from their own phone, through the signed webhook."""
    patient = _patient(patient_id)
    provider = db.session.get(Provider, request.form.get("provider", type=int) or 0)
    if provider is None or provider.clinic_id != patient.clinic_id or not provider.phone or not provider.active:
        return _phone(patient, {"provider": "Choose a provider of this clinic who has a phone."}, 400)
    quick = request.form.get("quick", "").strip()
    body, error = (quick, None) if quick else _text("provider_body")
    if error:
        return _phone(patient, {"provider_body": error}, 400)
    refusal = _touches_real_findings(provider, body)
    if refusal:
        return _phone(patient, {"provider_body": refusal}, 409)
    db.session.commit()
    delivered = webhook.text_in(sender=provider.phone, to=patient.clinic.phone, body=body)
    audit("practice.texted", actor=_actor(), clinic_id=patient.clinic_id, subject=f"patient:{patient_id}",
          at=clock.now(), sent_as=f"provider:{provider.id}", status=delivered.status)
    db.session.commit()
    if delivered.status != 200:
        flash(f"The webhook refused the text (HTTP {delivered.status}); see the server's log.")
    else:
        flash(f"{provider.name}'s phone got: {delivered.answer}" if delivered.answer else
              f"{provider.name}'s text was taken; no answer was sent.")
    return _back(patient_id, "providers")


def _touches_real_findings(provider: Provider, body: str) -> str | None:
    """Why this provider text must not go from the practice phone, if it could acknowledge a real finding.

    "ACK <code>" must name a practice patient's finding. A bare "ACK" acknowledges the provider's
    latest alert, which could be about a real patient: it goes only while none of the open
    findings the provider was alerted about is a real patient's.
    """
    words = body.upper().split()
    if not words or words[0] != "ACK":
        return None
    if len(words) == 2:
        practice = db.session.scalar(sa.select(Patient.practice).join(Escalation, Escalation.patient_id == Patient.id)
                                     .where(Escalation.code == words[1], Escalation.clinic_id == provider.clinic_id))
        return None if practice in (True, None) else (
            f"{words[1]} is a real patient's finding: the practice phone acknowledges practice findings only.")
    real_alerts = db.session.scalar(
        sa.select(sa.func.count()).select_from(Escalation).join(Message, Message.escalation_id == Escalation.id)
        .join(Patient, Patient.id == Escalation.patient_id)
        .where(Message.provider_id == provider.id, Escalation.status == "open", Patient.practice.is_(False)))
    if real_alerts:
        return (f"{provider.name} has open alerts about real patients, and ACK alone acknowledges the latest one: "
                f"send ACK with the practice finding's code.")
    return None


@bp.post("/patients/<int:patient_id>/clock")
@login_required
def move_clock(patient_id: int) -> ResponseReturnValue:
    patient = _patient(patient_id)
    step = request.form.get("step", "")
    if step not in STEPS:
        return _phone(patient, {"step": "Choose how far to move the clock."}, 400)
    now = clock.now()
    by = STEPS[step][1]
    if by is None:
        due = patients.next_checkin_due(patient)
        if due is None:
            return _phone(patient, {"step": "No check-in is planned any more for this patient."}, 409)
        by = max(due - now, timedelta(0))
    moved = simulated_clock.advance(patient, by, now=now, actor=_actor())
    flash(_moved_summary(moved))
    return _back(patient_id, "clock")


_NAMES = {"checkin": ("check-in", "check-ins"), "reminder": ("reminder", "reminders"),
          "answer": ("answer", "answers"), "notice": ("notice", "notices")}


def duration(span: timedelta) -> str:
    """ "1 d 4 h 30 min", "5 min", "0 min" """
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p) or "0 min"


def _moved_summary(moved: simulated_clock.Moved) -> str:
    sent = [f"{n} {_NAMES.get(p, (p, p + 's'))[n != 1]}" for p, n in sorted(moved.texts.items())]
    if moved.alerts:
        sent.append(f"{moved.alerts} alert{'s' if moved.alerts != 1 else ''} to providers")
    what = ", ".join(sent) if sent else "nothing new was sent"
    text = f"Clock moved {duration(moved.moved)}: {what}."
    if not moved.complete:
        passes = f"{moved.passes} dispatcher pass{'es' if moved.passes != 1 else ''}"
        text += (f" Stopped after {passes} ({duration(moved.requested - moved.moved)} short): move the clock "
                 f"again to go on.")
    return text


@bp.app_template_filter("practice_duration")
def practice_duration(span: timedelta) -> str:
    return duration(span)


@bp.app_template_filter("practice_until")
def practice_until(moment: datetime, now: datetime) -> str:
    """ "in 3 h 30 min", "now" """
    return "now" if moment <= now else f"in {duration(moment - now)}"
