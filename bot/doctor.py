"""`flask doctor`: the state of the whole installation, one line per part, for the admin.

Each check prints OK, WARN or FAIL with what it saw; the command exits 1 when any check fails,
so it can run from a deploy script or a cron job. It reads only; it never changes anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app

from . import clock, spool
from .extensions import db
from .health import database_error, dispatcher_state, stale_after
from .models import AuditEvent, CheckIn, DispatcherHeartbeat, Escalation, Message, Patient

bp = Blueprint("doctor", __name__, cli_group=None)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True)
class Finding:
    status: str  # OK | WARN | FAIL
    part: str
    detail: str


def check_database() -> Finding:
    started = time.monotonic()
    error = database_error()
    if error:
        return Finding("FAIL", "database", f"does not answer: {error}")
    ms = (time.monotonic() - started) * 1000
    url = db.engine.url
    where = f"{url.get_backend_name()} {url.host or url.database or ''}".strip()
    return Finding("OK", "database", f"{where} answered in {ms:.0f} ms")


def check_migrations() -> Finding:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return Finding("OK", "migrations", f"at head {', '.join(sorted(heads))}")
    return Finding("FAIL", "migrations", f"database at {', '.join(sorted(current)) or 'nothing'}, code at "
                                         f"{', '.join(sorted(heads))}: run `flask db upgrade`")


def check_dispatcher(now: datetime) -> Finding:
    state = dispatcher_state(now)
    if state.status == "never":
        return Finding("FAIL", "dispatcher", "no dispatcher has ever completed a pass: start `flask scheduler`")
    recent = db.session.scalar(sa.select(sa.func.count()).select_from(DispatcherHeartbeat).where(
        DispatcherHeartbeat.beat_at >= now - timedelta(seconds=state.limit_seconds or 0)))
    detail = f"last pass {state.age_seconds:.0f} s ago by {state.name} (limit {state.limit_seconds:.0f} s)"
    if not state.ok:
        return Finding("FAIL", "dispatcher", detail + ": is `flask scheduler` running?")
    return Finding("OK", "dispatcher", f"{recent} running; {detail}")


def check_gateway() -> Finding:
    config = current_app.config
    if config["SMS_BACKEND"] == "console":
        status = "FAIL" if config["AFTERCARE_ENV"] == "production" else "OK"
        return Finding(status, "gateway", f"console: texts are written to {config['CONSOLE_SMS_FILE']}, not sent")
    sender = (f"messaging service {config['TWILIO_MESSAGING_SERVICE_SID']}" if config["TWILIO_MESSAGING_SERVICE_SID"]
              else f"from {config['TWILIO_FROM_NUMBER']}")
    problems = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not config[name]]
    if not config["PUBLIC_BASE_URL"].startswith("https://"):
        problems.append("PUBLIC_BASE_URL is not https://")
    detail = (f"twilio account {config['TWILIO_ACCOUNT_SID'][:6]}..., {sender}, callbacks to "
              f"{config['PUBLIC_BASE_URL']}/sms/status, HTTP timeout {config['TWILIO_HTTP_TIMEOUT']:g} s")
    return Finding("FAIL" if problems else "OK", "gateway", detail + ("; " + "; ".join(problems) if problems else ""))


def oldest_due(now: datetime) -> list[tuple[str, datetime, int]]:
    """(kind, oldest due time, how many) for work the dispatcher should have done by `now`."""
    kinds = [
        ("check-in", CheckIn.due_at, CheckIn.status == "planned"),
        ("text", Message.send_after, sa.and_(Message.direction == "out",
                                             Message.status.in_(("pending", "unconfirmed")))),
        ("alert timer", Escalation.next_alert_at, Escalation.status == "open"),
    ]
    out = []
    for kind, column, where in kinds:
        count, oldest = db.session.execute(
            sa.select(sa.func.count(), sa.func.min(column)).where(where, column <= now)).one()
        if count:
            out.append((kind, oldest, count))
    return out


def check_due_work(now: datetime) -> Finding:
    due = oldest_due(now)
    if not due:
        return Finding("OK", "due work", "nothing due")
    kind, oldest, count = min(due, key=lambda item: item[1])
    late = now - oldest
    detail = (f"oldest due: {kind} due {late.total_seconds():.0f} s ago; due now: "
              + ", ".join(f"{n} {k}" for k, _, n in due))
    return Finding("FAIL" if late > stale_after() else "OK", "due work", detail)


def check_given_up(now: datetime) -> Finding:
    since = now - timedelta(days=1)
    given_up = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "message.given_up", AuditEvent.created_at >= since))
    flagged = db.session.scalar(sa.select(sa.func.count()).select_from(Patient).where(
        Patient.phone_problem_code.is_not(None)))
    detail = f"{given_up} text(s) given up in the last 24 h; {flagged} patient number(s) flagged for staff"
    return Finding("WARN" if given_up else "OK", "failed texts", detail)


def check_spool(now: datetime) -> Finding:
    waiting = spool.summary(now)
    if not waiting.count:
        return Finding("OK", "inbound spool", f"empty ({spool.directory()})")
    detail = f"{waiting.count} text(s) waiting for the database, oldest {waiting.oldest_age.total_seconds():.0f} s"
    return Finding("FAIL" if waiting.oldest_age > stale_after() else "WARN", "inbound spool", detail)


def examine(now: datetime) -> list[Finding]:
    """Every check; the database ones only when the database answers."""
    findings = [check_database()]
    database_checks: list[Callable[[], Finding]] = [
        check_migrations, lambda: check_dispatcher(now), lambda: check_due_work(now), lambda: check_given_up(now)]
    if findings[0].status == "OK":
        findings += [check() for check in database_checks]
    return findings + [check_gateway(), check_spool(now)]


@bp.cli.command("doctor")
def doctor_command() -> None:
    """Print the state of the installation; exit 1 if anything is wrong."""
    findings = examine(clock.now())
    width = max(len(f.part) for f in findings)
    for f in findings:
        click.echo(f"{f.status:<4}  {f.part:<{width}}  {f.detail}")
    if any(f.status == "FAIL" for f in findings):
        raise SystemExit(1)
