"""A text from a practice phone: a form request signed as Twilio signs it, through `/sms/inbound`.

The request is built field by field as Twilio's "a message comes in" webhook posts it, signed
with twilio's own `RequestValidator` over `PUBLIC_BASE_URL` + `/sms/inbound` (the URL the webhook
checks), and handed to the application itself as a WSGI request. So the practice text passes the
same signature check, parsing, deduplication and conversation as a patient's, and gets the same
TwiML answer; a bad signature would be refused here exactly as it is for anyone.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import current_app
from twilio.request_validator import RequestValidator
from werkzeug.test import Client

INBOUND_PATH = "/sms/inbound"


@dataclass(frozen=True)
class Delivered:
    status: int  # the webhook's HTTP status: 200 when it took the text
    sid: str  # the MessageSid the text carried
    answer: str  # the text of the TwiML <Message> answer, "" for none


def new_message_sid() -> str:
    """A MessageSid shaped like Twilio's: "SM" and 32 hexadecimal digits."""
    return "SM" + uuid.uuid4().hex


def inbound_form(*, sender: str, to: str, body: str, sid: str) -> dict[str, str]:
    """The fields Twilio posts for an inbound SMS (without media or geographic fields)."""
    config = current_app.config
    form = {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid,
            "AccountSid": config.get("TWILIO_ACCOUNT_SID") or "AC" + "0" * 32,
            "From": sender, "To": to, "Body": body, "NumMedia": "0", "NumSegments": "1",
            "SmsStatus": "received", "ApiVersion": "2010-04-01"}
    if config.get("TWILIO_MESSAGING_SERVICE_SID"):
        form["MessagingServiceSid"] = config["TWILIO_MESSAGING_SERVICE_SID"]
    return form


def signature(url: str, form: dict[str, str]) -> str:
    """X-Twilio-Signature for a POST of `form` to `url`, with the auth token the webhook checks."""
    return RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, form)


def text_in(*, sender: str, to: str, body: str) -> Delivered:
    """Send one text to the inbound webhook as Twilio would, and return what it answered.

    1. Build Twilio's form and sign it over the public URL the webhook checks.
    2. Hand it to this application as a WSGI request on that URL, in an application context of
       its own (its own database session, as a separate request would have), so the caller's
       session and signed-in user are untouched. The caller commits its own work first.
    3. Read the TwiML answer.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    base = app.config["PUBLIC_BASE_URL"]
    sid = new_message_sid()
    form = inbound_form(sender=sender, to=to, body=body, sid=sid)
    with app.app_context():
        response = Client(app, use_cookies=False).post(
            INBOUND_PATH, base_url=base, data=urlencode(form), content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": signature(base + INBOUND_PATH, form)})
    answer = ""
    if response.status_code == 200:
        message = ET.fromstring(response.get_data()).find("Message")
        answer = "" if message is None else (message.text or "")
    return Delivered(status=response.status_code, sid=sid, answer=answer)
