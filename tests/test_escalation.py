"""Anything beyond the expected course reaches a provider who acts, or the next person is called
(PROTOCOL 5). Through HTTP with signed requests, the clock moved by the test."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, sent_to, text_in, twiml_text

from bot.dispatch import run_once
from bot.extensions import db
from bot.models import AuditEvent, Clinic, Escalation, Provider

NY = ZoneInfo("America/New_York")
MARIA, DANA, BEN, CLINIC = "+12125550143", "+12125550111", "+12125550122", "+12125550100"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def escalation() -> Escalation:
    db.session.expire_all()
    return db.session.scalars(sa.select(Escalation)).one()


def alerts(gateway, number: str) -> list[str]:
    return [b for b in sent_to(gateway, number) if b.startswith("Aftercare")]


@pytest.fixture
def emergency(app, clinic, clock, client, gateway):
    """Maria, needled in the upper back at 6 pm, writes at 11 pm (quiet hours) that breathing in hurts."""
    enroll(clinic, ended=ny(2026, 11, 17, 18, 0), regions=("upper_back",))
    clock.set(ny(2026, 11, 17, 23, 0))
    answer = twiml_text(text_in(client, MARIA, "hurts a bit when i breathe in, prob nothing"))
    return answer


def test_an_emergency_answer_tells_the_patient_to_call_911_now(emergency):
    assert emergency == ("Maria, call 911 now. Don't drive yourself. Tell them you had dry needling of the upper "
                         "back on Nov 17. We are alerting your PT.")


def test_an_emergency_pages_the_on_call_at_once_even_in_quiet_hours(emergency, gateway):
    run_once(now=ny(2026, 11, 17, 23, 0, 10))
    code = escalation().code
    assert alerts(gateway, DANA) == [f'Aftercare EMERGENCY: Maria L., 5h post-DN, E1: "hurts a bit when i breathe '
                                     f'in, prob nothing" Reply ACK {code}']


def test_an_unacknowledged_emergency_realerts_every_5_minutes_then_the_backup_and_clinic(emergency, gateway):
    for minute in (0, 4, 5, 10):
        run_once(now=ny(2026, 11, 17, 23, minute, 10))
    assert len(alerts(gateway, DANA)) == 3 and alerts(gateway, BEN) == [] and alerts(gateway, CLINIC) == []
    run_once(now=ny(2026, 11, 17, 23, 15, 10))
    assert len(alerts(gateway, DANA)) == 4
    assert alerts(gateway, BEN)[0].startswith("Aftercare EMERGENCY, no ACK in 15m: Maria L.")
    assert len(alerts(gateway, CLINIC)) == 1
    run_once(now=ny(2026, 11, 17, 23, 20, 10))
    assert (len(alerts(gateway, DANA)), len(alerts(gateway, BEN)), len(alerts(gateway, CLINIC))) == (5, 2, 2)


def test_ack_with_the_code_from_any_providers_phone_stops_the_realerts(emergency, gateway, client, clock):
    for minute in (0, 5, 10, 15):
        run_once(now=ny(2026, 11, 17, 23, minute, 10))
    code = escalation().code
    clock.set(ny(2026, 11, 17, 23, 16))
    answer = twiml_text(text_in(client, BEN, f"ack {code}"))
    assert answer == f"Acknowledged {code} (Maria L., EMERGENCY). Re-alerts stopped."
    esc = escalation()
    assert (esc.status, esc.acknowledged_at.astimezone(NY)) == ("acknowledged", ny(2026, 11, 17, 23, 16))
    assert db.session.get(Provider, esc.acknowledged_by_id).phone == BEN
    before = len(gateway.records())
    for minute in (20, 25, 30, 45):
        run_once(now=ny(2026, 11, 17, 23, minute, 10))
    assert len(gateway.records()) == before


def test_a_bare_ack_acknowledges_the_providers_latest_open_alert(emergency, gateway, client, clock):
    run_once(now=ny(2026, 11, 17, 23, 0, 10))
    clock.set(ny(2026, 11, 17, 23, 2))
    assert twiml_text(text_in(client, DANA, "ACK")).startswith("Acknowledged ")
    assert escalation().status == "acknowledged"


def test_an_ack_with_a_wrong_code_or_from_another_clinic_changes_nothing(emergency, gateway, client, clock, app):
    run_once(now=ny(2026, 11, 17, 23, 0, 10))
    other = Clinic(name="Elsewhere PT", sms_name="Elsewhere", phone="+13125550100", timezone="America/Chicago")
    db.session.add(Provider(clinic=other, name="Olga Other", email="olga@elsewhere.example", phone="+13125550111",
                            password_hash="x", duty="on_call"))
    db.session.commit()
    code = escalation().code
    assert twiml_text(text_in(client, DANA, "ACK ZZZZZ")) == f"Aftercare: no alert ZZZZZ. Your open alerts: {code}"
    assert twiml_text(text_in(client, "+13125550111", f"ACK {code}")) == (
        f"Aftercare: no alert {code}. You have no open alerts.")
    assert escalation().status == "open"


def test_a_wrong_code_lists_every_open_alert_the_provider_was_sent_in_one_text(app, clinic, clock, client, gateway):
    """Three patients' findings alerted to Dana; a mistyped code gets the three codes, most urgent first."""
    codes = []
    for k, (text, region) in enumerate([("hurts when i breathe in", "upper_back"), ("the spot is hot and red, fever", "knee"),
                                        ("chest feels tight", "upper_back")]):
        enroll(clinic, ended=ny(2026, 11, 17, 9, 0), phone=f"+1212555016{k}", name=f"Pat{k} Test", regions=(region,))
        clock.set(ny(2026, 11, 17, 12, k))
        text_in(client, f"+1212555016{k}", text)
    run_once(now=ny(2026, 11, 17, 12, 5))
    db.session.expire_all()
    escs = db.session.scalars(sa.select(Escalation).order_by(Escalation.id)).all()
    by_urgency = [e.code for e in sorted(escs, key=lambda e: (e.level != "emergency", e.created_at))]
    answer = twiml_text(text_in(client, DANA, "ACK NOPE1"))
    assert answer == "Aftercare: no alert NOPE1. Your open alerts: " + "; ".join(by_urgency)
    assert len(answer) <= 160
    text_in(client, DANA, f"ACK {by_urgency[0]}")
    assert twiml_text(text_in(client, DANA, f"ACK {by_urgency[0]}")) == f"Aftercare: {by_urgency[0]} is already acknowledged."


def test_every_state_change_of_a_finding_is_audited(emergency, gateway, client, clock):
    for minute in (0, 5):
        run_once(now=ny(2026, 11, 17, 23, minute, 10))
    clock.set(ny(2026, 11, 17, 23, 6))
    text_in(client, DANA, "ACK")
    esc = escalation()
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.subject == f"escalation:{esc.id}")
                                .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["escalation.opened", "escalation.alerted", "escalation.alerted",
                                          "escalation.acknowledged"]
    assert events[-1].actor == f"provider:{esc.acknowledged_by_id}"


def test_an_urgent_finding_alerts_now_and_the_backup_after_30_minutes(app, clinic, clock, client, gateway):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 18, 11, 0))
    answer = twiml_text(text_in(client, MARIA, "the redness around the needle spot is spreading and it feels hot"))
    assert answer.startswith("Maria, the clinic will call you today. If it gets worse")
    assert escalation().level == "urgent"
    run_once(now=ny(2026, 11, 18, 11, 0, 5))
    assert alerts(gateway, DANA)[0].startswith("Aftercare URGENT: Maria L., 25h post-DN, U1")
    run_once(now=ny(2026, 11, 18, 11, 29))
    assert alerts(gateway, BEN) == []
    run_once(now=ny(2026, 11, 18, 11, 30, 5))
    assert alerts(gateway, BEN)[0].startswith("Aftercare URGENT, no ACK in 30m")


def test_routine_findings_wait_for_one_digest_per_provider_on_the_next_business_morning(app, clinic, clock, client,
                                                                                          gateway):
    enroll(clinic, ended=ny(2026, 11, 18, 9, 0))  # a Wednesday
    enroll(clinic, ended=ny(2026, 11, 18, 9, 30), phone="+12125550160", name="Tom Baker")
    clock.set(ny(2026, 11, 20, 17, 30))  # Friday evening, day 2 for both
    answer = twiml_text(text_in(client, MARIA, "still about a 5, no better"))
    assert answer.startswith("Thanks Maria. Your PT will contact you within 1 business day")
    text_in(client, "+12125550160", "honestly its getting worse, like 6 now")
    for moment in (ny(2026, 11, 20, 17, 31), ny(2026, 11, 21, 9, 0), ny(2026, 11, 23, 7, 59)):
        run_once(now=moment)
    assert alerts(gateway, DANA) == []  # not the evening, not the weekend, not before opening
    run_once(now=ny(2026, 11, 23, 8, 0))  # Monday, 8 am
    digest = alerts(gateway, DANA)
    assert len(digest) == 1 and digest[0].startswith("Aftercare routine, 2 to call within 1 business day: ")
    assert "Maria L. R1" in digest[0] and "Tom B. R" in digest[0]
    run_once(now=ny(2026, 11, 24, 8, 0))
    assert len(alerts(gateway, DANA)) == 1  # a digest goes once


def test_call_raises_a_routine_finding_to_urgent_and_is_recorded(app, clinic, clock, client, gateway):
    enroll(clinic, ended=ny(2026, 11, 18, 9, 0))
    clock.set(ny(2026, 11, 20, 11, 0))
    text_in(client, MARIA, "still about a 5, no better")
    clock.set(ny(2026, 11, 20, 11, 3))
    answer = twiml_text(text_in(client, MARIA, "call"))
    assert answer == "Thanks, we've asked the clinic to call you today. If it gets worse, call 911."
    esc = escalation()
    assert (esc.level, esc.patient_choice, esc.rule) == ("urgent", "call", "R1")
    run_once(now=ny(2026, 11, 20, 11, 3, 10))
    assert alerts(gateway, DANA)[0].startswith("Aftercare URGENT: Maria L.")


def test_wait_is_recorded_and_the_finding_stays_routine(app, clinic, clock, client, gateway):
    enroll(clinic, ended=ny(2026, 11, 18, 9, 0))
    clock.set(ny(2026, 11, 20, 11, 0))
    text_in(client, MARIA, "still about a 5, no better")
    assert twiml_text(text_in(client, MARIA, "WAIT")).startswith("Thanks, noted")
    esc = escalation()
    assert (esc.level, esc.patient_choice) == ("routine", "wait")
    run_once(now=ny(2026, 11, 20, 11, 5))
    assert alerts(gateway, DANA) == []


def test_a_second_emergency_text_does_not_page_again_but_a_worse_finding_upgrades(app, clinic, clock, client, gateway):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 18, 11, 0))
    text_in(client, MARIA, "the redness is spreading and its warm")
    run_once(now=ny(2026, 11, 18, 11, 0, 5))
    clock.set(ny(2026, 11, 18, 11, 10))
    text_in(client, MARIA, "also now i cant catch my breath")
    esc = escalation()
    assert (esc.level, esc.rule) == ("emergency", "E1")
    run_once(now=ny(2026, 11, 18, 11, 10, 5))
    assert alerts(gateway, DANA)[-1].startswith("Aftercare EMERGENCY")
    clock.set(ny(2026, 11, 18, 11, 12))
    text_in(client, MARIA, "still cant breathe well")
    run_once(now=ny(2026, 11, 18, 11, 12, 5))
    assert len(alerts(gateway, DANA)) == 2  # the same open finding: no extra page before its 5-minute step


@pytest.fixture
def spreading_redness(app, clinic, clock, client) -> Escalation:
    """Maria, needled the morning before, writes at 11:00 that the redness spreads and is warm (U1)."""
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 18, 11, 0))
    text_in(client, MARIA, "the redness is spreading and its warm")
    return escalation()


def test_a_finding_is_opened_with_the_reading_that_set_it_and_a_raise_quotes_the_new_words(
        spreading_redness, clock, client, gateway):
    esc = spreading_redness
    opened = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "escalation.opened")).one()
    assert esc.assessment_id is not None and opened.detail["assessment_id"] == esc.assessment_id
    clock.set(ny(2026, 11, 18, 11, 10))
    text_in(client, MARIA, "also now i cant catch my breath")
    run_once(now=ny(2026, 11, 18, 11, 10, 5))
    assert '"also now i cant catch my breath"' in alerts(gateway, DANA)[-1]


def test_a_raise_with_no_text_of_its_own_keeps_quoting_the_words_that_opened_the_finding(spreading_redness, gateway):
    from bot import escalation as escalations
    from bot.models import TreatmentSession
    esc = spreading_redness
    escalations.open_escalation(patient=esc.patient, session=db.session.get(TreatmentSession, esc.session_id),
                                level="emergency", rule="E2", assessment=None, now=ny(2026, 11, 18, 11, 5))
    db.session.commit()
    run_once(now=ny(2026, 11, 18, 11, 5, 5))
    assert alerts(gateway, DANA)[-1].startswith(
        'Aftercare EMERGENCY: Maria L., 25h post-DN, E2: "the redness is spreading and its warm"')
