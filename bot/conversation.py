"""One inbound text: who sent it, what it means, what we answer, and who else must hear of it.

`handle_inbound` does everything inside one transaction and returns the answer for the TwiML
response, well within Twilio's 15 seconds: a few indexed queries and `classify`, which is pure
and fast. Sending to providers is left to the dispatcher through the outbox.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from . import episodes, escalation, messages, phones, schedule
from .extensions import db
from .models import Assessment, CheckIn, Message, Patient, Provider, TreatmentSession, audit
from .protocol import PROTOCOL, UNCLEAR
from .triage import Triage, classify

log = logging.getLogger(__name__)

# Carrier keywords (Twilio's defaults), matched on the whole text, case and spacing ignored.
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO", "AYUDA"})
# The answer to "Reply CALL for a call today, or WAIT if it can wait" (not YES: an opt-in keyword).
CALL = frozenset({"CALL", "LLAMAR", "LLAMADA", "LLAMENME"})
WAIT = frozenset({"WAIT", "ESPERAR", "ESPERO", "PUEDEESPERAR"})

# Someone asking in words to stop the texts: asked to confirm with STOP, never opted out silently.
_STOP_REQUEST = re.compile(
    r"\b(?:stop|quit|cease)\s+(?:texting|messaging|sending|contacting|the\s+texts|these\s+texts|the\s+messages)"
    r"|\b(?:don'?t|do\s+not|dont)\s+(?:text|message|contact)\s+me"
    r"|\bno\s+more\s+(?:texts|messages)|\bunsubscribe\b|\bopt\s+me\s+out"
    r"|\b(?:dejen|deja|dejar|paren)\s+de\s+(?:escribir|mandar|enviar)"
    r"|\bno\s+me\s+(?:escriban|manden|env[ií]en)|\bno\s+quiero\s+(?:m[aá]s\s+)?mensajes|\bbasta\s+de\s+mensajes",
    re.IGNORECASE,
)
GROUP_WINDOW = timedelta(minutes=2)  # texts this close together are read as one reply
GROUP_LIMIT = 10  # the latest texts of a group; a patient sending dozens a minute is not re-read whole
MAX_TRIAGE_CHARS = 2000  # a reply longer than any SMS conversation is read up to here
REPEAT_MONITOR_RULE = "M-again"
_Inbound = so.aliased(Message)  # the text an answer replies to (a retry gets the answer it got before)

# The statements every reply runs, built once with bound parameters, on the tables rather than
# the mapped classes: SQLAlchemy then reuses their compiled form and cache key, and the ORM's
# unit of work stays out of the hot path. Building a statement from literal values costs more
# CPU than PostgreSQL takes to run it (bench/README.md).
_messages, _assessments, _checkins = Message.__table__, Assessment.__table__, CheckIn.__table__
_PATIENT = (
    sa.select(Patient, TreatmentSession).outerjoin(TreatmentSession, TreatmentSession.patient_id == Patient.id)
    .where(Patient.phone == sa.bindparam("number"))
    .order_by(sa.case((TreatmentSession.status == "open", 0), else_=1),
              sa.case((TreatmentSession.ended_at.is_(None), 1), else_=0), TreatmentSession.ended_at.desc(),
              Patient.id.desc()).limit(1)
    .options(so.joinedload(Patient.clinic))
)
_STORE = _messages.insert().returning(_messages.c.id)
_GROUP = (
    sa.select(_messages.c.id, _messages.c.body)
    .where(_messages.c.patient_id == sa.bindparam("patient_id"), _messages.c.direction == "in",
           _messages.c.purpose == "reply", _messages.c.created_at >= sa.bindparam("since"))
    .order_by(_messages.c.created_at.desc(), _messages.c.id.desc()).limit(GROUP_LIMIT)
)
_HISTORY_COLUMNS = (_assessments.c.message_id, _assessments.c.kind, _assessments.c.level, _assessments.c.soreness,
                    _assessments.c.rules, _assessments.c.symptoms, _assessments.c.checkin_id,
                    _assessments.c.created_at)
_HISTORY = (sa.select(*_HISTORY_COLUMNS)
            .where(_assessments.c.patient_id == sa.bindparam("patient_id"),
                   _assessments.c.session_id == sa.bindparam("session_id"))
            .order_by(_assessments.c.created_at, _assessments.c.id))
_HISTORY_WITHOUT_SESSION = (sa.select(*_HISTORY_COLUMNS)
                            .where(_assessments.c.patient_id == sa.bindparam("patient_id"),
                                   _assessments.c.session_id.is_(None))
                            .order_by(_assessments.c.created_at, _assessments.c.id))
_ASSESS = _assessments.insert().returning(_assessments.c.id)
_CHECKINS = sa.select(_checkins.c.id, _checkins.c.protocol_id, _checkins.c.status, _checkins.c.due_at,
                      _checkins.c.sent_at).where(_checkins.c.session_id == sa.bindparam("session_id"))
_MARK_REPLIED = (_checkins.update().where(_checkins.c.id == sa.bindparam("checkin_id"))
                 .values(status="replied", replied_at=sa.bindparam("at")))


class _Text(NamedTuple):
    id: int
    body: str


@dataclass(frozen=True)
class Inbound:
    sid: str
    sender: str  # as Twilio sent it, E.164
    body: str
    received_at: datetime


def keyword_of(body: str) -> str | None:
    """The carrier or bot keyword a text is, if it is only that word ("stop", " Stop. ", "opt out")."""
    word = re.sub(r"[\s.!¡]+", "", body).upper()
    for name, words in (("opt_out", OPT_OUT), ("opt_in", OPT_IN), ("help", HELP), ("call", CALL), ("wait", WAIT)):
        if word in words:
            return name
    return None


def asks_to_stop(body: str) -> bool:
    """ "please stop texting me" asks to stop; "it won't stop hurting" does not."""
    return bool(_STOP_REQUEST.search(body))


def handle_inbound(msg: Inbound, *, secret: str, default_region: str) -> str:
    """Store, understand and answer one inbound text; returns the answer ("" for none).

    1. Who wrote: a patient (with their latest episode), else a provider, else an unknown number,
       which gets one short answer while only a keyed hash of the number is kept.
    2. What it is: a provider's ACK command, a keyword (opt-out, opt-in, help, CALL/WAIT: before
       triage), or else a reply.
    3. The text is stored; a MessageSid seen before (a Twilio retry) hits the unique index and
       gets the answer it got then, so it is stored and triaged once.
    4. It is acted on: an ACK acknowledges; a keyword does what it says; a reply is attributed to
       its check-in, read alone and with the texts of the last two minutes, escalated by level,
       and the schedule adjusted (`_reply`).
    5. The answer is stored beside it and everything is committed at once.
    """
    now = msg.received_at
    sender = phones.try_normalise(msg.sender, default_region)
    patient, session = _patient_for(sender) if sender else (None, None)
    provider = None
    if sender and (patient is None or msg.body.strip().upper().startswith("ACK")):
        provider = _provider_for(sender)
    if provider is None and patient is None:
        audit("sms.unknown_sender", at=now, sender=phones.pseudonym(sender or msg.sender, secret))
        db.session.commit()
        log.info("inbound text from an unknown number; answered and not stored")
        return messages.render("answer.unknown", "en")

    keyword = keyword_of(msg.body) if provider is None else None
    if keyword in ("call", "wait") and escalation.awaiting_choice(patient) is None:
        keyword = None  # nothing waits on this answer: read it as an ordinary reply
    purpose = "provider" if provider is not None else "keyword" if keyword is not None else "reply"

    common = dict(clinic_id=provider.clinic_id if provider else patient.clinic_id,
                  patient_id=patient.id if provider is None else None,
                  provider_id=provider.id if provider else None,
                  created_at=now, updated_at=now, attempts=0)
    inbound_id = _store(msg, purpose, common)
    if inbound_id is None:  # this MessageSid was stored before: a Twilio retry gets the same answer
        return _answer_to(msg.sid)

    if provider is not None:
        answer = escalation.acknowledge_by_text(provider, msg.body, now)
    elif keyword is not None:
        answer = _keyword(patient, keyword, now)
    else:
        answer = _reply(patient, session, inbound_id, msg.body, now)

    if answer:
        db.session.execute(_STORE, dict(direction="out", purpose="answer", body=answer, reply_to_id=inbound_id,
                                        status="twiml", **common))
    db.session.commit()
    log.info("inbound message id=%s purpose=%s answered=%s", inbound_id, purpose, bool(answer))
    return answer


def _store(msg: Inbound, purpose: str, common: dict[str, object]) -> int | None:
    """The inbound text's id, written with a plain INSERT (the ORM's unit of work costs more than the
    rest of a reply); None, with the transaction rolled back, if its MessageSid is already stored."""
    try:
        return db.session.execute(_STORE, dict(direction="in", purpose=purpose, body=msg.body, twilio_sid=msg.sid,
                                               status="received", **common)).scalar_one()
    except IntegrityError:
        db.session.rollback()
        return None


def _answer_to(sid: str) -> str:
    answer = db.session.scalar(
        sa.select(Message.body).join(_Inbound, Message.reply_to_id == _Inbound.id)
        .where(_Inbound.twilio_sid == sid, Message.purpose == "answer")
    )
    return answer or ""


def _patient_for(number: str) -> tuple[Patient | None, TreatmentSession | None]:
    """The patient with this number and their latest episode (an open one first), in one query.

    A number known at several clinics belongs to the patient whose episode is most recent.
    """
    row = db.session.execute(_PATIENT, {"number": number}).first()
    return (row[0], row[1]) if row else (None, None)


def _provider_for(number: str) -> Provider | None:
    return db.session.scalar(sa.select(Provider).where(Provider.phone == number, Provider.active.is_(True)).limit(1))


def _keyword(patient: Patient, keyword: str, now: datetime) -> str:
    clinic = patient.clinic
    fields = {"clinic": clinic.sms_name}
    if keyword == "opt_out":
        episodes.opt_out(patient, now=now, source="sms")
        return messages.render("answer.opted_out", patient.language, **fields)
    if keyword == "opt_in":
        episodes.opt_in(patient, now=now)
        return messages.render("answer.opted_in", patient.language, **fields)
    if keyword == "help":
        return messages.render("answer.help", patient.language, clinic_phone=phones.national(clinic.phone), **fields)
    escalation.record_patient_choice(patient, keyword, now)
    return messages.render(f"answer.{keyword}", patient.language)


def _attributed_checkin(checkins: list[sa.Row], now: datetime) -> sa.Row | None:
    """The check-in a reply answers: the latest one sent before it, even if already marked missed."""
    answered = [c for c in checkins if c.sent_at is not None and c.sent_at <= now
                and c.status in ("sent", "replied", "missed")]
    return max(answered, key=lambda c: (c.sent_at, c.id), default=None)


def primary_region(regions: list[str]) -> str | None:
    """The region triage reads a reply against: a lung-risk one if any was needled (safety first)."""
    risky = [r for r in regions if r in PROTOCOL.lung_risk_regions]
    return (risky or regions or [None])[0]


def in_context(result: Triage, previous_level: str | None) -> tuple[str, list[str], list[str]]:
    """The protocol's rules about the reply before this one, which one reply cannot show. Pure.

    PROTOCOL 5: "a second `monitor` in a row becomes `routine`"; PROTOCOL 4 and R10: unclear,
    "asked once more with the 0-10 question; still unclear after that: routine".
    """
    level, rules, reasons = result.level, list(result.rules), list(result.reasons)
    if level == "monitor" and previous_level == "monitor":
        return "routine", [REPEAT_MONITOR_RULE, *rules], [*reasons, f"{REPEAT_MONITOR_RULE}: a second monitor in a row"]
    if level == UNCLEAR and previous_level == UNCLEAR:
        return "routine", ["R10", *rules], [*reasons, "R10: still unclear after one clarifying question"]
    return level, rules, reasons


@dataclass(frozen=True)
class Reading:
    """What triage read in some words, with the protocol's rules about the reply before applied."""

    text: str
    result: Triage
    level: str
    rules: list[str]
    reasons: list[str]


@dataclass(frozen=True)
class ReplyDecision:
    own: Reading  # what the text alone said: always recorded, shown beside it
    together: Reading | None  # the group's reading, kept only when it says more than the text alone
    finding: Reading | None  # the reading that opens or raises a finding, if one does
    answer: Reading | None  # the reading the patient is answered for; None: no answer at all


def read(text: str, previous_level: str | None, **context: object) -> Reading:
    result = classify(text, **context)
    level, rules, reasons = in_context(result, previous_level)
    return Reading(text, result, level, rules, reasons)


def decide_reply(own: Reading, together: Reading | None, *, already: str | None, opted_out: bool) -> ReplyDecision:
    """What a text sets off, given its own reading and its group's. Pure.

    - The text alone acts as it would if it came alone: its own finding, at its own level.
    - The group's reading counts only where it says more than the text alone. It raises a finding
      only above `already`, the highest level the group's earlier texts were read at: their words
      have had their finding (open, acknowledged or closed) and are never paged for again.
    - After STOP nothing is sent back (Twilio would block it, and the patient asked for silence),
      and only a red flag (urgent, emergency) reaches a provider: a person still sees a chest or
      breathing complaint (PROTOCOL 1).
    """
    rank = PROTOCOL.rank
    together = together if together is not None and rank(together.level) > rank(own.level) else None
    if together is not None and rank(together.level) > rank(already or "") and rank(together.level) >= rank("routine"):
        finding: Reading | None = together
    else:
        finding = own if rank(own.level) >= rank("routine") else None
    if opted_out and finding is not None and finding.level not in escalation.ALERTED_LEVELS:
        finding = None
    return ReplyDecision(own=own, together=together, finding=finding, answer=None if opted_out else together or own)


def _reply(patient: Patient, session: TreatmentSession | None, inbound_id: int, body: str, now: datetime) -> str:
    """A patient's reply: 1. gather what came before, 2. read the text and its group, 3. decide,
    4. record each reading, 5. escalate, 6. re-plan the schedule, 7. answer."""
    execute = db.session.execute
    # 1. The episode's readings so far, and the texts of the last two minutes. Every text is read
    # as it is stored, so a group exists only if the latest reading is this recent; most replies
    # come alone and skip the query.
    if session is not None:
        history = execute(_HISTORY, {"patient_id": patient.id, "session_id": session.id}).all()
    else:
        history = execute(_HISTORY_WITHOUT_SESSION, {"patient_id": patient.id}).all()
    since = now - GROUP_WINDOW
    if history and history[-1].created_at >= since:
        group = execute(_GROUP, {"patient_id": patient.id, "since": since}).all()[::-1]
    else:
        group = [_Text(inbound_id, body)]
    group_ids = [m.id for m in group]
    earlier = [a for a in history if a.message_id in group_ids]  # the group's texts before this one
    history = [a for a in history if a.message_id not in group_ids]  # the replies before the group
    previous = history[-1] if history else None
    previous_level = previous.level if previous else None

    # 2. Read the text alone, and the group together when there is one. The rules about the reply
    # before (a second monitor, a second unclear) belong to a reply, not to each of its texts: they
    # apply to its first text and to the group's reading, never again to a later text alone.
    hours = (now - session.ended_at).total_seconds() / 3600 if session else 0.0
    context = dict(hours_since_session=hours, region=primary_region(session.regions) if session else None,
                   precautions=tuple(patient.precautions),
                   previous_soreness=next((a.soreness for a in reversed(history) if a.soreness is not None), None))
    own = read(body.strip()[:MAX_TRIAGE_CHARS], None if earlier else previous_level, **context)
    together = None
    if len(group) > 1:
        words = " ".join(m.body.strip() for m in group if m.body.strip())[:MAX_TRIAGE_CHARS]
        together = read(words, previous_level, **context)

    # 3. Decide.
    already = max((a.level for a in earlier), key=PROTOCOL.rank, default=None)
    decision = decide_reply(own, together, already=already, opted_out=patient.opted_out_at is not None)

    # 4. Record: the check-in it answers, its own reading, and the group's if it said more.
    checkins = execute(_CHECKINS, {"session_id": session.id}).all() if session else []
    checkin = _attributed_checkin(checkins, now)
    if checkin is not None and checkin.status != "replied":
        execute(_MARK_REPLIED, {"checkin_id": checkin.id, "at": now})
    common = dict(message_id=inbound_id, patient_id=patient.id, session_id=session.id if session else None,
                  checkin_id=checkin.id if checkin else None, hours_since_session=round(hours, 2), created_at=now)
    recorded = [_assessment_row(decision.own, kind="text", message_ids=[], **common)]
    own_id = execute(_ASSESS, recorded[0]).scalar_one()
    if decision.together is not None:
        recorded.append(_assessment_row(decision.together, kind="group", message_ids=group_ids, **common))
        together_id = execute(_ASSESS, recorded[1]).scalar_one()

    # 5. Escalate: a finding is opened, or an open one raised; its alert quotes the words it read.
    finding = decision.finding
    if finding is not None:
        assessment_id = together_id if finding is decision.together else own_id
        escalation.open_escalation(patient=patient, session=session, level=finding.level,
                                   rule=finding.rules[0] if finding.rules else "",
                                   assessment=db.session.get(Assessment, assessment_id), now=now)

    # 6. Re-plan: C4, C5 and the extra check-in follow from every reading of the episode.
    if session is not None and session.status == "open" and patient.opted_out_at is None:
        protocol_ids = {c.id: c.protocol_id for c in checkins}
        findings = [schedule.Finding(level=a["level"], rules=frozenset(a["rules"]), symptoms=frozenset(a["symptoms"]),
                                     protocol_id=protocol_ids.get(a["checkin_id"]), at=a["created_at"])
                    for a in [*(h._asdict() for h in [*history, *earlier]), *recorded]]
        states = [schedule.CheckInState(c.id, c.protocol_id, "replied" if c is checkin else c.status, c.due_at)
                  for c in checkins]
        _replan(session, patient, states, findings, now)

    # 7. Answer: for the reply read whole (after STOP, nothing).
    answer = decision.answer
    if answer is None:
        return ""
    if asks_to_stop(answer.text) and PROTOCOL.rank(answer.level) < PROTOCOL.rank("routine"):
        return messages.render("answer.stop_question", patient.language, clinic=patient.clinic.sms_name)
    turns = sum(1 for a in history if a.kind == "text")
    return answer_for(answer.level, patient, session, answer.result.symptoms, turn=turns)


def _assessment_row(reading: Reading, **columns: object) -> dict[str, object]:
    return dict(columns, level=reading.level, text=reading.text, soreness=reading.result.soreness,
                symptoms=sorted(reading.result.symptoms), rules=reading.rules, reasons=reading.reasons,
                protocol_version=reading.result.protocol_version)


def _replan(session: TreatmentSession, patient: Patient, states: list[schedule.CheckInState],
            findings: list[schedule.Finding], now: datetime) -> None:
    change = schedule.replan_after_finding(
        ended_at=session.ended_at, regions=session.regions, precautions=patient.precautions,
        tz=episodes.patient_zone(patient), quiet=episodes.quiet_hours(patient.clinic), checkins=states,
        findings=findings, now=now)
    if change.add:
        db.session.execute(sa.insert(_checkins), [
            dict(session_id=session.id, protocol_id=planned.protocol_id, due_at=planned.due_at, status="planned",
                 attempts=0, created_at=now) for planned in change.add])
    if change.cancel:
        db.session.execute(_checkins.update().where(_checkins.c.id.in_(change.cancel),
                                                    _checkins.c.status == "planned")
                           .values(status="cancelled", status_reason="no longer needed"))


def answer_for(level: str, patient: Patient, session: TreatmentSession | None, symptoms: frozenset[str],
               *, turn: int = 0) -> str:
    """What the patient is told for a level (PROTOCOL 5), in their language."""
    lang, name = patient.language, messages.first_name(patient.name)
    if level == "emergency":
        tz = episodes.patient_zone(patient)
        return messages.render("answer.emergency", lang, name=name,
                               region=messages.region_words(session.regions if session else [], lang),
                               date=messages.short_date(session.ended_at if session else patient.created_at, tz, lang))
    if level in ("urgent", "routine"):
        return messages.render(f"answer.{level}", lang, name=name)
    if level in ("monitor", "expected"):
        tip = messages.choose_tip(symptoms, patient.precautions, turn, medication=level == "expected")
        return messages.render(f"answer.{level}", lang, name=name, tip=tip)
    return messages.render("answer.unclear", lang, name=name)
