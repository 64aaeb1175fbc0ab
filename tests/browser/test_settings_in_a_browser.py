"""The admin pages in Chromium at phone width (360 px): settings, providers, alert burden.

An admin changes the quiet hours and reads when the next planned text now goes; nothing on any of
the pages is wider than the phone; the burden chart (an SVG image) loads under the site's CSP.
Screenshots are saved in the test's tmp path (or BROWSER_SCREENSHOTS).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import enroll

from bot.extensions import db
from bot.models import Provider

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NY = ZoneInfo("America/New_York")
WIDTH = 360


def _shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("BROWSER_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide at {WIDTH} px"


def test_an_admin_moves_quiet_hours_at_phone_width_and_sees_the_next_text_move(app, clinic, clock, new_page,
                                                                               tmp_path):
    from playwright.sync_api import expect

    enroll(clinic, ended=datetime(2026, 11, 17, 10, 0, tzinfo=NY))
    clock.set(datetime(2026, 11, 17, 15, 0, tzinfo=NY))
    db.session.get(Provider, 2).role = "admin"
    db.session.commit()
    db.session.close()
    shots = _shots_dir(tmp_path)
    blocked: list[str] = []

    page = new_page()
    page.set_viewport_size({"width": WIDTH, "height": 800})
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill("ben@harbor.example")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Clinic settings")).to_be_visible()
    expect(page.get_by_text("Next planned text: Wed Nov 18, 10:00 EST.")).to_be_visible()
    _fits(page)
    page.screenshot(path=str(shots / f"settings-{WIDTH}.png"), full_page=True)

    page.get_by_label("Until").fill("10:30")
    page.get_by_label("From").fill("23:00")
    page.get_by_label("Emergency: page the on-call again every").fill("30")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#emergency_realert_minutes-error")).to_contain_text("Use 2 to 10 minutes")
    expect(page.get_by_label("Until")).to_have_value("10:30")  # what was typed is kept
    _fits(page)
    page.screenshot(path=str(shots / f"settings-error-{WIDTH}.png"), full_page=True)

    page.get_by_label("Emergency: page the on-call again every").fill("5")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("The next planned text now goes Wed Nov 18, 10:30 EST (was Wed Nov 18, 10:00 EST)."))\
        .to_be_visible()

    page.get_by_role("link", name="Providers").click()
    expect(page.get_by_text("Paged first (on call): Dana Oncall.")).to_be_visible()
    _fits(page)
    page.screenshot(path=str(shots / f"providers-{WIDTH}.png"), full_page=True)
    dana = page.locator("#provider-1")
    dana.get_by_text("Deactivate", exact=True).click()  # a second step, not one misplaced tap
    expect(dana.get_by_role("button", name="Deactivate Dana")).to_be_visible()
    _fits(page)
    page.screenshot(path=str(shots / f"providers-deactivate-{WIDTH}.png"), full_page=True)
    page.get_by_label("Name", exact=True).fill("Nia Newman")
    page.get_by_label("Email").fill("nia@harbor.example")
    page.get_by_role("button", name="Invite").click()
    expect(page.locator("#link")).to_contain_text("/set-password/")
    _fits(page)
    page.screenshot(path=str(shots / f"invite-link-{WIDTH}.png"), full_page=True)

    page.get_by_role("link", name="Alert burden").click()
    expect(page.get_by_role("heading", name="Alert burden")).to_be_visible()
    chart = page.locator("img.chart")
    expect(chart).to_be_visible()
    page.wait_for_function("document.querySelector('img.chart').naturalWidth > 0")  # the SVG loaded
    _fits(page)
    page.screenshot(path=str(shots / f"burden-{WIDTH}.png"), full_page=True)
    assert blocked == []


def test_the_burden_chart_draws_the_weeks_bars_at_phone_width(app, clinic, clock, new_page, tmp_path):
    from test_burden import seed

    from playwright.sync_api import expect

    seed(clinic, 3)
    clock.set(datetime(2026, 11, 18, 9, 0, tzinfo=NY))
    db.session.close()
    page = new_page()
    page.set_viewport_size({"width": WIDTH, "height": 800})
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill("dana@harbor.example")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.goto("/burden?weeks=4")
    expect(page.locator("tbody tr")).to_have_count(4)
    page.wait_for_function("document.querySelector('img.chart').naturalWidth > 0")
    _fits(page)
    page.screenshot(path=str(_shots_dir(tmp_path) / f"burden-data-{WIDTH}.png"), full_page=True)
