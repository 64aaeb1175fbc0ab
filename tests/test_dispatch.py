"""The dispatcher sends each due text exactly once, at the right local time, and records what happened."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, post_signed, sent_to, text_in

from bot import dispatch, episodes
from bot.dispatch import run_once
from bot.extensions import db
from bot.gateways import ConsoleGateway, SendError
from bot.models import AuditEvent, CheckIn, Escalation, Message, Patient

NY = ZoneInfo("America/New_York")
MARIA = "+12125550143"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def statuses(session) -> dict[str, str]:
    db.session.expire_all()
    return {c.protocol_id: c.status for c in session.checkins}


class FlakyGateway(ConsoleGateway):
    """The console gateway, failing the next sends as told."""

    def __init__(self, path, errors):
        super().__init__(path)
        self.errors = list(errors)

    def send(self, to, body, *, reference, status_callback=None):
        if self.errors:
            raise self.errors.pop(0)
        return super().send(to, body, reference=reference, status_callback=status_callback)


def test_a_due_checkin_is_sent_once_and_recorded(app, clinic, gateway):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 1))
    assert sent_to(gateway, MARIA) == ["Harbor PT: Hi Maria, we'll text a few times after your dry needling; reply "
                                       "anytime. Breathing trouble or chest pain? Call 911. STOP to opt out"]
    welcome = db.session.scalars(sa.select(Message).where(Message.purpose == "checkin")).one()
    assert welcome.status == "sent" and welcome.twilio_sid.startswith("SM") and welcome.attempts == 1
    assert statuses(e.session) == {"C0": "sent", "C1": "planned", "C2": "planned", "C3": "planned"}


def test_nothing_goes_before_its_time_and_each_goes_at_its_time(app, clinic, gateway):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 13, 59))
    assert len(sent_to(gateway, MARIA)) == 1
    run_once(now=ny(2026, 11, 17, 14, 0))
    assert sent_to(gateway, MARIA)[-1] == "Harbor PT: Hi Maria, how sore are you now, 0 to 10? (0 none, 10 worst)"


def test_a_checkin_that_lands_in_quiet_hours_waits_for_the_evening_slot(app, clinic, gateway):
    enroll(clinic, ended=ny(2026, 11, 17, 18, 0), regions=("upper_back",))
    run_once(now=ny(2026, 11, 17, 20, 29))
    assert len(sent_to(gateway, MARIA)) == 1
    run_once(now=ny(2026, 11, 17, 20, 30))
    assert "Any trouble breathing or chest pain?" in sent_to(gateway, MARIA)[-1]  # the lung-risk C1


def test_no_reply_gets_one_reminder_then_the_checkin_is_missed(app, clinic, gateway):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    for hour in (10, 14):
        run_once(now=ny(2026, 11, 17, hour, 0))
    run_once(now=ny(2026, 11, 17, 18, 0))
    run_once(now=ny(2026, 11, 17, 19, 0))
    texts = sent_to(gateway, MARIA)
    assert len(texts) == 3 and texts[-1].startswith("Harbor PT: Hi Maria, we haven't heard back.")
    run_once(now=ny(2026, 11, 18, 10, 0))  # C2 is due: C1 was never answered
    assert statuses(e.session) == {"C0": "sent", "C1": "missed", "C2": "sent", "C3": "planned"}


def test_two_missed_in_a_row_in_a_lung_risk_region_raise_a_routine_finding(app, clinic, gateway):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0), regions=("neck",))
    for moment in (ny(2026, 11, 17, 10), ny(2026, 11, 17, 14), ny(2026, 11, 18, 10), ny(2026, 11, 19, 10)):
        run_once(now=moment)
    esc = db.session.scalars(sa.select(Escalation)).one()
    assert (esc.level, esc.rule, esc.session_id) == ("routine", "R10", e.session.id)
    run_once(now=ny(2026, 11, 20, 10))  # a third miss raises nothing new
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Escalation)) == 1


def test_stop_cancels_the_rest_of_the_schedule(app, clinic, gateway, client):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 0))
    text_in(client, MARIA, "Stop")
    assert statuses(e.session) == {"C0": "sent", "C1": "cancelled", "C2": "cancelled", "C3": "cancelled"}
    run_once(now=ny(2026, 11, 19, 12, 0))
    assert len(sent_to(gateway, MARIA)) == 1


def test_closing_the_episode_cancels_the_rest(app, clinic, gateway):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    episodes.close_episode(e.session, actor="provider:1", now=ny(2026, 11, 17, 11, 0))
    db.session.commit()
    run_once(now=ny(2026, 11, 19, 12, 0))
    assert sent_to(gateway, MARIA) == []
    assert set(statuses(e.session).values()) == {"cancelled"}


def test_a_new_session_starts_a_new_episode(app, clinic, gateway):
    first = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    second = enroll(clinic, ended=ny(2026, 11, 18, 9, 0), new_session_for=first.patient.id)
    assert first.session.status == "superseded" and set(statuses(first.session).values()) == {"cancelled"}
    assert first.patient.id == second.patient.id
    run_once(now=ny(2026, 11, 18, 9, 0))
    assert len(sent_to(gateway, MARIA)) == 1  # the new welcome only


def test_a_corrected_session_time_replans_what_is_to_come(app, clinic, gateway):
    e = enroll(clinic, ended=ny(2026, 11, 17, 15, 0), now=ny(2026, 11, 17, 15, 5))
    run_once(now=ny(2026, 11, 17, 15, 5))
    episodes.correct_session_time(e.session, ny(2026, 11, 17, 11, 0), actor="cli", now=ny(2026, 11, 17, 15, 10))
    db.session.commit()
    due = {c.protocol_id: c.due_at.astimezone(NY) for c in e.session.checkins}
    assert due["C1"] == ny(2026, 11, 17, 15, 0) and due["C2"] == ny(2026, 11, 18, 11, 0)
    run_once(now=ny(2026, 11, 17, 15, 10))
    assert sent_to(gateway, MARIA)[-1].startswith("Harbor PT: Hi Maria, how sore are you now")
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "episode.time_corrected")) is not None


def test_after_a_30_hour_outage_each_patient_gets_at_most_one_current_text(app, clinic, gateway):
    start = ny(2026, 11, 16, 9, 0)
    for i in range(30):  # sessions every 20 minutes through the day
        enroll(clinic, ended=start + timedelta(minutes=20 * i), phone=f"+1212555{1000 + i}", name=f"P{i} Test")
    run_once(now=start)  # the first welcome went out, then the dispatcher was down for 30 hours
    first = len(gateway.records())
    back = start + timedelta(hours=30)
    report = run_once(now=back)
    burst = gateway.records()[first:]
    per_patient = {}
    for record in burst:
        per_patient[record["to"]] = per_patient.get(record["to"], 0) + 1
    assert max(per_patient.values()) == 1  # never a burst to one patient
    assert report["checkins_skipped"] > 0
    db.session.expire_all()
    for checkin in db.session.scalars(sa.select(CheckIn).where(CheckIn.status == "sent", CheckIn.protocol_id != "C0")):
        assert back - checkin.due_at <= timedelta(hours=12)  # nothing stale went


def test_the_daily_ceiling_stops_a_flood(app, clinic, gateway):
    clinic.daily_text_limit = 1
    db.session.commit()
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0), now=ny(2026, 11, 17, 15, 0))  # enrolled late: C0 and C1 due
    run_once(now=ny(2026, 11, 17, 15, 0))
    assert len(sent_to(gateway, MARIA)) == 1
    c1 = next(c for c in e.session.checkins if c.protocol_id == "C1")
    db.session.refresh(c1)
    assert (c1.status, c1.status_reason) == ("skipped", "daily text limit")


def test_a_transient_failure_is_retried_with_backoff(app, clinic, tmp_path):
    flaky = FlakyGateway(tmp_path / "flaky.jsonl", [SendError("503", code=None, transient=True)])
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    report = run_once(now=ny(2026, 11, 17, 10, 0), gateway=flaky)
    assert report["retrying"] == 1 and flaky.records() == []
    run_once(now=ny(2026, 11, 17, 10, 0, 20), gateway=flaky)
    assert flaky.records() == []  # the back-off is 30 seconds
    run_once(now=ny(2026, 11, 17, 10, 0, 31), gateway=flaky)
    assert len(flaky.records()) == 1
    assert db.session.scalars(sa.select(Message.attempts).where(Message.purpose == "checkin")).one() == 2


def test_a_recipient_who_opted_out_at_the_carrier_is_marked_opted_out(app, clinic, tmp_path):
    flaky = FlakyGateway(tmp_path / "flaky.jsonl", [SendError("400", code=21610)])
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 0), gateway=flaky)
    db.session.expire_all()
    assert e.patient.opted_out_at is not None
    assert statuses(e.session)["C2"] == "cancelled"
    message = db.session.scalars(sa.select(Message).where(Message.purpose == "checkin")).one()
    assert (message.status, message.error_code) == ("failed", 21610)


# Refused when sent: invalid number, not a mobile, a landline, a short code.
@pytest.mark.parametrize("code", [21211, 21614, 21635, 21265])
def test_a_number_that_cannot_take_texts_is_flagged_for_staff(app, clinic, tmp_path, code):
    flaky = FlakyGateway(tmp_path / "flaky.jsonl", [SendError("400", code=code)])
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 0), gateway=flaky)
    db.session.expire_all()
    assert e.patient.phone_problem_code == code and e.patient.opted_out_at is None
    assert statuses(e.session)["C1"] == "cancelled"
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "patient.number_flagged"))


def status_report(client, message: Message, state: str, error: str = "") -> int:
    params = {"MessageSid": message.twilio_sid, "MessageStatus": state, "AccountSid": "AC" + "0" * 32}
    if error:
        params["ErrorCode"] = error
    return post_signed(client, f"/sms/status?m={message.id}", params).status_code


# Reported later by the carrier: a number no longer in service (30005), a landline or a carrier
# that cannot be reached (30006).
@pytest.mark.parametrize("code", ["30005", "30006"])
def test_a_number_the_carrier_reports_undeliverable_for_good_is_flagged_for_staff(app, clinic, client, code):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 0))
    welcome = db.session.scalars(sa.select(Message).where(Message.purpose == "checkin")).one()
    status_report(client, welcome, "undelivered", code)
    db.session.expire_all()
    assert e.patient.phone_problem_code == int(code) and e.patient.opted_out_at is None
    assert statuses(e.session)["C1"] == "cancelled"
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "patient.number_flagged"))


# A handset switched off (30003) or a carrier's unexplained failure (30008) passes: the number is good.
@pytest.mark.parametrize("code", ["30003", "30008"])
def test_a_passing_delivery_failure_leaves_the_number_alone(app, clinic, client, code):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 0))
    welcome = db.session.scalars(sa.select(Message).where(Message.purpose == "checkin")).one()
    status_report(client, welcome, "undelivered", code)
    db.session.expire_all()
    assert e.patient.phone_problem_code is None
    assert statuses(e.session)["C1"] == "planned"


def test_delivery_reports_are_recorded_and_a_late_sent_never_undoes_delivered(app, clinic, client):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 0))
    message = db.session.scalars(sa.select(Message).where(Message.purpose == "checkin")).one()
    assert status_report(client, message, "delivered") == 204
    assert status_report(client, message, "sent") == 204
    db.session.refresh(message)
    assert message.status == "delivered"


def test_an_undelivered_report_records_its_error_code(app, clinic, client):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 0))
    message = db.session.scalars(sa.select(Message).where(Message.purpose == "checkin")).one()
    status_report(client, message, "undelivered", "30003")
    db.session.refresh(message)
    assert (message.status, message.error_code) == ("undelivered", 30003)


def test_a_status_report_must_be_signed(app, clinic, client):
    response = client.post("/sms/status", data={"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert response.status_code == 403


def crash_after_claim(now: datetime) -> list[int]:
    """What a dispatcher leaves behind when killed after committing its claim: rows `claimed`."""
    ids = dispatch._claim(Message, [Message.status == "pending"], {"status": "claimed", "claimed_at": now,
                                                                   "attempts": Message.attempts + 1},
                          [Message.id])
    db.session.commit()
    return ids


def test_a_text_claimed_by_a_crashed_dispatcher_is_settled_with_the_carrier_never_sent_twice(app, clinic, gateway):
    for i, phone in enumerate(("+12125550143", "+12125550144")):
        enroll(clinic, ended=ny(2026, 11, 17, 10, 0), phone=phone, name=f"P{i} Test")
    dispatch._materialise_checkins(ny(2026, 11, 17, 10, 0), dispatch.Report())
    went, lost = crash_after_claim(ny(2026, 11, 17, 10, 0))
    # The crashed process had handed the first text to the carrier, not the second.
    gateway.send("+12125550143", db.session.get(Message, went).body, reference=f"msg-{went}")
    assert run_once(now=ny(2026, 11, 17, 10, 5))["sent"] == 0  # a live claim is left alone
    report = run_once(now=ny(2026, 11, 17, 10, 11))
    assert (report["reconciled_sent"], report["reconciled_unsent"], report["sent"]) == (1, 1, 1)
    assert [r["to"] for r in gateway.records()] == ["+12125550143", "+12125550144"]
    assert {m.status for m in db.session.scalars(sa.select(Message))} == {"sent"}


def test_an_uncertain_send_is_checked_with_the_carrier_after_a_short_wait_then_sent_once(app, clinic, tmp_path):
    flaky = FlakyGateway(tmp_path / "flaky.jsonl", [SendError("read timeout", uncertain=True)])
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    report = run_once(now=ny(2026, 11, 17, 10, 0), gateway=flaky)
    assert report["uncertain"] == 1
    run_once(now=ny(2026, 11, 17, 10, 0, 29), gateway=flaky)
    assert flaky.records() == []  # not resent blind
    report = run_once(now=ny(2026, 11, 17, 10, 0, 30), gateway=flaky)  # 30 s later, not 10 minutes
    assert report["reconciled_unsent"] == 1 and len(flaky.records()) == 1  # it had not gone: sent now, once


class BrokenGateway(ConsoleGateway):
    """A gateway whose sends raise something unexpected, and whose carrier cannot be asked."""

    def send(self, to, body, *, reference, status_callback=None):
        raise RuntimeError("a bug, not a carrier answer")

    def lookup(self, to, body, *, since, reference):
        raise ConnectionError("carrier API down")


def test_a_carrier_that_stays_down_gets_doubling_waits_then_the_text_is_given_up_and_audited(app, clinic, tmp_path):
    down = FlakyGateway(tmp_path / "flaky.jsonl", [SendError("503", transient=True) for _ in range(20)])
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    moment = ny(2026, 11, 17, 10, 0)

    def welcome() -> Message:
        db.session.expire_all()
        return db.session.scalars(sa.select(Message).where(Message.purpose == "checkin")).one()

    for attempt, wait in enumerate([30, 60, 120, 240, 480, 960, 1800], start=1):  # doubling, capped at 30 min
        run_once(now=moment, gateway=down)
        assert (welcome().status, welcome().attempts) == ("pending", attempt)
        run_once(now=moment + timedelta(seconds=wait - 1), gateway=down)
        assert welcome().attempts == attempt  # not before its wait is over
        moment += timedelta(seconds=wait)
    report = run_once(now=moment, gateway=down)  # the eighth try fails too: given up, and said so
    assert report["given_up"] == 1 and (welcome().status, welcome().attempts) == ("failed", 8)
    given_up = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "message.given_up")).one()
    assert given_up.subject == f"message:{welcome().id}" and given_up.detail["attempts"] == 8
    run_once(now=moment + timedelta(minutes=30), gateway=down)
    assert welcome().attempts == 8 and down.records() == []  # never tried again


def test_when_the_carrier_can_never_confirm_an_uncertain_send_the_text_is_given_up(app, clinic, tmp_path):
    broken = BrokenGateway(tmp_path / "broken.jsonl")
    flaky = FlakyGateway(tmp_path / "flaky.jsonl", [SendError("read timeout", uncertain=True)])
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 0), gateway=flaky)
    moment = ny(2026, 11, 17, 10, 0)
    for _ in range(8):
        moment += timedelta(minutes=31)
        run_once(now=moment, gateway=broken)  # the carrier's API cannot be asked
    welcome = db.session.scalars(sa.select(Message).where(Message.purpose == "checkin").order_by(Message.id)).first()
    db.session.refresh(welcome)
    assert welcome.status == "failed"
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "message.given_up"))


ON_CALL = "+12125550111"


def red_flag(client, clock, moment: datetime) -> None:
    clock.set(moment)
    text_in(client, MARIA, "I can't breathe and my chest hurts")


def test_an_alert_whose_send_crashes_is_tried_again_within_seconds_not_an_hour(app, clinic, client, clock, tmp_path):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 0))
    red_flag(client, clock, ny(2026, 11, 17, 12, 0))
    crashing = BrokenGateway(tmp_path / "broken.jsonl")
    assert run_once(now=ny(2026, 11, 17, 12, 0), gateway=crashing)["retrying"] >= 1
    working = ConsoleGateway(tmp_path / "working.jsonl")
    run_once(now=ny(2026, 11, 17, 12, 0, 10), gateway=working)
    assert len(sent_to(working, ON_CALL)) == 1 and "EMERGENCY" in sent_to(working, ON_CALL)[0]


def test_alerts_go_before_checkins_that_were_queued_earlier(app, clinic, client, clock):
    app.config["DISPATCH_BATCH_SIZE"] = 2
    for i in range(5):
        enroll(clinic, ended=ny(2026, 11, 17, 10, 0), phone=f"+1212555020{i}", name=f"P{i} Test")
    enroll(clinic, ended=ny(2026, 11, 17, 9, 0), now=ny(2026, 11, 17, 9, 0))
    dispatch._materialise_checkins(ny(2026, 11, 17, 10, 0), dispatch.Report())  # the welcomes wait in the outbox
    red_flag(client, clock, ny(2026, 11, 17, 10, 0, 20))
    gateway = app.extensions["aftercare.gateway"]
    run_once(now=ny(2026, 11, 17, 10, 1), gateway=gateway)
    order = [record["to"] for record in gateway.records()]
    assert order[0] == ON_CALL and len(order) == 7  # the alert, then the six welcomes


def test_a_checkin_that_cannot_be_worded_does_not_hold_back_an_alert(app, clinic, client, clock):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    run_once(now=ny(2026, 11, 17, 10, 0))
    db.session.add(CheckIn(session_id=e.session.id, protocol_id="C9", due_at=ny(2026, 11, 17, 11, 0)))  # no such text
    db.session.commit()
    red_flag(client, clock, ny(2026, 11, 17, 11, 30))
    with pytest.raises(KeyError):
        run_once(now=ny(2026, 11, 17, 11, 30))  # the pass still fails, loudly...
    assert len(sent_to(app.extensions["aftercare.gateway"], ON_CALL)) == 1  # ...after the alert went


def test_when_the_carrier_cannot_be_asked_an_orphan_keeps_its_claim_and_the_pass_goes_on(app, clinic, gateway,
                                                                                       tmp_path):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    dispatch._materialise_checkins(ny(2026, 11, 17, 10, 0), dispatch.Report())
    crash_after_claim(ny(2026, 11, 17, 10, 0))
    enroll(clinic, ended=ny(2026, 11, 17, 10, 5), phone="+12125550177", name="Other Patient")
    report = run_once(now=ny(2026, 11, 17, 10, 11), gateway=BrokenGateway(tmp_path / "broken.jsonl"))
    assert report["reconcile_failed"] == 1 and report["checkins_queued"] == 1  # the rest of the pass ran
    orphan = db.session.scalars(sa.select(Message).where(Message.to_number == MARIA)).one()
    assert orphan.status == "unconfirmed" and orphan.attempts == 2  # never resent blind; asked again later
