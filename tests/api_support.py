"""Helpers for the API's tests: keys, authorised requests, findings."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bot.extensions import db


def make_key(clinic: Any, name: str = "Practice bridge") -> str:
    from bot.api import keys

    made = keys.create(clinic, name, actor="test", now=datetime.now(timezone.utc))
    db.session.commit()
    return made.secret


def bearer(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def open_finding(enrolment: Any, *, level: str = "urgent", rule: str = "U1", now: datetime) -> Any:
    """A finding on the enrolment's episode, as triage would open it."""
    from bot import escalation

    finding = escalation.open_escalation(patient=enrolment.patient, session=enrolment.session, level=level,
                                         rule=rule, assessment=None, now=now)
    db.session.commit()
    return finding
