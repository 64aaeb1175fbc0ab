"""A patient's course in Chromium, on a phone 360 px wide and on a desktop.

Maria's first two days come through the real dispatcher and the real, Twilio-signed webhook
(a 5 at C1, a 6 and "worse" at C3: a routine finding). The page must fit the phone's width, draw
the chart under the Content-Security-Policy (no refused style or script) and show its points.
Screenshots are saved in the folder the test prints (TEST_ARTIFACTS_DIR, or its tmp path).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import enroll, text_in

from bot import dispatch
from bot.extensions import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NY = ZoneInfo("America/New_York")
MARIA = "+12125550143"
# A letter page less the print stylesheet's 12 mm margins, in CSS pixels (96 a inch).
LETTER_PRINTABLE = {"width": round((8.5 * 25.4 - 24) / 25.4 * 96), "height": round((11 * 25.4 - 24) / 25.4 * 96)}


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def screenshots(screenshots_for) -> Path:
    return screenshots_for("course")


@pytest.fixture
def maria_id(app, clinic, clock, gateway) -> int:
    client = app.test_client()
    patient_id = enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name="Maria Lopez", phone=MARIA).patient.id
    for moment in (ny(2026, 11, 17, 10, 0), ny(2026, 11, 17, 14, 0)):
        dispatch.run_once(now=clock.set(moment), gateway=gateway)
    clock.set(ny(2026, 11, 17, 14, 30))
    text_in(client, MARIA, "about a 5, the knee feels like after a hard workout")
    for moment in (ny(2026, 11, 18, 10, 0), ny(2026, 11, 18, 14, 5), ny(2026, 11, 19, 10, 0)):
        dispatch.run_once(now=clock.set(moment), gateway=gateway)
    clock.set(ny(2026, 11, 19, 11, 0))
    text_in(client, MARIA, "still a 6, worse than yesterday")
    db.session.close()  # the test's own connection holds nothing while the server works
    return patient_id


@pytest.mark.parametrize("width", [360, 1280])
def test_the_course_fits_the_screen_and_draws_the_chart_under_the_csp(new_page, maria_id, screenshots, width):
    from playwright.sync_api import expect

    page = new_page()
    page.set_viewport_size({"width": width, "height": 800})
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill("dana@harbor.example")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/patients/{maria_id}")

    expect(page.get_by_role("heading", name="Maria Lopez")).to_be_visible()
    expect(page.get_by_role("link", name="Call (212) 555-0143")).to_have_attribute("href", "tel:+12125550143")
    chart = page.get_by_role("img", name="Soreness (0-10) against hours since the session")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    # the stylesheet reached into the SVG: the band is filled, the finding's ring is not
    assert page.evaluate("getComputedStyle(document.querySelector('.serie-0 .line')).fill") == "rgb(207, 232, 211)"
    assert page.evaluate("getComputedStyle(document.querySelector('.serie-2 .dot')).fill") == "none"
    expect(page.locator("table.points tbody tr")).to_have_count(2)
    expect(page.locator("table.texts")).to_contain_text("still a 6, worse than yesterday")

    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing sideways to scroll
    page.screenshot(path=str(screenshots / f"course-{width}.png"), full_page=True)
    page.screenshot(path=str(screenshots / f"course-{width}-top.png"))
    chart.screenshot(path=str(screenshots / f"chart-{width}.png"))
    page.locator("table.texts").screenshot(path=str(screenshots / f"texts-{width}.png"))

    page.get_by_role("link", name="Print for the chart note").click()
    expect(page.get_by_role("heading", name="Aftercare follow-up: Maria Lopez")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(screenshots / f"print-{width}.png"), full_page=True)
    if width > 360:
        page.emulate_media(media="print")
        expect(page.locator("header")).to_be_hidden()
        pdf = page.pdf(path=str(screenshots / "episode.pdf"), format="Letter")
        assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1  # one page for the chart note
        page.set_viewport_size(LETTER_PRINTABLE)
        page.screenshot(path=str(screenshots / "print-as-printed.png"), full_page=True)
        page.emulate_media(media="screen")
    assert refused == []
