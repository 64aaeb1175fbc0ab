"""Enrol after a session in the browser (issue 11): the form at /patients/new, a new session for a
patient on file, and correcting a session's time. Checked through the same validation as every
door; the planned texts shown before saving; a number on file never overwrites the patient."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import app_config
from support import enroll, lakeside, sign_in

from bot import create_app
from bot.extensions import db
from bot.models import AccessEvent, CheckIn, Patient, TreatmentSession

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def signed_in(client, clinic, clock):
    clock.set(ny(2026, 11, 17, 17, 0))
    sign_in(client)
    return client


def visit(**changes) -> dict:
    return {"name": "Ana Ruiz", "phone": "(212) 555-0177", "language": "es", "timezone": "America/New_York",
            "ended_at": "2026-11-17T15:00", "regions": ["upper_trapezius", "neck"], "precautions": ["anticoagulant"],
            **changes}


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize("path", ["/patients/new", "/patients/1/sessions/new", "/sessions/1/time"])
def test_every_enrolment_page_needs_a_login(client, clinic, path):
    for response in (client.get(path), client.post(path, data=visit())):
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert count(Patient) == 0


def test_the_form_defaults_to_the_clinics_zone_and_now(signed_in):
    page = signed_in.get("/patients/new").get_data(as_text=True)
    assert 'name="timezone" list="zones" value="America/New_York"' in page
    assert 'value="2026-11-17T17:00" max="2026-11-17T17:00"' in page  # now, and no later
    assert '<label for="phone">' in page and 'id="phone"' in page


def test_the_planned_texts_are_shown_in_the_patients_zone_before_anything_is_saved(signed_in):
    response = signed_in.post("/patients/new", data=visit(step="preview"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Planned texts, in America/New_York" in page
    assert "(212) 555-0177" in page  # formatted by phonenumbers
    assert "C1" in page and "Tue Nov 17, 19:00 EST" in page  # C1 at +4 h on the patient's clock
    assert "Ana" in page and "Harbor PT" in page  # the text itself, in Spanish, signed by the clinic
    assert count(Patient) == count(TreatmentSession) == 0
    saved = signed_in.post("/patients/new", data=visit(step="save", phone="+12125550177"))
    assert saved.status_code == 303
    ana = db.session.scalars(sa.select(Patient)).one()
    assert (ana.phone, ana.language, ana.precautions) == ("+12125550177", "es", ["anticoagulant"])
    assert ana.sessions[0].ended_at == ny(2026, 11, 17, 15, 0)
    assert saved.headers["Location"] == f"/patients/{ana.id}"


@pytest.mark.parametrize("change, field, message", [
    ({"name": "  "}, "name", "Enter a name."),
    ({"phone": "212-555-CALL"}, "phone", "Write the number in digits"),
    ({"ended_at": "2026-11-17T18:00"}, "ended_at", "This is in the future"),
    ({"ended_at": "2026-11-09T15:00"}, "ended_at", "more than 7 days ago"),
    ({"regions": []}, "regions", "Choose at least one needled region."),
    ({"timezone": "Mars/Olympus"}, "timezone", "not an IANA time zone"),
    ({"language": "fr"}, "language", "not a language the texts are written in"),
])
def test_bad_input_is_named_beside_its_field_and_what_was_typed_is_kept(signed_in, change, field, message):
    response = signed_in.post("/patients/new", data=visit(step="save", **change))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'<p class="error" id="{field}-error">' in page and message in page
    assert f'aria-describedby="{field}-error"' in page
    if field != "name":
        assert 'value="Ana Ruiz"' in page
    if field != "ended_at":
        assert 'value="2026-11-17T15:00"' in page
    assert 'value="anticoagulant" checked' in page and ('value="neck" checked' in page or field == "regions")
    assert count(Patient) == 0


@pytest.fixture
def maria(clinic):
    return enroll(clinic, ended=ny(2026, 11, 11, 15, 0), name="Maria Lopez", precautions=("anticoagulant",),
                  language="es").patient


def test_a_number_on_file_shows_the_patient_and_asks_and_overwrites_nothing(signed_in, maria):
    response = signed_in.post("/patients/new", data=visit(name="Mario Lopez", phone="212 555 0143", precautions=[],
                                                          step="save"))
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "This number is on file" in page and f"/patients/{maria.id}" in page
    assert f'name="new_session_for" value="{maria.id}"' in page
    assert 'value="Mario Lopez"' in page  # what was typed is kept
    db.session.expire_all()
    kept = db.session.get(Patient, maria.id)
    assert (kept.name, kept.precautions) == ("Maria Lopez", ["anticoagulant"])
    assert [s.status for s in kept.sessions] == ["open"]
    assert db.session.scalars(sa.select(AccessEvent.patient_id)).all() == [maria.id]  # showing it is audited
    # "Yes, a new session for them" with the typed name: the name is not changed without the box.
    again = signed_in.post("/patients/new", data=visit(name="Mario Lopez", phone="212 555 0143", precautions=[],
                                                       new_session_for=str(maria.id), step="save"))
    assert again.status_code == 400 and "on file under another name" in again.get_data(as_text=True)
    # With the name on file (or none), the session is recorded and the precautions are kept.
    saved = signed_in.post("/patients/new", data=visit(name="", phone="212 555 0143", precautions=[],
                                                       new_session_for=str(maria.id), step="save"))
    assert saved.status_code == 303
    db.session.expire_all()
    kept = db.session.get(Patient, maria.id)
    assert (kept.name, kept.language, kept.precautions) == ("Maria Lopez", "es", ["anticoagulant"])
    assert [s.status for s in kept.sessions] == ["superseded", "open"]


def test_a_new_session_does_not_take_the_forms_language_or_zone_over_the_records(signed_in, maria):
    form = visit(name="", phone="212 555 0143", precautions=[], new_session_for=str(maria.id), step="save",
                 language="en", timezone="America/Chicago")
    refused = signed_in.post("/patients/new", data=form)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'id="language-error"' in page and 'id="timezone-error"' in page
    saved = signed_in.post("/patients/new", data=dict(form, change_language="y"))
    assert saved.status_code == 303
    db.session.expire_all()
    kept = db.session.get(Patient, maria.id)
    assert (kept.language, kept.timezone, kept.precautions) == ("en", "America/Chicago", ["anticoagulant"])


def test_a_new_session_page_keeps_the_record_unless_a_change_is_ticked(signed_in, maria):
    page = signed_in.get(f"/patients/{maria.id}/sessions/new").get_data(as_text=True)
    assert 'value="Maria Lopez"' in page and 'value="anticoagulant" checked' in page
    form = {"name": "Maria Lopez", "language": "es", "timezone": "America/New_York", "ended_at": "2026-11-17T15:00",
            "regions": ["knee"], "precautions": ["diabetes"], "step": "save"}
    refused = signed_in.post(f"/patients/{maria.id}/sessions/new", data=form)
    assert refused.status_code == 400 and "other precautions on file" in refused.get_data(as_text=True)
    changed = signed_in.post(f"/patients/{maria.id}/sessions/new", data=dict(form, change_precautions="y"))
    assert changed.status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, maria.id).precautions == ["diabetes"]


def test_another_clinics_patient_or_session_is_not_found(signed_in):
    theirs = enroll(lakeside(), ended=ny(2026, 11, 17, 10, 0), name="Zed Other", phone="+13125550177")
    for path in (f"/patients/{theirs.patient.id}/sessions/new", f"/sessions/{theirs.session.id}/time"):
        assert signed_in.get(path).status_code == 404
        assert signed_in.post(path, data={"ended_at": "2026-11-17T09:00", "regions": ["knee"]}).status_code == 404
    assert count(AccessEvent) == 0
    # Their number enrolled here is a new patient of this clinic, and says nothing about theirs.
    response = signed_in.post("/patients/new", data=visit(phone="+13125550177", step="preview"))
    assert response.status_code == 200 and "Zed" not in response.get_data(as_text=True)


def test_a_session_time_is_corrected_and_what_is_to_come_moves(signed_in, clinic):
    e = enroll(clinic, ended=ny(2026, 11, 17, 15, 0), now=ny(2026, 11, 17, 15, 5))
    page = signed_in.get(f"/sessions/{e.session.id}/time").get_data(as_text=True)
    assert 'value="2026-11-17T15:00"' in page and "in America/New_York" in page
    future = signed_in.post(f"/sessions/{e.session.id}/time", data={"ended_at": "2026-11-17T18:00"})
    assert future.status_code == 400 and 'id="ended_at-error"' in future.get_data(as_text=True)
    assert 'value="2026-11-17T18:00"' in future.get_data(as_text=True)
    done = signed_in.post(f"/sessions/{e.session.id}/time", data={"ended_at": "2026-11-17T11:00"})
    assert done.status_code == 303
    db.session.expire_all()
    c2 = db.session.scalars(sa.select(CheckIn).where(CheckIn.protocol_id == "C2")).one()
    assert c2.due_at == ny(2026, 11, 18, 11, 0)


def test_a_form_without_its_csrf_token_is_refused_and_saves_nothing(database_url, tmp_path, clinic):
    app = create_app(app_config(database_url, tmp_path, WTF_CSRF_ENABLED=True))
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"email": "dana@harbor.example", "password": "correct horse battery",
                                "csrf_token": token})
    assert client.get("/patients/new").status_code == 200
    response = client.post("/patients/new", data=visit(step="save"))
    assert response.status_code in (303, 400)
    with app.app_context():
        saved = count(Patient)
        db.session.remove()
        db.engine.dispose()  # this second app's connections are closed here, not by the garbage collector
    assert saved == 0


def test_a_number_enrolled_elsewhere_after_the_preview_is_shown_as_on_file_not_a_500(signed_in, maria, monkeypatch):
    from bot import episodes

    real, looks = episodes.on_file, []

    def a_moment_too_early(of_clinic):  # the form's check and the service's both miss the other enrolment
        lookup = real(of_clinic)
        return lambda number: None if not looks.append(number) and len(looks) <= 2 else lookup(number)

    monkeypatch.setattr(episodes, "on_file", a_moment_too_early)
    response = signed_in.post("/patients/new", data=visit(name="Mario Lopez", phone="212 555 0143", step="save"))
    assert response.status_code == 409 and "This number is on file" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Patient, maria.id).name == "Maria Lopez" and count(TreatmentSession) == 1
