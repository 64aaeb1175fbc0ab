"""The patients' replies as the care team reads them: each text once, beside what it said.

Texts sent within two minutes are also read together (bot/conversation.py); that reading is kept
on the latest of them, and is shown as such, never as what one text said.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so

from .extensions import db
from .models import Assessment, Message


@dataclass(frozen=True)
class Reply:
    message: Message  # the text, as the patient sent it (its patient loaded)
    reading: Assessment | None  # what this text alone said
    together: Assessment | None  # the reading of its group, when it said more than the text alone


def latest_replies(clinic_id: int, limit: int = 25) -> list[Reply]:
    """A clinic's latest replies, newest first, each text once (keywords such as STOP are not replies)."""
    own, group = so.aliased(Assessment), so.aliased(Assessment)
    rows = db.session.execute(
        sa.select(Message, own, group)
        .outerjoin(own, sa.and_(own.message_id == Message.id, own.kind == "text"))
        .outerjoin(group, sa.and_(group.message_id == Message.id, group.kind == "group"))
        .where(Message.clinic_id == clinic_id, Message.direction == "in", Message.purpose == "reply")
        .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)
        .options(so.joinedload(Message.patient))
    ).all()
    return [Reply(message, reading, together) for message, reading, together in rows]


def readings_by_text(message_ids: list[int]) -> tuple[dict[int, Assessment], dict[int, Assessment]]:
    """For these texts: each one's own reading, and the group readings they completed, by text id."""
    own: dict[int, Assessment] = {}
    together: dict[int, Assessment] = {}
    for a in db.session.scalars(sa.select(Assessment).where(Assessment.message_id.in_(message_ids))):
        (together if a.kind == "group" else own)[a.message_id] = a
    return own, together
