"""Signed-in sessions: they end on sign-out, after the clinic's idle limit, and when the password changes.

A cookie copied from a provider's browser (a shared computer, a lost phone) must stop working as
soon as she signs out, and by itself after 8 hours without use.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from support import sign_in

from bot.extensions import db
from bot.models import Clinic, Provider

NY = ZoneInfo("America/New_York")
SIGNED_OUT_IDLE = "You were signed out after 8 hours without activity."


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def cookie_name(app, setting: str) -> str:
    return app.config.get(setting, "remember_token")  # Flask-Login's name when none is set


def cookie(app, client, setting: str):
    return client.get_cookie(cookie_name(app, setting))


def signed_in(client) -> bool:
    response = client.get("/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def copy_cookies(app, source, names: tuple[str, ...]):
    """Another browser holding only the named cookies of `source` (what a thief could copy)."""
    other = app.test_client()
    for setting in names:
        other.set_cookie(cookie_name(app, setting), cookie(app, source, setting).value)
    return other


def test_a_copied_session_cookie_stops_working_when_she_signs_out(app, client, clinic):
    sign_in(client)
    thief = copy_cookies(app, client, ("SESSION_COOKIE_NAME",))
    assert signed_in(thief)
    client.post("/logout")
    assert not signed_in(thief)


def test_a_copied_remember_me_cookie_stops_working_when_she_signs_out(app, client, clinic):
    sign_in(client, remember=True)
    thief = copy_cookies(app, client, ("REMEMBER_COOKIE_NAME",))
    assert signed_in(thief)
    client.post("/logout")
    assert not signed_in(thief)


def test_changing_the_password_ends_every_session(app, client, clinic):
    sign_in(client, remember=True)
    dana = db.session.get(Provider, 1)
    dana.set_password("a brand new passphrase")
    db.session.commit()
    assert not signed_in(client)
    assert not signed_in(copy_cookies(app, client, ("REMEMBER_COOKIE_NAME",)))


def test_a_deactivated_provider_is_signed_out_at_once(client, clinic):
    sign_in(client, remember=True)
    db.session.get(Provider, 1).active = False
    db.session.commit()
    assert not signed_in(client)


def test_a_session_ends_after_eight_hours_without_activity(client, clinic, clock):
    clock.set(ny(2026, 11, 17, 9, 0))
    sign_in(client)
    clock.set(ny(2026, 11, 17, 16, 59))  # 7 h 59 min later: still signed in, and the clock starts again
    assert signed_in(client)
    clock.set(ny(2026, 11, 18, 0, 58))
    assert signed_in(client)
    clock.set(ny(2026, 11, 18, 9, 0))  # 8 h 2 min without activity
    response = client.get("/patients", follow_redirects=True)
    assert response.request.path == "/login"
    assert SIGNED_OUT_IDLE in response.get_data(as_text=True)


def test_keep_me_signed_in_survives_closing_the_browser_but_not_eight_idle_hours(app, client, clinic, clock):
    clock.set(ny(2026, 11, 17, 9, 0))
    sign_in(client, remember=True)
    clock.set(ny(2026, 11, 17, 16, 59))
    reopened = copy_cookies(app, client, ("REMEMBER_COOKIE_NAME",))  # the session cookie died with the browser
    assert signed_in(reopened)
    clock.set(ny(2026, 11, 18, 1, 0))  # 8 h 1 min after that
    assert not signed_in(copy_cookies(app, reopened, ("REMEMBER_COOKIE_NAME",)))


def test_the_idle_limit_is_the_clinics_setting(client, clinic, clock):
    clinic = db.session.get(Clinic, clinic.id)
    clinic.session_idle_minutes = 30
    db.session.commit()
    clock.set(ny(2026, 11, 17, 9, 0))
    sign_in(client)
    clock.set(ny(2026, 11, 17, 9, 29))
    assert signed_in(client)
    clock.set(ny(2026, 11, 17, 10, 0))
    response = client.get("/", follow_redirects=True)
    assert "You were signed out after 30 minutes without activity." in response.get_data(as_text=True)


def test_the_remember_me_cookie_is_same_site_and_lasts_no_longer_than_the_idle_limit(app, client, clinic, clock):
    clock.set(datetime.now(NY))
    sign_in(client, remember=True)
    remember = cookie(app, client, "REMEMBER_COOKIE_NAME")
    assert (remember.same_site, remember.http_only) == ("Lax", True)
    assert remember.expires - datetime.now(remember.expires.tzinfo) <= timedelta(hours=8)
    session = cookie(app, client, "SESSION_COOKIE_NAME")
    assert (session.same_site, session.http_only) == ("Lax", True)
