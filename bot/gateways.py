"""SMS gateways: one class per way of sending, behind `send()` and `lookup()`.

`send` either returns what the carrier accepted, or raises `SendError` saying whether the text
surely did not go (`transient`: retry later; otherwise permanent, with the carrier's code) or might
have gone (`uncertain`: a timeout after the request left). An uncertain or interrupted send is
settled later with `lookup`, which asks the carrier whether that text went, so nothing is sent twice.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flask import current_app

log = logging.getLogger(__name__)

# Twilio error codes that change what we do next.
OPTED_OUT = 21610  # the recipient replied STOP to this sender
INVALID_NUMBER = 21211  # not a valid phone number
NOT_MOBILE = 21614  # not a number that can receive texts
# Permanent faults of the recipient's number: texting it again cannot work, so staff must get a
# better number. Refused when sent (2xxxx) or reported undelivered later by the carrier (3xxxx).
NUMBER_PROBLEMS = frozenset({
    INVALID_NUMBER,
    NOT_MOBILE,
    21265,  # the number is a short code
    21635,  # the number is a landline (where Twilio does not try landlines)
    30005,  # unknown destination handset: the number is unknown or no longer in service
    30006,  # a landline, or a carrier that cannot be reached for this number
})
# Left out on purpose: 30003 (handset off or out of coverage: it passes), 30004 (blocked, possibly
# for a while, by the carrier or the person), 30007 (filtered: our text or sender, not the number),
# 30008 (unknown), 21612 (this sender cannot reach that number: a route, not the number), 21408
# (region not enabled on our account). Those stay recorded on the text and counted in /metrics.


@dataclass(frozen=True)
class Sent:
    sid: str
    status: str  # as the carrier reports it: queued, accepted, sent, ...


class SendError(Exception):
    def __init__(self, message: str, *, code: int | None = None, transient: bool = False,
                 uncertain: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.transient = transient
        self.uncertain = uncertain


class SmsGateway(ABC):
    name: str

    @abstractmethod
    def send(self, to: str, body: str, *, reference: str, status_callback: str | None = None) -> Sent:
        """Hand one text to the carrier."""

    @abstractmethod
    def lookup(self, to: str, body: str, *, since: datetime, reference: str) -> Sent | None:
        """The text with this reference (or recipient and body) sent since `since`, if it went."""


class ConsoleGateway(SmsGateway):
    """Records what it would send, one JSON line per text, for `make run` and tests.

    The file is the carrier's record: it survives a crash of the sending process, so `lookup`
    can tell a text that went from one that did not. Each line is one `write` to a file opened
    for appending, which the OS keeps whole even with several processes sending at once.
    """

    name = "console"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._index: dict[str, dict[str, Any]] = {}
        self._read_to = 0

    def send(self, to: str, body: str, *, reference: str, status_callback: str | None = None) -> Sent:
        sid = "SM" + uuid.uuid4().hex
        line = json.dumps({"sid": sid, "reference": reference, "to": to, "body": body,
                           "at": datetime.now(timezone.utc).isoformat()}, ensure_ascii=False) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
        log.debug("console gateway sent reference=%s sid=%s", reference, sid)
        return Sent(sid=sid, status="sent")

    def records(self) -> list[dict[str, Any]]:
        """Everything sent so far, oldest first."""
        self._refresh()
        return list(self._index.values())

    def lookup(self, to: str, body: str, *, since: datetime, reference: str) -> Sent | None:
        self._refresh()
        record = self._index.get(reference)
        return Sent(sid=record["sid"], status="sent") if record else None

    def _refresh(self) -> None:
        with self._lock:
            if not self.path.exists():
                return
            with open(self.path, "rb") as fh:
                fh.seek(self._read_to)
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break  # a line still being written
                    self._read_to += len(raw)
                    record = json.loads(raw)
                    self._index[record["reference"]] = record


class TwilioGateway(SmsGateway):
    """Twilio's Messages API, with a finite timeout (the SDK's default is to wait forever)."""

    name = "twilio"

    def __init__(self, *, account_sid: str, auth_token: str, from_number: str = "",
                 messaging_service_sid: str = "", timeout: float = 10.0, client: Any = None) -> None:
        if client is None:
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        self.client = client
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid

    def send(self, to: str, body: str, *, reference: str, status_callback: str | None = None) -> Sent:
        import requests
        from twilio.base.exceptions import TwilioRestException

        kwargs: dict[str, Any] = {"to": to, "body": body}
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        else:
            kwargs["from_"] = self.from_number
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            transient = exc.status >= 500 or exc.status == 429
            raise SendError(f"twilio refused: HTTP {exc.status}", code=exc.code, transient=transient) from exc
        except requests.exceptions.RequestException as exc:
            if _never_reached_twilio(exc):
                raise SendError(f"twilio unreachable: {type(exc).__name__}", transient=True) from exc
            # The request may have reached Twilio: settle it with lookup() before any resend.
            raise SendError(f"twilio did not answer: {type(exc).__name__}", uncertain=True) from exc
        return Sent(sid=message.sid, status=str(message.status))

    def lookup(self, to: str, body: str, *, since: datetime, reference: str) -> Sent | None:
        kwargs: dict[str, Any] = {"to": to, "limit": 50}
        if not self.messaging_service_sid and self.from_number:
            kwargs["from_"] = self.from_number
        earliest = since - timedelta(minutes=2)  # clock skew between us and Twilio
        for message in self.client.messages.list(**kwargs):
            created = message.date_created
            if message.body == body and (created is None or created >= earliest):
                return Sent(sid=message.sid, status=str(message.status))
        return None


def _never_reached_twilio(exc: Exception) -> bool:
    """Did the request surely fail before Twilio could read it? Then a resend cannot double it.

    A connection refused, a name that did not resolve, a connect timeout, a TLS handshake or a
    proxy that failed: all happen before the request is written. A connection dropped or a read
    timeout later might come after Twilio accepted the text.
    """
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError,
                        requests.exceptions.ProxyError)):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        cause = getattr(exc.args[0], "reason", exc.args[0])  # urllib3 wraps it in a MaxRetryError
        return isinstance(cause, NewConnectionError)  # refused, unreachable, or no such host
    return False


def from_config(config: Mapping[str, Any]) -> SmsGateway:
    if config["SMS_BACKEND"] == "twilio":
        return TwilioGateway(
            account_sid=config["TWILIO_ACCOUNT_SID"],
            auth_token=config["TWILIO_AUTH_TOKEN"],
            from_number=config["TWILIO_FROM_NUMBER"],
            messaging_service_sid=config["TWILIO_MESSAGING_SERVICE_SID"],
            timeout=config["TWILIO_HTTP_TIMEOUT"],
        )
    return ConsoleGateway(config["CONSOLE_SMS_FILE"])


def current_gateway() -> SmsGateway:
    return current_app.extensions["aftercare.gateway"]
