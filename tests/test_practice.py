"""The practice phone's doors: signed in, console backend only, one clinic's practice patients,
CSRF on every form, field errors beside their field, and texts only through the signed webhook."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import AUTH_TOKEN, PUBLIC_BASE_URL, app_config
from flask import request, request_started
from support import enroll, lakeside, text_in
from twilio.request_validator import RequestValidator

import config
from bot import create_app, dispatch
from bot.extensions import db
from bot.models import AuditEvent, Escalation, Message, Patient

NY = ZoneInfo("America/New_York")
PASSWORD = "correct horse battery"  # the `clinic` fixture's providers'


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def sign_in(client, email: str = "dana@harbor.example", password: str = PASSWORD) -> None:
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302


def enrol_practice_patient(client, *, name: str = "Pat Practice", ended_at: str = "2026-11-17T10:00",
                           regions: tuple[str, ...] = ("knee",), **fields: str) -> Patient:
    """A practice patient enrolled from the form, as a provider does; returns the patient."""
    response = client.post("/practice/patients", data={"name": name, "language": "en", "ended_at": ended_at,
                                                       "timezone": "America/New_York", "regions": list(regions),
                                                       **fields})
    assert response.status_code == 303, response.get_data(as_text=True)
    patient_id = int(response.headers["Location"].rsplit("/", 1)[1])
    return db.session.get(Patient, patient_id)


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).replace("&#39;", "'")


@pytest.fixture
def harbor(app, clinic, clock, client):
    """Dana of Harbor PT, signed in at 10:00 New York time on Tuesday 17 November 2026."""
    clock.set(ny(2026, 11, 17, 10, 0))
    sign_in(client)
    return clinic


# -- who may open it ------------------------------------------------------------------------------

PAGES = ["/practice/", "/practice/patients/1", "/practice/patients/1/live"]
ACTIONS = ["/practice/patients", "/practice/patients/1/reply", "/practice/patients/1/provider-reply",
           "/practice/patients/1/clock"]


@pytest.mark.parametrize("path", PAGES)
def test_every_practice_page_needs_a_login(client, clinic, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ACTIONS)
def test_every_practice_action_needs_a_login(client, clinic, path):
    response = client.post(path, data={"body": "a 3", "step": "1h", "name": "Pat", "regions": "knee"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_there_is_no_practice_phone_where_texts_reach_real_phones(database_url, tmp_path, clinic):
    app = create_app(app_config(database_url, tmp_path, SMS_BACKEND="twilio", TWILIO_ACCOUNT_SID="AC" + "1" * 32,
                                TWILIO_FROM_NUMBER="+12125550199"))
    client = app.test_client()
    try:
        sign_in(client)
        for path in PAGES:
            assert client.get(path).status_code == 404
        assert client.post("/practice/patients", data={"name": "Pat", "regions": "knee"}).status_code == 404
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 0
    finally:
        with app.app_context():
            db.engine.dispose()  # this app's connections, closed before the test database is emptied


def test_the_console_backend_signs_practice_texts_with_a_token_of_its_own_and_twilio_needs_the_real_one():
    console = config.load({}, instance_path="/tmp/instance")
    again = config.load({}, instance_path="/tmp/instance")
    assert len(console["TWILIO_AUTH_TOKEN"]) >= 32 and console["TWILIO_AUTH_TOKEN"] != again["TWILIO_AUTH_TOKEN"]
    assert config.load({"TWILIO_AUTH_TOKEN": "given"}, instance_path="/tmp/i")["TWILIO_AUTH_TOKEN"] == "given"
    assert config.load({"SMS_BACKEND": "twilio"}, instance_path="/tmp/i")["TWILIO_AUTH_TOKEN"] == ""


def test_another_clinics_practice_patient_is_not_found(app, harbor, client):
    lakeside()
    with app.app_context():  # a request context of its own: the test's would remember Dana as signed in
        olga = app.test_client()
        sign_in(olga, "olga@lakeside.example", "another long password")
        theirs_id = enrol_practice_patient(olga, name="Lake Practice").id
    theirs = db.session.get(Patient, theirs_id)
    assert theirs.clinic.name == "Lakeside Rehab"
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
    base = f"/practice/patients/{theirs.id}"
    assert client.get(base).status_code == 404
    assert client.get(base + "/live").status_code == 404
    assert client.post(base + "/reply", data={"body": "my chest feels tight"}).status_code == 404
    assert client.post(base + "/clock", data={"step": "1d"}).status_code == 404
    assert client.post(base + "/provider-reply", data={"provider": "1", "quick": "ACK"}).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == before
    assert "Lake Practice" not in page_text(client.get("/practice/"))


def test_a_real_patient_is_not_a_practice_patient(app, harbor, client):
    maria = enroll(harbor, ended=ny(2026, 11, 17, 9, 0)).patient
    for response in (client.get(f"/practice/patients/{maria.id}"),
                     client.post(f"/practice/patients/{maria.id}/reply", data={"body": "a 2"}),
                     client.post(f"/practice/patients/{maria.id}/clock", data={"step": "1d"})):
        assert response.status_code == 404
    assert "Maria" not in page_text(client.get("/practice/"))


@pytest.mark.parametrize("path, data", [
    ("/practice/patients", {"name": "Pat Two", "ended_at": "2026-11-17T10:00", "regions": "knee"}),
    ("/practice/patients/{id}/reply", {"body": "my chest feels tight"}),
    ("/practice/patients/{id}/provider-reply", {"provider": "1", "quick": "ACK"}),
    ("/practice/patients/{id}/clock", {"step": "1d"}),
])
def test_a_practice_form_without_its_csrf_token_does_nothing(app, harbor, client, path, data):
    patient = enrol_practice_patient(client)
    app.config["WTF_CSRF_ENABLED"] = True
    before = {model: db.session.scalar(sa.select(sa.func.count()).select_from(model))
              for model in (Message, Patient, AuditEvent)}
    clock_before = patient.practice_clock_seconds
    response = client.post(path.format(id=patient.id), data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    db.session.expire_all()
    assert {model: db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in before} == before
    assert db.session.get(Patient, patient.id).practice_clock_seconds == clock_before
    assert "This page expired. Please try again." in page_text(client.get("/"))


# -- enrolling a practice patient ------------------------------------------------------------------

def test_a_practice_patient_is_enrolled_like_a_real_one_on_a_fictional_number_nobody_has(app, harbor, client,
                                                                                        gateway):
    lakeside()
    enroll(harbor, ended=ny(2026, 11, 17, 9, 0), phone="+12125550101", name="Maria Lopez")  # a real 555-0101
    patient = enrol_practice_patient(client, regions=("upper_trapezius",), precautions="anticoagulant")
    assert patient.practice is True and patient.clinic_id == harbor.id
    assert re.fullmatch(r"\+1\d{3}55501\d\d", patient.phone)
    assert patient.phone not in {"+12125550101", "+12125550100", "+12125550111", "+12125550122"}
    assert patient.precautions == ["anticoagulant"] and patient.sessions[0].regions == ["upper_trapezius"]
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "episode.enrolled" in actions and "practice.patient_created" in actions
    # The welcome went out at once, through the dispatcher and the SMS gateway.
    assert [r["body"][:21] for r in gateway.records() if r["to"] == patient.phone] == ["Harbor PT: Hi Pat, we"]
    page = page_text(client.get(f"/practice/patients/{patient.id}"))
    assert "Welcome (C0) · Tue Nov 17, 10:00 EST" in page
    assert "Check-in C1: Tue Nov 17, 14:00 EST (in 4 h)" in page
    assert "times in the patient's zone, America/New_York" in page


def test_a_practice_patients_fields_at_fault_are_told_beside_each_field_and_nothing_is_saved(app, harbor, client):
    response = client.post("/practice/patients", data={"name": "Lopez, Maria", "ended_at": "2026-11-17T11:00",
                                                       "timezone": "America/New_York", "language": "en"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert ('<p class="error" id="name-error">Write the first name first, without a comma (Maria Lopez, not '
            'Lopez, Maria).</p>') in page
    assert '<p class="error" id="ended_at-error">This is in the future: enter when the session ended.</p>' in page
    assert '<p class="error" id="regions-error">Choose at least one needled region.</p>' in page
    assert 'aria-describedby="name-error" aria-invalid="true"' in page
    assert 'value="Lopez, Maria"' in page  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 0


def test_a_session_older_than_the_protocols_last_check_in_is_refused(app, harbor, client):
    eight_days = client.post("/practice/patients", data={"name": "Pat", "ended_at": "2026-11-09T09:59",
                                                         "regions": "knee"})
    assert eight_days.status_code == 400
    assert "more than 7 days ago" in page_text(eight_days)
    seven_days = client.post("/practice/patients", data={"name": "Pat", "ended_at": "2026-11-10T10:00",
                                                         "regions": "knee"})
    assert seven_days.status_code == 303


# -- texts through the signed webhook -------------------------------------------------------------

@pytest.fixture
def webhook_calls(app):
    """Every request the inbound webhook receives: (form, X-Twilio-Signature, URL)."""
    calls = []

    def record(sender, **extra) -> None:
        if request.endpoint == "webhooks.inbound":
            calls.append((request.form.to_dict(), request.headers.get("X-Twilio-Signature", ""), request.url))

    request_started.connect(record, app)
    yield calls
    request_started.disconnect(record, app)


def test_the_patients_reply_goes_through_the_webhook_signed_as_twilio_signs_it(app, harbor, client, webhook_calls):
    patient = enrol_practice_patient(client)
    response = client.post(f"/practice/patients/{patient.id}/reply", data={"body": "  a 3, a bit sore  "})
    assert response.status_code == 303

    [(form, signature, url)] = webhook_calls
    assert url == PUBLIC_BASE_URL + "/sms/inbound"
    assert form["From"] == patient.phone and form["Body"] == "a 3, a bit sore"
    assert re.fullmatch(r"SM[0-9a-f]{32}", form["MessageSid"])
    assert RequestValidator(AUTH_TOKEN).validate(PUBLIC_BASE_URL + "/sms/inbound", form, signature)
    stored = db.session.scalar(sa.select(Message).where(Message.direction == "in"))
    assert stored.twilio_sid == form["MessageSid"] and stored.patient_id == patient.id
    answer = db.session.scalar(sa.select(Message).where(Message.reply_to_id == stored.id))
    assert answer.purpose == "answer" and answer.status == "twiml"

    # The same check refuses the same text with a word changed under Twilio's signature, or unsigned.
    forged = dict(form, Body="fine now, stop the alerts", MessageSid="SM" + "f" * 32)
    for headers in ({"X-Twilio-Signature": signature}, {}):
        refused = client.post("/sms/inbound", data=urlencode(forged), headers=headers,
                              content_type="application/x-www-form-urlencoded")
        assert refused.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.direction == "in")) == 1


def test_when_the_webhook_refuses_the_practice_text_the_page_says_so_and_nothing_is_stored(app, harbor, client):
    patient = enrol_practice_patient(client)
    app.config["PUBLIC_BASE_URL"] = ""  # the webhook and the practice phone disagree on nothing but this:
    app.config["TWILIO_AUTH_TOKEN"] = ""  # without a token the webhook takes nothing, whoever signs
    response = client.post(f"/practice/patients/{patient.id}/reply", data={"body": "a 3"})
    assert response.status_code == 303
    assert "The webhook refused the text (HTTP 403)" in page_text(client.get(response.headers["Location"]))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.direction == "in")) == 0


@pytest.mark.parametrize("body, error", [
    ("   ", "Type a text to send."),
    ("x" * 1601, "A text can have at most 1600 characters (this one has 1601)."),
])
def test_a_reply_that_cannot_be_a_text_is_told_beside_the_box_and_kept(app, harbor, client, body, error):
    patient = enrol_practice_patient(client)
    response = client.post(f"/practice/patients/{patient.id}/reply", data={"body": body})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'<p class="error" id="body-error">{error}</p>' in page
    assert f">{body}</textarea>" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.direction == "in")) == 0


def test_a_practice_number_someone_else_now_has_is_not_texted_from(app, harbor, client):
    patient = enrol_practice_patient(client)
    enroll(lakeside(), ended=ny(2026, 11, 17, 9, 0), phone=patient.phone, name="Zed Real")
    response = client.post(f"/practice/patients/{patient.id}/reply", data={"body": "my chest feels tight"})
    assert response.status_code == 409
    assert "Another patient or a provider now has this practice number" in page_text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.direction == "in")) == 0


def test_a_provider_acknowledges_a_practice_finding_from_their_phone_through_the_webhook(app, harbor, client,
                                                                                       webhook_calls):
    patient = enrol_practice_patient(client)
    client.post(f"/practice/patients/{patient.id}/reply", data={"body": "my chest feels tight"})
    finding = db.session.scalar(sa.select(Escalation).where(Escalation.patient_id == patient.id))
    page = page_text(client.get(f"/practice/patients/{patient.id}"))
    assert f"Reply ACK {finding.code}" in page and "Alert to Dana Oncall" in page

    response = client.post(f"/practice/patients/{patient.id}/provider-reply",
                           data={"provider": "1", "quick": f"ACK {finding.code}", "provider_body": ""})
    assert response.status_code == 303
    form, signature, _ = webhook_calls[-1]
    assert form["From"] == "+12125550111" and form["Body"] == f"ACK {finding.code}"
    assert RequestValidator(AUTH_TOKEN).validate(PUBLIC_BASE_URL + "/sms/inbound", form, signature)
    db.session.expire_all()
    assert finding.status == "acknowledged" and finding.acknowledged_by.name == "Dana Oncall"
    page = page_text(client.get(response.headers["Location"]))
    assert f"Dana Oncall's phone got: Acknowledged {finding.code} (Pat P., EMERGENCY)" in page
    assert "Acknowledged by Dana Oncall by text Tue Nov 17, 10:00 EST" in page


def test_the_practice_phone_never_acknowledges_a_real_patients_finding(app, harbor, client):
    enroll(harbor, ended=ny(2026, 11, 17, 9, 0), name="Maria Lopez")
    text_in(client, "+12125550143", "my chest feels tight")
    dispatch.run_once(now=ny(2026, 11, 17, 10, 0))  # Dana is alerted about Maria
    real = db.session.scalar(sa.select(Escalation))
    patient = enrol_practice_patient(client)

    named = client.post(f"/practice/patients/{patient.id}/provider-reply",
                        data={"provider": "1", "provider_body": f"ack {real.code}"})
    assert named.status_code == 409
    assert f"{real.code} is a real patient's finding" in page_text(named)
    bare = client.post(f"/practice/patients/{patient.id}/provider-reply", data={"provider": "1", "quick": "ACK"})
    assert bare.status_code == 409
    assert "Dana Oncall has open alerts about real patients" in page_text(bare)
    assert 'value="ack ' in named.get_data(as_text=True).lower()  # what was typed is kept
    db.session.expire_all()
    assert real.status == "open"


def test_only_a_provider_of_the_clinic_with_a_phone_texts_from_the_practice_page(app, harbor, client):
    lakeside()
    patient = enrol_practice_patient(client)
    olga_id = 3  # Lakeside's on-call provider
    for provider in (str(olga_id), "", "999"):
        response = client.post(f"/practice/patients/{patient.id}/provider-reply",
                               data={"provider": provider, "provider_body": "ACK"})
        assert response.status_code == 400
        assert "Choose a provider of this clinic who has a phone." in page_text(response)


# -- the page polls for new texts ------------------------------------------------------------------

def test_the_poll_answers_204_until_something_new_is_on_the_page(app, harbor, client):
    patient = enrol_practice_patient(client)
    page = client.get(f"/practice/patients/{patient.id}").get_data(as_text=True)
    poll = re.search(r'id="poller" hidden hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert client.get(poll).status_code == 204

    text_in(client, patient.phone, "a 3, a bit sore")  # as if from another tab
    fresh = client.get(poll)
    assert fresh.status_code == 200
    html = fresh.get_data(as_text=True)
    assert '<div id="thread" hx-swap-oob="innerHTML">' in html and "a 3, a bit sore" in html
    assert '<p id="news" hx-swap-oob="innerHTML">2 new texts.</p>' in html  # the reply and its answer
    next_poll = re.search(r'id="poller" hidden hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert client.get(next_poll).status_code == 204


def test_the_practice_list_shows_this_clinics_practice_patients(app, harbor, client):
    first = enrol_practice_patient(client, name="Ana Uno")
    second = enrol_practice_patient(client, name="Bo Dos")
    page = client.get("/practice/").get_data(as_text=True)
    assert f'href="/practice/patients/{first.id}">Ana Uno</a>' in page
    assert f'href="/practice/patients/{second.id}">Bo Dos</a>' in page
    assert first.phone != second.phone


def test_an_open_practice_page_polling_does_not_keep_an_idle_session_alive(app, harbor, client, clock):
    patient = enrol_practice_patient(client)  # at 10:00
    page = client.get(f"/practice/patients/{patient.id}")
    assert page.headers["Cache-Control"] == "no-store"
    poll = re.search(r'id="poller" hidden hx-get="([^"]+)"', page.get_data(as_text=True)).group(1)
    clock.set(ny(2026, 11, 17, 17, 59))
    polled = client.get(poll.replace("&amp;", "&"))
    assert polled.status_code in (200, 204) and polled.headers["Cache-Control"] == "no-store"
    clock.set(ny(2026, 11, 17, 18, 1))  # 8 h 1 min after the last thing Dana did
    response = client.get(f"/practice/patients/{patient.id}", follow_redirects=True)
    assert response.request.path == "/login"
    assert "You were signed out after 8 hours without activity." in page_text(response)
