"""An inbound text the database cannot store is kept, answered at once, and handled once it can."""

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from conftest import app_config
from support import enroll, sent_to, text_in, twiml_text

from bot import conversation, create_app, dispatch, messages, spool
from bot.extensions import db
from bot.models import Assessment, Escalation, Message

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=timezone.utc)
MARIA, ON_CALL = "+12125550143", "+12125550111"


@pytest.fixture
def database_down(monkeypatch):
    """The database stops answering while a text is handled (bot/database.py turns that into this error)."""
    def fail(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("the database did not answer within 6.0 s"))
    with monkeypatch.context() as patch:
        patch.setattr(conversation, "handle_inbound", fail)
        yield


def test_the_holding_answer_fits_one_segment_and_says_call_911_in_both_languages():
    assert messages.fits_one_segment(spool.HOLDING_ANSWER)
    assert spool.HOLDING_ANSWER.count("911") == 2


def test_a_text_that_cannot_be_stored_is_spooled_and_the_patient_answered_at_once(app, client, clock, clinic,
                                                                                 database_down):
    enroll(clinic, ended=NOW - timedelta(hours=2))
    clock.set(NOW)
    response = text_in(client, MARIA, "I can't breathe", sid="SM" + "e" * 32)
    assert response.status_code == 200 and twiml_text(response) == spool.HOLDING_ANSWER
    assert spool.summary(NOW).count == 1


def test_spooled_texts_are_handled_once_the_database_answers_nothing_lost_nothing_doubled(app, client, clock, clinic,
                                                                                        monkeypatch):
    enroll(clinic, ended=NOW - timedelta(hours=2))
    dispatch.run_once(now=NOW - timedelta(hours=2))  # the welcome
    clock.set(NOW)
    with monkeypatch.context() as patch:
        patch.setattr(conversation, "handle_inbound", lambda *a, **k: (_ for _ in ()).throw(
            sa.exc.OperationalError("SELECT 1", {}, Exception("down"))))
        text_in(client, MARIA, "I can't breathe and my chest hurts", sid="SM" + "e" * 32)
        text_in(client, MARIA, "I can't breathe and my chest hurts", sid="SM" + "e" * 32)  # Twilio's retry
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.direction == "in")) == 0

    gateway = app.extensions["aftercare.gateway"]
    report = dispatch.run_alerts(now=NOW + timedelta(seconds=20))  # the alerts' pass, seconds later
    assert report["spooled_taken"] == 1 and spool.summary(NOW).count == 0
    stored = db.session.scalars(sa.select(Message).where(Message.direction == "in")).one()
    assert stored.created_at == NOW  # handled as of when it arrived
    assert db.session.scalars(sa.select(Assessment.level)).one() == "emergency"
    assert db.session.scalars(sa.select(Escalation.level)).one() == "emergency"
    assert len(sent_to(gateway, ON_CALL)) == 1
    assert "call 911 now" in sent_to(gateway, MARIA)[-1]  # the real answer, by text this time
    dispatch.run_once(now=NOW + timedelta(minutes=1))
    assert len(sent_to(gateway, ON_CALL)) == 1 and sum("911 now" in b for b in sent_to(gateway, MARIA)) == 1


def test_a_text_spooled_after_its_commit_went_through_is_not_handled_twice_but_gets_its_answer(app, client, clock,
                                                                                            clinic):
    enroll(clinic, ended=NOW - timedelta(hours=2))
    clock.set(NOW)
    text_in(client, MARIA, "a 3, fine", sid="SM" + "f" * 32)  # stored and answered...
    db.session.execute(sa.update(Message).where(Message.purpose == "answer").values(status="twiml"))
    db.session.commit()
    spool.put(sid="SM" + "f" * 32, sender=MARIA, body="a 3, fine", received_at=NOW)  # ...but the reply was lost
    dispatch.run_alerts(now=NOW + timedelta(seconds=5))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assessment)) == 1
    answer = db.session.scalars(sa.select(Message).where(Message.purpose == "answer")).one()
    assert (answer.status, answer.to_number) == ("sent", MARIA)


def test_healthz_reports_texts_left_in_the_spool(app, client, clock, database_down):
    dispatch.beat(dispatch.Heartbeat("host:1", NOW, 15), NOW)
    clock.set(NOW)
    text_in(client, MARIA, "hello")
    assert client.get("/healthz").json["spooled_texts"] == 1


def test_the_dashboard_answers_503_not_500_when_the_database_is_down(tmp_path):
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
    client = create_app(app_config(unreachable, tmp_path)).test_client()
    response = client.post("/login", data={"email": "dana@harbor.example", "password": "correct horse battery"},
                           headers={"Accept": "text/html"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert b"Briefly unavailable" in response.data
