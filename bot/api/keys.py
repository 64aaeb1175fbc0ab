"""Per-clinic API keys: made, listed and revoked (CLI and the dashboard's admin page), and checked.

A key is `ak_<prefix>_<secret>`. It is shown once when made; the database keeps the prefix (to
find the row) and the SHA-256 of the whole key (to check it). A revoked key is refused at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from .. import clock
from ..extensions import db
from ..models import ApiKey, Clinic, audit

PREFIX_BYTES = 5  # 10 hex characters: enough to find a row, says nothing about the secret
# last_used_at is written at most this often per key, so a busy integration is not a write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewKey:
    row: ApiKey
    secret: str  # the whole key, to show once


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(clinic: Clinic, name: str, *, actor: str, now: datetime) -> NewKey:
    """Make a key for `clinic`; the caller shows `secret` once and commits."""
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise ValueError("name: give the key a name of 1 to 80 characters (what uses it)")
    prefix = secrets.token_hex(PREFIX_BYTES)
    key = f"ak_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(clinic_id=clinic.id, name=name, prefix=prefix, key_hash=_digest(key), created_by=actor,
                 created_at=now)
    db.session.add(row)
    db.session.flush()
    audit("apikey.created", actor=actor, clinic_id=clinic.id, subject=f"apikey:{row.id}", at=now, name=name)
    return NewKey(row, key)


def revoke(row: ApiKey, *, actor: str, now: datetime) -> bool:
    """Refuse this key from now on; False if it was already revoked."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = now
    audit("apikey.revoked", actor=actor, clinic_id=row.clinic_id, subject=f"apikey:{row.id}", at=now)
    return True


def prefix_of(presented: str) -> str | None:
    """The prefix of something shaped like one of our keys (None otherwise)."""
    parts = presented.split("_", 2)
    if len(parts) == 3 and parts[0] == "ak" and len(parts[1]) == 2 * PREFIX_BYTES and parts[2]:
        return parts[1]
    return None


def verify(presented: str, now: datetime) -> ApiKey | None:
    """The live key `presented` is, or None; records when it was last used."""
    prefix = prefix_of(presented)
    if prefix is None:
        return None
    row = db.session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, _digest(presented)):
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        db.session.commit()
    return row


def for_clinic(clinic_id: int) -> list[ApiKey]:
    return list(db.session.scalars(sa.select(ApiKey).where(ApiKey.clinic_id == clinic_id)
                                   .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc())))


# -- `flask apikey ...` ----------------------------------------------------------------------------

cli = AppGroup("apikey", help="Create, list and revoke a clinic's API keys.")


def _clinic(clinic_id: int) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        raise click.BadParameter(f"no clinic with id {clinic_id}", param_hint="--clinic")
    return clinic


@cli.command("create")
@click.option("--clinic", "clinic_id", type=int, required=True, help="Clinic id.")
@click.option("--name", required=True, help="What will use the key, e.g. 'WebPT bridge'.")
def create_command(clinic_id: int, name: str) -> None:
    """Make a key and print it once: store it in the integration's secrets now."""
    try:
        made = create(_clinic(clinic_id), name, actor="cli", now=clock.now())
    except ValueError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1], param_hint="--name") from exc
    db.session.commit()
    click.echo(f"Created API key {made.row.id} ({made.row.name}) for clinic {clinic_id}. "
               "It is shown only this once:")
    click.echo(made.secret)


@cli.command("list")
@click.option("--clinic", "clinic_id", type=int, required=True, help="Clinic id.")
def list_command(clinic_id: int) -> None:
    """List a clinic's keys (never the keys themselves), with when each was last used."""
    clinic = _clinic(clinic_id)
    rows = for_clinic(clinic.id)
    if not rows:
        click.echo(f"Clinic {clinic.id} has no API keys.")
    for row in rows:
        used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never"
        state = f"revoked {row.revoked_at.isoformat(timespec='seconds')}" if row.revoked_at else "active"
        click.echo(f"{row.id:>4}  ak_{row.prefix}_...  {row.name}  {state}  last used: {used}")


@cli.command("revoke")
@click.option("--clinic", "clinic_id", type=int, required=True, help="Clinic id.")
@click.argument("key_id", type=int)
def revoke_command(clinic_id: int, key_id: int) -> None:
    """Revoke key KEY_ID: it is refused from the next request on."""
    clinic = _clinic(clinic_id)
    row = db.session.get(ApiKey, key_id)
    if row is None or row.clinic_id != clinic.id:
        raise click.BadParameter(f"no API key {key_id} at clinic {clinic.id}", param_hint="KEY_ID")
    if revoke(row, actor="cli", now=clock.now()):
        db.session.commit()
        click.echo(f"Revoked API key {key_id}.")
    else:
        click.echo(f"API key {key_id} was already revoked.")
