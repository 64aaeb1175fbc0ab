"""A provider's round on the dashboard, in a real browser against a live server.

Harbor PT (New York) and Lakeside Rehab (Chicago) each have a patient who texted a red flag
at 15:00 New York time; the finding is raised by the real, Twilio-signed webhook. The browser's
own time zone is UTC, so every time on the pages is the clinic's (or the patient's) doing.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from support import enroll, lakeside
from test_end_to_end import reply

from bot.extensions import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NY = ZoneInfo("America/New_York")
PASSWORD = "correct horse battery"  # the `clinic` fixture's providers'
RED_FLAG = "my chest feels tight"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def text_in(base_url: str, sender: str, body: str) -> None:
    """A patient's text through the live server's webhook, signed as Twilio signs it."""
    assert "911" in reply(base_url, sender, body)  # the patient is told to call 911


@pytest.fixture
def red_flags(app, clinic, clock, live_server) -> dict[str, int]:
    """Maria (Harbor) and Zed (Lakeside) text a red flag at 15:00 New York time; their patient ids."""
    maria = enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name="Maria Lopez", phone="+12125550143")
    zed = enroll(lakeside(), ended=ny(2026, 11, 17, 10, 0), name="Zed Other", phone="+13125550177")
    ids = {"maria": maria.patient.id, "zed": zed.patient.id}
    db.session.close()  # the test's own connection holds nothing while the server works
    clock.set(ny(2026, 11, 17, 15, 0))
    text_in(live_server, "+12125550143", RED_FLAG)
    text_in(live_server, "+13125550177", RED_FLAG)
    return ids


def sign_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def findings_table(page):
    """The table under a patient page's "Findings" heading."""
    return page.get_by_role("heading", name="Findings", exact=True).locator("xpath=following-sibling::table[1]")


def test_a_provider_signs_in_and_acknowledges_a_patients_emergency(new_page, red_flags, clock):
    from playwright.sync_api import expect

    page = new_page()

    # A mistyped password: told beside the field, and the field says so to a screen reader.
    sign_in(page, "dana@harbor.example", "correct horse battry")
    password = page.get_by_label("Password", exact=True)
    error = page.locator("#password-error")
    expect(error).to_have_text("That email and password do not match an active account.")
    expect(password).to_have_accessible_description("That email and password do not match an active account.")
    expect(page.get_by_label("Email", exact=True)).to_have_value("dana@harbor.example")
    page.wait_for_load_state("load")  # the stylesheet laid out, under a loaded CI machine too
    field, message = password.bounding_box(), error.bounding_box()
    assert 0 <= message["y"] - (field["y"] + field["height"]) < 30, (field, message)  # right under the field

    # Signed in: the open emergency, raised at 15:00 on the clinic's clock.
    password.fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Open findings")).to_contain_text("Harbor Physical Therapy")
    finding = page.get_by_role("article").filter(has_text="Maria Lopez")
    expect(finding).to_have_count(1)
    expect(finding).to_contain_text("emergency")
    expect(finding).to_contain_text(RED_FLAG)
    expect(finding).to_contain_text("Tue Nov 17, 15:00 EST")
    expect(page.get_by_text("Zed Other")).to_have_count(0)
    code = finding.locator(".code").inner_text()  # the finding's code, as in the alert texts

    # Her page: the schedule and the finding on her clock (her first check-in was due at 14:00).
    finding.get_by_role("link", name="Maria Lopez", exact=True).click()
    expect(page.get_by_role("heading", name="Maria Lopez")).to_be_visible()
    expect(page.get_by_text("Times in the patient's zone, America/New_York")).to_be_visible()
    first_checkin = page.get_by_role("row").filter(has=page.get_by_role("cell", name="C1", exact=True))
    expect(first_checkin).to_contain_text("Tue Nov 17, 14:00 EST")
    texts = page.get_by_role("row").filter(has_text=RED_FLAG)
    expect(texts).to_contain_text("Tue Nov 17, 15:00 EST")
    expect(texts.get_by_role("cell", name="Patient", exact=True)).to_be_visible()  # who sent it
    her_finding = findings_table(page).get_by_role("row").filter(has_text=code)
    expect(her_finding).to_contain_text("emergency")
    expect(her_finding).to_contain_text("open")

    # Back to the findings; four minutes later, she acknowledges it.
    page.get_by_role("link", name="Findings").click()
    clock.set(ny(2026, 11, 17, 15, 4))
    finding.get_by_role("button", name=f"Acknowledge {code} for Maria Lopez").click()
    expect(page.get_by_role("status")).to_have_text(f"Acknowledged {code}.")
    expect(page.get_by_text("No open findings.")).to_be_visible()

    # Her page says who acknowledged it and when.
    page.get_by_role("link", name="Patients").click()
    expect(page.get_by_role("heading", name="Patients", exact=True)).to_be_visible()
    page.get_by_role("link", name="Maria Lopez").click()
    expect(her_finding).to_contain_text("acknowledged by Dana Oncall Tue Nov 17, 15:04 EST")

    # Signed out: the dashboard asks for a sign-in again.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("status")).to_have_text("Please sign in to see this page.")

    # The next provider on this browser is of another clinic: none of Maria is theirs to see.
    sign_in(page, "olga@lakeside.example", "another long password")
    expect(page.get_by_role("heading", name="Open findings")).to_contain_text("Lakeside Rehab")
    expect(page.get_by_text("Maria Lopez")).to_have_count(0)


def test_a_provider_of_another_clinic_does_not_see_the_open_emergency(new_page, red_flags):
    from playwright.sync_api import expect

    page = new_page()
    sign_in(page, "olga@lakeside.example", "another long password")

    # Her own patient's finding, on her clinic's clock (15:00 in New York is 14:00 in Chicago).
    expect(page.get_by_role("heading", name="Open findings")).to_contain_text("Lakeside Rehab")
    finding = page.get_by_role("article").filter(has_text="Zed Other")
    expect(finding).to_contain_text("Tue Nov 17, 14:00 CST")
    expect(page.get_by_text("Maria Lopez")).to_have_count(0)
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(1)

    page.get_by_role("link", name="Patients").click()
    expect(page.get_by_role("heading", name="Patients", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Zed Other")).to_be_visible()
    expect(page.get_by_text("Maria Lopez")).to_have_count(0)

    response = page.goto(f"/patients/{red_flags['maria']}")  # even by address
    assert response.status == 404
    expect(page.get_by_text(RED_FLAG)).to_have_count(0)
