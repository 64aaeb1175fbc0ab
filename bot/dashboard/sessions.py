"""Who is signed in, and until when.

Flask keeps the session in a signed cookie on the provider's device, and Flask-Login's
remember-me cookie outlives it; neither can be deleted from the server. So what both carry is
checked on every request: "<provider id>:<session token>:<last request, epoch seconds>", signed
with SECRET_KEY (Flask-Login's "alternative id").

- Signing out or a new password gives the provider a new session token: every copy of every
  cookie stops working, on every device, at once.
- A cookie whose last request is older than the clinic's idle limit (8 hours by default) no
  longer signs anyone in; each request moves the time forward, so only idleness ends a session.
- A deactivated provider is signed out at the next request.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta, timezone

import sqlalchemy.orm as so
from flask import current_app, flash, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from .. import clock
from ..extensions import db, login_manager
from ..models import Provider


def cookie_id(provider: Provider, now: datetime) -> str:
    """What the sign-in cookies carry for `provider`, seen at `now`."""
    return f"{provider.get_id()}:{int(now.timestamp())}"


def parse_cookie_id(value: str) -> tuple[int, str, datetime] | None:
    """(provider id, session token, last seen), or None for anything else (an old-style id)."""
    parts = value.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
        return None
    return int(parts[0]), parts[1], datetime.fromtimestamp(int(parts[2]), timezone.utc)


def idle_too_long(last_seen: datetime, now: datetime, limit: timedelta) -> bool:
    return now - last_seen > limit


def describe(limit: timedelta) -> str:
    """"8 hours", "30 minutes", "1 hour 30 minutes"."""
    hours, minutes = divmod(int(limit.total_seconds()) // 60, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


@login_manager.user_loader
def load_provider(value: str) -> Provider | None:
    """The provider a sign-in cookie names, if it still signs them in (see the module's docstring)."""
    parsed = parse_cookie_id(value)
    if parsed is None:
        return None
    provider_id, token, last_seen = parsed
    provider = db.session.get(Provider, provider_id, options=[so.joinedload(Provider.clinic)])
    if provider is None or not provider.active or not hmac.compare_digest(provider.session_token, token):
        return None
    limit = provider.clinic.session_idle_limit
    if idle_too_long(last_seen, clock.now(), limit):
        g.signed_out_idle = limit
        return None
    return provider


@login_manager.unauthorized_handler
def ask_to_sign_in() -> ResponseReturnValue:
    """A page that needs a sign-in: to the sign-in page, saying why, then back here."""
    idle = g.pop("signed_out_idle", None)
    if idle is not None:
        logout_user()  # and delete the stale remember-me cookie
        flash(f"You were signed out after {describe(idle)} without activity.")
    else:
        flash("Please sign in to see this page.")
    here = request.full_path if request.query_string else request.path
    return redirect(url_for("dashboard.login", next=here))


def keep_alive(response: Response) -> Response:
    """After each dashboard request of a signed-in provider: move the cookies' last-seen time on.

    The remember-me cookie (only if the provider asked for one) is rewritten too, so that it
    expires in the browser after the same idle time as it does here.
    """
    if current_user.is_authenticated:
        limit = current_user.clinic.session_idle_limit
        session["_user_id"] = cookie_id(current_user, clock.now())
        remembered = current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies
        if remembered or session.get("_remember") == "set":
            session["_remember"] = "set"
            session["_remember_seconds"] = int(limit.total_seconds())
    return response
