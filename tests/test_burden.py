"""Alert burden per clinic week (issue 11): the numbers from known rows, weeks on the clinic's clock,
and a page that reads them in the same number of statements however many there are."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, lakeside, sign_in

from bot import burden
from bot.extensions import db
from bot.models import AuditEvent, Escalation, Message

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


MONDAY = date(2026, 11, 16)  # Monday 00:00 in New York is 05:00 UTC
BEFORE = ny(2026, 11, 15, 23, 59)  # Sunday night: the week before (though already Monday in UTC)
AFTER = ny(2026, 11, 16, 0, 0)


def test_a_week_begins_at_midnight_monday_on_the_clinics_clock_not_in_utc():
    assert BEFORE.astimezone(timezone.utc).date() == MONDAY
    assert burden.week_of(BEFORE, NY) == MONDAY - timedelta(days=7)
    assert burden.week_of(AFTER, NY) == MONDAY


def test_the_numbers_of_each_week_from_known_rows():
    mondays = [MONDAY - timedelta(days=7), MONDAY]
    findings = [
        burden.FindingRow(BEFORE, "urgent", BEFORE + timedelta(minutes=10), False),
        burden.FindingRow(AFTER, "emergency", AFTER + timedelta(minutes=4), False),
        burden.FindingRow(AFTER + timedelta(hours=1), "urgent", AFTER + timedelta(hours=1, minutes=20), True),
        burden.FindingRow(AFTER + timedelta(hours=2), "routine", None, False),
        burden.FindingRow(AFTER + timedelta(hours=3), "routine", AFTER + timedelta(hours=3, minutes=30), True),
    ]
    before, after = burden.weekly(
        mondays=mondays, tz=NY,
        checkins_sent=[(BEFORE, 3), (AFTER, 40), (ny(2026, 11, 22, 23, 45), 10), (ny(2026, 11, 23, 0, 0), 1)],
        replies=[(BEFORE, 1), (AFTER, 2)], findings=findings,
        alerts=[(BEFORE, 1), (AFTER, 5), (ny(2026, 11, 8, 23, 45), 1)])  # the last: a week too early
    assert (before.start, before.checkins_sent, before.replies, before.alerts) == (mondays[0], 3, 1, 1)
    assert before.findings == {"routine": 0, "urgent": 1, "emergency": 0}
    assert before.median_to_acknowledge == timedelta(minutes=10)
    assert (after.start, after.checkins_sent, after.replies, after.alerts) == (MONDAY, 50, 2, 5)
    assert after.findings == {"routine": 2, "urgent": 1, "emergency": 1}
    assert after.alerts_per_100 == pytest.approx(10.0)
    assert after.acknowledged_share == pytest.approx(0.75)
    assert after.median_to_acknowledge == timedelta(minutes=20)  # of 4, 20 and 30 minutes
    assert after.not_actionable_share == pytest.approx(0.5)


def test_a_quiet_week_has_no_rates_rather_than_zero_or_a_division_error():
    (week,) = burden.weekly(mondays=[MONDAY], tz=NY, checkins_sent=[], replies=[], findings=[], alerts=[])
    assert (week.alerts_per_100, week.acknowledged_share, week.median_to_acknowledge,
            week.not_actionable_share) == (None, None, None, None)


def test_the_window_covers_this_week_and_the_ones_before_it():
    start, mondays = burden.window(ny(2026, 11, 18, 9, 0), NY, 3)
    assert mondays == [date(2026, 11, 2), date(2026, 11, 9), MONDAY]
    assert start == ny(2026, 11, 2, 0, 0)


# -- the page --------------------------------------------------------------------------------------

def seed(clinic, weeks: int) -> None:
    """A patient a week, each with a check-in sent, a reply, an urgent finding acknowledged in 12
    minutes, two alert texts, and every other finding marked not actionable."""
    for n in range(weeks):
        ended = ny(2026, 11, 16, 10, 0) - timedelta(weeks=n)
        maria = enroll(clinic, ended=ended, phone=f"+1212555{n:04d}", name="Pat Number")
        checkin = maria.checkins[0]
        checkin.status, checkin.sent_at = "sent", ended
        db.session.add(Message(clinic_id=clinic.id, direction="in", patient_id=maria.patient.id, purpose="inbound",
                               body="sore", status="received", created_at=ended + timedelta(hours=1)))
        esc = Escalation(clinic_id=clinic.id, patient_id=maria.patient.id, session_id=maria.session.id,
                         level="urgent", rule="U2", code=f"C{n:04d}", created_at=ended + timedelta(hours=1),
                         acknowledged_at=ended + timedelta(hours=1, minutes=12), status="acknowledged")
        db.session.add(esc)
        db.session.flush()
        for _ in range(2):
            db.session.add(Message(clinic_id=clinic.id, direction="out", escalation_id=esc.id, purpose="alert",
                                   body="URGENT", status="sent", created_at=ended + timedelta(hours=1)))
        if n % 2 == 0:
            db.session.add(AuditEvent(clinic_id=clinic.id, actor="provider:1", action="escalation.not_actionable",
                                      subject=f"escalation:{esc.id}", created_at=ended + timedelta(hours=2)))
    db.session.commit()


def statements(app, fetch) -> int:
    count = 0

    def counted(*args) -> None:
        nonlocal count
        count += 1

    sa.event.listen(db.engine, "before_cursor_execute", counted)
    try:
        fetch()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", counted)
    return count


def test_the_page_shows_each_week_in_the_clinics_zone(client, clinic, clock):
    seed(clinic, 2)
    lakeside_clinic = lakeside()
    enroll(lakeside_clinic, ended=ny(2026, 11, 16, 10, 0), phone="+13125550177")  # another clinic: not counted
    clock.set(ny(2026, 11, 18, 9, 0))
    sign_in(client)
    page = client.get("/burden?weeks=3").get_data(as_text=True)
    assert "America/New_York" in page
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]
    assert len(rows) == 3
    assert "Nov 16, 2026" in rows[0] and "Nov 02, 2026" in rows[2]
    cells = [c.split(">")[-1] for c in rows[0].split("</td>")[:-1]]
    # sent, replies, routine, urgent, emergency, alerts per 100, acknowledged, median, not actionable
    assert cells == ["1", "1", "0", "1", "0", "200.0", "100%", "12 min", "100%"]
    assert [c.split(">")[-1] for c in rows[1].split("</td>")[:-1]][-1] == "0%"
    assert client.get("/burden.svg?weeks=3").mimetype == "image/svg+xml"


def test_the_page_reads_the_same_number_of_statements_for_one_week_of_data_or_ten(app, client, clinic, clock):
    clock.set(ny(2026, 11, 18, 9, 0))
    sign_in(client)
    seed(clinic, 1)
    few = statements(app, lambda: client.get("/burden"))
    seed_rest(clinic)
    many = statements(app, lambda: client.get("/burden"))
    assert few == many


def seed_rest(clinic) -> None:
    """Nine more weeks, each with a check-in sent and a routine finding."""
    for n in range(1, 10):
        ended = ny(2026, 11, 16, 10, 0) - timedelta(weeks=n)
        maria = enroll(clinic, ended=ended, phone=f"+1212556{n:04d}", name="Pat Number")
        maria.checkins[0].status, maria.checkins[0].sent_at = "sent", ended
        db.session.add(Escalation(clinic_id=clinic.id, patient_id=maria.patient.id, level="routine", rule="R1",
                                  code=f"D{n:04d}", created_at=ended))
    db.session.commit()


@pytest.mark.parametrize("weeks", ["0", "53", "x"])
def test_a_number_of_weeks_out_of_range_is_a_400(client, clinic, weeks):
    sign_in(client)
    assert client.get(f"/burden?weeks={weeks}").status_code == 400


def test_texts_a_minute_either_side_of_monday_midnight_in_new_york_fall_in_their_own_weeks(client, clinic, clock):
    maria = enroll(clinic, ended=ny(2026, 11, 15, 10, 0))
    c1, c2 = maria.checkins[1], maria.checkins[2]
    c1.status, c1.sent_at = "sent", BEFORE  # 04:59 UTC on Monday
    c2.status, c2.sent_at = "sent", AFTER
    for moment in (BEFORE, AFTER, AFTER + timedelta(seconds=59)):
        db.session.add(Message(clinic_id=clinic.id, direction="in", patient_id=maria.patient.id, purpose="inbound",
                               body="fine", status="received", created_at=moment))
    db.session.commit()
    clock.set(ny(2026, 11, 18, 9, 0))
    sign_in(client)
    page = client.get("/burden?weeks=2").get_data(as_text=True)
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]
    sent_and_replies = [[c.split(">")[-1] for c in row.split("</td>")[:2]] for row in rows]
    assert sent_and_replies == [["1", "2"], ["1", "1"]]  # this week (from Mon Nov 16), then the week before
