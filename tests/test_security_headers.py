"""What every dashboard page tells the browser: run only our own code, never in a frame, keep no copy.

Pages show health data on shared clinic computers and phones: the browser must not run injected
script, show the page inside another site, guess content types, cache it, or leak its address.
"""

from __future__ import annotations

import re

import pytest
from conftest import app_config
from support import enroll, sign_in, utc

from bot import create_app
from bot.extensions import db

PAGES = ["/login", "/", "/patients", "/patients/1"]


@pytest.fixture
def fetch(app, client, clinic):
    """`fetch(path)`: the page as a signed-in provider sees it (the sign-in page, as anyone does)."""
    enroll(clinic, ended=utc(2026, 11, 17, 15, 0))
    sign_in(client)
    return lambda path: (app.test_client() if path == "/login" else client).get(path)


def csp(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", PAGES)
def test_pages_run_only_the_sites_own_scripts_and_styles(fetch, path):
    policy = csp(fetch(path))
    assert policy["default-src"] == "default-src 'self'"
    for directive in ("script-src", "style-src"):
        assert policy[directive] == f"{directive} 'self'"
    assert policy["object-src"] == "object-src 'none'"
    assert policy["base-uri"] == "base-uri 'none'"
    assert policy["form-action"] == "form-action 'self'"


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_never_shown_inside_another_site(fetch, path):
    response = fetch(path)
    assert csp(response)["frame-ancestors"] == "frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_not_sniffed_and_do_not_leak_their_address(fetch, path):
    response = fetch(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/", "/patients", "/patients/1"])
def test_pages_with_patient_data_are_never_stored_by_the_browser(fetch, path):
    response = fetch(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_no_inline_script_or_style_that_the_policy_would_block(fetch, path):
    response = fetch(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<style" not in page
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
    assert re.search(r"\sstyle=", page) is None
    assert re.search(r"\son[a-z]+=", page) is None  # onclick= and the like are inline script too


def test_the_stylesheet_is_served_from_the_site(fetch):
    page = fetch("/").get_data(as_text=True)
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
    response = fetch(href)
    response.close()
    assert response.status_code == 200 and response.mimetype == "text/css"


@pytest.fixture
def production(database_url, tmp_path, monkeypatch):
    """The app as deployed: production settings (from the environment, as in production)."""
    monkeypatch.setenv("AFTERCARE_ENV", "production")
    production = create_app(app_config(database_url, tmp_path, TESTING=False))
    yield production
    with production.app_context():
        db.engine.dispose()  # close its pooled connections now, not when it is garbage-collected


def test_production_tells_browsers_to_use_https_only(production, clinic):
    secure = production.test_client().get("/login", base_url="https://aftercare.example.org")
    max_age = re.match(r"max-age=(\d+)", secure.headers["Strict-Transport-Security"]).group(1)
    assert int(max_age) >= 365 * 86400
    proxied = production.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in proxied.headers


def test_development_over_plain_http_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_production_cookies_go_over_https_only_and_never_to_scripts(production, clinic):
    client = production.test_client()
    base = "https://aftercare.example.org"
    client.post("/login", base_url=base, data={"email": "dana@harbor.example", "password": "correct horse battery",
                                               "remember": "y"})
    cookies = {c.key: c for c in (client.get_cookie(production.config[name], domain="aftercare.example.org")
                                  for name in ("SESSION_COOKIE_NAME", "REMEMBER_COOKIE_NAME")) if c}
    assert len(cookies) == 2, cookies
    for c in cookies.values():
        assert (c.secure, c.http_only, c.same_site) == (True, True, "Lax"), c.key
