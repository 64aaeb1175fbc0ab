"""Command-line doors: set-up, enrolment, the dispatcher and the dev server. Thin: parse, call, print.

Times given without a UTC offset are read on the clinic's clock (`--ended-at`) or as UTC (`--now`),
and every time printed says its zone. Input is cleaned by `bot.validation`, as in every door: a
field at fault prints `Error: <field>: <message>` and exits 2, and a database error prints what
kind it was, never the values it carried (patient data) nor a traceback; either way nothing is saved.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from datetime import datetime, timezone
from typing import IO, Any, TypeVar
from zoneinfo import ZoneInfo

import click
import sqlalchemy as sa
from flask import Blueprint, current_app

from . import clinic_settings, clock, dispatch, episodes, providers, validation
from .extensions import db
from .models import Clinic, Provider, TreatmentSession, audit
from .protocol import PROTOCOL

bp = Blueprint("commands", __name__, cli_group=None)

F = TypeVar("F", bound=Callable[..., Any])


class InvalidInput(click.ClickException):
    """Fields at fault: one `Error: <field>: <message>` line each, exit status 2 (a usage error)."""

    exit_code = 2

    def __init__(self, error: validation.ValidationError) -> None:
        super().__init__(str(error))
        self.errors = error.errors

    def show(self, file: IO[Any] | None = None) -> None:
        for field, message in self.errors.items():
            click.echo(f"Error: {field}: {message}", file=file, err=file is None)


_DATABASE_ERRORS = {
    sa.exc.OperationalError: "the database is unreachable, not answering, or not migrated (flask db upgrade)",
    sa.exc.IntegrityError: "the change conflicts with a row already saved",
    sa.exc.DataError: "a value does not fit its column",
}


def door(command: F) -> F:
    """Run a command so that bad input and database errors end it cleanly, with nothing saved.

    The exception a database raises carries the statement and its values (phone numbers, names):
    only its kind and SQLSTATE are printed, and the traceback is not.
    """

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except validation.ValidationError as error:
            _roll_back()
            raise InvalidInput(error) from None
        except sa.exc.SQLAlchemyError as error:
            _roll_back()
            what = next((text for kind, text in _DATABASE_ERRORS.items() if isinstance(error, kind)),
                        "the database refused the change")
            code = getattr(getattr(error, "orig", None), "sqlstate", None)
            kind = type(error).__name__ + (f", SQLSTATE {code}" if code else "")
            raise click.ClickException(f"database: {what}; nothing was saved [{kind}].") from None

    return run  # type: ignore[return-value]


def _roll_back() -> None:
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        pass  # the connection is gone, and with it anything not committed


def _phone_region() -> str:
    return current_app.config["DEFAULT_PHONE_REGION"]


def _clinic(clinic_id: int) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        raise validation.ValidationError("clinic", f"No clinic with id {clinic_id}.")
    return clinic


def _session(session_id: int) -> TreatmentSession:
    session = db.session.get(TreatmentSession, session_id)
    if session is None:
        raise validation.ValidationError("session", f"No session {session_id}.")
    return session


def _now(now_text: str | None) -> datetime:
    return validation.moment(now_text, zone=timezone.utc, field="now") if now_text else clock.now()


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


# How `flask enroll` offers the explicit choices a number on file needs (validation.enrolment).
ENROL_CHOICES = {"new_session_for": "add --new-session-for {id}", "rename": "add --rename NAME",
                 "change_precautions": "add --change-precautions LIST (comma-separated, or none)"}


def _precaution_list(text: str | None) -> list[str] | None:
    """--change-precautions: a comma-separated list, or "none" (or "") to clear them on purpose."""
    if text is None:
        return None
    return [] if text.strip().lower() in ("", "none") else text.split(",")


@bp.cli.command("enroll")
@click.option("--clinic", "clinic_id", type=int, required=True, help="Clinic id.")
@click.option("--phone", required=True, help="Patient's mobile number.")
@click.option("--name", default=None, help="Patient's name, first name first (a new patient's; required for one).")
@click.option("--ended-at", required=True,
              help="When the session ended (ISO; no offset = the patient's clock, or the clinic's).")
@click.option("--region", "regions", multiple=True, required=True,
              help=f"Needled region; repeat for several. One of: {', '.join(sorted(PROTOCOL.regions))}.")
@click.option("--precaution", "precautions", multiple=True,
              help=f"A precaution; repeat for several. One of: {', '.join(sorted(PROTOCOL.precautions))}.")
@click.option("--language", default=None, help=f"One of: {', '.join(PROTOCOL.languages)} (a new patient: en; "
                                               "a new session: the language on file).")
@click.option("--timezone", "timezone_name", default=None, help="Patient's IANA zone if not the clinic's.")
@click.option("--provider", "provider_id", type=int, default=None, help="Treating provider id.")
@click.option("--new-session-for", "new_session_for", default=None, metavar="ID",
              help="The number is on file for patient ID: record a new session for them (name, language and "
                   "precautions kept).")
@click.option("--rename", default=None, metavar="NAME", help="With --new-session-for: change the name on file.")
@click.option("--change-precautions", "change_precautions", default=None, metavar="LIST",
              help="With --new-session-for: replace the precautions on file (comma-separated, or none).")
@click.option("--now", "now_text", default=None, help="Enrol as if it were this time (ISO; no offset = UTC).")
@door
def enroll_command(clinic_id: int, phone: str, name: str | None, ended_at: str, regions: tuple[str, ...],
                   precautions: tuple[str, ...], language: str | None, timezone_name: str | None,
                   provider_id: int | None, new_session_for: str | None, rename: str | None,
                   change_precautions: str | None, now_text: str | None) -> None:
    """Enrol a patient after a session and plan their check-ins.

    A number already on file is refused unless --new-session-for names its patient.
    """
    now = _now(now_text)
    clinic = _clinic(clinic_id)
    clean = validation.enrolment(
        dict(name=name, phone=phone, ended_at=ended_at, regions=regions, precautions=precautions or None,
             language=language, timezone=timezone_name, new_session_for=new_session_for, rename=rename,
             change_precautions=_precaution_list(change_precautions)),
        clinic_zone=clinic.timezone, now=now, phone_region=_phone_region(), on_file=episodes.on_file(clinic),
        choices=ENROL_CHOICES)
    provider = db.session.get(Provider, provider_id) if provider_id else None
    if provider_id and (provider is None or provider.clinic_id != clinic.id):
        raise validation.ValidationError("provider", f"No provider {provider_id} at clinic {clinic.id}.")
    try:
        enrolment = episodes.enroll(
            clinic=clinic, phone=clean.phone, name=name and clean.name if clean.new_session_for is None else None,
            ended_at=clean.ended_at, regions=clean.regions,
            precautions=clean.precautions if clean.new_session_for is None else None,
            language=language and clean.language, timezone_name=clean.timezone, provider=provider, now=now,
            actor="cli", new_session_for=clean.new_session_for, rename=clean.rename,
            change_precautions=clean.change_precautions)
    except validation.ValidationError:
        raise
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    patient = enrolment.patient
    what = f"New session for patient {patient.id}" if clean.new_session_for else f"Enrolled patient {patient.id}"
    click.echo(f"{what}, session {enrolment.session.id}. Planned texts ({patient.tz_name}):")
    for checkin in enrolment.checkins:
        note = f"  ({checkin.status_reason})" if checkin.status != "planned" else ""
        click.echo(f"  {checkin.protocol_id:<5} {_local(checkin.due_at, patient.tz_name)}{note}")
    if patient.opted_out_at is not None:
        click.echo("This patient has opted out: nothing will be sent until they reply START.")


@bp.cli.command("dispatch")
@click.option("--once", is_flag=True, required=True, help="One pass over what is due, then exit.")
@click.option("--now", "now_text", default=None, help="Act as if it were this time (ISO; no offset = UTC).")
@door
def dispatch_command(once: bool, now_text: str | None) -> None:
    """Send what is due through the configured SMS backend, then exit (`flask scheduler` runs forever)."""
    now = _now(now_text)
    report = dispatch.run_once(now=now)
    click.echo(f"dispatch at {now.isoformat()}: {report}")


@bp.cli.command("scheduler")
def scheduler_command() -> None:
    """Run the dispatcher until stopped. Any number may run against PostgreSQL."""
    dispatch.run_blocking(current_app._get_current_object())  # type: ignore[attr-defined]


@bp.cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve_command(host: str, port: int) -> None:
    """Serve the app for development, with the in-process dispatcher unless SCHEDULER=off."""
    from werkzeug.serving import run_simple

    from .triage import learned

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    learned.reader()  # load the second reader before the first reply, as wsgi.py does, not during it
    if app.config["SCHEDULER"] == "in-process":
        dispatch.start_in_process(app)
    click.echo(f"Aftercare on http://{host}:{port} (SMS backend: {app.config['SMS_BACKEND']}, "
               f"scheduler: {app.config['SCHEDULER']})")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@bp.cli.command("create-clinic")
@click.option("--name", required=True)
@click.option("--sms-name", required=True,
              help=f"How texts are signed, at most {validation.SMS_NAME_MAX} characters (e.g. 'Harbor PT').")
@click.option("--phone", required=True, help="The clinic's phone number, given to patients.")
@click.option("--timezone", "timezone_name", required=True, help="IANA zone, e.g. America/Chicago.")
@door
def create_clinic_command(name: str, sms_name: str, phone: str, timezone_name: str) -> None:
    """Add a clinic (quiet hours, business hours and alert timings take the protocol's defaults)."""
    check = validation.Checker()
    clinic = Clinic(name=check(validation.clinic_name, name), sms_name=check(validation.sms_name, sms_name),
                    phone=check(validation.phone, phone, region=_phone_region(), mobile=False),
                    timezone=check(validation.time_zone, timezone_name))
    check.done()
    db.session.add(clinic)
    db.session.flush()
    audit("clinic.created", actor="cli", clinic_id=clinic.id, subject=f"clinic:{clinic.id}")
    db.session.commit()
    click.echo(f"Created clinic {clinic.id}.")


@bp.cli.command("create-provider")
@click.option("--clinic", "clinic_id", type=int, required=True)
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--phone", default=None, help="Mobile number that receives alerts.")
@click.option("--duty", default="off", type=click.Choice(["on_call", "backup", "off"]), show_default=True)
@click.option("--role", default="provider", type=click.Choice(["provider", "admin"]), show_default=True)
@click.password_option()
@door
def create_provider_command(clinic_id: int, name: str, email: str, phone: str | None, duty: str, role: str,
                            password: str) -> None:
    """Add a provider who can sign in to the dashboard and receive alerts."""
    clinic = _clinic(clinic_id)
    check = validation.Checker()
    fields = dict(name=check(validation.person_name, name), email=check(validation.email, email),
                  phone=check(validation.phone, phone, region=_phone_region()) if phone is not None else None)
    check(validation.password, password)
    check.done()
    if db.session.scalar(sa.select(Provider.id).where(Provider.email == fields["email"])) is not None:
        raise validation.ValidationError("email", "A provider with this email address already exists.")
    provider = Provider(clinic=clinic, duty=duty, role=role, **fields)
    provider.set_password(password)  # checked above, and kept exactly as typed
    db.session.add(provider)
    db.session.flush()
    audit("provider.created", actor="cli", clinic_id=clinic.id, subject=f"provider:{provider.id}")
    db.session.commit()
    click.echo(f"Created provider {provider.id}.")


@bp.cli.command("seed-demo")
def seed_demo_command() -> None:
    """On an empty database, create a demo clinic and provider and print the login."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(Clinic)):
        click.echo("Database already has a clinic; demo data not created.")
        return
    clinic = Clinic(name="Demo Physical Therapy", sms_name="Demo PT", phone="+15555550100",
                    timezone="America/New_York")
    password = secrets.token_urlsafe(9)
    provider = Provider(clinic=clinic, name="Demo Provider", email="demo@example.com", phone="+15555550101",
                        duty="on_call", role="admin")
    provider.set_password(password)
    db.session.add_all([clinic, provider])
    db.session.flush()
    audit("clinic.created", actor="cli", clinic_id=clinic.id, subject=f"clinic:{clinic.id}", demo=True)
    db.session.commit()
    click.echo(f"Demo clinic {clinic.id} created. Sign in at /login as demo@example.com with password: {password}")


@bp.cli.command("close-episode")
@click.option("--session", "session_id", type=int, required=True)
@door
def close_episode_command(session_id: int) -> None:
    """Close an episode: its remaining check-ins are cancelled."""
    session = _session(session_id)
    episodes.close_episode(session, actor="cli", now=clock.now())
    db.session.commit()
    click.echo(f"Session {session_id}: {session.status}.")


@bp.cli.command("correct-session")
@click.option("--session", "session_id", type=int, required=True)
@click.option("--ended-at", required=True, help="The right end time (ISO; no offset = patient's clock).")
@door
def correct_session_command(session_id: int, ended_at: str) -> None:
    """Correct a session's end time; check-ins still to come are re-planned from it."""
    session = _session(session_id)
    zone, now = session.patient.tz_name, clock.now()
    ended = validation.session_end(ended_at, zone=zone, now=now)
    try:
        moved = episodes.correct_session_time(session, ended, actor="cli", now=now)
    except validation.ValidationError:
        raise
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Re-planned {moved} check-in(s) ({zone}):")
    for checkin in session.checkins:
        click.echo(f"  {checkin.protocol_id:<5} {_local(checkin.due_at, zone)}  {checkin.status}")


@bp.cli.command("reset-password")
@click.argument("email")
@click.option("--set", "type_it", is_flag=True,
              help="Type the new password here (asked twice, never shown) instead of printing a link.")
@door
def reset_password_command(email: str, type_it: bool) -> None:
    """Reset a provider's password: print a one-time link to choose one (the old one stops working
    and every session ends), or with --set type the new one. Neither is written to any log."""
    address = validation.email(email)
    provider = db.session.scalar(sa.select(Provider).where(Provider.email == address))
    if provider is None:
        raise validation.ValidationError("email", "No provider has this email address.")
    now = clock.now()
    if type_it:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        providers.choose_password(provider, password, via="cli", now=now)
        db.session.commit()
        click.echo(f"Provider {provider.id}: password set; signed out everywhere.")
        return
    link = providers.reset_password(provider, actor="cli", now=now)
    db.session.commit()
    click.echo(f"Provider {provider.id}: the old password no longer works and every session has ended.")
    click.echo(f"Give them this one-time link (valid {providers.LINK_LIFETIME['reset'].days} day) to choose "
               f"a new password:")
    click.echo(link)


_SETTING_OPTIONS = {
    "name": "Clinic name.", "sms_name": "How texts are signed.", "phone": "The clinic's phone number.",
    "timezone": "IANA zone.", "quiet_start": "Quiet hours start, HH:MM.", "quiet_end": "Quiet hours end, HH:MM.",
    "business_open": "Opening time, HH:MM.", "business_close": "Closing time, HH:MM.",
    "business_days": "ISO weekdays open, e.g. 12345.",
    **{name: "Minutes, {}-{}.".format(*bounds) for name, bounds in PROTOCOL.escalation_bounds.items()},
    "session_idle_minutes": "Idle sign-out in minutes, {}-{}.".format(*validation.SESSION_IDLE_MINUTES),
}


def _setting_options(command: F) -> F:
    for name, text in reversed(_SETTING_OPTIONS.items()):
        command = click.option(f"--{name.replace('_', '-')}", name, default=None, help=text)(command)
    return command


@bp.cli.command("clinic-settings")
@click.option("--clinic", "clinic_id", type=int, required=True, help="Clinic id.")
@_setting_options
@door
def clinic_settings_command(clinic_id: int, **changes: str | None) -> None:
    """Show a clinic's settings, or change those given (the same rules and audit as the settings page).

    New quiet hours or a new time zone move the planned texts that have not gone yet."""
    clinic = _clinic(clinic_id)
    raw = {**clinic_settings.current(clinic), **{k: v for k, v in changes.items() if v is not None}}
    clean = validation.clinic_settings(raw, phone_region=_phone_region())
    now = clock.now()
    outcome = clinic_settings.apply(clinic, clean, actor="cli", now=now)
    db.session.commit()
    for name, value in clinic_settings.current(clinic).items():
        mark = "  (changed)" if name in outcome.changed else ""
        click.echo(f"{name:<26} {value}{mark}")
    if clinic_settings.SCHEDULE_FIELDS.intersection(outcome.changed):
        click.echo(f"Moved {len(outcome.moved)} planned text(s).")
    upcoming = outcome.next_planned
    if upcoming is not None:
        click.echo(f"Next planned text: {_local(upcoming.new, upcoming.zone)}")
