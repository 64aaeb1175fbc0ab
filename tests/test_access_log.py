"""The access log: who opened which patient's record, and when, shown to the clinic's admins.

HIPAA asks a clinic to be able to answer "who looked at my record?". Every opening of a patient's
course is recorded; admins read the log, filtered by patient or provider; providers cannot.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, lakeside, sign_in

from bot.extensions import db
from bot.models import AccessEvent, Provider

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def admin(clinic):
    """Ben is the clinic's admin as well as its backup provider."""
    ben = db.session.get(Provider, 2)
    ben.role = "admin"
    db.session.commit()
    return ben


@pytest.fixture
def patients(clinic):
    maria = enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name="Maria Lopez").patient
    sam = enroll(clinic, ended=ny(2026, 11, 17, 10, 0), name="Sam Reed", phone="+12125550144").patient
    return maria, sam


def test_opening_a_patients_course_records_who_opened_it_and_when(client, clinic, clock, patients):
    maria, _ = patients
    clock.set(ny(2026, 11, 17, 15, 2))
    sign_in(client)
    assert client.get(f"/patients/{maria.id}").status_code == 200
    event = db.session.scalars(sa.select(AccessEvent)).one()
    assert (event.provider_id, event.patient_id, event.clinic_id, event.record) == (1, maria.id, clinic.id, "course")
    assert event.created_at == ny(2026, 11, 17, 15, 2)


def test_a_record_that_is_not_shown_is_not_logged_as_opened(client, clinic, patients):
    other = enroll(lakeside(), ended=ny(2026, 11, 17, 10, 0), name="Zed Other", phone="+13125550177").patient
    sign_in(client)
    assert client.get(f"/patients/{other.id}").status_code == 404
    assert db.session.scalars(sa.select(AccessEvent)).all() == []


def test_an_admin_reads_who_opened_which_record_newest_first(app, client, clinic, clock, admin, patients):
    maria, sam = patients
    dana = app.test_client()
    sign_in(dana)
    clock.set(ny(2026, 11, 17, 15, 2))
    dana.get(f"/patients/{maria.id}")
    clock.set(ny(2026, 11, 17, 15, 9))
    dana.get(f"/patients/{sam.id}")
    sign_in(client, email="ben@harbor.example")
    page = client.get("/access-log").get_data(as_text=True)
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]
    assert len(rows) == 2
    assert "Sam Reed" in rows[0] and "Dana Oncall" in rows[0] and "Tue Nov 17, 15:09 EST" in rows[0]
    assert "Maria Lopez" in rows[1] and "Tue Nov 17, 15:02 EST" in rows[1]
    assert "course" in rows[0]


def test_the_access_log_filters_by_patient_and_by_provider(app, client, clinic, admin, patients):
    maria, sam = patients
    dana = app.test_client()
    sign_in(dana)
    dana.get(f"/patients/{maria.id}")
    dana.get(f"/patients/{sam.id}")
    sign_in(client, email="ben@harbor.example")
    client.get(f"/patients/{maria.id}")

    def names(**query) -> tuple[int, int, int, int]:
        page = client.get("/access-log", query_string=query).get_data(as_text=True)
        body = page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""
        return body.count("Maria Lopez"), body.count("Sam Reed"), body.count("Dana Oncall"), body.count("Ben Backup")

    assert names() == (2, 1, 2, 1)
    assert names(patient=maria.id) == (2, 0, 1, 1)
    assert names(provider=1) == (1, 1, 2, 0)
    assert names(patient=sam.id, provider=2) == (0, 0, 0, 0)


def test_the_access_log_is_paginated(client, clinic, clock, admin, patients):
    maria, _ = patients
    sign_in(client, email="ben@harbor.example")
    for minute in range(55):
        clock.set(ny(2026, 11, 17, 12, minute))
        client.get(f"/patients/{maria.id}")
    first = client.get("/access-log").get_data(as_text=True)
    assert first.count("Maria Lopez</a>") == 50
    assert "12:54 EST" in first and "12:04 EST" not in first
    older = first.split('<a rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert second.count("Maria Lopez</a>") == 5
    assert "12:04 EST" in second and "12:00 EST" in second and "12:05 EST" not in second
    assert 'rel="next"' not in second


def test_a_provider_cannot_read_the_access_log(client, clinic):
    sign_in(client)
    assert client.get("/access-log").status_code == 403


def test_the_access_log_needs_a_login(client):
    response = client.get("/access-log")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_an_admin_sees_only_her_clinics_access_log(app, client, clinic, admin, patients):
    other = lakeside()
    zed = enroll(other, ended=ny(2026, 11, 17, 10, 0), name="Zed Other", phone="+13125550177").patient
    olga = app.test_client()
    sign_in(olga, email="olga@lakeside.example", password="another long password")
    olga.get(f"/patients/{zed.id}")
    sign_in(client, email="ben@harbor.example")
    page = client.get("/access-log").get_data(as_text=True)
    assert "Zed Other" not in page and "Olga Lake" not in page
    assert client.get("/access-log", query_string={"patient": zed.id}).status_code == 404
    assert client.get("/access-log", query_string={"provider": 3}).status_code == 404
    assert client.get("/access-log", query_string={"patient": "x"}).status_code == 400
