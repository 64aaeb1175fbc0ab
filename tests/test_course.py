"""A patient's course on the dashboard, and an episode's export for the chart note.

Maria Lopez (Harbor PT, New York) had her knee needled on Tuesday Nov 17 2026 at 10:00. The real
dispatcher sends her check-ins and the real, Twilio-signed webhook takes her replies in.
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, lakeside, sign_in, text_in

from bot import dispatch
from bot.dashboard import soreness_chart
from bot.extensions import db
from bot.models import AccessEvent, Assessment, CheckIn, Escalation, Message
from bot.protocol import PROTOCOL

NY = ZoneInfo("America/New_York")
MARIA = "+12125550143"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def run(gateway, clock, moment: datetime) -> None:
    """The dispatcher's pass at `moment`, as the scheduler would run it."""
    clock.set(moment)
    dispatch.run_once(now=clock(), gateway=gateway)


@pytest.fixture
def maria(app, clinic, clock, client, gateway):
    """Maria's first three days: C1 answered with a 5, C2 sent and reminded but never answered
    (missed), C3 answered "a 6, worse" on Thursday: a routine finding."""
    enrolment = enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name="Maria Lopez", phone=MARIA)
    for moment in (ny(2026, 11, 17, 10, 0), ny(2026, 11, 17, 14, 0)):
        run(gateway, clock, moment)
    clock.set(ny(2026, 11, 17, 14, 30))
    text_in(client, MARIA, "about a 5")
    for moment in (ny(2026, 11, 18, 10, 0), ny(2026, 11, 18, 14, 5), ny(2026, 11, 19, 10, 0)):
        run(gateway, clock, moment)
    clock.set(ny(2026, 11, 19, 11, 0))
    text_in(client, MARIA, "still a 6, worse than yesterday")
    db.session.expire_all()
    return enrolment


def course(client, patient_id: int) -> str:
    response = client.get(f"/patients/{patient_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def rows(page: str, table_class: str) -> list[str]:
    """The text of each body row of the first table with this class, tags dropped."""
    table = re.search(rf'<table class="stack {table_class}".*?</table>', page, re.S).group(0)
    body = re.search(r"<tbody>(.*)</tbody>", table, re.S).group(1)
    return [html.unescape(" ".join(re.sub(r"<[^>]+>", " ", r).split())) for r in re.findall(r"<tr.*?</tr>", body, re.S)]


# -- the course ---------------------------------------------------------------------------------------

def test_each_assessment_is_shown_beside_the_reply_it_read(client, maria):
    sign_in(client)
    texts = rows(course(client, maria.patient.id), "texts")
    five = next(r for r in texts if "about a 5" in r)
    six = next(r for r in texts if "still a 6, worse than yesterday" in r)
    assert five.startswith("Tue Nov 17, 14:30 EST Patient about a 5 received")
    assert "protocol v1" in five
    assert "expected soreness 5/10 no rule fired" in five
    assert "routine soreness 6/10 rules R1, R2" in six and "protocol v1" in six
    finding = db.session.scalars(sa.select(Escalation)).one()
    assert f"finding {finding.code} (routine, open)" in six and finding.code not in five
    # the reasons of the routine reading are listed beside it, not beside the 5
    reasons = db.session.scalars(sa.select(Assessment).where(Assessment.soreness == 6)).one().reasons
    assert reasons and all(reason in six for reason in reasons)


def test_texts_out_show_their_check_in_and_delivery_with_the_carriers_error(client, maria, clock):
    reminder = db.session.scalars(sa.select(Message).where(Message.purpose == "reminder")).one()
    dispatch.record_status(reminder, "undelivered", 30003, clock())
    db.session.commit()
    sign_in(client)
    texts = rows(course(client, maria.patient.id), "texts")
    assert any(r.startswith("Wed Nov 18, 10:00 EST Check-in C2 ") and r.endswith(" sent") for r in texts)
    assert any(r.startswith("Wed Nov 18, 14:05 EST Reminder C2 ") and
               "undelivered error 30003: phone off or out of coverage" in r for r in texts)


def test_check_ins_show_planned_sent_replied_missed_and_skipped_on_the_patients_clock(client, maria, gateway, clock):
    sign_in(client)
    checkins = rows(course(client, maria.patient.id), "checkins")
    assert checkins[1] == ("C1 Tue Nov 17, 14:00 EST replied Tue Nov 17, 14:00 EST - Tue Nov 17, 14:30 EST")
    assert checkins[2].startswith("C2 Wed Nov 18, 10:00 EST missed Wed Nov 18, 10:00 EST Wed Nov 18, 14:05 EST -")
    assert checkins[3].startswith("C3 Thu Nov 19, 10:00 EST replied")
    assert any(r.startswith("C4 Fri Nov 20, 10:00 EST planned - - -") for r in checkins)

    # The dispatcher was down from Thursday until Saturday noon: C4's window closed unsent.
    run(gateway, clock, ny(2026, 11, 21, 12, 0))
    db.session.expire_all()
    sign_in(client)  # the dashboard session ended while she was away
    c4 = next(r for r in rows(course(client, maria.patient.id), "checkins") if r.startswith("C4"))
    assert c4.startswith("C4 Fri Nov 20, 10:00 EST skipped")


def test_the_call_link_dials_the_patients_number(client, maria):
    sign_in(client)
    assert '<a class="call" href="tel:+12125550143">Call (212) 555-0143</a>' in course(client, maria.patient.id)


def test_opening_the_course_is_written_to_the_access_log(client, maria):
    sign_in(client)
    course(client, maria.patient.id)
    event = db.session.scalars(sa.select(AccessEvent)).one()
    assert (event.record, event.patient_id) == ("course", maria.patient.id)


def test_a_new_session_starts_a_new_episode_shown_first_with_its_own_texts(client, clinic, maria, clock):
    enroll(clinic, ended=ny(2026, 11, 24, 9, 0), phone=MARIA, new_session_for=maria.patient.id)
    clock.set(ny(2026, 11, 24, 15, 0))
    text_in(client, MARIA, "a 3 today")
    sign_in(client)
    page = course(client, maria.patient.id)
    sections = re.findall(r'<section class="episode".*?</section>', page, re.S)
    assert [re.search(r"<h2[^>]*>(.*?)<span", s, re.S).group(1).split() for s in sections] == [
        ["Session", "Tue", "Nov", "24,", "09:00", "EST"], ["Session", "Tue", "Nov", "17,", "10:00", "EST"]]
    newest, first = (rows(s, "texts") for s in sections)
    assert any("a 3 today" in r and "soreness 3/10" in r for r in newest)
    assert not any("about a 5" in r for r in newest) and not any("a 3 today" in r for r in first)
    assert rows(sections[0], "points") == ["Tue Nov 24, 15:00 EST 6 h - 3/10 0-6, early (0-12 h) -"]


def test_the_latest_three_episodes_are_charted_and_an_older_ones_chart_is_on_its_printable_page(client, clinic, maria):
    for day in (24, 25, 26):
        enroll(clinic, ended=ny(2026, 11, day, 9, 0), phone=MARIA, new_session_for=maria.patient.id)
    sign_in(client)
    sections = re.findall(r'<section class="episode".*?</section>', course(client, maria.patient.id), re.S)
    assert ["<svg" in s for s in sections] == [True, True, True, False]
    assert f'its chart is on <a href="/sessions/{maria.session.id}/print">its printable page</a>' in sections[3]
    assert len(rows(sections[3], "points")) == 2  # her first episode's scores, still listed


def test_the_course_takes_as_many_statements_for_forty_texts_as_for_four(app, client, clinic, maria, clock):
    def statements() -> int:
        db.session.expire_all()  # the test's session keeps rows between requests; a worker's does not
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            course(client, maria.patient.id)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    sign_in(client)
    few = statements()
    enroll(clinic, ended=ny(2026, 11, 19, 11, 30), phone=MARIA, new_session_for=maria.patient.id)  # a 2nd episode
    for minute in range(18):
        clock.set(ny(2026, 11, 19, 12, minute * 3))
        text_in(client, MARIA, f"note {minute}")
    assert statements() == few


# -- the chart ------------------------------------------------------------------------------------------

def test_the_band_follows_the_protocols_windows():
    windows = PROTOCOL.windows
    steps = soreness_chart.band(windows, 120)
    assert steps[:4] == [(0, 6), (12, 6), (12, 5), (36, 5)]  # early 0-6 to 12 h, day 1 0-5 to 36 h
    assert steps[-2:] == [(96, 1), (120, 1)]  # late: 0-1, drawn to the axis' end
    assert [s[1] for s in steps[::2]] == [w.expected_max_soreness for w in windows]


def test_the_band_is_drawn_from_whatever_windows_a_protocol_version_sets():
    from bot.protocol import Window

    windows = (Window("early", 0, 24, 7), Window("late", 24, float("inf"), 2))
    assert soreness_chart.band(windows, 48) == [(0, 7), (24, 7), (24, 2), (48, 2)]
    svg = soreness_chart.render([], [], windows, x_max=48, title="t")
    assert re.findall(r'<text x="[^"]+" y="[^"]+" class="(?:major)?">(\d+ h)</text>', svg) == ["0 h", "24 h", "48 h"]


@pytest.mark.parametrize("hours, end", [([4, 24, 48], 120), ([113], 120), ([115], 132), ([168], 180)])
def test_the_hour_axis_reaches_past_the_last_point(hours, end):
    assert soreness_chart.x_extent(PROTOCOL.windows, hours) == end


def test_the_chart_draws_the_band_the_points_and_the_finding_without_script_or_inline_style(client, maria):
    sign_in(client)
    page = course(client, maria.patient.id)
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert 'role="img"' in svg and "<title>Soreness (0-10) against hours since the session" in svg
    assert "<script" not in svg and "<style" not in svg and "style=" not in svg
    band = re.search(r'<g class="series serie-0 color-0"><path d="([^"]+)" class="line reactive"', svg)
    assert band and band.group(1).count(" ") >= 2 * len(PROTOCOL.windows)  # a step per window, filled
    scores = re.search(r'<g class="series serie-1 color-1"><g class="dots">.*?</g></g>', svg.split('class="plot overlay"')[1],
                       re.S).group(0)
    assert re.findall(r'<desc class="value">([^<]+)</desc>', scores) == ["4.5 h: 5", "49 h: 6"]
    findings = svg.split('class="plot overlay"')[1].split('<g class="series serie-2 color-2">')[1]
    assert re.findall(r'<desc class="label">([^<]+)</desc>', findings) == ["routine R1"]
    assert findings.count("<circle") == 1


def test_the_charts_table_lists_every_point_with_its_expected_band(client, maria):
    sign_in(client)
    points = rows(course(client, maria.patient.id), "points")
    code = db.session.scalars(sa.select(Escalation)).one().code
    assert points == [
        "Tue Nov 17, 14:30 EST 4.5 h C1 5/10 0-6, early (0-12 h) -",
        f"Thu Nov 19, 11:00 EST 49 h C3 6/10 0-3, day 2 (36-60 h) routine R1 {code}",
    ]


def test_a_finding_without_a_score_is_marked_above_the_scale(client, clinic, clock):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0), phone=MARIA)
    clock.set(ny(2026, 11, 17, 15, 0))
    text_in(client, MARIA, "my chest feels tight")
    sign_in(client)
    page = course(client, e.patient.id)
    assert "5 h - no score 0-6, early (0-12 h) emergency E1" in rows(page, "points")[0]
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert '<desc class="label">emergency E1</desc>' in svg
    assert f'<desc class="value">5 h: {soreness_chart.NO_SCORE_RAIL:g}</desc>' in svg


# -- export ---------------------------------------------------------------------------------------------

def test_the_csv_export_names_the_patient_and_holds_every_row_on_her_clock(client, maria):
    sign_in(client)
    response = client.get(f"/sessions/{maria.session.id}/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="aftercare-episode-{maria.session.id}.csv"'
    reader = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert reader.fieldnames == ["episode_id", "patient_id", "patient_name", "kind", "id", "time_utc", "local_time",
                                 "time_zone", "protocol_id", "status", "direction", "level", "soreness", "rule", "text"]
    table = list(reader)
    assert {r["patient_name"] for r in table} == {"Maria Lopez"} and {r["time_zone"] for r in table} == {"America/New_York"}
    kinds = [r["kind"] for r in table]
    checkins = db.session.scalars(sa.select(CheckIn)).all()
    texts = db.session.scalars(sa.select(Message).where(Message.purpose != "alert")).all()
    assert (kinds.count("checkin"), kinds.count("message"), kinds.count("assessment"), kinds.count("finding")) == (
        len(checkins), len(texts), 2, 1)
    six = next(r for r in table if r["kind"] == "assessment" and r["soreness"] == "6")
    assert (six["local_time"], six["level"], six["rule"]) == ("2026-11-19T11:00:00-05:00", "routine", "R1 R2")
    reply = next(r for r in table if r["kind"] == "message" and r["text"] == "about a 5")
    assert (reply["direction"], reply["local_time"]) == ("in", "2026-11-17T14:30:00-05:00")
    assert [r["status"] for r in table if r["kind"] == "checkin" and r["protocol_id"] in ("C1", "C2")] == [
        "replied", "missed"]


@pytest.mark.parametrize("path, record", [("export.csv", "export-csv"), ("print", "export-print")])
def test_each_export_is_written_to_the_access_log_under_its_own_kind(client, maria, path, record):
    sign_in(client)
    assert client.get(f"/sessions/{maria.session.id}/{path}").status_code == 200
    event = db.session.scalars(sa.select(AccessEvent)).one()
    assert (event.record, event.record_id, event.patient_id) == (record, maria.session.id, maria.patient.id)


def test_the_printable_page_holds_the_episode_for_the_chart_note(client, maria):
    sign_in(client)
    page = client.get(f"/sessions/{maria.session.id}/print").get_data(as_text=True)
    assert "Aftercare follow-up: Maria Lopez" in page and "(212) 555-0143" in page
    assert "Tue Nov 17, 10:00 EST; knee" in page and "America/New_York" in page
    assert "<svg" in page and "still a 6, worse than yesterday" in page
    assert len(rows(page, "points")) == 2
    assert 'href="/static/course.css' in page  # its print styles


@pytest.mark.parametrize("path", ["export.csv", "print"])
def test_another_clinics_episode_is_not_found_and_not_logged(client, clinic, maria, path):
    zed = enroll(lakeside(), ended=ny(2026, 11, 17, 10, 0), name="Zed Other", phone="+13125550177")
    sign_in(client)
    assert client.get(f"/sessions/{zed.session.id}/{path}").status_code == 404
    assert client.get(f"/patients/{zed.patient.id}").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AccessEvent)) == 0


@pytest.mark.parametrize("path", ["/patients/1", "/sessions/1/export.csv", "/sessions/1/print"])
def test_the_course_and_exports_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_red_flag_read_with_the_score_before_it_charts_one_score_and_one_finding(client, clinic, maria, clock):
    """"a 3, sore like after a workout" then, a minute later, "my chest feels tight": the score is
    charted once, at the text that gave it; the emergency is marked at the later text, with no score."""
    enroll(clinic, ended=ny(2026, 11, 24, 9, 0), phone=MARIA, new_session_for=maria.patient.id,
           regions=("upper_back",))
    clock.set(ny(2026, 11, 24, 15, 0))
    text_in(client, MARIA, "about a 3, sore like after a workout")
    clock.set(ny(2026, 11, 24, 15, 1))
    text_in(client, MARIA, "my chest feels tight")
    sign_in(client)
    newest = re.findall(r'<section class="episode".*?</section>', course(client, maria.patient.id), re.S)[0]
    points = rows(newest, "points")
    assert [p for p in points if "3/10" in p] == ["Tue Nov 24, 15:00 EST 6 h - 3/10 0-6, early (0-12 h) -"]
    assert len(points) == 2 and "emergency" in points[1] and "3/10" not in points[1]
