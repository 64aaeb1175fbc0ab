"""Replies are read in context: attributed to the right check-in, several quick texts read as one,
and the protocol's stateful rules (a second monitor, a second unclear) applied."""

import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from support import enroll, sent_to, text_in, twiml_text

from bot.dispatch import run_once
from bot.extensions import db
from bot.models import Assessment, CheckIn, Escalation

NY = ZoneInfo("America/New_York")
MARIA = "+12125550143"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def latest() -> Assessment:
    db.session.expire_all()
    return db.session.scalars(sa.select(Assessment).order_by(Assessment.id.desc()).limit(1)).one()


def checkin(session, protocol_id: str) -> CheckIn:
    db.session.expire_all()
    return next(c for c in session.checkins if c.protocol_id == protocol_id)


def test_a_reply_answers_the_latest_checkin_sent(app, clinic, clock, client):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    for moment in (ny(2026, 11, 17, 10), ny(2026, 11, 17, 14)):
        run_once(now=moment)
    clock.set(ny(2026, 11, 17, 14, 20))
    text_in(client, MARIA, "about a 4")
    assert latest().checkin_id == checkin(e.session, "C1").id
    assert checkin(e.session, "C1").status == "replied"


def test_a_late_reply_after_a_checkin_was_marked_missed_still_counts_for_it(app, clinic, clock, client):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    for moment in (ny(2026, 11, 17, 10), ny(2026, 11, 17, 14), ny(2026, 11, 18, 10), ny(2026, 11, 19, 10)):
        run_once(now=moment)  # C1 and C2 go unanswered
    assert checkin(e.session, "C2").status == "missed"
    clock.set(ny(2026, 11, 19, 10, 30))
    text_in(client, MARIA, "sorry was busy, a 2 now")
    assert latest().checkin_id == checkin(e.session, "C3").id  # the one the patient has in front of them


def test_a_reply_to_c3_that_is_not_expected_plans_c4(app, clinic, clock, client):
    """PROTOCOL 3: C4 for a region away from the lungs when the C3 reply was not `expected`."""
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    for moment in (ny(2026, 11, 17, 10), ny(2026, 11, 17, 14), ny(2026, 11, 18, 10), ny(2026, 11, 19, 10)):
        run_once(now=moment)
    assert [c.protocol_id for c in e.session.checkins if c.protocol_id == "C4"] == []
    clock.set(ny(2026, 11, 19, 10, 30))
    text_in(client, MARIA, "ok")  # unclear: ranks below monitor, but it answers C3
    assert checkin(e.session, "C4").status == "planned"


def test_a_cough_with_soreness_near_the_lungs_is_an_emergency(app, clinic, clock, client):
    """Triage reads a reply against the needled region: a cough with soreness after upper-back needling is E1."""
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0), regions=("upper_back",))
    clock.set(ny(2026, 11, 18, 10, 0))
    text_in(client, MARIA, "coughing and sore, a 5")
    assert (latest().level, latest().rules) == ("emergency", ["E1"])


def test_texts_sent_within_two_minutes_are_read_as_one_reply(app, clinic, clock, client):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 18, 10, 30))
    first = twiml_text(text_in(client, MARIA, "my leg"))
    clock.set(ny(2026, 11, 18, 10, 31, 30))
    second = twiml_text(text_in(client, MARIA, "feels weak"))
    together = latest()  # the group's reading, kept beside the text's own (tests/test_reply_groups.py)
    assert (together.kind, together.text, together.level, together.rules) == ("group", "my leg feels weak",
                                                                               "urgent", ["U2"])
    assert first != second and second.startswith("Maria, the clinic will call you today")


def test_texts_further_apart_are_separate_replies(app, clinic, clock, client):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 18, 10, 30))
    text_in(client, MARIA, "like an 8 honestly")
    clock.set(ny(2026, 11, 18, 10, 33))
    text_in(client, MARIA, "thanks")
    assert latest().text == "thanks"


def test_a_burst_of_texts_is_read_up_to_its_latest_ten(app, clinic, clock, client):
    """A patient sending dozens of texts a minute does not make each one re-read all the others."""
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    for i in range(1, 13):
        clock.set(ny(2026, 11, 18, 10, 30, i * 4))
        text_in(client, MARIA, f"text {i}")
    assert latest().text == " ".join(f"text {i}" for i in range(3, 13))


def test_monitor_schedules_an_extra_checkin_and_a_second_monitor_in_a_row_becomes_routine(app, clinic, clock,
                                                                                          client, gateway):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 17, 15, 0))
    assert "check again in a few hours" in twiml_text(text_in(client, MARIA, "a 7 right now"))
    extra = checkin(e.session, "extra")
    assert (extra.status, extra.due_at.astimezone(NY)) == ("planned", ny(2026, 11, 18, 8, 0))  # 9 pm is quiet
    run_once(now=extra.due_at)
    assert sent_to(gateway, MARIA)[-1].startswith("Harbor PT: Hi Maria, checking on you again")
    clock.set(extra.due_at)
    answer = twiml_text(text_in(client, MARIA, "still a 7"))
    assessment = latest()
    assert assessment.level == "routine" and assessment.rules[0] == "M-again"
    assert answer.startswith("Thanks Maria. Your PT will contact you within 1 business day")
    assert db.session.scalars(sa.select(Escalation.rule)).one() == "M-again"


def test_an_unclear_reply_is_asked_once_more_then_becomes_routine(app, clinic, clock, client):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 17, 15, 0))
    assert twiml_text(text_in(client, MARIA, "ok")).startswith("Thanks Maria. How sore are you now, from 0 (none)")
    assert latest().level == "unclear"
    clock.set(ny(2026, 11, 17, 15, 10))
    text_in(client, MARIA, "k")
    assert (latest().level, latest().rules) == ("routine", ["R10"])


def test_a_breathing_word_is_never_unclear(app, clinic, clock, client):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 17, 15, 0))
    text_in(client, MARIA, "breathing??")
    assert latest().level == "emergency"


def test_a_red_flag_from_an_opted_out_patient_is_still_escalated_but_not_answered(app, clinic, clock, client):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 17, 15, 0))
    text_in(client, MARIA, "STOP")
    clock.set(ny(2026, 11, 17, 16, 0))
    assert twiml_text(text_in(client, MARIA, "my chest feels tight")) == ""
    assert db.session.scalars(sa.select(Escalation.level)).one() == "emergency"


PHONE = re.compile(r"\+?1?\s*\(?212\)?[\s.-]*555[\s.-]*01\d\d")


def test_logs_of_a_full_scenario_hold_no_phone_number_and_no_message_body(app, clinic, clock, client, caplog):
    caplog.set_level(logging.DEBUG)
    bodies = ["still like a 6, big bruise on my shoulder", "it hurts when I breathe in", "STOP"]
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0), regions=("shoulder",))
    run_once(now=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 17, 15, 0))
    for body in bodies:
        text_in(client, MARIA, body)
    text_in(client, "+13105550199", "who is this")
    run_once(now=ny(2026, 11, 17, 15, 1))
    clock.set(ny(2026, 11, 17, 15, 2))
    text_in(client, "+12125550111", "ACK")
    client.post("/sms/inbound", data={"From": MARIA, "Body": "forged"})
    logged = "\n".join(r.getMessage() + " " + str(r.args) for r in caplog.records)
    assert caplog.records  # the scenario did log
    assert not PHONE.search(logged) and "3105550199" not in logged
    for body in bodies + ["who is this", "forged", "Harbor PT: Hi Maria"]:
        assert body not in logged


def test_a_database_error_never_carries_a_phone_number_or_a_body_into_the_logs(app):
    import pytest
    import sqlalchemy.exc

    with pytest.raises(sqlalchemy.exc.SQLAlchemyError) as failed:
        db.session.execute(sa.text("SELECT * FROM no_such_table WHERE phone = :phone AND body = :body"),
                           {"phone": MARIA, "body": "it hurts when I breathe in"})
    db.session.rollback()
    assert MARIA not in str(failed.value) and "breathe" not in str(failed.value)
