"""Idempotent POSTs: a retry carrying the same `Idempotency-Key` gets the first answer, and nothing new.

Keys are kept per clinic for API_IDEMPOTENCY_HOURS. The steps, for a POST with a key:

1. Look the key up at the caller's clinic (an expired record, or a claim abandoned by a request
   that died, is forgotten).
2. Found, with another method, path or body: 409 `idempotency-key-reused`.
   Found, still running (no answer stored yet): 409 `request-in-progress`, Retry-After 1.
   Found, answered: replay the stored status, body and Location, with `Idempotent-Replayed: true`.
3. Not found: claim it with a row of its own, committed, so a concurrent retry finds it (step 2)
   and the unique (clinic, key) constraint settles a race.
4. Run the view. On success, store its answer in the same transaction as the view's changes, then
   commit: the change and the answer a retry will get are saved together or not at all.
   On an error (a refused field, a conflict, a crash) roll back and free the key, so the client
   can correct the request and send it again under the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, g, make_response, request
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..extensions import db
from ..models import IdempotencyRecord
from .problems import Problem, invalid

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# A claim still unanswered this long after it was made belongs to a request that died (gunicorn
# kills a request after GUNICORN_TIMEOUT, 20 s): the key is free again rather than stuck for a day.
ABANDONED = timedelta(minutes=1)


def fingerprint() -> str:
    """The request a key was first used for: method, path, and the body (JSON compared by content)."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        body = raw
    return hashlib.sha256(f"{request.method} {request.path}\n".encode() + body).hexdigest()


def _checked_key() -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable() or key != key.strip():
        raise invalid(HEADER, f"use 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID")
    return key


def _replay(record: IdempotencyRecord) -> Response:
    resp = Response(record.body or "", status=record.status_code, content_type=record.content_type)
    if record.location:
        resp.headers["Location"] = record.location
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def _claim(clinic_id: int, key: str, print_: str) -> IdempotencyRecord | Response:
    """Steps 1-3: a replayed answer, or our own fresh claim on the key (committed)."""
    now = clock.now()
    found = db.session.scalar(sa.select(IdempotencyRecord).where(IdempotencyRecord.clinic_id == clinic_id,
                                                                 IdempotencyRecord.key == key))
    if found is not None and (found.expires_at <= now or
                              (found.status_code is None and found.created_at <= now - ABANDONED)):
        db.session.delete(found)
        db.session.flush()
        found = None
    if found is not None:
        if found.fingerprint != print_:
            raise Problem(409, "idempotency-key-reused", "Idempotency key reused",
                          f"This {HEADER} was first used with another request; use a new key for a new request.")
        if found.status_code is None:
            raise Problem(409, "request-in-progress", "Request in progress",
                          f"A request with this {HEADER} is still being processed.", headers={"Retry-After": "1"})
        return _replay(found)
    db.session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.clinic_id == clinic_id,
                                                          IdempotencyRecord.expires_at <= now))
    hours = current_app.config["API_IDEMPOTENCY_HOURS"]
    record = IdempotencyRecord(clinic_id=clinic_id, key=key, fingerprint=print_, created_at=now,
                               expires_at=now + timedelta(hours=hours))
    db.session.add(record)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent request claimed it first
        db.session.rollback()
        raise Problem(409, "request-in-progress", "Request in progress",
                      f"A request with this {HEADER} is still being processed.", headers={"Retry-After": "1"})
    return record


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a POST view: commits its changes, once, with the answer a retry will be given."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = _checked_key()
        if key is None:
            try:
                resp = view(*args, **kwargs)
            except Exception:
                db.session.rollback()
                raise
            db.session.commit()
            return resp
        claimed = _claim(g.api_key.clinic_id, key, fingerprint())
        if isinstance(claimed, Response):
            return claimed
        record_id = claimed.id
        try:
            resp = make_response(view(*args, **kwargs))
        except Exception:
            db.session.rollback()
            _free(record_id)
            raise
        record = db.session.get(IdempotencyRecord, record_id)
        record.status_code, record.content_type = resp.status_code, resp.content_type
        record.location, record.body = resp.headers.get("Location"), resp.get_data(as_text=True)
        db.session.commit()
        return resp

    return wrapper


def _free(record_id: int) -> None:
    db.session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
    db.session.commit()
