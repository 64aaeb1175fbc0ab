"""The doors' clock. Core functions take `now` as a parameter; the doors (webhooks, dashboard,
CLI) ask this for it, so tests can set the time a request arrives."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from .models import utcnow


def now() -> datetime:
    return current_app.extensions.get("aftercare.clock", utcnow)()
