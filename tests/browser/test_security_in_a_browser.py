"""Security as Chromium sees it: where a sign-in's `next` leads, and pages whole under the CSP.

Chromium's own URL parser is the judge of where a redirect goes (it strips tabs and newlines,
reads backslashes as slashes, ...), so the check is tried against the real thing, not against
our idea of it. The pages are opened under the Content-Security-Policy the server sends: a
blocked stylesheet or script shows as a console error and an unstyled page (screenshots are
saved in the test's tmp path).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from support import enroll, utc
from werkzeug.utils import redirect

from bot.extensions import db
from bot.models import Provider

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Characters browsers treat specially at the start of a URL, and a few ordinary ones.
TRICKY = ["/", "\\", "\t", "\n", "\r", " ", "\x00", "\x0c", ":", ".", "@", "%", "?", "#"]


def candidates() -> list[str]:
    """Every prefix of up to three tricky characters before a host name, and known attacks."""
    prefixes = ("".join(p) for n in range(4) for p in itertools.product(TRICKY, repeat=n))
    known = ["https://evil.example", "javascript:alert(1)", "/\t/evil.example", "/%09/evil.example",
             "/\u3000/evil.example", "\uff0f\uff0fevil.example", "/patients/1", "/patients?page=2"]
    return [prefix + "evil.example" for prefix in prefixes] + known


def test_signing_in_never_leads_to_another_site_as_chromium_reads_it(app, new_page, live_server):
    from bot.dashboard.redirects import safe_next

    with app.test_request_context():
        followed = {target: redirect(path).headers["Location"]
                    for target in candidates() if (path := safe_next(target)) is not None}
    assert "/patients/1" in followed and "/patients?page=2" in followed  # the check lets real pages through
    page = new_page()
    page.goto("/login")
    origins = page.evaluate("locations => locations.map(l => new URL(l, location.href).origin)",
                            list(followed.values()))
    elsewhere = {target: origin for target, origin in zip(followed, origins) if origin != live_server}
    assert elsewhere == {}


def _shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("BROWSER_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_is_whole_under_the_content_security_policy(app, clinic, new_page, tmp_path, width):
    from playwright.sync_api import expect

    maria_id = enroll(clinic, ended=utc(2026, 11, 17, 15, 0), name="Maria Lopez").patient.id
    db.session.get(Provider, 1).role = "admin"
    db.session.commit()
    db.session.close()

    page = new_page()
    page.set_viewport_size({"width": width, "height": 800})
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)

    page.goto("/login")
    page.get_by_label("Email", exact=True).fill("dana@harbor.example")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Open findings")).to_be_visible()

    shots = _shots_dir(tmp_path)
    for name, path in [("findings", "/"), ("patients", "/patients"), ("patient", f"/patients/{maria_id}"),
                       ("access-log", "/access-log")]:
        response = page.goto(path)
        assert response.status == 200, path
        header = page.locator("header")
        expect(header).to_have_css("background-color", "rgb(31, 78, 121)")  # the stylesheet applies
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.screenshot(path=str(shots / f"login-{width}.png"), full_page=True)
    assert blocked == []
