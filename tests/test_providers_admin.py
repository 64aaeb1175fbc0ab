"""Providers (issue 11): admins invite, deactivate, give roles and duties, and reset passwords,
in the page and with `flask reset-password`; a provider cannot; another clinic's provider is a 404."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from support import lakeside, sign_in

from bot.extensions import db
from bot.models import AuditEvent, Clinic, Provider

PASSWORD = "correct horse battery"
ADMIN_PAGES = [("get", "/settings"), ("post", "/settings"), ("get", "/settings/providers"),
               ("post", "/settings/providers"), ("post", "/settings/providers/1"),
               ("post", "/settings/providers/1/deactivate"), ("post", "/settings/providers/1/reactivate"),
               ("post", "/settings/providers/1/reset-password")]


@pytest.fixture
def admin(clinic):
    ben = db.session.get(Provider, 2)
    ben.role = "admin"
    db.session.commit()
    return ben


def as_admin(client):
    response = sign_in(client, email="ben@harbor.example")
    assert response.status_code == 302
    return client


def link_in(page: str) -> str:
    return re.search(r'id="link">https://aftercare\.example\.org(/set-password/[^<]+)<', page)[1]


def provider(email: str) -> Provider:
    db.session.expire_all()
    return db.session.scalar(sa.select(Provider).where(Provider.email == email))


# -- who may -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), ADMIN_PAGES + [("get", "/burden"), ("get", "/burden.svg")])
def test_every_page_asks_a_stranger_to_sign_in(client, clinic, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(("method", "path"), ADMIN_PAGES)
def test_a_provider_who_is_not_an_admin_is_refused_every_admin_page(client, clinic, admin, method, path):
    sign_in(client)  # Dana
    assert getattr(client, method)(path, data={"role": "admin", "duty": "on_call"}).status_code == 403
    assert db.session.get(Provider, 1).role == "provider"


@pytest.mark.parametrize("action", ["", "/deactivate", "/reactivate", "/reset-password"])
def test_another_clinics_provider_is_a_404(client, clinic, admin, action):
    lakeside()
    olga = provider("olga@lakeside.example")
    as_admin(client)
    response = client.post(f"/settings/providers/{olga.id}{action}", data={"role": "admin", "duty": "off"})
    assert response.status_code == 404
    olga = provider("olga@lakeside.example")
    assert (olga.active, olga.role, olga.duty) == (True, "provider", "on_call")


def test_a_form_without_its_csrf_token_changes_nothing(app, client, clinic, admin):
    as_admin(client)
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/settings/providers/1", data={"phone": "", "role": "admin", "duty": "off"})
    assert response.status_code == 303
    assert provider("dana@harbor.example").role == "provider"
    response = client.post("/settings", data={"name": "Harbor Physical Therapy", "sms_name": "Changed",
                                              "phone": "(212) 555-0100", "timezone": "America/New_York",
                                              "quiet_start": "21:00", "quiet_end": "08:00",
                                              "business_open": "08:00", "business_close": "17:00",
                                              "business_days": ["1", "2", "3", "4", "5"],
                                              "emergency_realert_minutes": "5", "emergency_backup_minutes": "15",
                                              "urgent_backup_minutes": "30", "session_idle_minutes": "480"})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    db.session.expire_all()
    assert db.session.get(Clinic, clinic.id).sms_name == "Harbor PT"


# -- invite and the one-time link ----------------------------------------------------------------

def test_an_invited_provider_chooses_a_password_from_a_link_that_works_once(client, app, clinic, admin):
    as_admin(client)
    page = client.post("/settings/providers", data={"name": "Nia Newman", "email": "Nia@Harbor.example",
                                                    "phone": "212 555 0133", "role": "provider",
                                                    "duty": "off"}).get_data(as_text=True)
    assert "It is shown only now" in page
    link = link_in(page)
    nia = provider("nia@harbor.example")
    assert (nia.name, nia.phone, nia.active) == ("Nia Newman", "+12125550133", True)

    newcomer = app.test_client()
    assert "For nia@harbor.example" in newcomer.get(link).get_data(as_text=True)
    short = newcomer.post(link, data={"password": "short", "confirm": "short"})
    assert short.status_code == 400 and 'id="password-error"' in short.get_data(as_text=True)
    differ = newcomer.post(link, data={"password": "a long new password", "confirm": "a long new passw0rd"})
    assert differ.status_code == 400 and 'id="confirm-error"' in differ.get_data(as_text=True)
    done = newcomer.post(link, data={"password": "a long new password", "confirm": "a long new password"})
    assert done.status_code == 303
    assert sign_in(newcomer, email="nia@harbor.example", password="a long new password").status_code == 302

    again = app.test_client().get(link)
    assert again.status_code == 404 and "used or replaced" in again.get_data(as_text=True)


def test_a_link_expires(client, app, clinic, admin, monkeypatch):
    as_admin(client)
    link = link_in(client.post("/settings/providers", data={"name": "Nia Newman", "email": "nia@harbor.example",
                                                            "phone": "", "role": "provider", "duty": "off"})
                   .get_data(as_text=True))
    import itsdangerous.timed

    later = datetime.now(timezone.utc) + timedelta(days=7, minutes=1)
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: int(later.timestamp()))
    response = app.test_client().get(link)
    assert response.status_code == 404 and "expired" in response.get_data(as_text=True)


def test_a_tampered_link_is_refused(app, clinic):
    assert app.test_client().get("/set-password/not-a-real-token").status_code == 404


def test_an_invitation_with_bad_fields_names_them_and_keeps_what_was_typed(client, clinic, admin):
    as_admin(client)
    response = client.post("/settings/providers", data={"name": "Nia Newman", "email": "dana@harbor.example",
                                                        "phone": "", "role": "provider", "duty": "on_call"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="duty-error">Add a mobile number first' in page
    assert 'value="Nia Newman"' in page and 'value="dana@harbor.example"' in page
    response = client.post("/settings/providers", data={"name": "Nia Newman", "email": "dana@harbor.example",
                                                        "phone": "", "role": "provider", "duty": "off"})
    assert 'id="email-error">A provider with this email address already exists.' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Provider)) == 2


# -- roles, duties, deactivation -----------------------------------------------------------------

def test_an_admin_puts_another_provider_on_call_and_it_is_audited(client, clinic, admin):
    as_admin(client)
    client.post("/settings/providers/1", data={"phone": "(212) 555-0111", "role": "provider", "duty": "backup"})
    client.post("/settings/providers/2", data={"phone": "(212) 555-0122", "role": "admin", "duty": "on_call"})
    assert provider("dana@harbor.example").duty == "backup"
    assert provider("ben@harbor.example").duty == "on_call"
    page = client.get("/settings/providers").get_data(as_text=True)
    assert "Paged first (on call): Ben Backup." in page and "Paged second (backup): Dana Oncall." in page
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "provider.changed")
                                .order_by(AuditEvent.id)).all()
    assert [(e.subject, e.detail) for e in events] == [
        ("provider:1", {"field": "duty", "old": "on_call", "new": "backup"}),
        ("provider:2", {"field": "duty", "old": "backup", "new": "on_call"}),
    ]


def test_escalation_pages_whoever_the_page_put_on_call(client, clinic, admin):
    from bot import escalation

    as_admin(client)
    client.post("/settings/providers/1", data={"phone": "(212) 555-0111", "role": "provider", "duty": "off"})
    client.post("/settings/providers/2", data={"phone": "(212) 555-0122", "role": "admin", "duty": "on_call"})
    db.session.expire_all()
    recipients = escalation._recipients(clinic, ("on_call",))
    assert [p.email for p, _ in recipients] == ["ben@harbor.example"]


def test_the_last_admin_cannot_demote_or_deactivate_themselves(client, clinic, admin):
    as_admin(client)
    response = client.post("/settings/providers/2", data={"phone": "", "role": "provider", "duty": "off"})
    assert response.status_code == 400
    assert "The clinic needs an admin" in response.get_data(as_text=True)
    response = client.post("/settings/providers/2/deactivate")
    assert response.status_code == 400
    ben = provider("ben@harbor.example")
    assert (ben.role, ben.active) == ("admin", True)
    # With a second admin, either may step down.
    client.post("/settings/providers/1", data={"phone": "(212) 555-0111", "role": "admin", "duty": "on_call"})
    stepped_down = client.post("/settings/providers/2", data={"phone": "", "role": "provider", "duty": "off"})
    assert stepped_down.status_code == 303 and stepped_down.headers["Location"] == "/"
    assert provider("ben@harbor.example").role == "provider"
    assert client.get("/settings/providers").status_code == 403


def test_a_deactivated_provider_is_signed_out_and_cannot_sign_in(app, client, clinic, admin):
    dana = app.test_client()
    sign_in(dana)
    assert dana.get("/").status_code == 200
    as_admin(client)
    assert client.post("/settings/providers/1/deactivate").status_code == 303
    assert dana.get("/").status_code == 302  # her session ended
    refused = sign_in(app.test_client())
    assert refused.status_code == 400
    assert provider("dana@harbor.example").duty == "off"
    # Reactivated, she signs in again, off duty.
    client.post("/settings/providers/1/reactivate")
    assert sign_in(app.test_client()).status_code == 302


# -- password resets -----------------------------------------------------------------------------

def test_an_admin_resets_a_password_the_old_one_stops_working_and_the_link_sets_a_new_one(app, client, clinic,
                                                                                           admin):
    dana = app.test_client()
    sign_in(dana)
    as_admin(client)
    link = link_in(client.post("/settings/providers/1/reset-password").get_data(as_text=True))
    assert dana.get("/").status_code == 302
    assert sign_in(app.test_client()).status_code == 400
    app.test_client().post(link, data={"password": "brand new words here", "confirm": "brand new words here"})
    assert sign_in(app.test_client(), password="brand new words here").status_code == 302
    assert [e.action for e in db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.subject == "provider:1", AuditEvent.action.like("provider.password%")))] == [
        "provider.password_reset", "provider.password_set"]


def test_flask_reset_password_prints_a_one_time_link_and_logs_nothing(app, runner, clinic, caplog):
    result = runner.invoke(args=["reset-password", "Dana@Harbor.example"])
    assert result.exit_code == 0, result.output
    link = re.search(r"https://aftercare\.example\.org(/set-password/\S+)", result.output)[1]
    assert link not in caplog.text
    assert sign_in(app.test_client()).status_code == 400  # the old password no longer works
    app.test_client().post(link, data={"password": "brand new words here", "confirm": "brand new words here"})
    assert sign_in(app.test_client(), password="brand new words here").status_code == 302


def test_flask_reset_password_set_prompts_for_the_password_twice(app, runner, clinic, caplog):
    result = runner.invoke(args=["reset-password", "dana@harbor.example", "--set"],
                           input="brand new words here\nbrand new words here\n")
    assert result.exit_code == 0, result.output
    assert "brand new words here" not in result.output and "brand new words here" not in caplog.text
    assert sign_in(app.test_client(), password="brand new words here").status_code == 302


def test_flask_reset_password_names_the_field_at_fault(runner, clinic):
    result = runner.invoke(args=["reset-password", "nobody@harbor.example"])
    assert result.exit_code == 2
    assert "Error: email: No provider has this email address." in result.output
    result = runner.invoke(args=["reset-password", "dana@harbor.example", "--set"], input="short\nshort\n")
    assert result.exit_code == 2 and "Error: password: Use at least 10 characters." in result.output
    assert sign_in(runner.app.test_client(), password=PASSWORD).status_code == 302


def test_a_link_for_a_provider_deactivated_since_says_so(app, client, clinic, admin):
    as_admin(client)
    link = link_in(client.post("/settings/providers/1/reset-password").get_data(as_text=True))
    client.post("/settings/providers/1/deactivate")
    response = app.test_client().get(link)
    assert response.status_code == 404 and "This account is deactivated" in response.get_data(as_text=True)
    refused = app.test_client().post(link, data={"password": "brand new words here",
                                                 "confirm": "brand new words here"})
    assert refused.status_code == 404
    assert sign_in(app.test_client(), password="brand new words here").status_code == 400
