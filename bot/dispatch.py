"""The dispatcher: due rows become texts, exactly once, however many processes run and whatever crashes.

The durable rows are the schedule. APScheduler only decides when a pass runs; a pass
(`run_once`) reads the rows, claims what it will handle, and commits the claim before it talks
to the carrier. Any number of dispatcher processes can run: on PostgreSQL they claim batches
with `SELECT ... FOR UPDATE SKIP LOCKED`; on SQLite a batch is claimed by one conditional
`UPDATE ... WHERE status = <expected> RETURNING id` under its single write lock (see `_claim`).

Outbound texts pass through the outbox (`messages`, direction "out"):

    pending --claim--> claimed --send--> queued/accepted/sent --callbacks--> delivered/undelivered/failed
                          |                                                   (never backwards)
                          +-- still `claimed` after LEASE: the claimer died. Ask the carrier
                              whether it went (`lookup`): yes -> record it; no -> pending again.
"""

from __future__ import annotations

import logging
import signal
import time as monotonic_time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app

from . import episodes, escalation, messages, outgoing, schedule
from .extensions import db
from .gateways import NUMBER_PROBLEMS, OPTED_OUT, SendError, SmsGateway, current_gateway
from .models import CheckIn, Escalation, Message, Patient, TreatmentSession, audit, utcnow
from .protocol import PROTOCOL

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# A text still `claimed` this long after its claim was orphaned by a crash. A live claimer stops
# sending at half this age, so a reconciler never races a slow but living process.
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 6
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30),
           timedelta(hours=2))
RECORD_EVERY = 200  # results written per transaction while sending a batch...
RECORD_SECONDS = 1.0  # ...or at least this often, so a crash loses little and no claim grows old
DAILY_WINDOW = timedelta(hours=24)  # "per day" for the ceiling: a rolling 24 hours
AUTOMATED = ("checkin", "reminder")  # texts that count toward the per-patient ceiling
NOT_STEPS = ("C0", "extra")  # check-ins outside the course's sequence

# Carrier statuses in the order a text moves through them; a status never replaces a later one.
STATUS_RANK = {"pending": 0, "claimed": 0, "accepted": 1, "scheduled": 1, "queued": 1, "sending": 2,
               "sent": 3, "delivered": 4, "undelivered": 4, "failed": 4, "read": 5}


class Report(Counter[str]):
    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in sorted(self.items())) or "nothing due"


def run_once(*, now: datetime, gateway: SmsGateway | None = None) -> Report:
    """One pass over everything due at `now`.

    1. Settle texts left `claimed` by a process that died (reconcile with the carrier).
    2. Turn due check-ins into outbox texts, or defer or skip them (quiet hours, stale, ceiling).
    3. Queue reminders; mark unanswered check-ins missed and raise "not responding".
    4. Run the escalation timers: re-alerts, backups, digests.
    5. Send the outbox.
    """
    gateway = gateway or current_gateway()
    report = Report()
    _reconcile(now, gateway, report)
    _materialise_checkins(now, report)
    _queue_reminders(now, report)
    _mark_missed(now, report)
    alerts = escalation.run_timers(now)
    if alerts:
        report["alerts_queued"] += alerts
    _send_outbox(now, gateway, report)
    outgoing.deliver_due(now, report)  # 6. Outgoing webhooks (bot/outgoing.py), after the texts
    return report


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
    key = f"checkin.{checkin.protocol_id}"
    if checkin.protocol_id == "C1" and PROTOCOL.is_lung_risk(session.regions):
        key = "checkin.C1.lung"
    return messages.render(key, patient.language, clinic=patient.clinic.sms_name,
                           name=messages.first_name(patient.name))


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


def _send_outbox(now: datetime, gateway: SmsGateway, report: Report) -> None:
    """Send pending texts in batches: claim and commit, send, record results as they come."""
    while True:
        ids = _claim(Message, [Message.status == "pending", Message.send_after <= now],
                     {"status": "claimed", "claimed_at": now, "attempts": Message.attempts + 1},
                     [Message.send_after, Message.id])
        db.session.commit()
        if not ids:
            return
        rows = db.session.execute(
            sa.select(Message.id, Message.to_number, Message.body, Message.attempts)
            .where(Message.id.in_(ids)).order_by(Message.send_after, Message.id)
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
        if outcome is None and row.attempts < MAX_ATTEMPTS:
            _set(row.id, status="pending", send_after=now + timedelta(hours=1))  # not a crash loop
            report["parked"] += 1
        elif outcome is None:
            _set(row.id, status="failed", updated_at=now)
            report["failed"] += 1
        elif isinstance(outcome, SendError):
            _record_failure(row, outcome, now, report)
    db.session.commit()


def _set(message_id: int, **values: Any) -> None:
    db.session.execute(sa.update(Message).where(Message.id == message_id).values(**values)
                       .execution_options(synchronize_session=False))


def _record_failure(row: Any, error: SendError, now: datetime, report: Report) -> None:
    if error.uncertain:
        report["uncertain"] += 1  # stays claimed; reconciled once its lease runs out
        return
    if error.transient and row.attempts < MAX_ATTEMPTS:
        wait = BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
        _set(row.id, status="pending", send_after=now + wait, error_code=error.code)
        report["retrying"] += 1
        return
    _set(row.id, status="failed", error_code=error.code, updated_at=now)
    report["failed"] += 1
    apply_carrier_error(db.session.get(Message, row.id), error.code, now)


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
    """Texts claimed by a process that never recorded the outcome: did they go? (numbered steps)

    1. Claim the orphans (still `claimed`, claim older than LEASE) by renewing their claim time.
    2. Commit, then ask the carrier for each whether a text with its reference went since the claim.
    3. Went: record its SID as sent. Did not: back to `pending`, sent in this same pass.
    """
    orphans = _claim(Message, [Message.status == "claimed", Message.claimed_at < now - LEASE],
                     {"claimed_at": now}, [Message.claimed_at, Message.id])
    db.session.commit()
    for message in db.session.scalars(sa.select(Message).where(Message.id.in_(orphans))):
        try:
            found = gateway.lookup(message.to_number, message.body, since=message.created_at,
                                   reference=f"msg-{message.id}")
        except Exception:  # the carrier cannot say now: keep the claim, ask again after another lease
            log.exception("could not reconcile message id=%s; will ask again", message.id)
            report["reconcile_failed"] += 1
            continue
        if found is not None:
            message.twilio_sid, message.sent_at = found.sid, message.sent_at or now
            message.status = found.status
            report["reconciled_sent"] += 1
        else:
            message.status, message.send_after = "pending", now
            report["reconciled_unsent"] += 1
        db.session.commit()


def record_status(message: Message, status: str, error_code: int | None, sid: str | None, now: datetime) -> bool:
    """A delivery report from the carrier: move forward only (a late `sent` never undoes `delivered`)."""
    if sid and message.twilio_sid is None:
        message.twilio_sid = sid
    if STATUS_RANK.get(status, -1) <= STATUS_RANK.get(message.status, 0):
        return False
    message.status, message.updated_at = status, now
    if error_code is not None:
        message.error_code = error_code
    if status in ("failed", "undelivered") and error_code is not None:
        apply_carrier_error(message, error_code, now)
    return True


# -- the APScheduler driver --------------------------------------------------------------------

def _tick(app: Flask) -> None:
    with app.app_context():
        try:
            report = run_once(now=utcnow())
            if report:
                log.info("dispatch: %s", report)
        except Exception:
            db.session.rollback()
            log.exception("dispatch pass failed; the next pass retries")
        finally:
            db.session.remove()


def make_scheduler(app: Flask, *, blocking: bool) -> BaseScheduler:
    """APScheduler drives `run_once`; the rows, not the scheduler, hold what is due."""
    interval = app.config["SCHEDULER_INTERVAL_SECONDS"]
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(
        timezone=timezone.utc,  # the trigger only counts seconds; UTC has no DST jumps to skip or repeat
        job_defaults={
            "coalesce": True,  # after a stall, one catch-up pass: every pass drains all that is due
            "max_instances": 1,  # passes in one process never overlap; other processes are kept apart by claims
            "misfire_grace_time": int(interval),  # a pass later than one interval is dropped; the next covers it
        },
    )
    scheduler.add_job(_tick, "interval", seconds=interval, args=[app], id="dispatch",
                      next_run_time=datetime.now(timezone.utc))
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
