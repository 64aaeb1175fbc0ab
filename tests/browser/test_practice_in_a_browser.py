"""The README's loop on the practice phone, in a real browser against a live server.

Dana (Harbor PT, New York) enrols a practice patient from the form, moves the clock to the first
check-in, replies as the patient with a red flag, sees the finding on the dashboard, watches a
re-alert arrive in the open page without a reload, and acknowledges it from her phone; then the
same page at phone width. Screenshots are saved in the folder the test prints (TEST_ARTIFACTS_DIR,
or the test's tmp path), at desktop width and at 390 px.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NY = ZoneInfo("America/New_York")
PASSWORD = "correct horse battery"  # the `clinic` fixture's providers'


@pytest.fixture
def screenshots(screenshots_for) -> Path:
    return screenshots_for("practice")


def sign_in(page) -> None:
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill("dana@harbor.example")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_practice_loop_enrol_reply_with_a_red_flag_see_the_finding_and_acknowledge(
        app, clinic, clock, new_page, screenshots):
    from playwright.sync_api import expect

    from bot.triage import learned

    learned.reader()  # triage's second reader loads once per process, for seconds: not inside a click's wait
    app.config["PRACTICE_POLL_SECONDS"] = 1
    clock.set(datetime(2026, 11, 17, 10, 0, tzinfo=NY))
    page = new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    refused = []  # what the Content-Security-Policy blocked (an inline style or script, say)
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    sign_in(page)

    # 1. Enrol a practice patient: the form says what is wrong beside the field, then takes it.
    page.goto("/practice/")
    expect(page.get_by_role("heading", name="Practice phone")).to_contain_text("Harbor Physical Therapy")
    page.get_by_label("Name").fill("Pat Practice")
    page.get_by_role("button", name="Enrol practice patient").click()
    expect(page.locator("#regions-error")).to_have_text("Choose at least one needled region.")
    expect(page.get_by_label("Name")).to_have_value("Pat Practice")
    page.get_by_role("group", name="Needled regions").get_by_label("knee").check()
    page.get_by_role("button", name="Enrol practice patient").click()
    expect(page.get_by_role("heading", name="Pat Practice")).to_be_visible()
    thread = page.locator("#thread")
    expect(thread.locator(".bubble")).to_have_count(1)
    expect(thread).to_contain_text("Welcome (C0) · Tue Nov 17, 10:00 EST")
    page.screenshot(path=str(screenshots / "1-enrolled-desktop.png"), full_page=True)

    # 2. The clock to the next check-in: C1, four hours after the session.
    page.get_by_role("button", name="Next check-in").click()
    expect(page.get_by_role("status").first).to_have_text("Clock moved 4 h: 1 check-in.")
    expect(thread.locator(".bubble").last).to_contain_text("Check-in C1 · Tue Nov 17, 10:00 EST")
    expect(page.locator("#status dt").nth(1)).to_have_text("Session ended")
    expect(page.locator("#status dd").nth(1)).to_contain_text("Tue Nov 17, 06:00 EST (4 h ago, knee")

    # 3. Reply as the patient with a red flag: told to call 911; the providers' phones are alerted.
    page.get_by_label("Reply as Pat").fill("my chest feels tight")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(thread.locator(".from-patient").last).to_contain_text("my chest feels tight")
    expect(thread.locator(".bubble").last).to_contain_text("Pat, call 911 now.")
    expect(thread.locator(".from-patient").last).to_contain_text("emergency")
    providers = page.locator("#providers")
    expect(providers.locator(".bubble")).to_have_count(1)
    expect(providers).to_contain_text("Alert to Dana Oncall")
    ack = providers.get_by_role("button", name="Reply ACK")
    code = ack.inner_text().split()[-1]
    page.screenshot(path=str(screenshots / "2-red-flag-desktop.png"), full_page=True)

    # 4. The finding is in the clinic's findings on the dashboard, in another tab.
    dashboard = page.context.new_page()
    dashboard.goto("/")
    finding = dashboard.get_by_role("article").filter(has_text="Pat Practice")
    expect(finding).to_contain_text("emergency")
    expect(finding).to_contain_text(code)

    # 5. Five minutes on (from the other tab): the re-alert arrives in the open page without a reload.
    dashboard.goto(page.url)
    dashboard.get_by_role("button", name="+5 min").click()
    expect(dashboard.get_by_role("status").first).to_have_text("Clock moved 5 min: 1 alert to providers.")
    expect(providers.locator(".bubble")).to_have_count(2)
    expect(providers).to_contain_text("Re-alert to Dana Oncall")
    expect(page.locator("#news")).to_have_text("1 new text.")

    # ACK from Dana's phone, by keyboard: the re-alerts stop.
    ack.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text(
        f"Dana Oncall's phone got: Acknowledged {code} (Pat P., EMERGENCY)")
    expect(providers).to_contain_text("Acknowledged by Dana Oncall by text")
    expect(providers.get_by_role("button", name="Reply ACK")).to_have_count(0)
    page.get_by_role("button", name="+1 hour").click()
    expect(page.get_by_role("status").first).to_have_text("Clock moved 1 h: nothing new was sent.")
    dashboard.goto("/")
    expect(dashboard.get_by_text("No open findings.")).to_be_visible()
    page.screenshot(path=str(screenshots / "3-acknowledged-desktop.png"), full_page=True)
    assert fits_the_width(page)

    # The same page on a phone, 390 px wide: nothing sideways, and the reply box within reach.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_role("heading", name="Pat Practice")).to_be_visible()
    assert page.evaluate("document.querySelector('.practice').scrollWidth <= document.querySelector('.practice')"
                         ".clientWidth"), "the practice page is wider than the phone"
    reply = page.get_by_label("Reply as Pat")
    box = reply.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.screenshot(path=str(screenshots / "4-phone-390.png"), full_page=True)
    page.goto("/practice/")
    page.screenshot(path=str(screenshots / "5-list-and-form-390.png"), full_page=True)
    assert refused == []
