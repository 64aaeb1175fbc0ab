"""Helpers for tests: signed Twilio requests, enrolment, and reading what was sent."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from conftest import AUTH_TOKEN, PUBLIC_BASE_URL

_sids = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def signature(path: str, params: dict[str, str], *, token: str = AUTH_TOKEN, base: str = PUBLIC_BASE_URL) -> str:
    """What Twilio would put in X-Twilio-Signature for a POST of `params` to base + path."""
    return RequestValidator(token).compute_signature(base + path, params)


def post_signed(client: Any, path: str, params: dict[str, str], **kwargs: Any) -> Any:
    return client.post(path, data=urlencode(params), content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": signature(path, params, **kwargs)})


def text_in(client: Any, sender: str, body: str, *, sid: str | None = None, to: str = "+12125550199") -> Any:
    """A patient's (or provider's) text arriving on the inbound webhook, signed as Twilio signs it."""
    params = {"MessageSid": sid or new_sid(), "AccountSid": "AC" + "0" * 32, "From": sender, "To": to,
              "Body": body, "NumMedia": "0"}
    return post_signed(client, "/sms/inbound", params)


def twiml_text(response: Any) -> str:
    """The text of the TwiML <Message> in a webhook answer ("" when there is none)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(response.data)
    message = root.find("Message")
    return "" if message is None else (message.text or "")


def enroll(clinic: Any, *, ended: datetime, phone: str = "+12125550143", name: str = "Maria Lopez",
           regions: tuple[str, ...] = ("knee",), precautions: tuple[str, ...] = (), language: str = "en",
           now: datetime | None = None, new_session_for: int | None = None, provider: Any = None) -> Any:
    """Enrol a patient as the CLI does, at a controlled `now` (default: when the session ended),
    treated by `provider` when given.

    A number already on file needs `new_session_for` (its patient's id): the name, precautions
    and language on file are then kept."""
    from bot import episodes
    from bot.extensions import db

    if new_session_for is not None:
        enrolment = episodes.enroll(clinic=clinic, phone=phone, name=None, ended_at=ended, regions=list(regions),
                                    now=now or ended, new_session_for=new_session_for)
    else:
        enrolment = episodes.enroll(clinic=clinic, phone=phone, name=name, ended_at=ended, regions=list(regions),
                                    precautions=list(precautions), language=language, now=now or ended,
                                    provider=provider)
    db.session.commit()
    return enrolment


def lakeside() -> Any:
    """A second clinic, in Chicago, with its on-call provider Olga (password "another long password")."""
    from bot.extensions import db
    from bot.models import Clinic, Provider

    other = Clinic(name="Lakeside Rehab", sms_name="Lakeside", phone="+13125550100", timezone="America/Chicago")
    olga = Provider(clinic=other, name="Olga Lake", email="olga@lakeside.example", phone="+13125550111",
                    duty="on_call")
    olga.set_password("another long password")
    db.session.add_all([other, olga])
    db.session.commit()
    return other


def sent_to(gateway: Any, number: str) -> list[str]:
    """Bodies the console gateway sent to one number, oldest first."""
    return [r["body"] for r in gateway.records() if r["to"] == number]


def sign_in(client: Any, email: str = "dana@harbor.example", password: str = "correct horse battery",
            *, next_path: str | None = None, remember: bool = False, ip: str | None = None) -> Any:
    """A provider signs in on the dashboard (from `ip` when given), as the login form posts."""
    data = {"email": email, "password": password, **({"remember": "y"} if remember else {})}
    query = {"next": next_path} if next_path is not None else None
    environ = {"REMOTE_ADDR": ip} if ip else {}
    return client.post("/login", query_string=query, data=data, environ_base=environ)


def all_at_once(app, work: Any, n: int) -> list[Any]:
    """Run `work(i)` in `n` threads released together, each in its own app context (so its own
    session and pooled connection); returns their results, raising the first error."""
    from bot.extensions import db

    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                try:
                    results[i] = work(i)
                finally:
                    db.session.remove()
        except BaseException as error:  # noqa: BLE001 (reported below, in the test's thread)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    return results
