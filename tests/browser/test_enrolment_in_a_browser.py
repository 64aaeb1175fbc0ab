"""Enrolling after a session at phone width (360 px), by keyboard and labels, in a real browser."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from support import enroll

from bot.extensions import db

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NY = ZoneInfo("America/New_York")


def fits_the_width(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def test_enrol_at_phone_width_preview_then_save_and_a_known_number_asks(new_page, app, clinic, clock, tmp_path):
    from playwright.sync_api import expect

    clock.set(datetime(2026, 11, 17, 17, 0, tzinfo=NY))
    maria = enroll(clinic, ended=datetime(2026, 11, 12, 15, 0, tzinfo=NY), precautions=("anticoagulant",)).patient.id
    db.session.close()
    page = new_page()
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill("dana@harbor.example")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.keyboard.press("Enter")
    page.wait_for_url("**/")
    page.goto("/patients/new")
    assert fits_the_width(page)
    expect(page.get_by_label("Patient's time zone")).to_have_value("America/New_York")
    page.get_by_label("Name, first name first").fill("Ana Ruiz")
    page.get_by_label("Mobile number").fill("212 555 0177")
    page.get_by_label("Session ended (on the patient's clock)").fill("2026-11-17T15:00")
    page.get_by_label("neck", exact=True).focus()
    page.keyboard.press("Space")  # a checkbox ticked from the keyboard
    page.get_by_role("button", name="Show the planned texts").click()
    expect(page.get_by_role("heading", name="Planned texts, in America/New_York")).to_be_visible()
    expect(page.get_by_text("(212) 555-0177")).to_be_visible()
    assert fits_the_width(page)
    page.screenshot(path=str(tmp_path / "enrol-preview-360.png"), full_page=True)
    page.get_by_role("button", name="Save and plan these texts").click()
    expect(page.get_by_role("heading", name="Ana Ruiz")).to_be_visible()

    page.goto("/patients/new")
    page.get_by_label("Name, first name first").fill("Mario Lopez")
    page.get_by_label("Mobile number").fill("212 555 0143")
    page.get_by_label("knee", exact=True).check()
    page.get_by_role("button", name="Show the planned texts").click()
    expect(page.get_by_role("heading", name="This number is on file")).to_be_visible()
    expect(page.get_by_label("Mobile number")).to_have_accessible_description(
        f"This number is on file for patient {maria}. To record a new session for them, answer “Yes, a new "
        f"session for them” (their name, language and precautions are kept).")
    assert fits_the_width(page)
    page.screenshot(path=str(tmp_path / "enrol-on-file-360.png"), full_page=True)
    page.get_by_label("Name, first name first").fill("")
    page.get_by_role("button", name="Yes, a new session for Maria L.").click()
    expect(page.get_by_text("Maria Lopez (patient")).to_be_visible()
    expect(page.get_by_text("anticoagulant (kept as on file)")).to_be_visible()
