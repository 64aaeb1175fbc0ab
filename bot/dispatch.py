"""The dispatcher: due rows become texts, exactly once, however many processes run and whatever crashes.

The durable rows are the schedule. APScheduler only decides when a pass runs; a pass
(`run_once`) reads the rows, claims what it will handle, and commits the claim before it talks
to the carrier. Any number of dispatcher processes can run: on PostgreSQL they claim batches
with `SELECT ... FOR UPDATE SKIP LOCKED`; on SQLite a batch is claimed by one conditional
`UPDATE ... WHERE status = <expected> RETURNING id` under its single write lock (see `_claim`).

Outbound texts pass through the outbox (`messages`, direction "out"):

    pending --claim--> claimed --send--> queued/accepted/sent --callbacks--> delivered/undelivered/failed
       ^                  |                                                   (never backwards)
       |                  +-- surely not sent (refused, unreachable, a surprise): pending again after a
       |                  |   back-off that doubles up to a cap; failed (and audited) after the limit
       |                  +-- might have gone (timeout after the request left): unconfirmed, then
       |                  |   the carrier is asked (`lookup`) after a back-off
       |                  +-- still `claimed` after LEASE: the claimer died; the carrier is asked
       +-- not found at the carrier <-- lookup --> found: recorded as sent, never sent twice

Alerts to providers (and answers a patient waits for) are claimed before everything else, and the
scheduler runs them in a job of their own every few seconds, so no check-in, slow or failing, can
hold one back.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time as monotonic_time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app

from . import episodes, escalation, messages, outgoing, schedule, spool
from .extensions import db
from .gateways import NUMBER_PROBLEMS, OPTED_OUT, SendError, SmsGateway, current_gateway
from .models import CheckIn, DispatcherHeartbeat, Escalation, Message, Patient, TreatmentSession, audit, utcnow
from .protocol import PROTOCOL

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# A text still `claimed` this long after its claim was orphaned by a crash. A live claimer stops
# sending at half this age, so a reconciler never races a slow but living process.
LEASE = timedelta(minutes=10)
RECORD_EVERY = 200  # results written per transaction while sending a batch...
RECORD_SECONDS = 1.0  # ...or at least this often, so a crash loses little and no claim grows old
DAILY_WINDOW = timedelta(hours=24)  # "per day" for the ceiling: a rolling 24 hours
AUTOMATED = ("checkin", "reminder")  # texts that count toward the per-patient ceiling
NOT_STEPS = ("C0", "extra")  # check-ins outside the course's sequence


@dataclass(frozen=True)
class RetryPolicy:
    """How long a text waits before its next try: `first`, doubling each time up to `cap`, and
    `attempts` tries in all before it is given up. Pure."""

    first: timedelta
    cap: timedelta
    attempts: int

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed try (1 for the first)."""
        return min(self.first * 2 ** min(max(attempts - 1, 0), 30), self.cap)


# Texts someone is waiting on right now: a provider's alert, an answer to a patient's text. They are
# claimed first and retried quickly: 10 s, 20 s, 40 s, 80 s, then every 2 minutes, 8 tries in all
# (about 9 minutes; an unacknowledged finding has queued fresh alerts by then).
FIRST = ("alert", "answer")
ALERT_RETRY = RetryPolicy(first=timedelta(seconds=10), cap=timedelta(minutes=2), attempts=8)
# Everything else: 30 s doubling to 30 minutes, 8 tries (about an hour), then given up.
TEXT_RETRY = RetryPolicy(first=timedelta(seconds=30), cap=timedelta(minutes=30), attempts=8)


def retry_policy(purpose: str) -> RetryPolicy:
    return ALERT_RETRY if purpose in FIRST else TEXT_RETRY


# Carrier statuses in the order a text moves through them; a status never replaces a later one.
STATUS_RANK = {"pending": 0, "claimed": 0, "unconfirmed": 0, "accepted": 1, "scheduled": 1, "queued": 1,
               "sending": 2, "sent": 3, "delivered": 4, "undelivered": 4, "failed": 4, "read": 5}


class Report(Counter[str]):
    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in sorted(self.items())) or "nothing due"


def run_once(*, now: datetime, gateway: SmsGateway | None = None) -> Report:
    """One pass over everything due at `now`, the alerts first.

    0. With a real gateway, withhold everything about practice patients (`_withhold_practice`).
    1. Settle texts whose sending is in doubt (a claimer that died, an unconfirmed send).
    2. Take in the texts the webhook spooled while the database was down (bot/spool.py), run the
       escalation timers (re-alerts, backups, digests), and send the alerts.
    3. Turn due check-ins into outbox texts, or defer or skip them (quiet hours, stale, ceiling).
    4. Queue reminders; mark unanswered check-ins missed and raise "not responding".
    5. Send the rest of the outbox.
    6. Send the outgoing webhooks due (bot/outgoing.py).

    A step that fails is logged and rolled back and the next steps still run, so one bad row
    cannot hold back the others; the first error is raised once the pass is over.
    """
    gateway = gateway or current_gateway()
    report = Report()
    steps: list[tuple[str, Callable[[], None]]] = [
        ("practice", lambda: _withhold_practice(now, gateway, report)),
        ("reconcile", lambda: _reconcile(now, gateway, report)),
        ("alerts", lambda: _run_alerts(now, gateway, report)),
        ("checkins", lambda: _materialise_checkins(now, report)),
        ("reminders", lambda: _queue_reminders(now, report)),
        ("missed", lambda: _mark_missed(now, report)),
        ("outbox", lambda: _send_outbox(now, gateway, report)),
        ("webhooks", lambda: outgoing.deliver_due(now, report)),  # 6. outgoing webhooks (bot/outgoing.py)
    ]
    _run_steps(steps, report)
    return report


def run_alerts(*, now: datetime, gateway: SmsGateway | None = None) -> Report:
    """The alerts' own pass (the scheduler runs it every few seconds): timers, then alert texts."""
    gateway = gateway or current_gateway()
    report = Report()
    _run_steps([("practice", lambda: _withhold_practice(now, gateway, report)),
                ("alerts", lambda: _run_alerts(now, gateway, report))], report)
    return report


def _withhold_practice(now: datetime, gateway: SmsGateway, report: Report) -> None:
    """Practice patients belong to the console backend (bot/practice). Once a real gateway is
    configured, nothing about them may reach a phone: their unsent texts and alerts are cancelled,
    their planned check-ins cancelled, and their findings resolved so no re-alert, backup page or
    digest names a patient who does not exist."""
    if gateway.name == "console" or not db.session.scalar(sa.select(sa.exists().where(Patient.practice.is_(True)))):
        return
    practice = sa.select(Patient.id).where(Patient.practice.is_(True)).scalar_subquery()
    findings = sa.select(Escalation.id).where(Escalation.patient_id.in_(practice))
    sessions = sa.select(TreatmentSession.id).where(TreatmentSession.patient_id.in_(practice))
    counts = {
        "practice_texts_withheld": db.session.execute(
            sa.update(Message).where(Message.status == "pending",
                                     sa.or_(Message.patient_id.in_(practice), Message.escalation_id.in_(findings)))
            .values(status="cancelled", updated_at=now).execution_options(synchronize_session=False)).rowcount,
        "practice_checkins_withheld": db.session.execute(
            sa.update(CheckIn).where(CheckIn.status == "planned", CheckIn.session_id.in_(sessions))
            .values(status="cancelled", status_reason="practice patient, real gateway")
            .execution_options(synchronize_session=False)).rowcount,
        "practice_findings_closed": db.session.execute(
            sa.update(Escalation).where(Escalation.patient_id.in_(practice), Escalation.status != "resolved")
            .values(status="resolved", resolved_at=now, next_alert_at=None)
            .execution_options(synchronize_session=False)).rowcount,
    }
    db.session.commit()
    for key, count in counts.items():
        if count:
            report[key] += count
    if any(counts.values()):
        log.warning("practice patients' items withheld from the %s gateway: %s", gateway.name,
                    ", ".join(f"{k}={v}" for k, v in counts.items()))


def _run_steps(steps: list[tuple[str, Callable[[], None]]], report: Report) -> None:
    first_error: Exception | None = None
    for name, step in steps:
        try:
            step()
        except Exception as exc:  # keep going: the other steps do not depend on this one
            db.session.rollback()
            log.exception("dispatch step %s failed; the other steps go on", name)
            report[f"failed_{name}"] += 1
            first_error = first_error or exc
    if first_error is not None:
        raise first_error


def _run_alerts(now: datetime, gateway: SmsGateway, report: Report) -> None:
    """Texts spooled while the database was down first (one may be an emergency), then the alerts."""
    taken = spool.drain(now)
    if taken:
        report["spooled_taken"] += taken
    alerts = escalation.run_timers(now)
    if alerts:
        report["alerts_queued"] += alerts
    _send_outbox(now, gateway, report, purposes=FIRST)


# -- claiming ---------------------------------------------------------------------------------

def _claim(model: Any, where: Sequence[Any], values: dict[str, Any], order_by: Sequence[Any]) -> list[int]:
    """Claim up to a batch of rows matching `where` by setting `values`; returns the ids now ours.

    One statement does it:

        UPDATE t SET <values> WHERE id IN (SELECT id FROM t WHERE <where> ORDER BY ... LIMIT n
                                           [FOR UPDATE SKIP LOCKED]) AND <where> RETURNING id

    On PostgreSQL the subquery locks its rows and skips rows another process holds, so racing
    dispatchers take disjoint batches, and the locks last until the caller commits the work done
    under the claim. SQLite runs the statement under its single write lock; the repeated
    `<where>` makes it a conditional update, and RETURNING names exactly the rows it changed.
    """
    limit = current_app.config.get("DISPATCH_BATCH_SIZE", BATCH_SIZE)
    candidates = sa.select(model.id).where(*where).order_by(*order_by).limit(limit)
    if db.engine.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claim = (sa.update(model).where(model.id.in_(candidates.scalar_subquery()), *where).values(**values)
             .returning(model.id).execution_options(synchronize_session=False))
    return list(db.session.scalars(claim))


# -- check-ins --------------------------------------------------------------------------------

def _next_due(session_ids: set[int]) -> dict[int, list[datetime]]:
    """Due times of the protocol's live check-ins (C1-C5) per session, sorted, to find "the next check-in".

    The welcome (C0) and extra check-ins are not steps of the course: they neither close an
    earlier check-in's window nor make it missed.
    """
    out: dict[int, list[datetime]] = defaultdict(list)
    rows = db.session.execute(
        sa.select(CheckIn.session_id, CheckIn.due_at)
        .where(CheckIn.session_id.in_(session_ids), CheckIn.status.not_in(("cancelled",)),
               CheckIn.protocol_id.not_in(NOT_STEPS))
        .order_by(CheckIn.due_at)
    )
    for session_id, due_at in rows:
        out[session_id].append(due_at)
    return out


def _after(due_times: list[datetime], due_at: datetime) -> datetime | None:
    return next((d for d in due_times if d > due_at), None)


def _recent_automated(patient_ids: set[int], now: datetime) -> Counter[int]:
    rows = db.session.execute(
        sa.select(Message.patient_id, sa.func.count())
        .where(Message.patient_id.in_(patient_ids), Message.direction == "out",
               Message.purpose.in_(AUTOMATED), Message.created_at > now - DAILY_WINDOW,
               Message.status.not_in(("cancelled", "held")))
        .group_by(Message.patient_id)
    )
    return Counter(dict(rows.all()))


def _stop_reason(session: TreatmentSession) -> str | None:
    """Why nothing may be texted to this episode's patient any more, if anything."""
    patient = session.patient
    if session.status != "open":
        return f"episode {session.status}"
    if patient.opted_out_at is not None:
        return "opted out"
    if patient.phone_problem_code is not None:
        return "number cannot take texts"
    return None


def _checkin_text(checkin: CheckIn) -> str:
    session, patient = checkin.session, checkin.session.patient
    return checkin_text(checkin.protocol_id, regions=session.regions, language=patient.language,
                        clinic=patient.clinic.sms_name, name=patient.name)


def checkin_text(protocol_id: str, *, regions: Sequence[str], language: str, clinic: str, name: str) -> str:
    """The text a check-in sends: also what the enrolment form previews before saving."""
    key = f"checkin.{protocol_id}"
    if protocol_id == "C1" and PROTOCOL.is_lung_risk(regions):
        key = "checkin.C1.lung"
    return messages.render(key, language, clinic=clinic, name=messages.first_name(name))


def _load_checkins(ids: list[int]) -> list[CheckIn]:
    # The welcome first: a patient enrolled late should not get "how sore are you?" before "hello".
    return list(db.session.scalars(
        sa.select(CheckIn).where(CheckIn.id.in_(ids))
        .order_by((CheckIn.protocol_id != "C0"), CheckIn.due_at, CheckIn.id)
        .options(sa.orm.selectinload(CheckIn.session).selectinload(TreatmentSession.patient)
                 .selectinload(Patient.clinic))
        .execution_options(populate_existing=True)
    ))


def _outbox_row(patient: Patient, checkin: CheckIn, purpose: str, body: str, now: datetime) -> dict[str, Any]:
    """An outbox text as a row for one multi-row INSERT per batch (ORM objects cost 5x more here)."""
    return dict(clinic_id=patient.clinic_id, direction="out", patient_id=patient.id, checkin_id=checkin.id,
                purpose=purpose, body=body, to_number=patient.phone, status="pending", attempts=0,
                send_after=now, created_at=now, updated_at=now)


def _queue(rows: list[dict[str, Any]]) -> None:
    if rows:
        db.session.execute(sa.insert(Message), rows)


def _materialise_checkins(now: datetime, report: Report) -> None:
    """Due check-ins become outbox texts, in batches, each batch one transaction with its claim."""
    while True:
        ids = _claim(CheckIn, [CheckIn.status == "planned", CheckIn.due_at <= now], {"status": "claimed"},
                     [CheckIn.due_at, CheckIn.id])
        if not ids:
            db.session.commit()
            return
        checkins = _load_checkins(ids)
        next_due = _next_due({c.session_id for c in checkins})
        recent = _recent_automated({c.session.patient_id for c in checkins}, now)
        outbox: list[dict[str, Any]] = []
        for checkin in checkins:
            session, patient = checkin.session, checkin.session.patient
            stop = _stop_reason(session)
            if stop:
                checkin.status, checkin.status_reason = "cancelled", stop
                report["checkins_cancelled"] += 1
                continue
            decision = schedule.send_decision(
                due_at=checkin.due_at, next_due_at=_after(next_due[session.id], checkin.due_at), now=now,
                tz=episodes.patient_zone(patient), quiet=episodes.quiet_hours(patient.clinic))
            if decision.action == "defer":
                checkin.status, checkin.due_at = "planned", decision.until
                report["checkins_deferred"] += 1
            elif decision.action == "skip" or recent[patient.id] >= patient.clinic.daily_text_limit:
                reason = decision.reason if decision.action == "skip" else "daily text limit"
                checkin.status, checkin.status_reason = "skipped", reason
                audit("checkin.skipped", clinic_id=patient.clinic_id, subject=f"checkin:{checkin.id}", at=now,
                      protocol_id=checkin.protocol_id, reason=reason)
                report["checkins_skipped"] += 1
            else:
                outbox.append(_outbox_row(patient, checkin, "checkin", _checkin_text(checkin), now))
                checkin.status, checkin.sent_at = "sent", now
                checkin.attempts += 1
                if PROTOCOL.checkin(_spec_id(checkin)).expects_reply:
                    checkin.reminder_due_at = schedule.reminder_due(
                        sent_at=now, next_due_at=_after(next_due[session.id], checkin.due_at),
                        tz=episodes.patient_zone(patient), quiet=episodes.quiet_hours(patient.clinic))
                recent[patient.id] += 1
                report["checkins_queued"] += 1
        _queue(outbox)
        db.session.commit()


def _spec_id(checkin: CheckIn) -> str:
    """The protocol row a check-in follows; the extra check-in asks like C1-C4 do (expects a reply)."""
    return "C1" if checkin.protocol_id == "extra" else checkin.protocol_id


def _queue_reminders(now: datetime, report: Report) -> None:
    """One reminder for a check-in not answered within 4 hours (outside quiet hours)."""
    while True:
        ids = _claim(CheckIn, [CheckIn.status == "sent", CheckIn.reminder_due_at <= now,
                               CheckIn.reminded_at.is_(None)],
                     {"reminded_at": now}, [CheckIn.reminder_due_at, CheckIn.id])
        if not ids:
            db.session.commit()
            return
        checkins = _load_checkins(ids)
        recent = _recent_automated({c.session.patient_id for c in checkins}, now)
        outbox: list[dict[str, Any]] = []
        for checkin in checkins:
            session, patient = checkin.session, checkin.session.patient
            tz, quiet = episodes.patient_zone(patient), episodes.quiet_hours(patient.clinic)
            if _stop_reason(session) or recent[patient.id] >= patient.clinic.daily_text_limit:
                checkin.reminder_due_at = None  # reminded_at stays set: this reminder is settled
                report["reminders_dropped"] += 1
            elif quiet.contains(now.astimezone(tz)):
                checkin.reminded_at = None
                checkin.reminder_due_at = schedule.respect_quiet_hours(now, tz, quiet)
                report["reminders_deferred"] += 1
            else:
                body = messages.render("reminder", patient.language, clinic=patient.clinic.sms_name,
                                       name=messages.first_name(patient.name))
                outbox.append(_outbox_row(patient, checkin, "reminder", body, now))
                recent[patient.id] += 1
                report["reminders_queued"] += 1
        _queue(outbox)
        db.session.commit()


def _mark_missed(now: datetime, report: Report) -> None:
    """A check-in still unanswered when the next one is due is `missed` (the last one a day after
    it went); two in a row in a lung-risk region, or three in all, raise R10 "not responding"."""
    later = sa.orm.aliased(CheckIn)
    live_later = sa.select(later.id).where(later.session_id == CheckIn.session_id, later.status != "cancelled",
                                           later.protocol_id.not_in(NOT_STEPS), later.due_at > CheckIn.due_at)
    overdue = db.session.execute(
        sa.select(CheckIn.id, CheckIn.session_id)
        .where(CheckIn.status == "sent", CheckIn.protocol_id != "C0",
               sa.or_(live_later.where(later.due_at <= now).exists(),
                      sa.and_(CheckIn.sent_at <= now - timedelta(hours=schedule.LAST_CHECKIN_REPLY_HOURS),
                              ~live_later.exists())))
        .limit(BATCH_SIZE * 10)
    ).all()
    touched: set[int] = set()
    for checkin_id, session_id in overdue:
        changed = db.session.execute(
            sa.update(CheckIn).where(CheckIn.id == checkin_id, CheckIn.status == "sent")
            .values(status="missed").execution_options(synchronize_session=False)
        ).rowcount
        if changed == 1:
            report["checkins_missed"] += 1
            touched.add(session_id)
    for session_id in touched:
        _raise_not_responding(db.session.get(TreatmentSession, session_id), now, report)
    db.session.commit()


def _raise_not_responding(session: TreatmentSession, now: datetime, report: Report) -> None:
    statuses = list(db.session.scalars(
        sa.select(CheckIn.status).where(CheckIn.session_id == session.id, CheckIn.protocol_id != "C0")
        .order_by(CheckIn.due_at)
    ))
    if not schedule.not_responding(statuses, lung_risk=PROTOCOL.is_lung_risk(session.regions)):
        return
    already = db.session.scalar(sa.select(sa.func.count()).select_from(Escalation).where(
        Escalation.session_id == session.id, Escalation.rule == "R10"))
    if not already:
        escalation.open_escalation(patient=session.patient, session=session, level="routine", rule="R10",
                                   assessment=None, now=now)
        report["not_responding"] += 1


# -- the outbox -------------------------------------------------------------------------------

def status_callback_url(message_id: int) -> str:
    """Where Twilio reports this text's delivery; our id in it finds the row before its SID is saved."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/sms/status?m={message_id}"


def _send_outbox(now: datetime, gateway: SmsGateway, report: Report,
                 purposes: Sequence[str] | None = None) -> None:
    """Send pending texts in batches, alerts first: claim and commit, send, record results as they come."""
    where = [Message.status == "pending", Message.send_after <= now]
    if purposes is not None:
        where.append(Message.purpose.in_(purposes))
    first = sa.case((Message.purpose.in_(FIRST), 0), else_=1)
    while True:
        ids = _claim(Message, where, {"status": "claimed", "claimed_at": now, "attempts": Message.attempts + 1},
                     [first, Message.send_after, Message.id])
        db.session.commit()
        if not ids:
            return
        rows = db.session.execute(
            sa.select(Message.id, Message.to_number, Message.body, Message.attempts, Message.purpose)
            .where(Message.id.in_(ids)).order_by(first, Message.send_after, Message.id)
        ).all()
        started = last_write = monotonic_time.monotonic()
        results: list[tuple[Any, Any]] = []
        for index, row in enumerate(rows):
            if monotonic_time.monotonic() - started > LEASE.total_seconds() / 2:
                _release([r.id for r in rows[index:]], now)
                report["released"] += len(rows) - index
                break
            try:
                results.append((row, gateway.send(row.to_number, row.body, reference=f"msg-{row.id}",
                                                  status_callback=status_callback_url(row.id))))
            except SendError as exc:
                results.append((row, exc))
            except Exception:  # a bug or a surprise: park this row, keep the rest moving
                log.exception("unexpected error sending message id=%s", row.id)
                results.append((row, None))
            if len(results) >= RECORD_EVERY or monotonic_time.monotonic() - last_write > RECORD_SECONDS:
                _record(results, now, report)
                results, last_write = [], monotonic_time.monotonic()
        _record(results, now, report)


def _release(ids: list[int], now: datetime) -> None:
    db.session.execute(sa.update(Message).where(Message.id.in_(ids), Message.status == "claimed",
                                                Message.claimed_at == now)
                       .values(status="pending").execution_options(synchronize_session=False))
    db.session.commit()


_RECORD_SENT = (
    sa.update(Message.__table__)
    .where(Message.__table__.c.id == sa.bindparam("_id"))
    .values(twilio_sid=sa.bindparam("_sid"), sent_at=sa.bindparam("_at"), updated_at=sa.bindparam("_at"),
            # a status callback may already have said more (sent, delivered): keep it
            status=sa.case((Message.__table__.c.status == "claimed", sa.bindparam("_status")),
                           else_=Message.__table__.c.status))
)


def _record(results: list[tuple[Any, Any]], now: datetime, report: Report) -> None:
    """Write what the carrier said about each text in one transaction."""
    if not results:
        return
    sent = [{"_id": row.id, "_sid": outcome.sid, "_status": outcome.status, "_at": now}
            for row, outcome in results if not isinstance(outcome, (SendError, type(None)))]
    if sent:
        db.session.execute(_RECORD_SENT, sent)
        report["sent"] += len(sent)
    for row, outcome in results:
        if outcome is None:  # a surprise, not a carrier's answer: retried like a refusal, never a crash loop
            _retry_or_give_up(row, now, report, reason="unexpected error", code=None)
        elif isinstance(outcome, SendError):
            _record_failure(row, outcome, now, report)
    db.session.commit()


def _set(message_id: int, **values: Any) -> None:
    db.session.execute(sa.update(Message).where(Message.id == message_id).values(**values)
                       .execution_options(synchronize_session=False))


def _record_failure(row: Any, error: SendError, now: datetime, report: Report) -> None:
    if error.uncertain:  # it may have gone: ask the carrier after a back-off, never resend blind
        _set(row.id, status="unconfirmed", send_after=now + retry_policy(row.purpose).delay(row.attempts),
             updated_at=now)
        report["uncertain"] += 1
        return
    if error.transient:
        _retry_or_give_up(row, now, report, reason="carrier unavailable", code=error.code)
        return
    _set(row.id, status="failed", error_code=error.code, updated_at=now)
    report["failed"] += 1
    apply_carrier_error(db.session.get(Message, row.id), error.code, now)


def _retry_or_give_up(row: Any, now: datetime, report: Report, *, reason: str, code: int | None) -> None:
    """Try again after the purpose's back-off, or, after its last try, mark the text failed and say so."""
    policy = retry_policy(row.purpose)
    if row.attempts < policy.attempts:
        _set(row.id, status="pending", send_after=now + policy.delay(row.attempts), error_code=code,
             updated_at=now)
        report["retrying"] += 1
        return
    _give_up(db.session.get(Message, row.id), now, report, reason=reason, code=code)


def _give_up(message: Message, now: datetime, report: Report, *, reason: str, code: int | None) -> None:
    """The last try failed: the text is `failed`, and the audit log and /metrics show it."""
    message.status, message.updated_at = "failed", now
    message.error_code = code if code is not None else message.error_code
    audit("message.given_up", clinic_id=message.clinic_id, subject=f"message:{message.id}", at=now,
          purpose=message.purpose, attempts=message.attempts, reason=reason, code=message.error_code)
    log.warning("gave up message id=%s purpose=%s after %s tries: %s", message.id, message.purpose,
                message.attempts, reason)
    report["given_up"] += 1


def apply_carrier_error(message: Message, code: int | None, now: datetime) -> None:
    """What a permanent carrier error means for the patient: opted out, or a number staff must fix."""
    log.warning("message id=%s failed with carrier code %s", message.id, code)
    patient = message.patient
    if patient is None:
        audit("alert.failed", clinic_id=message.clinic_id, subject=f"message:{message.id}", at=now, code=code)
        return
    if code == OPTED_OUT:
        episodes.opt_out(patient, now=now, source="carrier")
    elif code in NUMBER_PROBLEMS and patient.phone_problem_code is None:
        patient.phone_problem_code = code
        for session in patient.sessions:
            if session.status == "open":
                episodes.cancel_schedule(session, reason="number cannot take texts", now=now)
        audit("patient.number_flagged", clinic_id=patient.clinic_id, subject=f"patient:{patient.id}", at=now,
              code=code)


def _reconcile(now: datetime, gateway: SmsGateway, report: Report) -> None:
    """Texts whose sending is in doubt: did they go? (numbered steps)

    1. Claim them by renewing their claim time: texts still `claimed` by a process that died (claim
       older than LEASE), and `unconfirmed` sends whose back-off is over.
    2. Commit, then ask the carrier for each whether a text with its reference went since it was made.
    3. Went: record its SID as sent. Did not: back to `pending`, sent in this same pass.
    4. The carrier cannot say: `unconfirmed` again after a back-off; after the purpose's last try the
       text is given up (failed, audited), never asked about forever.
    """
    in_doubt = _claim(Message, [sa.or_(sa.and_(Message.status == "claimed", Message.claimed_at < now - LEASE),
                                       sa.and_(Message.status == "unconfirmed", Message.send_after <= now))],
                      {"status": "claimed", "claimed_at": now}, [Message.claimed_at, Message.id])
    db.session.commit()
    for message in db.session.scalars(sa.select(Message).where(Message.id.in_(in_doubt))):
        try:
            found = gateway.lookup(message.to_number, message.body, since=message.created_at,
                                   reference=f"msg-{message.id}")
        except Exception:  # the carrier cannot say now
            log.exception("could not reconcile message id=%s", message.id)
            report["reconcile_failed"] += 1
            message.attempts += 1
            policy = retry_policy(message.purpose)
            if message.attempts >= policy.attempts:
                _give_up(message, now, report, reason="carrier could not confirm the send", code=None)
            else:
                message.status, message.send_after = "unconfirmed", now + policy.delay(message.attempts)
            db.session.commit()
            continue
        if found is not None:
            message.twilio_sid, message.sent_at = found.sid, message.sent_at or now
            message.status = found.status
            report["reconciled_sent"] += 1
        else:
            message.status, message.send_after = "pending", now
            report["reconciled_unsent"] += 1
        db.session.commit()


def record_status(message: Message, status: str, error_code: int | None, now: datetime) -> bool:
    """A delivery report from the carrier: move forward only (a late `sent` never undoes `delivered`).

    Reports for one text can arrive at the same moment and overtake each other, so the move is one
    conditional UPDATE (the row changes only while its status ranks below the new one): the
    database decides, never a status read earlier. A terminal failure is recorded with its carrier
    code and acted on (opt-out, a number staff must fix) by the one report that recorded it. Which
    row a report is about, SID included, the webhook has settled (`webhooks.reported_message`).
    """
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if error_code is not None:
        values["error_code"] = error_code
    current_rank = sa.case(STATUS_RANK, value=Message.status, else_=0)
    changed = db.session.execute(
        sa.update(Message).where(Message.id == message.id, current_rank < STATUS_RANK.get(status, -1))
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.refresh(message)
    if changed and status in ("failed", "undelivered") and error_code is not None:
        apply_carrier_error(message, error_code, now)
    return changed


# -- the APScheduler driver --------------------------------------------------------------------

HEARTBEAT_KEEP = timedelta(days=7)  # a process silent this long is forgotten


@dataclass(frozen=True)
class Heartbeat:
    """Who this dispatcher process is, for its heartbeat row."""

    name: str
    started_at: datetime
    interval_seconds: float

    @classmethod
    def of_this_process(cls, interval_seconds: float) -> Heartbeat:
        return cls(f"{socket.gethostname()}:{os.getpid()}"[:120], utcnow(), interval_seconds)


def beat(heartbeat: Heartbeat, now: datetime) -> None:
    """Record that this process completed a pass at `now` (one durable row per process)."""
    changed = db.session.execute(
        sa.update(DispatcherHeartbeat).where(DispatcherHeartbeat.name == heartbeat.name)
        .values(beat_at=now, interval_seconds=heartbeat.interval_seconds)
    ).rowcount
    if not changed:
        db.session.add(DispatcherHeartbeat(name=heartbeat.name, started_at=heartbeat.started_at, beat_at=now,
                                           interval_seconds=heartbeat.interval_seconds))
    db.session.execute(sa.delete(DispatcherHeartbeat).where(DispatcherHeartbeat.beat_at < now - HEARTBEAT_KEEP))
    db.session.commit()


def _tick(app: Flask, job: Callable[..., Report] = run_once, heartbeat: Heartbeat | None = None) -> None:
    """One pass of `job`; the heartbeat is written only when the pass completed."""
    with app.app_context():
        try:
            now = utcnow()
            report = job(now=now)
            if report:
                log.info("dispatch %s: %s", job.__name__, report)
            if heartbeat is not None:
                beat(heartbeat, utcnow())
        except Exception:
            db.session.rollback()
            log.exception("dispatch %s failed; the next pass retries", job.__name__)
        finally:
            db.session.remove()


def make_scheduler(app: Flask, *, blocking: bool) -> BaseScheduler:
    """APScheduler drives the passes; the rows, not the scheduler, hold what is due.

    Two jobs on their own threads: the full pass every SCHEDULER_INTERVAL_SECONDS, and the
    alerts' pass every ALERT_INTERVAL_SECONDS, so an alert never waits behind a long or failing
    run of check-ins. Their claims keep them (and other processes) from sending anything twice.
    """
    interval = app.config["SCHEDULER_INTERVAL_SECONDS"]
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(
        timezone=timezone.utc,  # the trigger only counts seconds; UTC has no DST jumps to skip or repeat
        job_defaults={
            "coalesce": True,  # after a stall, one catch-up pass: every pass drains all that is due
            "max_instances": 1,  # a job's passes never overlap in one process; claims keep processes apart
        },
    )
    started = datetime.now(timezone.utc)
    heartbeat = Heartbeat.of_this_process(interval)
    for job_id, job, seconds in (("alerts", run_alerts, app.config["ALERT_INTERVAL_SECONDS"]),
                                 ("dispatch", run_once, interval)):
        # A pass later than one interval is dropped; the next covers it.
        scheduler.add_job(_tick, "interval", seconds=seconds, args=[app, job, heartbeat], id=job_id, name=job_id,
                          next_run_time=started, misfire_grace_time=max(1, int(seconds)))
    # APScheduler logs every run at INFO: two lines every few seconds. Passes log what they did.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    return scheduler


def run_blocking(app: Flask) -> None:
    """`flask scheduler`: dispatch until SIGTERM/SIGINT, finishing the pass in hand before exiting."""
    scheduler = make_scheduler(app, blocking=True)

    def stop(signum: int, frame: Any) -> None:
        log.info("signal %s: finishing the current pass, then stopping", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("dispatcher started: every %ss", app.config["SCHEDULER_INTERVAL_SECONDS"])
    scheduler.start()


def start_in_process(app: Flask) -> BackgroundScheduler:
    """`make run` and single-process deployments: the dispatcher on a thread of the web process."""
    scheduler = make_scheduler(app, blocking=False)
    scheduler.start()
    log.info("in-process dispatcher started: every %ss", app.config["SCHEDULER_INTERVAL_SECONDS"])
    return scheduler  # type: ignore[return-value]
