"""The inbound webhook: only Twilio gets in; retries are harmless; keywords come before triage;
bad input gets a clear 4xx or a sensible answer, never a 500."""

import json
import string
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from conftest import AUTH_TOKEN, app_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import enroll, new_sid, post_signed, signature, text_in, twiml_text

from bot import create_app
from bot.extensions import db
from bot.models import Assessment, AuditEvent, CheckIn, Message, Patient

MARIA = "+12125550143"


@pytest.fixture
def maria(app, clinic):
    now = datetime.now(timezone.utc)
    return enroll(clinic, ended=now - timedelta(hours=5), now=now - timedelta(hours=5))


def stored_messages() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Message))


def params(body: str = "a 3", sender: str = MARIA) -> dict[str, str]:
    return {"MessageSid": new_sid(), "AccountSid": "AC" + "0" * 32, "From": sender, "To": "+12125550199",
            "Body": body}


# -- signatures ---------------------------------------------------------------------------------

def test_an_unsigned_request_is_refused_and_nothing_is_stored(client, maria):
    response = client.post("/sms/inbound", data=params())
    assert response.status_code == 403 and stored_messages() == 0


def test_a_bad_signature_is_refused(client, maria):
    response = client.post("/sms/inbound", data=params(), headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert response.status_code == 403 and stored_messages() == 0


def test_a_tampered_body_is_refused(client, maria):
    signed = params("a 2")
    tampered = dict(signed, Body="a 9")
    response = client.post("/sms/inbound", data=urlencode(tampered), content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": signature("/sms/inbound", signed)})
    assert response.status_code == 403 and stored_messages() == 0


def test_a_request_signed_for_another_url_is_refused(client, maria):
    form = params()
    response = client.post("/sms/inbound", data=urlencode(form), content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": signature("/sms/inbound", form,
                                                                    base="https://evil.example.org")})
    assert response.status_code == 403


def test_a_signature_from_another_account_is_refused(client, maria):
    form = params()
    response = client.post("/sms/inbound", data=urlencode(form), content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": signature("/sms/inbound", form, token="another-token")})
    assert response.status_code == 403


def test_without_an_auth_token_configured_nothing_gets_in(database_url, tmp_path):
    app = create_app(app_config(database_url, tmp_path, TWILIO_AUTH_TOKEN=""))
    form = params()
    response = app.test_client().post("/sms/inbound", data=urlencode(form),
                                      content_type="application/x-www-form-urlencoded",
                                      headers={"X-Twilio-Signature": signature("/sms/inbound", form, token="")})
    assert response.status_code == 403


def test_behind_a_tls_proxy_the_public_url_is_what_is_checked(client, maria):
    # The test client calls http://localhost/sms/inbound, as a proxy would; Twilio signed the public URL.
    response = text_in(client, MARIA, "a 3")
    assert response.status_code == 200 and "<Message>" in response.get_data(as_text=True)
    form = params()
    internal = client.post("/sms/inbound", data=urlencode(form), content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": signature("/sms/inbound", form, base="http://localhost")})
    assert internal.status_code == 403


# -- retries ------------------------------------------------------------------------------------

def test_a_twilio_retry_stores_one_message_triages_once_and_gets_the_same_answer(client, maria):
    sid = new_sid()
    first = text_in(client, MARIA, "still like a 6", sid=sid)
    second = text_in(client, MARIA, "still like a 6", sid=sid)
    assert first.status_code == second.status_code == 200
    assert first.data == second.data and twiml_text(first)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.direction == "in")) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assessment)) == 1


# -- keywords -----------------------------------------------------------------------------------

@pytest.mark.parametrize("word", ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "QUIT", "revoke",
                                  "OPTOUT", " stop ", "Stop.", "opt out"])
def test_opt_out_keywords_stop_the_schedule(client, maria, word):
    answer = twiml_text(text_in(client, MARIA, word))
    db.session.expire_all()
    assert maria.patient.opted_out_at is not None
    assert "won't get more texts from Harbor PT" in answer
    assert {c.status for c in maria.session.checkins if c.protocol_id != "C0"} == {"cancelled"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assessment)) == 0  # not triaged


@pytest.mark.parametrize("word", ["START", "yes", "Unstop"])
def test_opt_in_keywords_resume_the_texts(client, maria, word):
    text_in(client, MARIA, "STOP")
    answer = twiml_text(text_in(client, MARIA, word))
    db.session.expire_all()
    assert maria.patient.opted_out_at is None and answer.startswith("Welcome back.")
    assert {c.status for c in maria.session.checkins if c.protocol_id in ("C2", "C3")} == {"planned"}


@pytest.mark.parametrize("word", ["HELP", "info", "Help!"])
def test_help_answers_with_the_clinic_name_and_phone(client, maria, word):
    answer = twiml_text(text_in(client, MARIA, word))
    assert "Harbor PT" in answer and "(212) 555-0100" in answer


def test_asking_in_words_to_stop_gets_a_confirmation_question_not_an_opt_out(client, maria):
    answer = twiml_text(text_in(client, MARIA, "please stop texting me"))
    db.session.expire_all()
    assert answer.startswith("Do you want to stop all texts from Harbor PT? Reply STOP to stop.")
    assert maria.patient.opted_out_at is None


def test_it_wont_stop_hurting_is_a_symptom_not_an_opt_out(client, maria):
    answer = twiml_text(text_in(client, MARIA, "it won't stop hurting"))
    db.session.expire_all()
    assert maria.patient.opted_out_at is None and "STOP" not in answer
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assessment)) == 1


def test_spanish_patients_are_answered_in_spanish(client, clinic):
    now = datetime.now(timezone.utc)
    enroll(clinic, ended=now - timedelta(hours=5), now=now - timedelta(hours=5), language="es", phone="+12125550150",
           name="Lucia Perez")
    assert twiml_text(text_in(client, "+12125550150", "AYUDA")).startswith("Harbor PT: mensajes de seguimiento")


# -- who is writing -----------------------------------------------------------------------------

def test_an_unknown_number_gets_one_short_answer_and_only_a_hash_is_kept(client, maria):
    answer = twiml_text(text_in(client, "+13105550199", "hi who is this"))
    assert "don't recognize this number" in answer
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.direction == "in")) == 0
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "sms.unknown_sender")).one()
    assert "3105550199" not in json.dumps(event.detail) and len(event.detail["sender"]) == 16


def test_a_providers_number_is_recognised_as_a_provider(client, maria):
    answer = twiml_text(text_in(client, "+12125550111", "ACK"))
    assert answer == "Aftercare: no open alert to acknowledge."
    inbound = db.session.scalars(sa.select(Message).where(Message.direction == "in")).one()
    assert inbound.provider_id is not None and inbound.patient_id is None


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["", "   ", "😣😣😣", "👍", "x" * 1600, "a" * 5000, "\x00\x01", "🫁" * 400])
def test_odd_bodies_get_a_sensible_answer(client, maria, body):
    response = text_in(client, MARIA, body)
    assert response.status_code == 200
    assert twiml_text(response)


@pytest.mark.parametrize("missing", ["From", "MessageSid"])
def test_a_request_missing_what_twilio_always_sends_is_a_400(client, maria, missing):
    form = params()
    del form[missing]
    assert post_signed(client, "/sms/inbound", form).status_code == 400


def test_a_request_with_a_bad_sender_number_is_answered_as_unknown(client, maria):
    response = post_signed(client, "/sms/inbound", params(sender="not a number"))
    assert response.status_code == 200 and "don't recognize" in twiml_text(response)


def test_a_json_body_is_refused(client, maria):
    form = params()
    response = client.post("/sms/inbound", data=json.dumps(form), content_type="application/json",
                           headers={"X-Twilio-Signature": signature("/sms/inbound", {})})
    assert response.status_code == 415


def test_an_oversized_post_is_refused_before_it_is_read(client, maria):
    form = params("x" * 300_000)
    assert post_signed(client, "/sms/inbound", form).status_code == 413
    assert stored_messages() == 0


def test_a_get_is_not_allowed(client):
    assert client.get("/sms/inbound").status_code == 405


def test_after_bad_input_the_next_good_reply_is_handled(client, maria):
    client.post("/sms/inbound", data="%%%garbage", content_type="application/x-www-form-urlencoded")
    post_signed(client, "/sms/inbound", {"From": MARIA})
    response = text_in(client, MARIA, "a 2, feeling better")
    assert response.status_code == 200 and twiml_text(response).startswith("Thanks Maria")


_field = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(form=st.dictionaries(st.sampled_from(["MessageSid", "From", "To", "Body", "NumMedia", "AccountSid",
                                             "SmsStatus", "Junk"]), _field, max_size=8),
       known_sender=st.booleans(), sid=st.text(alphabet=string.ascii_letters + string.digits, max_size=80))
def test_random_signed_requests_never_get_a_500(client, maria, form, known_sender, sid):
    if known_sender:
        form["From"] = MARIA
    if sid:
        form["MessageSid"] = sid
    response = post_signed(client, "/sms/inbound", form)
    assert response.status_code in (200, 400), response.status_code
