"""Is the installation working? `GET /healthz` (the whole installation) and `GET /readyz` (this
web process), for uptime monitoring and load balancers; `flask doctor` and `/metrics` ask the same
questions.

- `/readyz`: 200 while this process can serve (the database answers), else 503. Point a load
  balancer here: a stopped dispatcher must not take the webhook offline.
- `/healthz`: 200 only when the database answers, a dispatcher completed a pass within three of
  its intervals, and no inbound text waits in the spool longer than that; 503 otherwise, with a
  JSON body that says which part is wrong. Point uptime monitoring here.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from . import clock, spool
from .extensions import db
from .models import DispatcherHeartbeat

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

STALE_AFTER_INTERVALS = 3  # a dispatcher silent for three of its intervals has stopped or is stuck


@dataclass(frozen=True)
class DispatcherState:
    status: str  # ok | stale | never (no dispatcher has ever completed a pass)
    age_seconds: float | None  # since the freshest heartbeat
    limit_seconds: float | None
    name: str | None  # host:pid of the freshest

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def dispatcher_state(now: datetime) -> DispatcherState:
    """The freshest dispatcher heartbeat and whether it is within three of that dispatcher's intervals."""
    latest = db.session.scalars(
        sa.select(DispatcherHeartbeat).order_by(DispatcherHeartbeat.beat_at.desc()).limit(1)
    ).first()
    if latest is None:
        return DispatcherState("never", None, None, None)
    age = (now - latest.beat_at).total_seconds()
    limit = STALE_AFTER_INTERVALS * latest.interval_seconds
    return DispatcherState("ok" if age <= limit else "stale", round(age, 1), limit, latest.name)


def stale_after() -> timedelta:
    """How late due work or a spooled text may be before something is wrong (three dispatch intervals)."""
    return timedelta(seconds=STALE_AFTER_INTERVALS * current_app.config["SCHEDULER_INTERVAL_SECONDS"])


def database_error() -> str | None:
    """None when the database answers; else why not, in words (no parameters, no patient data)."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        return _why(exc)
    return None


def _why(exc: SQLAlchemyError) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    error = database_error()
    if error:
        log.warning("readiness check: database unavailable")
        return jsonify(status="unavailable", database="unavailable", reason=error), 503
    return jsonify(status="ok", database="ok"), 200


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    now = clock.now()
    body: dict[str, object] = {}
    problems: list[str] = []
    error = database_error()
    if error:
        body["database"] = "unavailable"
        problems.append(f"database: {error}")
    else:
        body["database"] = "ok"
        state = dispatcher_state(now)
        body["dispatcher"] = asdict(state)
        if state.status == "never":
            problems.append("dispatcher: no dispatcher has ever completed a pass")
        elif not state.ok:
            problems.append(f"dispatcher: last pass {state.age_seconds:.0f} s ago (limit {state.limit_seconds:.0f} s)")
    waiting = spool.summary(now)
    body["spooled_texts"] = waiting.count
    if waiting.count and waiting.oldest_age > stale_after():
        problems.append(f"spool: {waiting.count} inbound text(s) not yet stored, oldest "
                        f"{waiting.oldest_age.total_seconds():.0f} s")
    body["status"] = "unavailable" if problems else "ok"
    if problems:
        body["problems"] = problems
        log.warning("health check: %s", "; ".join(p.split(":")[0] for p in problems))
    return jsonify(body), 503 if problems else 200
