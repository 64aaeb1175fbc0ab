"""API keys and webhooks are set up by the clinic's admin: `flask apikey create|list|revoke`, and the
dashboard's integrations page (admins only, their clinic only). A key or secret is shown once."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from api_support import bearer, make_key
from support import lakeside

from bot.extensions import db
from bot.models import ApiKey, AuditEvent, Provider, WebhookEndpoint

KEY = re.compile(r"ak_[0-9a-f]{10}_[A-Za-z0-9_-]{40,}")


def test_a_key_made_on_the_command_line_is_printed_once_and_works(runner, client, clinic):
    result = runner.invoke(args=["apikey", "create", "--clinic", str(clinic.id), "--name", "WebPT bridge"])
    assert result.exit_code == 0 and "shown only this once" in result.output
    [key] = KEY.findall(result.output)
    assert client.get("/api/v1/findings", headers=bearer(key)).status_code == 200
    listing = runner.invoke(args=["apikey", "list", "--clinic", str(clinic.id)]).output
    assert "WebPT bridge" in listing and key not in listing and "last used: 20" in listing


def test_listing_says_which_keys_are_revoked(runner, clinic):
    make_key(clinic, "old system")
    key_id = db.session.scalar(sa.select(ApiKey.id))
    runner.invoke(args=["apikey", "revoke", "--clinic", str(clinic.id), str(key_id)])
    assert "revoked 20" in runner.invoke(args=["apikey", "list", "--clinic", str(clinic.id)]).output
    again = runner.invoke(args=["apikey", "revoke", "--clinic", str(clinic.id), str(key_id)])
    assert "already revoked" in again.output


@pytest.mark.parametrize("args, hint", [(["create", "--clinic", "99", "--name", "x"], "--clinic"),
                                        (["create", "--clinic", "{clinic}", "--name", "  "], "--name"),
                                        (["revoke", "--clinic", "{clinic}", "999"], "KEY_ID")])
def test_the_command_names_what_is_wrong(runner, clinic, args, hint):
    result = runner.invoke(args=["apikey", *[a.format(clinic=clinic.id) for a in args]])
    assert result.exit_code == 2 and hint in result.output


def test_a_key_of_another_clinic_cannot_be_revoked_from_this_one(runner, clinic):
    make_key(lakeside(), "theirs")
    theirs = db.session.scalar(sa.select(ApiKey.id))
    assert runner.invoke(args=["apikey", "revoke", "--clinic", str(clinic.id), str(theirs)]).exit_code == 2
    assert db.session.get(ApiKey, theirs).revoked_at is None


# -- the dashboard's integrations page -----------------------------------------------------------------------

@pytest.fixture
def admin(clinic) -> Provider:
    dana = clinic.providers[0]
    dana.role = "admin"
    db.session.commit()
    return dana


def sign_in(client, email: str, password: str = "correct horse battery") -> None:
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302


def test_the_page_needs_a_sign_in_and_an_admin(client, clinic):
    assert client.get("/admin/integrations").status_code == 302
    sign_in(client, "ben@harbor.example")  # a provider, not an admin
    assert client.get("/admin/integrations").status_code == 403
    assert client.post("/admin/integrations/keys", data={"name": "x"}).status_code == 403


def test_an_admin_makes_a_key_sees_it_once_and_revokes_it(client, admin):
    sign_in(client, admin.email)
    made = client.post("/admin/integrations/keys", data={"name": "Practice bridge"})
    assert made.status_code == 201
    [key] = KEY.findall(made.get_data(as_text=True))
    assert client.get("/api/v1/findings", headers=bearer(key)).status_code == 200
    page = client.get("/admin/integrations").get_data(as_text=True)
    assert key not in page and "Practice bridge" in page
    key_id = db.session.scalar(sa.select(ApiKey.id))
    assert client.post(f"/admin/integrations/keys/{key_id}/revoke").status_code == 303
    assert client.get("/api/v1/findings", headers=bearer(key)).status_code == 401
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "apikey.revoked")).one()
    assert event.actor == f"provider:{admin.id}"


def test_a_key_needs_a_name(client, admin):
    sign_in(client, admin.email)
    response = client.post("/admin/integrations/keys", data={"name": " "})
    assert response.status_code == 400 and "1 to 80 characters" in response.get_data(as_text=True)


def test_an_admin_sees_and_revokes_only_their_clinics_keys(client, admin):
    make_key(lakeside(), "Lakeside's own")
    sign_in(client, admin.email)
    assert "Lakeside&#39;s own" not in client.get("/admin/integrations").get_data(as_text=True)
    theirs = db.session.scalar(sa.select(ApiKey.id))
    assert client.post(f"/admin/integrations/keys/{theirs}/revoke").status_code == 404


def test_an_admin_adds_a_webhook_sees_its_secret_once_and_disables_it(client, admin):
    sign_in(client, admin.email)
    made = client.post("/admin/integrations/webhooks", data={
        "url": "https://practice.example/aftercare", "description": "EHR bridge",
        "events": ["finding.opened", "finding.acknowledged"]})
    assert made.status_code == 201
    endpoint = db.session.scalars(sa.select(WebhookEndpoint)).one()
    assert endpoint.secret in made.get_data(as_text=True)
    assert endpoint.events == ["finding.acknowledged", "finding.opened"]
    page = client.get("/admin/integrations").get_data(as_text=True)
    assert endpoint.secret not in page and "nothing sent yet" in page
    assert client.post(f"/admin/integrations/webhooks/{endpoint.id}/disable").status_code == 303
    db.session.refresh(endpoint)
    assert endpoint.active is False


@pytest.mark.parametrize("form, message", [
    ({"url": "not a url", "events": ["finding.opened"]}, "absolute"),
    ({"url": "https://practice.example/x"}, "choose one or more"),
])
def test_a_webhook_form_at_fault_says_why_and_saves_nothing(client, admin, form, message):
    sign_in(client, admin.email)
    response = client.post("/admin/integrations/webhooks", data=form)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_an_admin_finds_the_page_in_the_dashboards_menu(client, admin):
    sign_in(client, admin.email)
    assert 'href="/admin/integrations"' in client.get("/patients").get_data(as_text=True)


def test_a_provider_does_not_see_it_in_the_menu(client, clinic):
    sign_in(client, "ben@harbor.example")
    assert "/admin/integrations" not in client.get("/patients").get_data(as_text=True)
