"""The providers' dashboard: every page needs a login and shows one clinic's data only."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import app_config
from support import enroll, lakeside, text_in

from bot import create_app
from bot.extensions import db
from bot.models import AuditEvent, Escalation

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def sign_in(client, email="dana@harbor.example", password="correct horse battery"):
    return client.post("/login", data={"email": email, "password": password})


@pytest.fixture
def two_clinics(app, clinic, clock, client):
    """Harbor's Maria wrote in with a red flag; so did a patient of another clinic."""
    other = lakeside()
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name="Maria Lopez")
    enroll(other, ended=ny(2026, 11, 17, 10, 0), name="Zed Other", phone="+13125550177")
    clock.set(ny(2026, 11, 17, 15, 0))
    text_in(client, "+12125550143", "my chest feels tight")
    text_in(client, "+13125550177", "my chest feels tight")
    harbor_esc, other_esc = db.session.scalars(sa.select(Escalation).order_by(Escalation.id)).all()
    return harbor_esc, other_esc


@pytest.mark.parametrize("path", ["/", "/patients", "/patients/1"])
def test_every_page_needs_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ["/escalations/1/ack", "/sessions/1/close", "/logout"])
def test_every_action_needs_a_login(client, path):
    assert client.post(path).status_code == 302


def test_a_wrong_password_is_told_beside_the_field(client, clinic):
    response = sign_in(client, password="nope")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<p class="error" id="password-error">That email and password do not match an active account.</p>' in page


def test_five_wrong_passwords_lock_the_account_for_15_minutes(client, clinic, clock):
    clock.set(ny(2026, 11, 17, 9, 0))
    for _ in range(5):
        assert sign_in(client, password="guess").status_code == 400
    response = sign_in(client)  # even the right password now, on a device that has not signed in before
    assert response.status_code == 429
    assert ('<p class="error" id="password-error">Too many wrong passwords for this account. Try again in 15 '
            'minutes, from a device you have signed in on before, or ask the clinic\'s admin.</p>'
            ) in response.get_data(as_text=True).replace("&#39;", "'")
    assert sign_in(client, email="ben@harbor.example").status_code == 302  # other accounts are not locked
    clock.set(ny(2026, 11, 17, 9, 16))
    assert sign_in(client).status_code == 302


def test_a_correct_password_starts_the_count_afresh(client, clinic, clock):
    clock.set(ny(2026, 11, 17, 9, 0))
    for _ in range(4):
        sign_in(client, password="guess")
    assert sign_in(client).status_code == 302
    client.post("/logout")
    for _ in range(4):
        assert sign_in(client, password="guess").status_code == 400
    assert sign_in(client).status_code == 302


def test_the_audit_log_keeps_no_mistyped_address(app, client, clinic, clock):
    clock.set(ny(2026, 11, 17, 9, 0))
    sign_in(client, email="dnaa@harbor.example", password="guess")
    failed = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "provider.sign_in_failed")).one()
    assert "dnaa" not in f"{failed.subject} {failed.detail}"


@pytest.mark.parametrize("email, message", [("", "Enter your email address."),
                                            ("not-an-email", "Enter a valid email address."),
                                            ("dana\x00@harbor.example", "Enter a valid email address.")])
def test_a_bad_email_is_told_beside_the_field(client, clinic, email, message):
    response = client.post("/login", data={"email": email, "password": "x"})
    assert response.status_code == 400
    assert f'<p class="error" id="email-error">{message}</p>' in response.get_data(as_text=True)


def test_a_provider_sees_their_clinics_findings_only(client, two_clinics):
    sign_in(client)
    page = client.get("/").get_data(as_text=True)
    assert "Maria Lopez" in page and "Zed Other" not in page
    assert "emergency" in page and "my chest feels tight" in page
    assert "Tue Nov 17, 15:00 EST" in page  # the clinic's clock


def test_another_clinics_patient_and_finding_are_not_found(client, two_clinics):
    _, other_esc = two_clinics
    sign_in(client)
    assert client.get(f"/patients/{other_esc.patient_id}").status_code == 404
    assert client.post(f"/escalations/{other_esc.id}/ack").status_code == 404
    db.session.refresh(other_esc)
    assert other_esc.status == "open"


def test_acknowledging_on_the_dashboard_stops_the_alerts_and_is_audited(client, two_clinics, clock):
    harbor_esc, _ = two_clinics
    sign_in(client)
    clock.set(ny(2026, 11, 17, 15, 4))
    response = client.post(f"/escalations/{harbor_esc.id}/ack", follow_redirects=True)
    assert f"Acknowledged {harbor_esc.code}." in response.get_data(as_text=True)
    db.session.refresh(harbor_esc)
    assert (harbor_esc.status, harbor_esc.next_alert_at) == ("acknowledged", None)
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "escalation.acknowledged")).one()
    assert event.detail == {"via": "dashboard"} and event.actor.startswith("provider:")


def test_the_patients_call_or_wait_answer_is_shown_with_the_finding(client, clinic, clock):
    enroll(clinic, ended=ny(2026, 11, 18, 9, 0))
    clock.set(ny(2026, 11, 20, 11, 0))
    text_in(client, "+12125550143", "still about a 5, no better")
    text_in(client, "+12125550143", "CALL")
    sign_in(client)
    assert "a call today" in client.get("/").get_data(as_text=True)


def test_a_patients_page_shows_the_schedule_on_the_patients_clock(client, two_clinics):
    harbor_esc, _ = two_clinics
    sign_in(client)
    page = client.get(f"/patients/{harbor_esc.patient_id}").get_data(as_text=True)
    assert "Tue Nov 17, 14:00 EST" in page  # C1, four hours after the session
    assert "E1" in page


def test_closing_an_episode_from_the_dashboard_cancels_its_texts(client, two_clinics):
    harbor_esc, _ = two_clinics
    sign_in(client)
    client.post(f"/sessions/{harbor_esc.session_id}/close")
    statuses = {c.status for c in db.session.get(Escalation, harbor_esc.id).patient.sessions[0].checkins
                if c.protocol_id in ("C2", "C3")}
    assert statuses == {"cancelled"}


def test_forms_are_protected_against_cross_site_requests(database_url, tmp_path, clinic):
    app = create_app(app_config(database_url, tmp_path, WTF_CSRF_ENABLED=True))
    client = app.test_client()
    response = client.post("/login", data={"email": "dana@harbor.example", "password": "correct horse battery"},
                           follow_redirects=True)
    assert "This page expired. Please try again." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in


def test_signing_out_ends_the_session(client, clinic):
    sign_in(client)
    assert client.get("/").status_code == 200
    client.post("/logout")
    assert client.get("/").status_code == 302
