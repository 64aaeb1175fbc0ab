"""axe-core on every dashboard page, at desktop (1280 px) and phone (390 px) width.

A serious or critical violation (contrast too low to read, a control without a name, content
outside every landmark, ...) fails the test with its rule id and where on the page it is. The
page is checked as Chromium renders it under the server's Content-Security-Policy; axe is
injected through the DevTools protocol (see `serious_violations` in conftest.py).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll

from bot.extensions import db
from bot.models import Escalation, Provider

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize("width", [1280, 390])
def test_no_page_has_a_serious_accessibility_violation(app, clinic, clock, new_page, axe_check, width):
    from playwright.sync_api import expect

    from bot import providers
    from bot.practice import patients as practice_patients

    clock.set(datetime(2026, 11, 17, 15, 0, tzinfo=NY))
    maria = enroll(clinic, ended=datetime(2026, 11, 17, 10, 0, tzinfo=NY), name="Maria Lopez")
    db.session.add(Escalation(clinic_id=clinic.id, patient_id=maria.patient.id, session_id=maria.session.id,
                              level="urgent", rule="U2", code="AXE1",
                              created_at=datetime(2026, 11, 17, 14, 50, tzinfo=NY)))
    dana = db.session.get(Provider, 1)
    dana.role = "admin"
    pat = practice_patients.create(clinic, {"name": "Pat Practice", "regions": ["knee"],
                                            "ended_at": "2026-11-17 10:00"},
                                   provider=dana, now=clock(), phone_region="US")
    db.session.commit()
    maria_id, pat_id, session_id = maria.patient.id, pat.id, maria.session.id
    link = providers.password_link(db.session.get(Provider, 2), "reset")  # Ben's one-time link
    set_password_path = link[link.index("/set-password/"):]
    finding_id = db.session.scalar(sa.select(Escalation.id).where(Escalation.code == "AXE1"))
    db.session.close()

    found: list[str] = []  # every page's violations, so that one run names them all

    def check(where: str) -> None:
        try:
            axe_check(page, f"{where} at {width} px")
        except AssertionError as violations:
            found.append(str(violations).split("\nassert")[0])

    page = new_page()
    page.set_viewport_size({"width": width, "height": 800})
    response = page.goto("/login")
    # axe is checked under the real policy, which allows no inline script (conftest.py says why it still runs)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    check("sign-in")
    page.goto(set_password_path)
    expect(page.get_by_role("heading", name="Choose a password")).to_be_visible()
    check("set-password (a link in an invitation)")
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill("dana@harbor.example")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Open findings")).to_be_visible()

    for path in ["/", "/patients", f"/patients/{maria_id}", "/patients/new", "/settings", "/settings/providers",
                 "/burden", "/access-log", "/admin/integrations", "/practice/", f"/practice/patients/{pat_id}",
                 f"/findings/{finding_id}", f"/sessions/{session_id}/print", f"/sessions/{session_id}/time",
                 f"/patients/{maria_id}/sessions/new", "/no-such-page"]:
        response = page.goto(path)
        assert response.status == (404 if path == "/no-such-page" else 200), path
        check(path)

    page.goto("/patients/new")  # the planned-texts preview
    page.get_by_label("Name, first name first").fill("Ana Ruiz")
    page.get_by_label("Mobile number").fill("212 555 0177")
    page.get_by_label("neck", exact=True).check()
    page.get_by_role("button", name="Show the planned texts").click()
    expect(page.get_by_role("heading", name="Planned texts, in America/New_York")).to_be_visible()
    check("the enrolment preview")
    page.goto("/patients/new")  # the form with its errors shown beside the fields
    page.get_by_role("button", name="Show the planned texts").click()
    expect(page.locator(".error").first).to_be_visible()
    check("the enrolment form with errors")
    page.goto("/settings")
    page.get_by_label("From").fill("19:00")  # quiet hours longer than 12 h: refused, said beside the field
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Nothing was saved")).to_be_visible()
    check("the settings with an error")
    assert not found, "\n".join(found)
