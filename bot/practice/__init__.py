"""The practice phone: the whole loop in a browser, without a phone, exactly as production runs it.

A provider creates a practice patient (fictional, on a fictional 555-01xx number), reads the
texts sent to them as a phone would show them, replies as the patient or as a provider, and moves
a simulated clock forward. Every reply is a form request signed as Twilio signs it and handed to
the real `/sms/inbound` view; every text is sent by the real dispatcher. Nothing is bypassed, so
what the practice phone shows is what production does.

Only with the console SMS backend (nothing leaves the machine): `register` leaves the blueprint
out otherwise, so `/practice` is a 404 wherever texts reach real phones.

- `patients`: creating and finding practice patients, and what their page shows.
- `webhook`: a text from a practice phone, signed and sent through `/sms/inbound`.
- `simulated_clock`: moving one practice patient through time.
- `views`: the pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask

bp = Blueprint("practice", __name__, url_prefix="/practice", static_folder="static", static_url_path="/static")


def enabled(config: Mapping[str, Any]) -> bool:
    """The practice phone exists only where texts go nowhere: the console SMS backend."""
    return config.get("SMS_BACKEND") == "console"


def register(app: Flask) -> None:
    if enabled(app.config):
        from . import views  # noqa: F401  (the routes attach themselves to `bp`)

        app.register_blueprint(bp)
