"""The findings queue on a phone, 360 px wide: the call and Acknowledge within reach, nothing sideways,
and a new finding arriving without a reload, its count in the tab's title."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import enroll
from test_end_to_end import reply

from bot.extensions import db
from bot.models import Escalation

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NY = ZoneInfo("America/New_York")
PHONE = {"width": 360, "height": 740}


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def text_in(base_url: str, sender: str, body: str) -> None:
    """A patient's text through the live server's webhook, signed as Twilio signs it."""
    reply(base_url, sender, body)


def shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("BROWSER_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_on_a_phone_a_new_finding_arrives_and_is_acknowledged(app, clinic, clock, live_server, new_page, tmp_path):
    from playwright.sync_api import expect

    enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name="Maria Lopez", phone="+12125550143")
    long_name = enroll(clinic, ended=ny(2026, 11, 17, 9, 0), name="Bartholomew Featherstonehaugh-Wolfeschlegel",
                       phone="+12125550144")
    db.session.add(Escalation(clinic_id=clinic.id, patient_id=long_name.patient.id, session_id=long_name.session.id,
                              level="urgent", rule="U2", code="LONG1", created_at=ny(2026, 11, 17, 14, 50)))
    db.session.commit()
    db.session.close()

    page = new_page()
    page.set_viewport_size(PHONE)
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill("dana@harbor.example")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Open findings")).to_be_visible()
    expect(page).to_have_title("(1) Findings · Aftercare")

    # Maria texts a red flag while the page is open: it arrives without a reload, on top.
    clock.set(ny(2026, 11, 17, 15, 0))
    text_in(live_server, "+12125550143", "my chest feels tight")
    maria = page.get_by_role("article").filter(has_text="Maria Lopez")
    expect(maria).to_have_count(1, timeout=15_000)
    expect(page).to_have_title("(2) Findings · Aftercare")
    expect(page.get_by_role("article").first).to_contain_text("emergency")
    expect(maria).to_contain_text("my chest feels tight")
    call = maria.get_by_role("link", name="Call (212) 555-0143")
    expect(call).to_have_attribute("href", "tel:+12125550143")

    # Everything fits the phone's width; the call and Acknowledge are on screen, big enough to tap.
    assert fits_the_width(page)
    acknowledge = maria.get_by_role("button", name="Acknowledge")
    for control in (call, acknowledge):
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert box["height"] >= 40, box
    shots = shots_dir(tmp_path)
    page.screenshot(path=str(shots / "queue-360.png"), full_page=True)

    clock.set(ny(2026, 11, 17, 15, 4))
    acknowledge.click()
    expect(page.locator(".flash")).to_contain_text("Acknowledged")
    expect(page).to_have_title("(1) Findings · Aftercare")
    expect(page.get_by_role("heading", name="Acknowledged, not yet resolved")).to_be_visible()

    # Resolve the other one as not actionable, from its page, on the phone.
    page.get_by_role("link", name="Resolve", exact=False).first.click()
    expect(page.get_by_role("heading", name="Close this finding")).to_be_visible()
    assert fits_the_width(page)
    page.screenshot(path=str(shots / "finding-360.png"), full_page=True)
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator("#note-error")).to_have_text("Write a short note: what was done, for the chart.")
    expect(page.get_by_label("Note for the chart")).to_have_accessible_description(
        "What was done (needed to resolve). Optional when nothing was wrong. "
        "Write a short note: what was done, for the chart.")
    page.get_by_label("Note for the chart").fill("Called: soreness easing with ice.")
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("Resolved")

    for path, name in (("/patients", "patients"), ("/no-such-page", "not-found")):
        page.goto(path)
        assert fits_the_width(page), path
        page.screenshot(path=str(shots / f"{name}-360.png"), full_page=True)
    assert blocked == []
