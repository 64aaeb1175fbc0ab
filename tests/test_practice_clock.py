"""The practice clock: a practice patient lives through hours in a moment, through the real
dispatcher, and nobody else's time moves.

Harbor PT is in New York (quiet hours 21:00-08:00, open 08:00 Monday to Friday). Dana (on call)
creates Pat, a practice patient whose knee was needled at 10:00 on Tuesday 17 November 2026; the
real clock stays at 10:00 that morning throughout.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, text_in
from test_practice import enrol_practice_patient, page_text, sign_in

from bot import dispatch, messages
from bot.extensions import db
from bot.models import Assessment, CheckIn, Escalation, Message, Patient, TreatmentSession
from bot.practice import simulated_clock

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 17, 10, 0, tzinfo=NY)
RED_FLAG = "my chest feels tight"


@pytest.fixture
def pat(app, clinic, clock, client) -> Patient:
    clock.set(NOW)
    sign_in(client)
    return enrol_practice_patient(client)


def move(client, patient: Patient, step: str) -> str:
    """Press a clock button; the page's summary of what happened."""
    response = client.post(f"/practice/patients/{patient.id}/clock", data={"step": step})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return re.search(r'<p class="flash" role="status">(Clock moved [^<]*)</p>', page).group(1)


def move_by(patient: Patient, by: timedelta) -> simulated_clock.Moved:
    return simulated_clock.advance(db.session.get(Patient, patient.id), by, now=NOW, actor="test")


def texts_to(gateway, number: str) -> list[str]:
    return [r["body"] for r in gateway.records() if r["to"] == number]


def alerts_about(patient: Patient) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Message).join(
        Escalation, Message.escalation_id == Escalation.id).where(Escalation.patient_id == patient.id,
                                                                  Message.purpose == "alert"))


def test_c1_goes_four_hours_after_the_session_and_not_a_minute_before(pat, gateway):
    move_by(pat, timedelta(hours=3, minutes=59))
    assert len(texts_to(gateway, pat.phone)) == 1  # the welcome only
    move_by(pat, timedelta(minutes=1))
    welcome, c1 = texts_to(gateway, pat.phone)
    assert c1 == messages.render("checkin.C1", "en", clinic="Harbor PT", name="Pat")
    sent = db.session.scalar(sa.select(CheckIn).where(CheckIn.protocol_id == "C1"))
    assert sent.status == "sent" and sent.sent_at == NOW
    assert sent.sent_at - sent.session.ended_at == timedelta(hours=4)  # as the protocol says, in its own history


def test_the_whole_loop_a_red_flag_re_alerts_every_five_minutes_until_an_ack(pat, client, gateway):
    # Next check-in: C1, four hours after the session, sent by the dispatcher.
    assert move(client, pat, "next") == "Clock moved 4 h: 1 check-in."
    assert len(texts_to(gateway, pat.phone)) == 2

    # A red flag, through the signed webhook: a finding, the on-call alerted at once.
    client.post(f"/practice/patients/{pat.id}/reply", data={"body": RED_FLAG})
    finding = db.session.scalar(sa.select(Escalation).where(Escalation.patient_id == pat.id))
    assert (finding.level, finding.status) == ("emergency", "open")
    answer = db.session.scalar(sa.select(Message.body).where(Message.patient_id == pat.id,
                                                             Message.purpose == "answer"))
    assert answer.startswith("Pat, call 911 now.")  # the webhook's TwiML answer, as the phone got it
    dana = "+12125550111"
    assert len(texts_to(gateway, dana)) == 1 and f"ACK {finding.code}" in texts_to(gateway, dana)[0]

    # Four minutes: nothing. Five: the on-call again.
    move_by(pat, timedelta(minutes=4))
    assert alerts_about(pat) == 1
    assert move(client, pat, "5m") == "Clock moved 5 min: 1 alert to providers."
    assert alerts_about(pat) == 2 and len(texts_to(gateway, dana)) == 2

    # Fifteen minutes in, the backup and the clinic's phone too.
    move_by(pat, timedelta(minutes=6))  # 15 min since it was raised
    assert set(r["to"] for r in gateway.records()[-3:]) == {dana, "+12125550122", "+12125550100"}

    # ACK from Dana's phone: acknowledged, and an hour later no more alerts.
    client.post(f"/practice/patients/{pat.id}/provider-reply", data={"provider": "1", "provider_body": "ACK"})
    db.session.expire_all()
    assert finding.status == "acknowledged"
    count = alerts_about(pat)
    assert move(client, pat, "1h") == "Clock moved 1 h: nothing new was sent."
    assert alerts_about(pat) == count


def test_a_day_passes_event_by_event_reminder_missed_check_in_and_the_next_one(pat, client, gateway):
    move(client, pat, "next")  # C1 at 14:00 in Pat's own history
    summary = move(client, pat, "1d")
    assert summary == "Clock moved 1 d: 1 check-in, 2 reminders."
    purposes = db.session.execute(
        sa.select(Message.purpose, CheckIn.protocol_id, Message.created_at).join(CheckIn)
        .where(Message.patient_id == pat.id).order_by(Message.created_at)).all()
    assert [(p, c) for p, c, _ in purposes] == [("checkin", "C0"), ("checkin", "C1"), ("reminder", "C1"),
                                                 ("checkin", "C2"), ("reminder", "C2")]
    sent_c1, reminded_c1, sent_c2, reminded_c2 = (at for _, _, at in purposes[1:])
    assert reminded_c1 - sent_c1 == timedelta(hours=4)  # PROTOCOL: a reminder 4 h after an unanswered check-in
    assert sent_c2 - sent_c1 == timedelta(hours=20)  # C2 is +24 h after the session, C1 +4 h
    assert reminded_c2 == NOW  # a day after C1: C2's reminder, 4 h after it, falls on the last minute
    assert db.session.scalar(sa.select(CheckIn.status).where(CheckIn.protocol_id == "C1")) == "missed"


def test_a_routine_finding_reaches_the_treating_provider_in_the_next_business_mornings_digest(pat, client, gateway):
    move(client, pat, "next")
    client.post(f"/practice/patients/{pat.id}/reply", data={"body": "a big bruise on my knee, it's a 5"})
    finding = db.session.scalar(sa.select(Escalation).where(Escalation.patient_id == pat.id))
    assert finding.level == "routine" and finding.next_alert_at.astimezone(NY) == datetime(2026, 11, 18, 8, 0,
                                                                                            tzinfo=NY)
    move_by(pat, timedelta(hours=21, minutes=59))  # Wednesday 07:59 in Pat's history: not yet
    assert not [t for t in texts_to(gateway, "+12125550111") if "digest" in t.lower() or finding.code in t]
    move_by(pat, timedelta(minutes=1))  # 08:00, the clinic opens
    digest = [t for t in texts_to(gateway, "+12125550111") if finding.code in t]
    assert len(digest) == 1 and "Pat P." in digest[0]
    page = page_text(client.get(f"/practice/patients/{pat.id}"))
    assert "Morning digest" in page and f"Pat P. R5 ({finding.code})" in page


def test_a_long_jump_stops_after_max_passes_and_says_how_far_it_got(pat, client, monkeypatch):
    move(client, pat, "next")
    client.post(f"/practice/patients/{pat.id}/reply", data={"body": RED_FLAG})
    monkeypatch.setattr(simulated_clock, "MAX_PASSES", 4)
    summary = move(client, pat, "1d")
    # Four re-alert steps of 5 minutes: the on-call alone twice, then from 15 minutes on the backup and
    # the clinic's phone as well (3 + 3).
    assert summary == ("Clock moved 20 min: 8 alerts to providers. Stopped after 4 dispatcher passes "
                       "(23 h 40 min short): move the clock again to go on.")
    assert db.session.get(Patient, pat.id).practice_clock_seconds == 4 * 3600 + 20 * 60


def test_a_long_jump_also_stops_when_its_time_budget_is_spent(pat, client, monkeypatch):
    move(client, pat, "next")
    client.post(f"/practice/patients/{pat.id}/reply", data={"body": RED_FLAG})
    monkeypatch.setattr(simulated_clock, "TIME_BUDGET_SECONDS", 0)
    assert move(client, pat, "1h") == ("Clock moved 5 min: 1 alert to providers. Stopped after 1 dispatcher pass "
                                       "(55 min short): move the clock again to go on.")


def test_next_check_in_says_so_when_none_is_left(pat, client):
    for session in db.session.scalars(sa.select(TreatmentSession)):
        session.status = "closed"
    db.session.execute(sa.update(CheckIn).where(CheckIn.status == "planned").values(status="cancelled"))
    db.session.commit()
    response = client.post(f"/practice/patients/{pat.id}/clock", data={"step": "next"})
    assert response.status_code == 409
    assert "No check-in is planned any more for this patient." in page_text(response)
    assert client.post(f"/practice/patients/{pat.id}/clock", data={"step": "1y"}).status_code == 400


def test_only_a_practice_patients_history_can_be_moved(app, clinic):
    maria = enroll(clinic, ended=NOW - timedelta(hours=1)).patient
    with pytest.raises(ValueError):
        simulated_clock.shift_history(maria, timedelta(hours=1))
    with pytest.raises(ValueError):
        simulated_clock.advance(maria, timedelta(hours=-1), now=NOW, actor="test")


# -- nobody else's time moves --------------------------------------------------------------------

def snapshot(patient_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every column of every row that is a patient's history."""
    out = {}
    for model, condition in simulated_clock._owned_rows(patient_id):
        table = model.__table__
        out[table.name] = [dict(row._mapping) for row in
                           db.session.execute(sa.select(table).where(condition).order_by(table.c.id))]
    return out


def test_a_real_patient_is_untouched_by_every_practice_action(app, clinic, clock, client, gateway):
    clock.set(NOW)
    # Maria, a real patient: a session at 09:00, an emergency at 10:00, her alerts already sent.
    maria = enroll(clinic, ended=NOW - timedelta(hours=1), name="Maria Lopez").patient
    text_in(client, "+12125550143", RED_FLAG)
    dispatch.run_once(now=NOW)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assessment)) == 1
    before = snapshot(maria.id)
    assert before["escalations"] and before["messages"] and before["checkins"]
    real_texts = len(gateway.records())

    sign_in(client)
    pat = enrol_practice_patient(client)
    for step in ("next", "5m", "1h"):
        move(client, pat, step)
    client.post(f"/practice/patients/{pat.id}/reply", data={"body": RED_FLAG})
    code = db.session.scalar(sa.select(Escalation.code).where(Escalation.patient_id == pat.id))
    client.post(f"/practice/patients/{pat.id}/provider-reply", data={"provider": "1", "quick": "ACK"})  # refused
    client.post(f"/practice/patients/{pat.id}/provider-reply", data={"provider": "1", "quick": f"ACK {code}"})
    move(client, pat, "1d")

    db.session.expire_all()
    assert snapshot(maria.id) == before
    assert not [r for r in gateway.records()[real_texts:] if r["to"] == "+12125550143"]
    assert db.session.get(Patient, maria.id).practice_clock_seconds == 0
    assert db.session.get(Patient, pat.id).practice_clock_seconds > 24 * 3600
