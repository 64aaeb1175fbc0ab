"""Twilio's doors: inbound texts and delivery reports. Thin: check, parse, hand over, answer.

Every request must carry a valid `X-Twilio-Signature` over the URL Twilio called (built from
PUBLIC_BASE_URL, so it holds behind a TLS-terminating proxy) and all form fields. Without an auth
token configured nothing is accepted. There is no bypass in any mode; tests sign their requests.
"""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any, Callable

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy.exc import IntegrityError, OperationalError
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse

from . import clock, conversation, dispatch, spool
from .extensions import db
from .models import Message

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/sms")

MAX_BODY = 1600  # Twilio's own limit for one inbound message
# Control characters carry nothing a patient meant, and PostgreSQL text cannot hold NUL at all.
_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\n\t")


def form_text(name: str, limit: int) -> str:
    return request.form.get(name, "").translate(_CONTROL)[:limit]


def public_url() -> str:
    """The URL Twilio signed: our public base plus the path and query it requested."""
    return current_app.config["PUBLIC_BASE_URL"] + request.full_path.rstrip("?")


def signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse (403) any request not signed by Twilio with our auth token; then require a form (415)."""

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        token = current_app.config.get("TWILIO_AUTH_TOKEN")
        signature = request.headers.get("X-Twilio-Signature", "")
        algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
        if not token or not signature or not RequestValidator(token).validate(
                public_url(), request.form, signature, algorithm=algorithm):
            log.warning("refused unsigned or badly signed request to %s", request.path)
            abort(403)
        if request.mimetype != "application/x-www-form-urlencoded":
            abort(415)
        try:
            return view(*args, **kwargs)
        except OperationalError:
            db.session.rollback()
            log.exception("database unavailable while handling %s", request.path)
            abort(503)

    return checked


def twiml(text: str) -> Response:
    response = MessagingResponse()
    if text:
        response.message(text)
    return Response(str(response), mimetype="application/xml")


@bp.post("/inbound")
@signed
def inbound() -> Response:
    sid = form_text("MessageSid", 65).strip()
    sender = form_text("From", 64).strip()
    if not sid or not sender or len(sid) > 64:
        abort(400, "MessageSid and From are required")
    body = form_text("Body", MAX_BODY)
    received_at = clock.now()
    try:
        answer = conversation.handle_inbound(
            conversation.Inbound(sid=sid, sender=sender, body=body, received_at=received_at),
            secret=current_app.config["SECRET_KEY"], default_region=current_app.config["DEFAULT_PHONE_REGION"])
    except (OperationalError, sa.exc.TimeoutError):
        # The database is down or not answering in time: keep the text, answer now (bot/spool.py).
        db.session.rollback()
        try:
            spool.put(sid=sid, sender=sender, body=body, received_at=received_at)
        except OSError:
            log.exception("database unavailable and the inbound spool cannot be written")
            abort(503)  # Twilio logs it; nothing else can keep the text
        log.error("database unavailable: inbound text spooled, holding answer sent")
        return twiml(spool.HOLDING_ANSWER)
    return twiml(answer)


@bp.post("/status")
@signed
def status() -> tuple[str, int]:
    sid = form_text("MessageSid", 65).strip()
    state = form_text("MessageStatus", 32).strip().lower()
    if not sid or not state or len(sid) > 64:
        abort(400, "MessageSid and MessageStatus are required")
    error_code = form_text("ErrorCode", 10).strip()
    message = reported_message(sid, request.args.get("m", type=int))
    if message is None:
        return "", 204  # not one of ours (or already gone): nothing to record
    changed = dispatch.record_status(message, state, int(error_code) if error_code.isdigit() else None, clock.now())
    db.session.commit()
    log.info("status for message id=%s: %s%s", message.id, state, "" if changed else " (ignored, not newer)")
    return "", 204


def reported_message(sid: str, message_id: int | None) -> Message | None:
    """The outbound text a delivery report is about; the SID is the carrier's own name for it.

    1. The row that holds the SID, whatever `?m=` names (logged, ids only, when they disagree).
    2. Else the row `?m=` names, if it has no SID yet (the report overtook the dispatcher's record
       of the send): it takes the SID with a conditional UPDATE in a savepoint. If a report at the
       same moment gave the SID to another row first, the unique SID refuses it and that row wins.
    3. Else none: `?m=` names a row holding another SID, or nothing of ours.
    """
    holder = db.session.scalar(sa.select(Message).where(Message.twilio_sid == sid))
    if holder is not None:
        if message_id not in (None, holder.id):
            log.warning("status report names message id=%s; its SID is message id=%s's, recorded there",
                        message_id, holder.id)
        return holder if holder.direction == "out" else None
    named = db.session.get(Message, message_id) if message_id is not None else None
    if named is None or named.direction != "out" or named.twilio_sid is not None:
        return None
    try:
        with db.session.begin_nested():
            db.session.execute(sa.update(Message).where(Message.id == named.id, Message.twilio_sid.is_(None))
                               .values(twilio_sid=sid).execution_options(synchronize_session=False))
    except IntegrityError:
        holder = db.session.scalar(sa.select(Message).where(Message.twilio_sid == sid))
        log.warning("status report names message id=%s; its SID went to message id=%s meanwhile, recorded there",
                    named.id, holder.id if holder else None)
        return holder if holder is not None and holder.direction == "out" else None
    db.session.refresh(named)
    return named if named.twilio_sid == sid else None
