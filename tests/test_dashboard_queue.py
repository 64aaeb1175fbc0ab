"""The findings queue: what to deal with first, the call a tap away, and closing a finding, audited."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from markupsafe import escape
from support import enroll, lakeside, sign_in, text_in

from bot.extensions import db
from bot.models import AccessEvent, AuditEvent, Escalation, Patient

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def finding(clinic, *, name: str, phone: str, level: str, raised: datetime, status: str = "open",
            code: str | None = None, acknowledged: datetime | None = None) -> Escalation:
    """A finding raised at `raised` for a new patient of `clinic`, as escalation.open_escalation leaves it."""
    enrolment = enroll(clinic, ended=raised - timedelta(hours=20), name=name, phone=phone)
    patient = db.session.scalars(sa.select(Patient).where(Patient.phone == phone, Patient.clinic_id == clinic.id)).one()
    esc = Escalation(clinic_id=clinic.id, patient=patient, session_id=getattr(enrolment, "session", None) and
                     enrolment.session.id, level=level, rule="T1", code=code or name[:3].upper() + level[:2].upper(),
                     status=status, created_at=raised, alert_started_at=raised,
                     acknowledged_at=acknowledged if status != "open" else None)
    db.session.add(esc)
    db.session.commit()
    return esc


def order_of_codes(page: str, codes: list[str]) -> list[str]:
    found = {code: page.find(f'<span class="code">{code}</span>') for code in codes}
    assert all(at >= 0 for at in found.values()), found
    return sorted(codes, key=found.get)


@pytest.fixture
def signed_in(client, clinic, clock):
    clock.set(ny(2026, 11, 18, 12, 0))
    sign_in(client)
    return client


def test_open_findings_come_first_by_level_then_oldest(signed_in, clinic, clock):
    now = ny(2026, 11, 18, 12, 0)
    finding(clinic, name="Rita Routine", phone="+12125550161", level="routine", raised=now - timedelta(hours=9),
            code="ROUT1")
    finding(clinic, name="Uma Later", phone="+12125550162", level="urgent", raised=now - timedelta(minutes=5),
            code="URGNW")
    finding(clinic, name="Ula Earlier", phone="+12125550163", level="urgent", raised=now - timedelta(minutes=6),
            code="URGLD")
    finding(clinic, name="Emma Emergency", phone="+12125550164", level="emergency", raised=now - timedelta(minutes=1),
            code="EMRG1")
    finding(clinic, name="Ada Acked", phone="+12125550165", level="emergency", raised=now - timedelta(hours=30),
            status="acknowledged", acknowledged=now - timedelta(hours=29), code="ACKD1")
    page = signed_in.get("/").get_data(as_text=True)
    assert order_of_codes(page, ["ROUT1", "URGNW", "URGLD", "EMRG1", "ACKD1"]) == [
        "EMRG1", "URGLD", "URGNW", "ROUT1", "ACKD1"]
    assert page.index("Open: not yet acknowledged") < page.index("EMRG1") < page.index(
        "Acknowledged, not yet resolved") < page.index("ACKD1")
    assert "<title>(4) Findings · Aftercare</title>" in page
    assert 'id="ack-' in page and page.count("Acknowledge ") == 4  # no Acknowledge button on the acknowledged one


def test_within_a_level_the_oldest_comes_first_whichever_was_written_first(signed_in, clinic):
    now = ny(2026, 11, 18, 12, 0)
    finding(clinic, name="Old One", phone="+12125550161", level="urgent", raised=now - timedelta(minutes=2),
            code="OLDER")
    finding(clinic, name="New One", phone="+12125550162", level="urgent", raised=now - timedelta(minutes=3),
            code="NEWER")  # written second, raised earlier
    page = signed_in.get("/").get_data(as_text=True)
    assert order_of_codes(page, ["OLDER", "NEWER"]) == ["NEWER", "OLDER"]


def test_an_acknowledged_finding_stays_listed_for_a_week_unless_resolved(signed_in, clinic):
    now = ny(2026, 11, 18, 12, 0)
    finding(clinic, name="Six Days", phone="+12125550161", level="urgent", raised=now - timedelta(days=8),
            status="acknowledged", acknowledged=now - timedelta(days=7) + timedelta(minutes=1), code="INSID")
    finding(clinic, name="Eight Days", phone="+12125550162", level="urgent", raised=now - timedelta(days=8),
            status="acknowledged", acknowledged=now - timedelta(days=7) - timedelta(minutes=1), code="OUTSD")
    finding(clinic, name="Done Already", phone="+12125550163", level="emergency", raised=now - timedelta(hours=1),
            status="resolved", acknowledged=now - timedelta(minutes=50), code="RSLVD")
    page = signed_in.get("/").get_data(as_text=True)
    assert "INSID" in page and "OUTSD" not in page and "RSLVD" not in page
    assert "<title>Findings · Aftercare</title>" in page  # nothing open: no count


def test_a_finding_shows_the_words_rule_reasons_times_and_the_call(client, clinic, clock):
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name="Maria Lopez")
    clock.set(ny(2026, 11, 17, 15, 0))
    text_in(client, "+12125550143", "my chest feels tight")
    clock.set(ny(2026, 11, 17, 15, 12))
    sign_in(client)
    page = client.get("/").get_data(as_text=True)
    esc = db.session.scalars(sa.select(Escalation)).one()
    assert "my chest feels tight" in page and f"Rule <strong>{esc.rule}</strong>" in page
    assert esc.assessment.reasons and str(escape(esc.assessment.reasons[0])) in page
    assert "Raised <strong>12 min ago</strong>" in page and "Tue Nov 17, 15:00 EST" in page
    assert re.search(r"Last alert: <strong>12 min ago</strong>\s*<span class=\"muted\">\(\d+ alerts? sent\)", page)
    assert '<a class="button call" id="call-%d" href="tel:+12125550143">Call (212) 555-0143</a>' % esc.id in page


def test_the_last_alert_is_the_latest_re_alert(client, clinic, clock):
    from bot import escalation

    enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name="Maria Lopez")
    clock.set(ny(2026, 11, 17, 15, 0))
    text_in(client, "+12125550143", "my chest feels tight")
    escalation.run_timers(ny(2026, 11, 17, 15, 5))  # the emergency re-alert
    clock.set(ny(2026, 11, 17, 15, 7))
    sign_in(client)
    page = client.get("/").get_data(as_text=True)
    assert "Raised <strong>7 min ago</strong>" in page and "Last alert: <strong>2 min ago</strong>" in page


def test_the_patients_answer_to_a_call_today_is_shown(client, clinic, clock):
    enroll(clinic, ended=ny(2026, 11, 18, 9, 0))
    clock.set(ny(2026, 11, 20, 11, 0))
    text_in(client, "+12125550143", "still about a 5, no better")
    page_before = None
    sign_in(client)
    page_before = client.get("/").get_data(as_text=True)
    assert "A call today?" not in page_before
    text_in(client, "+12125550143", "WAIT")
    page = client.get("/").get_data(as_text=True)
    assert "A call today? <strong>No, it can wait</strong>" in page


def test_a_number_from_abroad_is_written_internationally(signed_in, clinic):
    finding(clinic, name="Tom Abroad", phone="+447911123456", level="urgent", raised=ny(2026, 11, 18, 11, 0))
    page = signed_in.get("/").get_data(as_text=True)
    assert 'href="tel:+447911123456">Call +44 7911 123456</a>' in page


# Acting on a finding ----------------------------------------------------------------------------

def audit_actions(esc: Escalation) -> list[str]:
    return db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.subject == f"escalation:{esc.id}")
                              .order_by(AuditEvent.id)).all()


def test_resolving_needs_a_note_and_keeps_what_was_typed(signed_in, clinic):
    esc = finding(clinic, name="Maria Lopez", phone="+12125550143", level="urgent", raised=ny(2026, 11, 18, 11, 0))
    response = signed_in.post(f"/escalations/{esc.id}/resolve", data={"note": "   ", "resolve": "Resolve"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<p class="error" id="note-error">Write a short note: what was done, for the chart.</p>' in page
    db.session.refresh(esc)
    assert esc.status == "open" and "escalation.resolved" not in audit_actions(esc)

    long_note = "x" * 1001
    response = signed_in.post(f"/escalations/{esc.id}/resolve", data={"note": long_note, "resolve": "Resolve"})
    assert response.status_code == 400 and long_note in response.get_data(as_text=True)  # nothing lost
    assert "Use at most 1000 characters (this note has 1001)." in response.get_data(as_text=True)


def test_resolving_with_a_note_closes_the_finding_and_is_audited(signed_in, clinic, clock):
    esc = finding(clinic, name="Maria Lopez", phone="+12125550143", level="urgent", raised=ny(2026, 11, 18, 11, 0))
    clock.set(ny(2026, 11, 18, 12, 30))
    response = signed_in.post(f"/escalations/{esc.id}/resolve",
                              data={"note": "Called her: soreness easing, ice advised.", "resolve": "Resolve"},
                              follow_redirects=True)
    assert f"Resolved {esc.code}." in response.get_data(as_text=True)
    assert esc.code not in response.get_data(as_text=True).split("</p>", 2)[-1]  # gone from the queue
    db.session.refresh(esc)
    assert (esc.status, esc.resolution, esc.resolution_note) == ("resolved", "handled",
                                                                 "Called her: soreness easing, ice advised.")
    assert esc.resolved_at == ny(2026, 11, 18, 12, 30) and esc.acknowledged_at == esc.resolved_at
    assert audit_actions(esc) == ["escalation.resolved", "escalation.resolution_recorded"]
    recorded = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "escalation.resolution_recorded")).one()
    assert recorded.detail == {"via": "dashboard", "resolution": "handled", "note": True}
    assert recorded.actor.startswith("provider:") and "ice" not in str(recorded.detail)


def test_marking_not_actionable_needs_no_note_and_is_audited(signed_in, clinic):
    esc = finding(clinic, name="Maria Lopez", phone="+12125550143", level="routine", raised=ny(2026, 11, 18, 11, 0))
    response = signed_in.post(f"/escalations/{esc.id}/resolve", data={"note": "", "not_actionable": "Not actionable"},
                              follow_redirects=True)
    assert f"{esc.code} marked not actionable." in response.get_data(as_text=True)
    db.session.refresh(esc)
    assert (esc.status, esc.resolution, esc.resolution_note) == ("resolved", "not_actionable", None)
    detail = db.session.scalars(sa.select(AuditEvent.detail)
                                .where(AuditEvent.action == "escalation.resolution_recorded")).one()
    assert detail == {"via": "dashboard", "resolution": "not_actionable", "note": False}


def test_acknowledging_from_the_queue_moves_it_down_and_is_audited(signed_in, clinic):
    esc = finding(clinic, name="Maria Lopez", phone="+12125550143", level="urgent", raised=ny(2026, 11, 18, 11, 0))
    page = signed_in.post(f"/escalations/{esc.id}/ack", follow_redirects=True).get_data(as_text=True)
    assert f"Acknowledged {esc.code}." in page and "Acknowledged, not yet resolved" in page
    assert f'id="ack-{esc.id}"' not in page
    assert audit_actions(esc) == ["escalation.acknowledged"]


def test_opening_a_finding_is_in_the_access_log(signed_in, clinic):
    esc = finding(clinic, name="Maria Lopez", phone="+12125550143", level="urgent", raised=ny(2026, 11, 18, 11, 0))
    page = signed_in.get(f"/findings/{esc.id}").get_data(as_text=True)
    assert "Close this finding" in page and 'name="not_actionable"' in page
    event = db.session.scalars(sa.select(AccessEvent)).one()
    assert (event.patient_id, event.record, event.record_id) == (esc.patient_id, "finding", esc.id)


def test_another_clinics_finding_is_not_found_and_left_alone(signed_in, clinic):
    other = lakeside()
    theirs = finding(other, name="Zed Other", phone="+13125550177", level="emergency", raised=ny(2026, 11, 18, 11, 0))
    assert signed_in.get(f"/findings/{theirs.id}").status_code == 404
    assert signed_in.post(f"/escalations/{theirs.id}/resolve", data={"note": "x", "resolve": "Resolve"}).status_code == 404
    assert signed_in.post(f"/escalations/{theirs.id}/resolve",
                          data={"not_actionable": "Not actionable"}).status_code == 404
    assert signed_in.post(f"/escalations/{theirs.id}/ack").status_code == 404
    assert "Zed Other" not in signed_in.get("/").get_data(as_text=True)
    db.session.refresh(theirs)
    assert theirs.status == "open" and audit_actions(theirs) == []


@pytest.mark.parametrize("path", ["/findings/1", "/findings/live"])
def test_the_queues_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_resolving_needs_a_login(client, clinic):
    esc = finding(clinic, name="Maria Lopez", phone="+12125550143", level="urgent", raised=ny(2026, 11, 18, 11, 0))
    response = client.post(f"/escalations/{esc.id}/resolve", data={"note": "x", "resolve": "Resolve"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    db.session.refresh(esc)
    assert esc.status == "open"


def test_resolving_without_a_csrf_token_is_refused(app, client, clinic):
    esc = finding(clinic, name="Maria Lopez", phone="+12125550143", level="urgent", raised=ny(2026, 11, 18, 11, 0))
    app.config["WTF_CSRF_ENABLED"] = True  # off in the unit tests; on, as in production
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    client.post("/login", data={"email": "dana@harbor.example", "password": "correct horse battery",
                                "csrf_token": token})
    assert client.get("/").status_code == 200  # signed in
    for action in ({"note": "done", "resolve": "Resolve"}, {"not_actionable": "Not actionable"}):
        response = client.post(f"/escalations/{esc.id}/resolve", data=action, follow_redirects=True)
        assert "This page expired. Please try again." in response.get_data(as_text=True)
    db.session.refresh(esc)
    assert esc.status == "open" and audit_actions(esc) == []


# The queue refreshes itself ---------------------------------------------------------------------

def live_version(page: str) -> str:
    return re.search(r'hx-get="/findings/live\?v=([0-9a-f]+)"', page).group(1)


def test_the_page_polls_with_a_vendored_script_and_no_inline_code(signed_in):
    response = signed_in.get("/")
    page = response.get_data(as_text=True)
    assert '<script src="/static/htmx-2.0.11.min.js" defer></script>' in page
    assert 'hx-trigger="every 10s"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and "hx-on" not in page and " style=" not in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    script = signed_in.get("/static/htmx-2.0.11.min.js")
    script.close()
    assert script.status_code == 200


def test_a_new_finding_arrives_at_the_next_poll_with_the_count_in_the_title(signed_in, clinic, clock):
    version = live_version(signed_in.get("/").get_data(as_text=True))
    poll = signed_in.get(f"/findings/live?v={version}", headers={"HX-Request": "true"})
    assert poll.status_code == 204  # nothing new: htmx leaves the page as it is

    finding(clinic, name="Maria Lopez", phone="+12125550143", level="emergency", raised=ny(2026, 11, 18, 11, 59),
            code="NEW01")
    poll = signed_in.get(f"/findings/live?v={version}", headers={"HX-Request": "true"})
    body = poll.get_data(as_text=True)
    assert poll.status_code == 200 and body.startswith("<title>(1) Findings · Aftercare</title>")
    assert "NEW01" in body and live_version(body) != version
    assert signed_in.get(f"/findings/live?v={live_version(body)}").status_code == 204

    clock.set(ny(2026, 11, 18, 12, 1))  # a minute on: "1 min ago" becomes "2 min ago"
    assert signed_in.get(f"/findings/live?v={live_version(body)}").status_code == 200


def test_polling_does_not_keep_an_idle_session_alive(client, clinic, clock):
    clock.set(ny(2026, 11, 18, 8, 0))
    sign_in(client)
    for hour in range(1, 9):  # a tab left open all day polls, but nobody uses it
        clock.set(ny(2026, 11, 18, 8 + hour, 0))
        assert client.get("/findings/live", headers={"HX-Request": "true"}).status_code in (200, 204)
    clock.set(ny(2026, 11, 18, 16, 1))  # 8 hours and a minute after the last real request
    poll = client.get("/findings/live", headers={"HX-Request": "true"})
    assert poll.headers["HX-Redirect"].startswith("/login")  # htmx loads the sign-in page in place of the queue
    assert client.get("/").status_code == 302


def test_a_real_request_does_keep_the_session_alive(client, clinic, clock):
    clock.set(ny(2026, 11, 18, 8, 0))
    sign_in(client)
    clock.set(ny(2026, 11, 18, 15, 0))
    assert client.get("/").status_code == 200
    clock.set(ny(2026, 11, 18, 22, 59))
    assert client.get("/findings/live").status_code == 200


# Error pages and the favicon --------------------------------------------------------------------

def test_an_unknown_page_is_a_helpful_404_inside_the_layout(signed_in):
    response = signed_in.get("/no-such-page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in page and "belongs to another clinic" in page
    assert 'href="/patients">Find a patient</a>' in page and 'href="/logout"' not in page
    assert '<form class="inline" method="post" action="/logout">' in page  # the layout's header


def test_a_signed_out_404_offers_the_sign_in(client):
    page = client.get("/no-such-page").get_data(as_text=True)
    assert "Page not found" in page and 'href="/login">Sign in</a>' in page


def test_the_api_keeps_its_own_errors(signed_in):
    response = signed_in.get("/api/v1/no-such-thing", headers={"Accept": "application/json"})
    assert response.status_code in (401, 404) and "<h1>Page not found</h1>" not in response.get_data(as_text=True)


def test_an_unexpected_error_is_a_500_page_inside_the_layout(app, client, clinic):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    sign_in(client)
    response = client.get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and "<h1>Something went wrong</h1>" in page and "boom" not in page
    assert 'href="/">Open findings</a>' in page


def test_every_page_has_the_favicon(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    icon = client.get("/static/favicon.svg")
    data = icon.get_data()
    icon.close()
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in data


@pytest.mark.parametrize("seconds, said", [
    (59, "just now"), (60, "1 min ago"), (59 * 60 + 59, "59 min ago"), (60 * 60, "1 h ago"),
    (61 * 60, "1 h 1 min ago"), (24 * 3600 - 1, "23 h 59 min ago"), (24 * 3600, "1 day ago"),
    (48 * 3600, "2 days ago"), (-30, "just now"),
])
def test_how_long_ago_at_each_boundary(seconds, said):
    from bot.dashboard.queue import ago

    now = ny(2026, 11, 18, 12, 0)
    assert ago(now - timedelta(seconds=seconds), now) == said
