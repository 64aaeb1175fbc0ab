"""A clinic's providers: invited, given a role and a duty, deactivated, and their passwords reset.

Duty is what bot/escalation.py reads to page people: `on_call` first, `backup` from the backup
timing on, `off` never (the clinic's phone stands in when no active provider with a phone holds a
duty). A clinic always keeps one active admin, so someone can always change its settings.

A new provider, or one whose password an admin resets, gets a one-time link to choose a password
instead of a password someone else has seen. The link is signed with SECRET_KEY (itsdangerous,
already what Flask signs cookies with) and names a fingerprint of the password hash it was made
for: choosing a password changes the hash, so the link works once; a reset link lasts a day, an
invitation a week. Nothing here logs a link or a password. Callers validate input and commit.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import generate_password_hash

from . import validation
from .extensions import db
from .models import Provider, audit

LINK_LIFETIME = {"invite": timedelta(days=7), "reset": timedelta(days=1)}
_SALT = "aftercare.set-password"


class LinkError(ValueError):
    """A set-password link that cannot be used; the message says why, for the person holding it."""


def _fingerprint(provider: Provider) -> str:
    return hashlib.sha256(provider.password_hash.encode()).hexdigest()[:16]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def lock_password(provider: Provider) -> None:
    """No password signs this provider in until they choose one from a link; their sessions end."""
    provider.set_password(secrets.token_urlsafe(32))


def password_link(provider: Provider, kind: str) -> str:
    """The one-time address at which `provider` chooses a password (kind: invite | reset)."""
    token = _serializer().dumps({"p": provider.id, "h": _fingerprint(provider), "k": kind})
    return f"{current_app.config['PUBLIC_BASE_URL']}/set-password/{token}"


def provider_for_link(token: str) -> Provider:
    """The provider a link is for, if it can still be used; LinkError saying why not."""
    try:
        payload = _serializer().loads(token)  # signature first; the age depends on the kind
        _serializer().loads(token, max_age=int(LINK_LIFETIME[payload["k"]].total_seconds()))
    except SignatureExpired:
        raise LinkError("This link has expired. Ask your clinic's admin for a new one.") from None
    except (BadSignature, KeyError, TypeError):
        raise LinkError("This link is not valid. Ask your clinic's admin for a new one.") from None
    provider = db.session.get(Provider, payload.get("p"))
    if provider is not None and not provider.active:
        raise LinkError("This account is deactivated. Ask your clinic's admin to reactivate it.")
    if provider is None or payload.get("h") != _fingerprint(provider):
        raise LinkError("This link has been used or replaced. Ask your clinic's admin for a new one.")
    return provider


def invite(clinic_id: int, *, name: str, email: str, phone: str | None, role: str, duty: str,
           actor: str, now: datetime) -> Provider:
    """A new provider who chooses their own password from a link (`password_link(p, "invite")`)."""
    errors = {}
    if db.session.scalar(sa.select(Provider.id).where(Provider.email == email)) is not None:
        errors["email"] = "A provider with this email address already exists."
    if duty != "off" and phone is None:
        errors["duty"] = "Add a mobile number first: alerts are sent by text."
    if errors:
        raise validation.ValidationError.of(errors)
    provider = Provider(clinic_id=clinic_id, name=name, email=email, phone=phone, role=role, duty=duty,
                        password_hash=generate_password_hash(secrets.token_urlsafe(32)), created_at=now)
    db.session.add(provider)
    db.session.flush()
    audit("provider.invited", actor=actor, clinic_id=clinic_id, subject=f"provider:{provider.id}", at=now,
          role=role, duty=duty)
    return provider


def _other_active_admins(provider: Provider) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Provider)
        .where(Provider.clinic_id == provider.clinic_id, Provider.id != provider.id, Provider.role == "admin",
               Provider.active.is_(True))) or 0


def _keep_an_admin(provider: Provider, field: str) -> None:
    if provider.is_admin and provider.active and not _other_active_admins(provider):
        raise validation.ValidationError(field, "The clinic needs an admin: make someone else an admin first.")


def update(provider: Provider, *, role: str, duty: str, phone: str | None, actor: str, now: datetime) -> list[str]:
    """Change a provider's role, duty and alert number; audit each change (old -> new). The changed fields."""
    if role != "admin":
        _keep_an_admin(provider, "role")
    if duty != "off" and phone is None:
        raise validation.ValidationError("duty", "Add a mobile number first: alerts are sent by text.")
    if duty != "off" and not provider.active:
        raise validation.ValidationError("duty", "Reactivate this provider first: no one deactivated is paged.")
    changed = []
    for field, new in (("role", role), ("duty", duty), ("phone", phone)):
        old = getattr(provider, field)
        if old == new:
            continue
        setattr(provider, field, new)
        changed.append(field)
        # A phone number is the provider's own, not a patient's, but the log still keeps no number.
        detail = {"old": old, "new": new} if field != "phone" else {"set": new is not None}
        audit("provider.changed", actor=actor, clinic_id=provider.clinic_id, subject=f"provider:{provider.id}",
              at=now, field=field, **detail)
    return changed


def deactivate(provider: Provider, *, actor: str, now: datetime) -> None:
    """They can no longer sign in, every session of theirs ends now, and they are paged no more."""
    _keep_an_admin(provider, "active")
    old_duty = provider.duty
    provider.active, provider.duty = False, "off"
    provider.end_sessions()
    audit("provider.deactivated", actor=actor, clinic_id=provider.clinic_id, subject=f"provider:{provider.id}",
          at=now, old_duty=old_duty)


def reactivate(provider: Provider, *, actor: str, now: datetime) -> None:
    provider.active = True
    audit("provider.reactivated", actor=actor, clinic_id=provider.clinic_id, subject=f"provider:{provider.id}",
          at=now)


def reset_password(provider: Provider, *, actor: str, now: datetime) -> str:
    """The old password stops working and every session ends; the one-time link to choose a new one."""
    lock_password(provider)
    audit("provider.password_reset", actor=actor, clinic_id=provider.clinic_id, subject=f"provider:{provider.id}",
          at=now)
    return password_link(provider, "reset")


def choose_password(provider: Provider, password: str, *, via: str, now: datetime) -> None:
    """The provider's new password (checked by `validation.password`); their other sessions end."""
    provider.set_password(validation.password(password))
    audit("provider.password_set", actor=f"provider:{provider.id}" if via == "link" else via,
          clinic_id=provider.clinic_id, subject=f"provider:{provider.id}", at=now, via=via)
