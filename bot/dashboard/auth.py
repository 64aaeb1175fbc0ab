"""Signing in and out of the dashboard, and how password guessing is slowed.

Three limits, each tested in tests/test_sign_in.py (the README's "Signing in" says the same):

1. Per network address (flask-limiter): 20 failed sign-ins in 15 minutes, 100 in a day.
2. Per account, on devices it has never signed in on: 5 wrong passwords in 15 minutes (since
   the account's last sign-in) lock it for those devices until the 15 minutes have passed.
3. Per account and device, on a device it has signed in on before (one carrying a signed
   "device cookie", OWASP's device-cookie scheme): the same 5 in 15 minutes, for that device
   only; such a device is also not held to the network limit.

So a stranger can keep an account out of devices it has never used, but never out of the phone
or computer its owner signs in on: the on-call provider is not locked out by someone trying
passwords, whatever network either is on. We chose a device cookie over the network address
("the IP it signed in from before") because a phone's address changes with the mobile network,
and a clinic's shared address is a stranger's too. Acknowledging an alert by text ("ACK") does
not sign in, and none of this touches it.

Every answer to a wrong address or password takes the time of one password hash, so the time
does not tell which addresses have an account.
"""

from __future__ import annotations

import functools
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import RequestLimit
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash

from .. import clock, phones
from ..extensions import db, limiter
from ..models import AuditEvent, Provider, audit
from . import bp
from .forms import LoginForm
from .redirects import safe_next

SIGN_IN_ATTEMPTS = 5
SIGN_IN_WINDOW = timedelta(minutes=15)
FAILURES_PER_NETWORK = "20 per 15 minutes; 100 per day"
DEVICE_COOKIE_DAYS = 180
DEVICE_ACCOUNTS = 5  # accounts a shared clinic computer remembers having signed in

NETWORK_LIMITED = ("Too many sign-in attempts from this network. Try again in 15 minutes, from a device you "
                   "have signed in on before, or ask the clinic's admin.")
LOCKED_FOR_NEW_DEVICES = ("Too many wrong passwords for this account. Try again in 15 minutes, from a device "
                          "you have signed in on before, or ask the clinic's admin.")
LOCKED_ON_THIS_DEVICE = ("Too many wrong passwords for this account on this device. Try again in 15 minutes, "
                         "or ask the clinic's admin.")


def _account_key(email: str) -> str:
    """Who the attempts were for, as a keyed hash: the audit log keeps no address anyone mistyped."""
    return phones.pseudonym(email, current_app.config["SECRET_KEY"])


def _submitted_email() -> str:
    return (request.form.get("email") or "").strip().lower()


# -- Devices that have signed in before ---------------------------------------------------------

def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="aftercare.sign-in-device")


def _device() -> dict | None:
    """This browser's device cookie: {"d": device id, "a": [account keys signed in here]}."""
    value = request.cookies.get(current_app.config["DEVICE_COOKIE_NAME"])
    if not value:
        return None
    try:
        device = _device_serializer().loads(value, max_age=DEVICE_COOKIE_DAYS * 86400)
    except BadSignature:
        return None
    return device if isinstance(device, dict) and isinstance(device.get("a"), list) else None


def _trusted_device_id(account: str) -> str | None:
    """The device's id if this account has signed in on it before, else None."""
    device = _device()
    return device["d"] if device and account in device["a"] else None


def _trusted_for_submitted_account() -> bool:
    return _trusted_device_id(_account_key(_submitted_email())) is not None


def _remember_device(response: Response, account: str) -> None:
    device = _device() or {"d": secrets.token_hex(6), "a": []}
    accounts = [account] + [a for a in device["a"] if a != account]
    value = _device_serializer().dumps({"d": device["d"], "a": accounts[:DEVICE_ACCOUNTS]})
    production = current_app.config["AFTERCARE_ENV"] == "production"
    response.set_cookie(current_app.config["DEVICE_COOKIE_NAME"], value, max_age=DEVICE_COOKIE_DAYS * 86400,
                        path="/", secure=production, httponly=True, samesite="Lax")


# -- Counting wrong passwords ------------------------------------------------------------------

def _lock_subject(account: str, device_id: str | None) -> str:
    return f"sign-in:{account}:{device_id}" if device_id else f"sign-in:{account}"


def _locked_out(account: str, device_id: str | None, now: datetime) -> bool:
    """5 wrong passwords within the window, counted since the account's last sign-in."""
    last_success = db.session.scalar(
        sa.select(sa.func.max(AuditEvent.id))
        .where(AuditEvent.action == "provider.signed_in", AuditEvent.subject == _lock_subject(account, None)))
    failures = db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent)
        .where(AuditEvent.action == "provider.sign_in_failed", AuditEvent.subject == _lock_subject(account, device_id),
               AuditEvent.created_at > now - SIGN_IN_WINDOW, AuditEvent.id > (last_success or 0)))
    return failures >= SIGN_IN_ATTEMPTS


@functools.cache
def _stand_in_hash() -> str:
    """A hash of no one's password, checked for unknown addresses so they take as long as known ones."""
    return generate_password_hash(secrets.token_urlsafe(16))


# Made when the app is built, so that not even the first unknown address pays for making it.
bp.record_once(lambda state: _stand_in_hash())


def _password_matches(provider: Provider | None, password: str) -> bool:
    """Exactly one password hash whoever asks: the time of the answer says nothing."""
    if provider is None:
        check_password_hash(_stand_in_hash(), password)
        return False
    return provider.check_password(password) and provider.active


def _network_limited(limit: RequestLimit) -> Response:
    """The per-network limit's answer: the sign-in page, saying why, beside the password."""
    form = LoginForm()
    form.password.errors = [NETWORK_LIMITED]
    return Response(render_template("dashboard/login.html", form=form), status=429)


# -- The views --------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(FAILURES_PER_NETWORK, methods=["POST"], deduct_when=lambda response: response.status_code >= 400,
               exempt_when=_trusted_for_submitted_account, on_breach=_network_limited)
def login() -> ResponseReturnValue:
    """Sign in, then go to the page asked for (when it is one of ours) or the findings."""
    target = safe_next(request.args.get("next")) or url_for("dashboard.index")
    if current_user.is_authenticated:
        return redirect(target)
    form = LoginForm()
    if not form.validate_on_submit():
        status = 200 if request.method == "GET" or not form.errors else 400
        return render_template("dashboard/login.html", form=form), status

    now, email = clock.now(), form.email.data.strip().lower()
    account = _account_key(email)
    device_id = _trusted_device_id(account)
    if _locked_out(account, device_id, now):
        form.password.errors.append(LOCKED_ON_THIS_DEVICE if device_id else LOCKED_FOR_NEW_DEVICES)
        return render_template("dashboard/login.html", form=form), 429

    provider = db.session.scalar(sa.select(Provider).where(Provider.email == email))
    if not _password_matches(provider, form.password.data):
        audit("provider.sign_in_failed", clinic_id=provider.clinic_id if provider else None,
              subject=_lock_subject(account, device_id), at=now, trusted_device=device_id is not None)
        db.session.commit()
        form.password.errors.append("That email and password do not match an active account.")
        return render_template("dashboard/login.html", form=form), 400

    login_user(provider, remember=form.remember.data, duration=provider.clinic.session_idle_limit)
    audit("provider.signed_in", actor=f"provider:{provider.id}", clinic_id=provider.clinic_id,
          subject=_lock_subject(account, None), at=now, trusted_device=device_id is not None)
    db.session.commit()
    response = redirect(target)
    _remember_device(response, account)
    return response


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    """Sign out everywhere: a new session token ends every copy of this provider's cookies."""
    provider = db.session.get(Provider, current_user.id)
    provider.end_sessions()
    audit("provider.signed_out", actor=f"provider:{provider.id}", clinic_id=provider.clinic_id, at=clock.now())
    db.session.commit()
    logout_user()
    flash("You are signed out, on every device.")
    return redirect(url_for("dashboard.login"))
