"""Who gets in: where a sign-in leads, how long it takes, and who can be kept out by guessing.

A stranger may try passwords; the on-call provider must still get in from a device she has used
before, and her "ACK" by text must always work.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import app_config
from support import enroll, sign_in, text_in, twiml_text

from bot import create_app
from bot.extensions import db
from bot.models import Escalation, Provider

NY = ZoneInfo("America/New_York")
STRANGER_IP, CLINIC_IP, DANAS_PHONE_IP = "203.0.113.9", "198.51.100.20", "192.0.2.77"
LOCKED = "Too many wrong passwords for this account"
NETWORK_LIMITED = "Too many sign-in attempts from this network"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


# -- Where a sign-in leads (issue 10, item 9) -------------------------------------------------------

# What browsers do with a Location header: strip tabs and newlines anywhere, strip leading spaces
# and control characters, read a backslash as a slash, and take "//host" as another site.
ANOTHER_SITE = [
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\t\t/evil.example",
    "//evil.example", "///evil.example", "////evil.example/patients",
    "/\\evil.example", "\\/evil.example", "\\\\evil.example", "/\t\\evil.example",
    " //evil.example", "\t//evil.example", "\x00//evil.example", "\x0c//evil.example",
    "https://evil.example/", "HTTPS://evil.example", "http:evil.example", "http:/evil.example",
    "//evil.example@aftercare.example.org", "/\x00/evil.example",
    "javascript:alert(1)", " javascript:alert(1)", "data:text/html,hi",
    "evil.example", "", "?next=//evil.example", "#//evil.example",
]


@pytest.mark.parametrize("target", ANOTHER_SITE)
def test_signing_in_never_leads_to_another_site(client, clinic, target):
    response = sign_in(client, next_path=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/patients", "/patients/7", "/patients?page=2"])
def test_signing_in_returns_to_the_page_asked_for(client, clinic, target):
    response = sign_in(client, next_path=target)
    assert (response.status_code, response.headers["Location"]) == (302, target)


@pytest.mark.parametrize("target", ["/no-such-page", "/logout", "/static/../../etc/passwd"])
def test_signing_in_follows_only_pages_of_the_dashboard(client, clinic, target):
    response = sign_in(client, next_path=target)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/\n/evil.example", "/\r/evil.example", "/\x00", "/" + "a" * 5000])
def test_the_sign_in_page_answers_any_next_address(client, clinic, target):
    assert client.get("/login", query_string={"next": target}).status_code == 200
    assert sign_in(client, password="wrong", next_path=target).status_code == 400


# -- How long an answer takes (item 11) -------------------------------------------------------------

def _key_derivations(client, monkeypatch, **sign_in_args) -> int:
    """How many password hashes one sign-in attempt computes: the bulk of its time."""
    calls = []
    real_scrypt = hashlib.scrypt

    def counting_scrypt(*args, **kwargs):
        calls.append(1)
        return real_scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting_scrypt)
    sign_in(client, **sign_in_args)
    monkeypatch.setattr(hashlib, "scrypt", real_scrypt)
    return len(calls)


def test_an_unknown_address_takes_as_long_to_refuse_as_a_known_one(client, clinic, monkeypatch):
    """The time of the answer must not tell a stranger which addresses have an account."""
    known = _key_derivations(client, monkeypatch, password="wrong guess")
    unknown = _key_derivations(client, monkeypatch, email="nobody@harbor.example", password="wrong guess")
    db.session.get(Provider, 2).active = False
    db.session.commit()
    inactive = _key_derivations(client, monkeypatch, email="ben@harbor.example")
    assert known == unknown == inactive == 1


# -- Who can be kept out by guessing (item 11) ------------------------------------------------------

def test_five_wrong_passwords_from_strangers_lock_the_address_for_new_devices(app, client, clinic, clock):
    clock.set(ny(2026, 11, 17, 9, 0))
    for _ in range(5):
        assert sign_in(client, password="guess", ip=STRANGER_IP).status_code == 400
    newcomer = app.test_client()  # another device that has never signed in as Dana
    response = sign_in(newcomer, ip=CLINIC_IP)
    assert response.status_code == 429
    assert LOCKED in response.get_data(as_text=True)
    clock.set(ny(2026, 11, 17, 9, 16))
    assert sign_in(newcomer, ip=CLINIC_IP).status_code == 302


def test_a_stranger_cannot_lock_the_on_call_provider_out_of_her_own_phone(app, client, clinic, clock):
    clock.set(ny(2026, 11, 17, 8, 0))
    phone = app.test_client()
    assert sign_in(phone, ip=CLINIC_IP).status_code == 302  # she has signed in on her phone before
    phone.post("/logout")
    clock.set(ny(2026, 11, 17, 21, 0))
    for _ in range(12):
        sign_in(client, password="guess", ip=STRANGER_IP)
    assert sign_in(client, ip=STRANGER_IP).status_code == 429  # the stranger is out, even with her password
    assert sign_in(phone, ip=DANAS_PHONE_IP).status_code == 302  # on call, from another network: she is in


def test_wrong_passwords_on_her_own_phone_lock_only_that_phone(app, clinic, clock):
    clock.set(ny(2026, 11, 17, 8, 0))
    phone, laptop = app.test_client(), app.test_client()
    for device in (phone, laptop):
        assert sign_in(device, ip=CLINIC_IP).status_code == 302
        device.post("/logout")
    for _ in range(5):
        assert sign_in(phone, password="guess", ip=CLINIC_IP).status_code == 400
    assert sign_in(phone, ip=CLINIC_IP).status_code == 429
    assert sign_in(laptop, ip=CLINIC_IP).status_code == 302


def test_many_wrong_passwords_from_one_network_are_refused_whatever_the_address(app, client, clinic, clock):
    clock.set(ny(2026, 11, 17, 9, 0))
    for number in range(20):  # one guess per address: no address is locked
        assert sign_in(client, email=f"guess{number}@harbor.example", password="x", ip=STRANGER_IP).status_code == 400
    response = sign_in(client, email="ben@harbor.example", ip=STRANGER_IP)
    assert response.status_code == 429
    assert NETWORK_LIMITED in response.get_data(as_text=True)
    assert sign_in(app.test_client(), email="ben@harbor.example", ip=CLINIC_IP).status_code == 302


def test_with_redis_the_network_count_outlives_the_process(database_url, tmp_path, clinic):
    """Production's setting: gunicorn's workers (and a restarted one) share one count in Redis."""
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    ip = f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"  # counts from earlier runs stay in Redis
    workers = [create_app(app_config(database_url, tmp_path, RATELIMIT_STORAGE_URI=url)) for _ in range(2)]
    try:
        for number in range(20):
            response = sign_in(workers[0].test_client(), email=f"guess{number}@harbor.example", password="x", ip=ip)
            assert response.status_code == 400
        assert sign_in(workers[1].test_client(), email="ben@harbor.example", ip=ip).status_code == 429
    finally:
        for worker in workers:
            with worker.app_context():
                db.engine.dispose()  # close its pooled connections now, not when garbage-collected


def test_a_device_that_signed_in_before_is_not_limited_by_strangers_on_its_network(app, clinic, clock):
    """A clinic shares one address with every device behind its router; a guesser there must not
    keep the on-call provider out."""
    clock.set(ny(2026, 11, 17, 8, 0))
    phone, stranger = app.test_client(), app.test_client()
    assert sign_in(phone, ip=CLINIC_IP).status_code == 302
    phone.post("/logout")
    for number in range(25):
        sign_in(stranger, email=f"guess{number}@harbor.example", password="x", ip=CLINIC_IP)
    assert sign_in(stranger, email="ben@harbor.example", ip=CLINIC_IP).status_code == 429
    assert sign_in(phone, ip=CLINIC_IP).status_code == 302


def test_signing_in_correctly_is_never_limited(app, clinic, clock):
    """A clinic's providers all sign in from one network, many times a day."""
    clock.set(ny(2026, 11, 17, 8, 0))
    for _ in range(30):
        device = app.test_client()
        assert sign_in(device, ip=CLINIC_IP).status_code == 302
        device.post("/logout")


def test_a_locked_address_still_acknowledges_an_alert_by_text(app, client, clinic, clock):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 17, 15, 0))
    text_in(client, "+12125550143", "my chest feels tight")
    esc = db.session.scalars(sa.select(Escalation)).one()
    for number in range(25):  # Dana's address and the stranger's network are both locked
        sign_in(app.test_client(), password="guess", ip=STRANGER_IP)
        sign_in(app.test_client(), email=f"guess{number}@harbor.example", password="x", ip="127.0.0.1")
    assert sign_in(app.test_client(), ip=STRANGER_IP).status_code == 429
    assert twiml_text(text_in(client, "+12125550111", f"ACK {esc.code}")).startswith(f"Acknowledged {esc.code}")
    db.session.refresh(esc)
    assert esc.status == "acknowledged"
