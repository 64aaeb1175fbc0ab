"""The patients list: search, filters, each patient's latest soreness and status, pages; and a
constant number of SQL statements per page, whatever the clinic's size."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, lakeside, sign_in, text_in

from bot.extensions import db
from bot.models import CheckIn, Escalation, Patient, TreatmentSession

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def names_on(page: str, candidates: list[str]) -> list[str]:
    return [name for name in candidates if f">{name}</a>" in page]


@pytest.fixture
def four_patients(app, clinic, clock, client):
    """Maria (open episode, a reply of 3/10), Ben (missed a check-in), Olive (opted out), Lee (a landline)."""
    enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name="Maria Lopez", phone="+12125550143")
    ben = enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name="Ben Missed", phone="+12125550144")
    olive = enroll(clinic, ended=ny(2026, 11, 10, 10, 0), name="Olive Out", phone="+12125550145")
    lee = enroll(clinic, ended=ny(2026, 11, 10, 10, 0), name="Lee Landline", phone="+12125550146")
    enroll(lakeside(), ended=ny(2026, 11, 17, 10, 0), name="Maria Other", phone="+13125550143")
    ben.checkins[0].status = "missed"
    olive.patient.opted_out_at = ny(2026, 11, 11, 9, 0)
    for enrolment in (olive, lee):
        enrolment.session.status = "closed"
    lee.patient.phone_problem_code = 30006
    db.session.commit()
    clock.set(ny(2026, 11, 17, 14, 30))
    text_in(client, "+12125550143", "about a 3")
    clock.set(ny(2026, 11, 17, 15, 0))
    sign_in(client)
    return client


ALL = ["Maria Lopez", "Ben Missed", "Olive Out", "Lee Landline", "Maria Other"]


def test_the_list_shows_one_clinics_patients_by_name_with_their_status(four_patients):
    page = four_patients.get("/patients").get_data(as_text=True)
    assert names_on(page, ALL) == ["Maria Lopez", "Ben Missed", "Olive Out", "Lee Landline"]
    assert page.index("Ben Missed") < page.index("Lee Landline") < page.index("Maria Lopez") < page.index("Olive Out")
    assert "<strong>3/10</strong>" in page and "30 min ago" in page  # Maria's latest soreness
    assert "1 missed check-in" in page and "opted out" in page and "number cannot take texts (code 30006)" in page
    assert '<a href="tel:+12125550143">(212) 555-0143</a>' in page
    assert "4 patients." in page


@pytest.mark.parametrize("query, found", [
    ("maria", ["Maria Lopez"]),
    ("LOP", ["Maria Lopez"]),
    ("(212) 555-0144", ["Ben Missed"]),
    ("555 0145", ["Olive Out"]),
    ("+1 212 555 014", ["Maria Lopez", "Ben Missed", "Olive Out", "Lee Landline"]),
    ("3125550143", []),  # the other clinic's number
    ("Other", []),
    ("50%", []),  # a LIKE wildcard is searched for as itself
])
def test_searching_by_name_or_phone(four_patients, query, found):
    page = four_patients.get("/patients", query_string={"q": query}).get_data(as_text=True)
    assert sorted(names_on(page, ALL)) == sorted(found)


@pytest.mark.parametrize("show, found", [
    (["open"], ["Ben Missed", "Maria Lopez"]),
    (["missed"], ["Ben Missed"]),
    (["opted_out"], ["Olive Out"]),
    (["cannot_text"], ["Lee Landline"]),
    (["open", "missed"], ["Ben Missed"]),
    (["open", "opted_out"], []),
    (["no-such-filter"], ["Ben Missed", "Lee Landline", "Maria Lopez", "Olive Out"]),
])
def test_filters(four_patients, show, found):
    page = four_patients.get("/patients", query_string={"show": show}).get_data(as_text=True)
    assert sorted(names_on(page, ALL)) == found


def test_a_too_long_search_is_told_beside_the_field(four_patients):
    response = four_patients.get("/patients", query_string={"q": "x" * 121})
    assert response.status_code == 400
    assert '<p class="error" id="q-error">Use at most 120 characters (this one has 121).</p>' in response.get_data(
        as_text=True)


def add_patients(clinic, count: int, *, start: int = 0) -> None:
    """`count` patients, each with an open episode, a check-in and an open finding."""
    for n in range(start, start + count):
        patient = Patient(clinic_id=clinic.id, name=f"Patient {n:03d}", phone=f"+1212555{n:04d}", language="en")
        session = TreatmentSession(patient=patient, ended_at=ny(2026, 11, 17, 10, 0), regions=["knee"])
        db.session.add_all([patient, session, CheckIn(session=session, protocol_id="C1", due_at=ny(2026, 11, 17, 14, 0),
                                                      status="missed")])
        db.session.flush()
        db.session.add(Escalation(clinic_id=clinic.id, patient_id=patient.id, session_id=session.id, level="urgent",
                                  rule="T1", code=f"Q{n:04d}", created_at=ny(2026, 11, 17, 14, n % 60)))
    db.session.commit()


def test_pages_of_fifty(client, clinic):
    add_patients(clinic, 51)
    sign_in(client)
    first = client.get("/patients").get_data(as_text=True)
    assert "Patient 000" in first and "Patient 049" in first and "Patient 050" not in first
    assert "page 1 of 2" in first and 'href="/patients?page=2&amp;q=" rel="next"' in first
    second = client.get("/patients?page=2").get_data(as_text=True)
    assert "Patient 050" in second and "Patient 049" not in second and 'rel="prev"' in second
    assert "Patient 050" in client.get("/patients?page=99").get_data(as_text=True)  # past the end: the last page
    assert "Patient 050" in client.get("/patients?page=" + "9" * 30).get_data(as_text=True)
    assert "Patient 000" in client.get("/patients?page=abc").get_data(as_text=True)


def test_a_filter_is_kept_from_page_to_page(client, clinic):
    add_patients(clinic, 51)
    sign_in(client)
    first = client.get("/patients?show=missed&q=Patient").get_data(as_text=True)
    assert 'href="/patients?page=2&amp;q=Patient&amp;show=missed" rel="next"' in first


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def statements_for(client, path: str) -> int:
    db.session.expunge_all()  # as in production: each request starts with nothing loaded
    with statements() as seen:
        assert client.get(path).status_code == 200
    print("\n".join(s[:150] for s in seen))  # shown when a count test fails
    return len(seen)


@pytest.mark.parametrize("path", ["/", "/patients", "/patients?q=Patient&show=open&show=missed",
                                  "/findings/live"])
def test_a_page_runs_as_many_statements_for_30_rows_as_for_3(client, clinic, path):
    add_patients(clinic, 3)
    sign_in(client)
    few = statements_for(client, path)
    add_patients(clinic, 27, start=3)
    many = statements_for(client, path)
    page = client.get(path).get_data(as_text=True)
    assert ("Patient 029" in page) and few == many, (few, many)
    assert many <= (2 if path.startswith("/patients") else 6), many  # the provider, then a few for the page


def test_the_latest_replies_on_the_queue_page_cost_no_query_each(client, clinic, clock):
    for n in range(5):
        enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name=f"Reply Person{chr(65 + n)}", phone=f"+1212555017{n}")
    clock.set(ny(2026, 11, 17, 14, 30))
    text_in(client, "+12125550170", "about a 2")
    sign_in(client)
    one = statements_for(client, "/")
    for n in range(1, 5):
        text_in(client, f"+1212555017{n}", "about a 2")
    assert statements_for(client, "/") == one
