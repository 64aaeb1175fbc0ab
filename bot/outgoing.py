"""Outgoing webhooks: events a clinic subscribed to, POSTed as signed JSON by the dispatcher.

Events come from the audit trail. Every state change a practice system may care about is already
an audit event, written by the service that made the change (escalation, episodes, dispatch), so
a flush listener turns the ones listed in `EVENT_FROM_AUDIT` into a webhook event and one delivery
row per subscribed endpoint, in the same transaction as the change. No door and no service calls
this module, and nothing here talks to the network on the reply path.

Sending (`deliver_due`, one call from the dispatcher's pass) follows the Standard Webhooks
convention: headers `webhook-id` (the same on every retry, so receivers can deduplicate),
`webhook-timestamp` (Unix seconds) and `webhook-signature` = `v1,` + base64 HMAC-SHA256 of
`id.timestamp.body` under the endpoint's `whsec_` secret (the `standardwebhooks` package signs).
A delivery that fails is retried with exponential back-off; after MAX_ATTEMPTS it is `failed`.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time as monotonic_time
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from standardwebhooks.webhooks import Webhook

from .extensions import db
from .models import AuditEvent, Escalation, Patient, WebhookDelivery, WebhookEndpoint, WebhookEvent, audit

log = logging.getLogger(__name__)

EVENT_TYPES = {
    "finding.opened": "A reply (or silence) beyond the expected course opened a finding for the care team.",
    "finding.upgraded": "An open finding became more urgent (a worse reply, or the patient asked for a call).",
    "finding.escalated_to_backup": "Nobody acknowledged the finding in time: the backup provider is now alerted.",
    "finding.acknowledged": "A provider took the finding in hand; alerts stopped.",
    "finding.resolved": "The care team closed the finding.",
    "patient.opted_out": "The patient texted STOP (or the carrier says they did): nothing more is sent.",
    "patient.number_cannot_take_texts": "The carrier says the patient's number cannot take texts; staff must fix it.",
}

BATCH_SIZE = 100
MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)  # 12 attempts span about 14.5 hours
LEASE = timedelta(minutes=5)  # a delivery claimed this long ago by a process that died is retried
PASS_BUDGET_SECONDS = 30.0  # after this, a pass stops starting deliveries and leaves them for the next
USER_AGENT = "Aftercare-Webhooks/1"


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, ... at most 6 h."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_WAIT)


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_url(url: str, *, production: bool) -> str:
    """An endpoint URL we can POST to; ValueError naming the field. Production sends over https only."""
    url = url.strip()
    parts = urlsplit(url)
    schemes = ("https",) if production else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname or len(url) > 2048:
        raise ValueError(f"url: give an absolute {' or '.join(schemes)}:// URL of at most 2048 characters")
    if parts.username or parts.password:
        raise ValueError("url: no user name or password in the URL; the signature authenticates us")
    return url


# -- events, from the audit trail ------------------------------------------------------------------

def _finding(esc: Escalation) -> dict[str, Any]:
    base = current_app.config["PUBLIC_BASE_URL"]
    return {"finding": {
        "id": esc.id, "code": esc.code, "level": esc.level, "rule": esc.rule, "status": esc.status,
        "patient_id": esc.patient_id, "episode_id": esc.session_id,
        "opened_at": _iso(esc.created_at), "backup_alerted_at": _iso(esc.backup_alerted_at),
        "acknowledged_at": _iso(esc.acknowledged_at), "resolved_at": _iso(esc.resolved_at),
        "url": f"{base}/api/v1/findings/{esc.id}",
    }}


def _patient(patient: Patient, **extra: Any) -> dict[str, Any]:
    base = current_app.config["PUBLIC_BASE_URL"]
    return {"patient": {"id": patient.id, "url": f"{base}/api/v1/patients/{patient.id}", **extra}}


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def _subject_id(event: AuditEvent) -> int | None:
    kind, _, number = (event.subject or "").partition(":")
    return int(number) if number.isdigit() else None


def _translate(session: so.Session, event: AuditEvent) -> tuple[str, dict[str, Any]] | None:
    """The webhook event (type, data) an audit event stands for, if any."""
    action, subject_id = event.action, _subject_id(event)
    if subject_id is None:
        return None
    if action.startswith("escalation."):
        esc = session.get(Escalation, subject_id)
        if esc is None:
            return None
        if action == "escalation.opened":
            return "finding.opened", _finding(esc)
        if action == "escalation.upgraded":
            return "finding.upgraded", _finding(esc)
        if action == "escalation.acknowledged":
            return "finding.acknowledged", _finding(esc)
        if action == "escalation.resolved":
            return "finding.resolved", _finding(esc)
        # Backup alerts repeat until someone acknowledges; the event is the first of them.
        if (action == "escalation.alerted" and "backup" in event.detail.get("roles", ())
                and esc.backup_alerted_at == event.created_at):
            return "finding.escalated_to_backup", _finding(esc)
        return None
    if action == "patient.opted_out":
        patient = session.get(Patient, subject_id)
        if patient is not None and patient.opted_out_at == event.created_at:  # not a repeated STOP
            return "patient.opted_out", _patient(patient, opted_out_at=_iso(patient.opted_out_at),
                                                 source=event.detail.get("source"))
    if action == "patient.number_flagged":
        patient = session.get(Patient, subject_id)
        if patient is not None:
            return "patient.number_cannot_take_texts", _patient(patient, carrier_error_code=event.detail.get("code"))
    return None


AUDIT_ACTIONS = ("escalation.opened", "escalation.upgraded", "escalation.acknowledged", "escalation.resolved",
                 "escalation.alerted", "patient.opted_out", "patient.number_flagged")


def _events_from_audit(session: so.Session, flush_context: Any, instances: Any) -> None:
    """Before a flush: webhook rows for new audit events a clinic subscribed to (numbered steps).

    1. Pick the new audit events whose action may be an outgoing event (cheap: most flushes have none).
    2. Load each clinic's active endpoints once.
    3. For each event some endpoint wants: one WebhookEvent (the exact JSON body) and one delivery each.
    """
    wanted = [obj for obj in session.new if isinstance(obj, AuditEvent) and obj.action in AUDIT_ACTIONS
              and obj.clinic_id is not None]
    if not wanted or not current_app:
        return
    with session.no_autoflush:
        endpoints: dict[int, list[WebhookEndpoint]] = {}
        for event in sorted(wanted, key=lambda e: e.created_at):
            if event.clinic_id not in endpoints:
                endpoints[event.clinic_id] = list(session.scalars(
                    sa.select(WebhookEndpoint).where(WebhookEndpoint.clinic_id == event.clinic_id,
                                                     WebhookEndpoint.active.is_(True))))
            if not endpoints[event.clinic_id]:
                continue
            translated = _translate(session, event)
            if translated is None:
                continue
            kind, data = translated
            targets = [e for e in endpoints[event.clinic_id] if kind in e.events]
            if targets:
                _record(session, event.clinic_id, kind, data, event.created_at, targets)


def _record(session: so.Session, clinic_id: int, kind: str, data: dict[str, Any], at: datetime,
            targets: Iterable[WebhookEndpoint]) -> None:
    message_id = f"msg_{uuid.uuid4().hex}"
    body = json.dumps({"type": kind, "timestamp": _iso(at), "data": data}, separators=(",", ":"))
    event = WebhookEvent(clinic_id=clinic_id, message_id=message_id, type=kind, body=body, created_at=at)
    session.add(event)
    for endpoint in targets:
        session.add(WebhookDelivery(event=event, endpoint_id=endpoint.id, status="pending", attempts=0,
                                    next_attempt_at=at, created_at=at))


sa.event.listen(so.Session, "before_flush", _events_from_audit)


# -- sending, from the dispatcher --------------------------------------------------------------

def _claim(now: datetime, limit: int, skip_endpoints: set[int]) -> list[int]:
    """Claim due deliveries (conditional update; SKIP LOCKED on PostgreSQL), as the dispatcher claims texts."""
    due = [WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now]
    if skip_endpoints:
        due.append(WebhookDelivery.endpoint_id.not_in(skip_endpoints))
    candidates = (sa.select(WebhookDelivery.id).where(*due)
                  .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
    if db.engine.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claim = (sa.update(WebhookDelivery).where(WebhookDelivery.id.in_(candidates.scalar_subquery()), *due)
             .values(status="claimed", claimed_at=now, attempts=WebhookDelivery.attempts + 1)
             .returning(WebhookDelivery.id).execution_options(synchronize_session=False))
    ids = list(db.session.scalars(claim))
    db.session.commit()
    return ids


def _reclaim_orphans(now: datetime) -> int:
    """Deliveries claimed by a process that died mid-send go out again (receivers dedupe on webhook-id)."""
    count = db.session.execute(
        sa.update(WebhookDelivery).where(WebhookDelivery.status == "claimed", WebhookDelivery.claimed_at < now - LEASE)
        .values(status="pending", next_attempt_at=now).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return count


def sign(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt."""
    return {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, at.astimezone(timezone.utc), body)}


def _post(endpoint: WebhookEndpoint, event: WebhookEvent, now: datetime) -> tuple[int | None, str | None]:
    """One attempt: (HTTP status, None) when the receiver answered, (None, why) when it did not."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               **sign(endpoint.secret, event.message_id, now, event.body)}
    timeout = current_app.config["WEBHOOK_TIMEOUT_SECONDS"]
    try:
        answer = requests.post(endpoint.url, data=event.body.encode(), headers=headers,
                               timeout=(min(timeout, 3.0), timeout), allow_redirects=False)
    except requests.exceptions.Timeout:
        return None, "timed out"
    except requests.exceptions.RequestException as exc:
        return None, f"could not connect ({type(exc).__name__})"
    return answer.status_code, None


def deliver_due(now: datetime, report: Counter[str] | None = None) -> Counter[str]:
    """Send due deliveries, once each, retrying failures later (numbered steps).

    1. Put deliveries orphaned by a crashed sender back in the queue.
    2. Claim a batch and commit the claim before any network call (no lock is held while waiting).
    3. POST each, signed; an endpoint that times out is skipped for the rest of this pass, so one
       dead receiver costs one timeout per pass, not one per event.
    4. Record each outcome at once: 2xx delivered; otherwise retry after `backoff`, or `failed`.
    """
    report = report if report is not None else Counter()
    reclaimed = _reclaim_orphans(now)
    if reclaimed:
        report["webhooks_reclaimed"] += reclaimed
    started = monotonic_time.monotonic()
    unreachable: set[int] = set()
    while True:
        ids = _claim(now, BATCH_SIZE, unreachable)
        if not ids:
            return report
        rows = db.session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                                  .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                                  .options(so.joinedload(WebhookDelivery.event),
                                           so.joinedload(WebhookDelivery.endpoint))).all()
        out_of_time = False
        for delivery in rows:
            out_of_time = out_of_time or monotonic_time.monotonic() - started > PASS_BUDGET_SECONDS
            if out_of_time or delivery.endpoint_id in unreachable:
                delivery.status, delivery.attempts = "pending", delivery.attempts - 1  # not tried: next pass
                report["webhooks_postponed"] += 1
            elif not delivery.endpoint.active:
                delivery.status, delivery.last_error = "cancelled", "endpoint disabled"
                report["webhooks_cancelled"] += 1
            else:
                status, error = _post(delivery.endpoint, delivery.event, now)
                _record_attempt(delivery, status, error, now, report)
                if status is None:
                    unreachable.add(delivery.endpoint_id)
            db.session.commit()
        if out_of_time:
            return report


def _record_attempt(delivery: WebhookDelivery, status: int | None, error: str | None, now: datetime,
                    report: Counter[str]) -> None:
    delivery.last_attempt_at, delivery.last_status_code = now, status
    delivery.last_error = error if error else (None if status and 200 <= status < 300 else f"HTTP {status}")
    if status is not None and 200 <= status < 300:
        delivery.status, delivery.delivered_at = "delivered", now
        report["webhooks_delivered"] += 1
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "failed"
        log.warning("webhook delivery id=%s to endpoint id=%s failed for good after %s attempts",
                    delivery.id, delivery.endpoint_id, delivery.attempts)
        audit("webhook.failed", clinic_id=delivery.endpoint.clinic_id, subject=f"webhook_delivery:{delivery.id}",
              at=now, endpoint_id=delivery.endpoint_id, attempts=delivery.attempts)
        report["webhooks_failed"] += 1
    else:
        delivery.status, delivery.next_attempt_at = "pending", now + backoff(delivery.attempts)
        report["webhooks_retrying"] += 1


# -- endpoints (the dashboard's admin page and the CLI) ----------------------------------------

def create_endpoint(clinic_id: int, url: str, events: Iterable[str], description: str, *, actor: str,
                    now: datetime) -> WebhookEndpoint:
    """A new endpoint (its secret is shown once by the caller). Raises ValueError naming the field."""
    url = check_url(url, production=current_app.config["AFTERCARE_ENV"] == "production")
    chosen = sorted(set(events))
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if not chosen or unknown:
        raise ValueError(f"events: choose one or more of {', '.join(EVENT_TYPES)}")
    endpoint = WebhookEndpoint(clinic_id=clinic_id, url=url, events=chosen, description=description.strip()[:120],
                               secret=new_secret(), active=True, created_at=now)
    db.session.add(endpoint)
    db.session.flush()
    audit("webhook_endpoint.created", actor=actor, clinic_id=clinic_id, subject=f"webhook_endpoint:{endpoint.id}",
          at=now, events=chosen)
    return endpoint


def disable_endpoint(endpoint: WebhookEndpoint, *, actor: str, now: datetime) -> None:
    """Stop sending to an endpoint; its pending deliveries are cancelled when they come due."""
    endpoint.active = False
    audit("webhook_endpoint.disabled", actor=actor, clinic_id=endpoint.clinic_id,
          subject=f"webhook_endpoint:{endpoint.id}", at=now)


def last_results(endpoint_ids: Iterable[int]) -> dict[int, WebhookDelivery]:
    """The latest attempted delivery of each endpoint, for the dashboard."""
    ids = list(endpoint_ids)
    if not ids:
        return {}
    latest = (sa.select(sa.func.max(WebhookDelivery.id)).where(WebhookDelivery.endpoint_id.in_(ids),
                                                               WebhookDelivery.last_attempt_at.is_not(None))
              .group_by(WebhookDelivery.endpoint_id))
    rows = db.session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.id.in_(latest)))
    return {row.endpoint_id: row for row in rows}
