"""Issue 11's whole clinic workplace in one flow, in a real browser, at desktop and at phone width.

Dana (admin, Harbor PT, New York) signs in; enrols a practice patient from the practice form and
sees the texts planned; the findings queue is open in another tab when the patient replies from
the practice phone, first with a score, then with a red flag; the finding arrives in the queue
without a reload (the tab's title counts it), with a call link; she acknowledges it; the course
chart shows the reply over the expected band; moving the quiet hours in the settings moves the
next planned text; the episode's CSV downloads. axe-core finds no serious violation on any page
visited. Screenshots are saved in the folder the test prints (TEST_ARTIFACTS_DIR, or its tmp path).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.extensions import db
from bot.models import Provider

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NY = ZoneInfo("America/New_York")
PASSWORD = "correct horse battery"  # the `clinic` fixture's providers'


@pytest.fixture
def screenshots(screenshots_for) -> Path:
    return screenshots_for("clinic-flow")


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", [1280, 390])
def test_the_clinic_flow_from_enrolment_to_export(app, clinic, clock, new_page, axe_check, screenshots,
                                                   monkeypatch, width):
    from playwright.sync_api import expect

    from bot.dashboard import queue
    from bot.triage import learned

    learned.reader()  # triage's second reader loads once per process, for seconds: not inside a click's wait
    monkeypatch.setattr(queue, "POLL_SECONDS", 1)  # the queue's htmx poll, every second instead of ten
    app.config["PRACTICE_POLL_SECONDS"] = 1
    db.session.get(Provider, 1).role = "admin"
    db.session.commit()
    db.session.close()
    clock.set(datetime(2026, 11, 17, 10, 0, tzinfo=NY))
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    refused: list[str] = []  # what the Content-Security-Policy blocked

    def watch(tab) -> None:
        tab.on("console", lambda message: refused.append(message.text)
               if "Content Security Policy" in message.text or "Refused to" in message.text else None)

    watch(page)
    visited: list[str] = []

    def shot(name: str) -> None:
        assert fits_the_width(page), f"{page.url} is wider than {width} px"
        axe_check(page, f"{page.url} at {width} px")
        visited.append(page.url)
        page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)

    # Sign in.
    page.goto("/login")
    shot("0-sign-in")
    page.get_by_label("Email", exact=True).fill("dana@harbor.example")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Open findings")).to_be_visible()
    expect(page).to_have_title("Findings · Aftercare")

    # Enrol a practice patient from the form: the welcome is on their phone, the check-ins planned.
    page.goto("/practice/")
    shot("1-practice-form")
    page.get_by_label("Name").fill("Pat Practice")
    page.get_by_role("group", name="Needled regions").get_by_label("knee").check()
    page.get_by_role("button", name="Enrol practice patient").click()
    expect(page.get_by_role("heading", name="Pat Practice")).to_be_visible()
    expect(page.locator("#thread")).to_contain_text("Welcome (C0) · Tue Nov 17, 10:00 EST")
    expect(page.locator("ul.upcoming li")).to_have_text(["Check-in C1: Tue Nov 17, 14:00 EST (in 4 h)",
                                                         "Check-in C2: Wed Nov 18, 10:00 EST (in 1 d)",
                                                         "Check-in C3: Thu Nov 19, 10:00 EST (in 2 d)"])
    shot("2-enrolled")

    # The findings queue, open in another tab of the same browser.
    findings = page.context.new_page()
    findings.set_viewport_size({"width": width, "height": 900})  # a new tab starts at Playwright's 1280 px
    watch(findings)
    findings.goto("/")
    expect(findings).to_have_title("Findings · Aftercare")
    findings.evaluate("window.openedOnce = true")  # gone if the page were reloaded

    # On the practice phone: the clock to C1, a score, then a red flag.
    page.get_by_role("button", name="Next check-in").click()
    expect(page.get_by_role("status").first).to_have_text("Clock moved 4 h: 1 check-in.")
    reply = page.get_by_label("Reply as Pat")
    reply.fill("about a 4, sore like after a workout")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#thread .from-patient").last).to_contain_text("about a 4")
    reply.fill("my chest feels tight")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#thread .bubble").last).to_contain_text("Pat, call 911 now.")
    shot("3-red-flag")

    # The finding arrives in the open queue without a reload, counted in the tab's title.
    page = findings
    finding = page.get_by_role("article").filter(has_text="Pat Practice")
    expect(finding).to_have_count(1)
    expect(page).to_have_title("(1) Findings · Aftercare")
    expect(finding).to_contain_text("emergency")
    expect(finding).to_contain_text("my chest feels tight")
    expect(finding.get_by_role("link", name="Call (212) 555-0101")).to_have_attribute("href", "tel:+12125550101")
    assert page.evaluate("window.openedOnce === true"), "the queue was reloaded, not updated in place"
    shot("4-queue-new-finding")
    finding.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".flash")).to_contain_text("Acknowledged")
    expect(page).to_have_title("Findings · Aftercare")
    shot("5-acknowledged")

    # The course: the reply drawn over the expected band.
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Pat Practice").click()
    expect(page.get_by_role("heading", name="Pat Practice")).to_be_visible()
    chart = page.get_by_role("img", name="Soreness (0-10) against hours since the session")
    expect(chart).to_be_visible()
    rows = page.locator("table.points tbody tr")  # the score, and the red flag with the score it came after
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("4/10")
    expect(rows.first).to_contain_text("0-6, early (0-12 h)")
    expect(rows.last).to_contain_text("emergency")
    band = chart.locator(".serie-0 .line").bounding_box()  # the expected band
    dot = chart.locator(".serie-1 .dot").first.bounding_box()  # the reply
    assert band is not None and dot is not None
    assert band["y"] <= dot["y"] + dot["height"] / 2 <= band["y"] + band["height"], (band, dot)
    assert band["x"] <= dot["x"] + dot["width"] / 2 <= band["x"] + band["width"], (band, dot)
    course_url = page.url
    shot("6-course")

    # Settings: quiet hours move the next planned text.
    # (Pat's clock moved 4 h, so their C2, 10:00 on their second day, falls due at 06:00 on the real clock.)
    page.goto("/settings")
    expect(page.get_by_text("Next planned text: Wed Nov 18, 06:00 EST.")).to_be_visible()
    shot("7-settings")
    page.get_by_label("From").fill("23:00")
    page.get_by_label("Until").fill("09:30")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash")).to_contain_text(
        ["Saved: quiet hours start, quiet hours end.", "planned texts moved to the new hours.",
         "The next planned text now goes Wed Nov 18, 09:30 EST (was Wed Nov 18, 06:00 EST)."])
    expect(page.get_by_text("Next planned text: Wed Nov 18, 09:30 EST.")).to_be_visible()
    shot("8-settings-saved")

    # The episode's CSV.
    page.goto(course_url)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert re.fullmatch(r"aftercare-episode-\d+\.csv", download.suggested_filename), download.suggested_filename
    exported = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert {"Pat Practice"} == {row["patient_name"] for row in exported}
    assert [row["text"] for row in exported if row["direction"] == "in"] == [
        "about a 4, sore like after a workout", "my chest feels tight"]
    assert "emergency" in {row["level"].lower() for row in exported}
    print(f"pages checked by axe-core at {width} px: {len(visited)}")
    assert refused == []
