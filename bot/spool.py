"""The inbound spool: patients' texts that arrived while the database could not store them.

Nothing a patient writes is lost to a database outage. When `/sms/inbound` cannot store a text
within its time (bot/database.py), the webhook writes it here and answers at once with
`HOLDING_ANSWER` (in both languages: without the database the patient's language is unknown),
well inside Twilio's 15 seconds. The dispatcher's alerts pass, every few seconds, then takes each
spooled text, oldest first, through the same `conversation.handle_inbound` a live text takes:
stored, triaged and escalated at the time it arrived. Its real answer, which could not go back
in the webhook's reply, goes out through the outbox, and the file is deleted.

One file per MessageSid, written whole (a temporary file, fsync, rename), readable by this user
only: it holds a phone number and a message, like the database. A Twilio retry of the same text
rewrites the same file, and the database's unique SID stores it once however often it is taken.
The dispatcher must share this directory (INBOUND_SPOOL_DIR) with the web processes: run one on
each web host, or point the setting at a shared directory. `/healthz` and `flask doctor` report
texts waiting longer than three dispatch intervals.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

log = logging.getLogger(__name__)

# One GSM-7 segment (tests/test_spool.py holds it to that), English then Spanish, as answer.unknown.
HOLDING_ANSWER = ("We got your text and will answer soon. Trouble breathing or chest pain? Call 911. / "
                  "Recibimos su mensaje. ¿Le falta el aire o dolor de pecho? Llame al 911.")

_SAFE_SID = re.compile(r"[A-Za-z0-9]{1,64}")


@dataclass(frozen=True)
class Waiting:
    count: int
    oldest_age: timedelta


def directory() -> Path:
    return Path(current_app.config["INBOUND_SPOOL_DIR"])


def _path(folder: Path, sid: str) -> Path:
    name = sid if _SAFE_SID.fullmatch(sid) else hashlib.sha256(sid.encode()).hexdigest()
    return folder / f"{name}.json"


def put(*, sid: str, sender: str, body: str, received_at: datetime) -> None:
    """Keep one inbound text on disk, durably, until the database can take it."""
    folder = directory()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    record = {"sid": sid, "sender": sender, "body": body, "received_at": received_at.isoformat()}
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, _path(folder, sid))
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


def _files() -> list[Path]:
    folder = directory()
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def summary(now: datetime) -> Waiting:
    """How many texts wait in the spool, and how long the oldest has waited."""
    oldest: datetime | None = None
    files = _files()
    for path in files:
        try:
            written = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        except FileNotFoundError:  # taken meanwhile
            continue
        oldest = written if oldest is None else min(oldest, written)
    return Waiting(len(files), max(now - oldest, timedelta(0)) if oldest else timedelta(0))


def drain(now: datetime) -> int:
    """Store and handle every spooled text, oldest first; returns how many were taken.

    1. Read each file; handle it with `conversation.handle_inbound` at the time it arrived. A
       text already stored (a retry, or a commit that went through before the connection broke)
       is recognised by its MessageSid and not handled twice.
    2. Its answer, stored by the conversation as a TwiML reply that never went, becomes an
       outbox text to the sender (a conditional update, so two dispatchers queue it once).
    3. Commit, then delete the file. A database error stops the drain (the next pass goes on);
       any other error leaves that file for a person to see (healthz, doctor) and goes on.
    """
    from . import conversation
    from .extensions import db
    from .models import Message

    taken = 0
    records = []
    for path in _files():
        try:
            records.append((json.loads(path.read_text(encoding="utf-8")), path))
        except FileNotFoundError:
            continue
        except ValueError:
            log.error("spooled file %s is not readable JSON; left for a person", path.name)
    for record, path in sorted(records, key=lambda item: item[0]["received_at"]):
        try:
            conversation.handle_inbound(
                conversation.Inbound(sid=record["sid"], sender=record["sender"], body=record["body"],
                                     received_at=datetime.fromisoformat(record["received_at"])),
                secret=current_app.config["SECRET_KEY"], default_region=current_app.config["DEFAULT_PHONE_REGION"])
            inbound = sa.orm.aliased(Message)
            answer_ids = sa.select(Message.id).join(inbound, Message.reply_to_id == inbound.id).where(
                inbound.twilio_sid == record["sid"], Message.purpose == "answer")
            db.session.execute(
                sa.update(Message).where(Message.id.in_(answer_ids.scalar_subquery()), Message.status == "twiml")
                .values(status="pending", to_number=record["sender"], send_after=now, updated_at=now)
                .execution_options(synchronize_session=False))
            db.session.commit()
        except sa.exc.OperationalError:
            db.session.rollback()
            raise
        except Exception:
            db.session.rollback()
            log.exception("could not take spooled text %s; left in the spool", path.name)
            continue
        path.unlink(missing_ok=True)
        taken += 1
        log.info("took spooled inbound text %s", path.name)
    return taken
