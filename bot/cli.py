"""Command-line doors: set-up, enrolment, the dispatcher and the dev server. Thin: parse, call, print.

Times given without a UTC offset are read on the clinic's clock (`--ended-at`) or as UTC (`--now`),
and every time printed says its zone.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import sqlalchemy as sa
from flask import Blueprint, current_app

from . import clock, dispatch, episodes, phones
from .extensions import db
from .models import Clinic, Provider, TreatmentSession, audit
from .protocol import PROTOCOL

bp = Blueprint("commands", __name__, cli_group=None)


def _parse_time(text: str, zone: ZoneInfo | timezone) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO time such as 2026-11-21T15:30-05:00") from exc
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _phone(text: str) -> str:
    try:
        return phones.normalise(text, current_app.config["DEFAULT_PHONE_REGION"])
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a phone number") from exc


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(f"{name!r} is not an IANA time zone such as America/New_York") from exc
    return name


def _clinic(clinic_id: int) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        raise click.BadParameter(f"no clinic with id {clinic_id}", param_hint="--clinic")
    return clinic


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


@bp.cli.command("enroll")
@click.option("--clinic", "clinic_id", type=int, required=True, help="Clinic id.")
@click.option("--phone", required=True, help="Patient's mobile number.")
@click.option("--name", required=True, help="Patient's name.")
@click.option("--ended-at", required=True, help="When the session ended (ISO; no offset = clinic time).")
@click.option("--region", "regions", multiple=True, required=True, type=click.Choice(sorted(PROTOCOL.regions)),
              help="Needled region; repeat for several.")
@click.option("--precaution", "precautions", multiple=True, type=click.Choice(sorted(PROTOCOL.precautions)))
@click.option("--language", default="en", type=click.Choice(PROTOCOL.languages))
@click.option("--timezone", "timezone_name", default=None, help="Patient's IANA zone if not the clinic's.")
@click.option("--provider", "provider_id", type=int, default=None, help="Treating provider id.")
@click.option("--now", "now_text", default=None, help="Enrol as if it were this time (ISO; no offset = UTC).")
def enroll_command(clinic_id: int, phone: str, name: str, ended_at: str, regions: tuple[str, ...],
                   precautions: tuple[str, ...], language: str, timezone_name: str | None,
                   provider_id: int | None, now_text: str | None) -> None:
    """Enrol a patient after a session and plan their check-ins."""
    clinic = _clinic(clinic_id)
    zone_name = _zone(timezone_name) if timezone_name else clinic.timezone
    provider = db.session.get(Provider, provider_id) if provider_id else None
    if provider_id and (provider is None or provider.clinic_id != clinic.id):
        raise click.BadParameter(f"no provider {provider_id} at clinic {clinic.id}", param_hint="--provider")
    try:
        enrolment = episodes.enroll(
            clinic=clinic, phone=_phone(phone), name=name.strip(),
            ended_at=_parse_time(ended_at, ZoneInfo(zone_name)), regions=regions, precautions=precautions,
            language=language, timezone_name=timezone_name, provider=provider,
            now=_parse_time(now_text, timezone.utc) if now_text else clock.now(), actor="cli")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    patient = enrolment.patient
    click.echo(f"Enrolled patient {patient.id}, session {enrolment.session.id}. Planned texts ({patient.tz_name}):")
    for checkin in enrolment.checkins:
        note = f"  ({checkin.status_reason})" if checkin.status != "planned" else ""
        click.echo(f"  {checkin.protocol_id:<5} {_local(checkin.due_at, patient.tz_name)}{note}")
    if patient.opted_out_at is not None:
        click.echo("This patient has opted out: nothing will be sent until they reply START.")


@bp.cli.command("dispatch")
@click.option("--once", is_flag=True, required=True, help="One pass over what is due, then exit.")
@click.option("--now", "now_text", default=None, help="Act as if it were this time (ISO; no offset = UTC).")
def dispatch_command(once: bool, now_text: str | None) -> None:
    """Send what is due through the configured SMS backend, then exit (`flask scheduler` runs forever)."""
    now = _parse_time(now_text, timezone.utc) if now_text else clock.now()
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

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["SCHEDULER"] == "in-process":
        dispatch.start_in_process(app)
    click.echo(f"Aftercare on http://{host}:{port} (SMS backend: {app.config['SMS_BACKEND']}, "
               f"scheduler: {app.config['SCHEDULER']})")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@bp.cli.command("create-clinic")
@click.option("--name", required=True)
@click.option("--sms-name", required=True, help="How texts are signed, at most 20 characters (e.g. 'Harbor PT').")
@click.option("--phone", required=True, help="The clinic's phone number, given to patients.")
@click.option("--timezone", "timezone_name", required=True, help="IANA zone, e.g. America/Chicago.")
def create_clinic_command(name: str, sms_name: str, phone: str, timezone_name: str) -> None:
    """Add a clinic (quiet hours, business hours and alert timings take the protocol's defaults)."""
    if not 1 <= len(sms_name.strip()) <= 20:
        raise click.BadParameter("must be 1 to 20 characters, so every text fits one SMS", param_hint="--sms-name")
    clinic = Clinic(name=name.strip(), sms_name=sms_name.strip(), phone=_phone(phone), timezone=_zone(timezone_name))
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
def create_provider_command(clinic_id: int, name: str, email: str, phone: str | None, duty: str, role: str,
                            password: str) -> None:
    """Add a provider who can sign in to the dashboard and receive alerts."""
    clinic = _clinic(clinic_id)
    email = email.strip().lower()
    if db.session.scalar(sa.select(Provider.id).where(Provider.email == email)) is not None:
        raise click.BadParameter("a provider with this email exists", param_hint="--email")
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    provider = Provider(clinic=clinic, name=name.strip(), email=email, phone=_phone(phone) if phone else None,
                        duty=duty, role=role)
    provider.set_password(password)
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
def close_episode_command(session_id: int) -> None:
    """Close an episode: its remaining check-ins are cancelled."""
    session = db.session.get(TreatmentSession, session_id)
    if session is None:
        raise click.BadParameter(f"no session {session_id}", param_hint="--session")
    episodes.close_episode(session, actor="cli", now=clock.now())
    db.session.commit()
    click.echo(f"Session {session_id}: {session.status}.")


@bp.cli.command("correct-session")
@click.option("--session", "session_id", type=int, required=True)
@click.option("--ended-at", required=True, help="The right end time (ISO; no offset = patient's clock).")
def correct_session_command(session_id: int, ended_at: str) -> None:
    """Correct a session's end time; check-ins still to come are re-planned from it."""
    session = db.session.get(TreatmentSession, session_id)
    if session is None:
        raise click.BadParameter(f"no session {session_id}", param_hint="--session")
    zone = session.patient.tz_name
    try:
        moved = episodes.correct_session_time(session, _parse_time(ended_at, ZoneInfo(zone)), actor="cli",
                                              now=clock.now())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Re-planned {moved} check-in(s) ({zone}):")
    for checkin in session.checkins:
        click.echo(f"  {checkin.protocol_id:<5} {_local(checkin.due_at, zone)}  {checkin.status}")
