"""One patient text, start to answer (PROTOCOL 3-5): keywords, the answer for each level in the
patient's language, the emergency text's region and date, and the rules about the reply before.
Through the signed webhook, with the clock set by the test."""

import logging
from datetime import datetime, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, text_in, twiml_text

from bot import conversation
from bot.dispatch import run_once
from bot.extensions import db
from bot.models import Assessment, CheckIn, Escalation, Message, Patient, Provider

NY = ZoneInfo("America/New_York")
MARIA = "+12125550143"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def latest() -> Assessment:
    db.session.expire_all()
    return db.session.scalars(sa.select(Assessment).order_by(Assessment.id.desc()).limit(1)).one()


def say(client, clock, at: datetime, body: str, sender: str = MARIA) -> str:
    clock.set(at)
    return twiml_text(text_in(client, sender, body))


# -- Keywords (pure) -------------------------------------------------------------------------------

@pytest.mark.parametrize("body, keyword", [
    ("STOP", "opt_out"), (" Stop. ", "opt_out"), ("stop all", "opt_out"), ("opt out", "opt_out"),
    ("Unsubscribe!", "opt_out"), ("START", "opt_in"), ("unstop", "opt_in"), ("help", "help"), ("Ayuda", "help"),
    ("call", "call"), ("LLAMAR", "call"), ("wait", "wait"), ("espero", "wait"),
    ("stop it hurts", None), ("help me i cant breathe", None), ("a 4", None), ("", None),
])
def test_a_keyword_is_the_whole_text_in_any_case_and_spacing(body, keyword):
    assert conversation.keyword_of(body) == keyword


@pytest.mark.parametrize("body, stop", [
    ("please stop texting me", True), ("don't text me anymore", True), ("no more messages", True),
    ("dejen de escribir por favor", True), ("no quiero mas mensajes", True),
    ("it won't stop hurting", False), ("stop the pain please", False), ("a 3, no more pain", False),
])
def test_asking_in_words_to_stop_the_texts(body, stop):
    assert conversation.asks_to_stop(body) is stop


@pytest.mark.parametrize("regions, region", [
    (["knee", "neck"], "neck"), (["calf", "knee"], "calf"), (["chest"], "chest"), ([], None),
])
def test_a_reply_is_read_against_a_lung_risk_region_if_any_was_needled(regions, region):
    assert conversation.primary_region(regions) == region


def triaged(level: str, rules=("M2",), reasons=("M2: soreness 6",)):
    return SimpleNamespace(level=level, rules=rules, reasons=reasons)


def test_a_second_monitor_in_a_row_becomes_routine_and_says_why():
    assert conversation.in_context(triaged("monitor"), "monitor") == (
        "routine", ["M-again", "M2"], ["M2: soreness 6", "M-again: a second monitor in a row"])


def test_still_unclear_after_one_clarifying_question_becomes_routine_r10():
    assert conversation.in_context(triaged("unclear", (), ("unclear: nothing assessable",)), "unclear") == (
        "routine", ["R10"], ["unclear: nothing assessable", "R10: still unclear after one clarifying question"])


@pytest.mark.parametrize("level, previous", [("monitor", "routine"), ("monitor", None), ("monitor", "expected"),
                                             ("unclear", "monitor"), ("unclear", None), ("routine", "monitor")])
def test_a_level_stands_when_the_reply_before_was_different(level, previous):
    assert conversation.in_context(triaged(level), previous)[0] == level


# -- The answer for each level, in the patient's language -------------------------------------------

@pytest.fixture
def maria(app, clinic):
    return enroll(clinic, ended=ny(2026, 11, 17, 20, 15), regions=("knee", "upper_back"))


@pytest.fixture
def lucia(app, clinic):
    return enroll(clinic, ended=ny(2026, 11, 17, 20, 15), regions=("knee",), phone="+12125550160",
                  name="Lucia Garcia", language="es", precautions=("anticoagulant",))


def test_the_emergency_answer_names_the_lung_risk_region_and_the_session_day_in_the_patients_zone(maria, client, clock):
    # 20:15 in New York on 17 November is already 18 November in UTC.
    answer = say(client, clock, ny(2026, 11, 17, 23, 0), "it hurts when i breathe in")
    assert answer == ("Maria, call 911 now. Don't drive yourself. Tell them you had dry needling of the knee and "
                      "upper back on Nov 17. We are alerting your PT.")


def test_a_spanish_patient_is_answered_in_spanish_at_every_level(lucia, client, clock):
    number = "+12125550160"
    assert say(client, clock, ny(2026, 11, 17, 23, 0), "me duele al respirar", number).startswith(
        "Lucia, llame al 911 ahora. No maneje usted. Diga que tuvo puncion seca en rodilla el 17 nov.")
    assert say(client, clock, ny(2026, 11, 18, 9, 0), "un 8", number).startswith("Lucia, la clinica le llamara hoy.")
    assert say(client, clock, ny(2026, 11, 18, 9, 30), "ok", number).startswith("Gracias Lucia. ¿Cuanto dolor tiene")


def test_an_expected_reply_gets_reassurance_and_a_tip_and_monitor_gets_the_red_flag_reminder(maria, client, clock):
    assert say(client, clock, ny(2026, 11, 18, 10, 0), "a 2") == (
        "Thanks Maria, that's expected and should ease in a day or two. Tip: A warm bath or a heat pad can ease "
        "the soreness.")
    assert say(client, clock, ny(2026, 11, 18, 11, 0), "a 6").startswith(
        "Thanks Maria, we'll check again in a few hours. Drink extra water for the next day. Breathing trouble")


def test_a_patient_on_blood_thinners_is_never_told_to_take_aspirin_or_ibuprofen(lucia, client, clock):
    answers = [say(client, clock, ny(2026, 11, 18, 10 + i, 0), "un 2", "+12125550160") for i in range(4)]
    assert "acetaminofén (no aspirina/ibuprofeno)" in answers[3]
    assert all("analgesico sin receta" not in a for a in answers)


def test_routine_and_urgent_answers_offer_call_or_wait(maria, client, clock):
    routine = say(client, clock, ny(2026, 11, 19, 18, 0), "still a 5, not better")
    assert routine.startswith("Thanks Maria. Your PT will contact you within 1 business day")
    assert say(client, clock, ny(2026, 11, 19, 18, 5), "WAIT").startswith("Thanks, noted")
    esc = db.session.scalars(sa.select(Escalation)).one()
    assert (esc.patient_choice, esc.patient_choice_at.astimezone(NY)) == ("wait", ny(2026, 11, 19, 18, 5))


def test_a_spanish_patients_call_or_wait_is_answered_in_spanish(lucia, client, clock):
    number = "+12125550160"
    assert say(client, clock, ny(2026, 11, 18, 9, 0), "un 8", number).startswith("Lucia, la clinica le llamara hoy.")
    assert say(client, clock, ny(2026, 11, 18, 9, 5), "ESPERO", number).startswith("Gracias, anotado")


def test_call_or_wait_with_nothing_waiting_is_read_as_an_ordinary_reply(maria, client, clock):
    answer = say(client, clock, ny(2026, 11, 18, 10, 0), "call")
    assert answer.startswith("Thanks Maria. How sore are you now") and latest().level == "unclear"


# -- Keywords through the webhook ------------------------------------------------------------------

def test_help_gives_the_clinics_phone_and_911(maria, client, clock):
    assert say(client, clock, ny(2026, 11, 18, 10, 0), "HELP") == (
        "Harbor PT: dry needling follow-up texts. Questions: call (212) 555-0100. Emergency: 911. Reply STOP to opt out.")


def test_stop_opts_out_and_start_opts_back_in(maria, client, clock):
    assert say(client, clock, ny(2026, 11, 18, 10, 0), "stop").startswith("You won't get more texts from Harbor PT.")
    assert db.session.scalars(sa.select(Patient.opted_out_at)).one() is not None
    assert say(client, clock, ny(2026, 11, 18, 11, 0), "START").startswith("Welcome back. Harbor PT will text you")
    db.session.expire_all()
    assert db.session.scalars(sa.select(Patient.opted_out_at)).one() is None
    from bot.models import AuditEvent
    (event,) = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "patient.opted_out")).all()
    assert (event.actor, event.created_at.astimezone(NY), event.detail) == (
        f"patient:{maria.patient.id}", ny(2026, 11, 18, 10, 0), {"source": "sms"})


def test_a_spanish_patient_gets_help_stop_and_start_in_spanish(lucia, client, clock):
    number = "+12125550160"
    assert say(client, clock, ny(2026, 11, 18, 10, 0), "AYUDA", number) == (
        "Harbor PT: mensajes de seguimiento tras la puncion seca. Preguntas: llame al (212) 555-0100. "
        "Emergencia: 911. STOP para salir.")
    assert say(client, clock, ny(2026, 11, 18, 10, 5), "STOP", number).startswith("No recibira mas mensajes de Harbor PT.")
    assert say(client, clock, ny(2026, 11, 18, 11, 0), "START", number).startswith(
        "Bienvenido de nuevo. Harbor PT le escribira otra vez")


def test_a_text_and_its_answer_are_kept_at_the_moment_the_text_arrived(maria, client, clock):
    say(client, clock, ny(2026, 11, 18, 10, 0), "a 3, bit sore")
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Message).order_by(Message.id)).all()
    assert [(m.direction, m.purpose, m.attempts) for m in rows] == [("in", "reply", 0), ("out", "answer", 0)]
    assert [m.created_at.astimezone(NY) for m in rows] == [ny(2026, 11, 18, 10, 0)] * 2


def test_a_keyword_and_a_providers_text_are_kept_as_such_not_as_replies(maria, client, clock):
    say(client, clock, ny(2026, 11, 18, 10, 0), "HELP")
    say(client, clock, ny(2026, 11, 18, 10, 5), "ACK", "+12125550111")
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Message).order_by(Message.id)).all()
    assert [(m.direction, m.purpose, m.attempts) for m in rows] == [
        ("in", "keyword", 0), ("out", "answer", 0), ("in", "provider", 0), ("out", "answer", 0)]
    dana = db.session.scalars(sa.select(Provider.id).where(Provider.phone == "+12125550111")).one()
    assert [(m.patient_id, m.provider_id) for m in rows] == [(maria.patient.id, None)] * 2 + [(None, dana)] * 2


def test_each_text_is_logged_by_its_stored_id_and_purpose_never_its_words(maria, client, clock, caplog):
    caplog.set_level(logging.INFO, logger="bot.conversation")
    say(client, clock, ny(2026, 11, 18, 10, 0), "a 2")
    (text_id,) = db.session.scalars(sa.select(Message.id).where(Message.direction == "in")).all()
    assert f"inbound message id={text_id} purpose=reply answered=True" in caplog.messages


def test_asking_in_words_to_stop_is_asked_to_confirm_with_stop(maria, client, clock):
    answer = say(client, clock, ny(2026, 11, 18, 10, 0), "a 2, please stop texting me")
    assert answer.startswith("Do you want to stop all texts from Harbor PT? Reply STOP to stop.")
    assert db.session.scalars(sa.select(Patient.opted_out_at)).one() is None


def test_asking_to_stop_does_not_hide_a_finding_that_needs_a_person(maria, client, clock):
    answer = say(client, clock, ny(2026, 11, 18, 10, 0), "its an 8, stop texting me")
    assert answer.startswith("Maria, the clinic will call you today")


def test_asking_to_stop_does_not_hide_a_routine_finding_either(maria, client, clock):
    answer = say(client, clock, ny(2026, 11, 20, 9, 0), "bruise is getting bigger, please stop texting me")
    assert answer.startswith("Thanks Maria. Your PT will contact you within 1 business day")


def test_an_unknown_number_gets_one_answer_in_both_languages_and_nothing_is_stored(app, clinic, client, clock):
    answer = say(client, clock, ny(2026, 11, 18, 10, 0), "hi is this the clinic", "+13105550199")
    assert answer.startswith("Sorry, we don't recognize this number. / Lo sentimos")
    assert db.session.scalars(sa.select(Message)).all() == []
    from bot.models import AuditEvent
    (event,) = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "sms.unknown_sender")).all()
    assert event.created_at.astimezone(NY) == ny(2026, 11, 18, 10, 0) and "3105550199" not in str(event.detail)


def test_a_retry_of_a_text_that_got_no_answer_gets_none(maria, client, clock):
    say(client, clock, ny(2026, 11, 18, 10, 0), "STOP")
    clock.set(ny(2026, 11, 18, 10, 30))
    assert twiml_text(text_in(client, MARIA, "about a 4", sid="SM" + "d" * 32)) == ""
    assert twiml_text(text_in(client, MARIA, "about a 4", sid="SM" + "d" * 32)) == ""


def test_a_twilio_retry_gets_the_same_answer_and_is_triaged_once(maria, client, clock):
    clock.set(ny(2026, 11, 18, 10, 0))
    first = twiml_text(text_in(client, MARIA, "a 2", sid="SM" + "a" * 32))
    again = twiml_text(text_in(client, MARIA, "a 2", sid="SM" + "a" * 32))
    assert first == again and first.startswith("Thanks Maria, that's expected")
    assert len(db.session.scalars(sa.select(Assessment)).all()) == 1


# -- Replies in context ----------------------------------------------------------------------------

def test_a_reply_is_triaged_at_the_hours_since_the_session(maria, client, clock):
    say(client, clock, ny(2026, 11, 18, 0, 15), "a 6")  # 4 h after the session: early, within the band
    assert (latest().level, latest().hours_since_session) == ("expected", 4.0)


def test_the_previous_score_carries_into_the_next_reply(maria, client, clock):
    say(client, clock, ny(2026, 11, 18, 21, 0), "a 5")           # day 1: within the band
    say(client, clock, ny(2026, 11, 19, 10, 0), "a 4")           # day 2, below the 5 before: improving (M3)
    assert (latest().level, latest().rules) == ("monitor", ["M3"])  # without the 5 it would be R1


def test_an_expected_reply_after_monitor_cancels_the_extra_checkin_and_answers_the_latest_checkin(maria, client, clock):
    run_once(now=ny(2026, 11, 18, 20, 15))                        # C2
    say(client, clock, ny(2026, 11, 18, 20, 30), "a 6")           # monitor: an extra check-in next morning
    extra = db.session.scalars(sa.select(CheckIn).where(CheckIn.protocol_id == "extra")).one()
    assert (extra.status, extra.attempts) == ("planned", 0)  # not yet tried: it gets all its tries
    say(client, clock, ny(2026, 11, 18, 20, 45), "actually feels fine now, a 2")
    db.session.expire_all()
    cancelled = db.session.get(CheckIn, extra.id)
    assert (cancelled.status, cancelled.status_reason) == ("cancelled", "no longer needed")
    c2 = db.session.scalars(sa.select(CheckIn).where(CheckIn.protocol_id == "C2")).one()
    assert (c2.status, latest().checkin_id) == ("replied", c2.id)


def test_a_late_reply_still_answers_a_checkin_already_marked_missed(maria, client, clock):
    run_once(now=ny(2026, 11, 18, 20, 15))                        # C2
    c2 = db.session.scalars(sa.select(CheckIn).where(CheckIn.protocol_id == "C2")).one()
    c2.status = "missed"                                           # as the dispatcher leaves it past its deadline
    db.session.commit()
    say(client, clock, ny(2026, 11, 19, 9, 0), "a 3, better")
    db.session.expire_all()
    assert (db.session.get(CheckIn, c2.id).status, latest().checkin_id) == ("replied", c2.id)


def test_a_reply_at_the_very_moment_a_checkin_went_out_answers_it(maria, client, clock):
    run_once(now=ny(2026, 11, 18, 20, 15))                        # C2
    c2 = db.session.scalars(sa.select(CheckIn).where(CheckIn.protocol_id == "C2")).one()
    say(client, clock, c2.sent_at, "a 3")
    db.session.expire_all()
    assert (db.session.get(CheckIn, c2.id).status, latest().checkin_id) == ("replied", c2.id)


def test_a_reply_after_the_episode_is_closed_plans_nothing_new(maria, client, clock):
    maria.session.status = "closed"
    db.session.commit()
    say(client, clock, ny(2026, 11, 18, 10, 0), "a 6")
    assert db.session.scalars(sa.select(CheckIn).where(CheckIn.protocol_id == "extra")).all() == []


def test_a_routine_finding_opens_one_escalation_with_its_first_rule(maria, client, clock):
    say(client, clock, ny(2026, 11, 19, 18, 0), "still a 5, not better")
    esc = db.session.scalars(sa.select(Escalation)).one()
    assert (esc.level, esc.rule, esc.session_id) == ("routine", "R1", maria.session.id)
    assert esc.next_alert_at.astimezone(NY) == ny(2026, 11, 20, 8, 0)


def test_an_expected_or_monitor_reply_alerts_no_one(maria, client, clock):
    say(client, clock, ny(2026, 11, 18, 10, 0), "a 2")
    say(client, clock, ny(2026, 11, 18, 11, 0), "a 6")
    assert db.session.scalars(sa.select(Escalation)).all() == []
    assert latest().created_at == ny(2026, 11, 18, 11, 0).astimezone(timezone.utc)


def test_a_patient_with_no_episode_on_file_is_read_against_their_earlier_replies(app, clinic, client, clock):
    """A patient on file without a treatment session (none recorded yet) is still read and answered."""
    db.session.add(Patient(clinic=clinic, name="Maria Lopez", phone=MARIA, created_at=ny(2026, 11, 1, 9, 0)))
    db.session.commit()
    assert say(client, clock, ny(2026, 11, 18, 10, 0), "ok").startswith("Thanks Maria. How sore are you now")
    first = latest()
    assert (first.level, first.session_id, first.checkin_id, first.hours_since_session) == ("unclear", None, None, 0)
    assert say(client, clock, ny(2026, 11, 18, 10, 10), "k").startswith("Thanks Maria. Your PT will contact you")
    assert (latest().level, latest().rules) == ("routine", ["R10"])
    assert db.session.scalars(sa.select(Escalation.session_id)).one() is None


# -- Providers' texts ------------------------------------------------------------------------------

def test_an_on_call_providers_ack_through_the_webhook_acknowledges_their_alert(maria, client, clock):
    say(client, clock, ny(2026, 11, 17, 23, 0), "it hurts when i breathe in")
    run_once(now=ny(2026, 11, 17, 23, 0, 10))
    code = db.session.scalars(sa.select(Escalation.code)).one()
    assert say(client, clock, ny(2026, 11, 17, 23, 2), "ACK", "+12125550111") == (
        f"Acknowledged {code} (Maria L., EMERGENCY). Re-alerts stopped.")
    db.session.expire_all()
    esc = db.session.scalars(sa.select(Escalation)).one()
    assert (esc.status, esc.acknowledged_at.astimezone(NY)) == ("acknowledged", ny(2026, 11, 17, 23, 2))


def test_a_deactivated_providers_text_is_from_an_unknown_number(maria, client, clock):
    from bot.models import Provider
    db.session.scalars(sa.select(Provider).where(Provider.phone == "+12125550111")).one().active = False
    db.session.commit()
    say(client, clock, ny(2026, 11, 17, 23, 0), "it hurts when i breathe in")
    assert say(client, clock, ny(2026, 11, 17, 23, 2), "ACK", "+12125550111").startswith(
        "Sorry, we don't recognize this number.")
    assert db.session.scalars(sa.select(Escalation.status)).one() == "open"


def test_a_retry_gets_the_answer_its_own_text_got_not_another(maria, client, clock):
    clock.set(ny(2026, 11, 18, 10, 0))
    first = twiml_text(text_in(client, MARIA, "a 2", sid="SM" + "b" * 32))
    clock.set(ny(2026, 11, 18, 10, 5))
    second = twiml_text(text_in(client, MARIA, "HELP", sid="SM" + "c" * 32))
    assert first != second
    assert twiml_text(text_in(client, MARIA, "HELP", sid="SM" + "c" * 32)) == second
    assert twiml_text(text_in(client, MARIA, "a 2", sid="SM" + "b" * 32)) == first
