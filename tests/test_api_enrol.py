"""POST /api/v1/episodes: a practice system enrols a patient after a session. A new number is a new
patient; a number on file is never taken over silently (409 naming the patient, then `new_session_for` to
record a new session for them), and their name and precautions change only when the request says so."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from api_support import bearer, make_key
from support import enroll, lakeside

from bot import records
from bot.extensions import db
from bot.models import AuditEvent, Patient, TreatmentSession

NY = ZoneInfo("America/New_York")
MARIA = "+12125550143"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def key(clinic) -> str:
    return make_key(clinic)


@pytest.fixture
def at_5pm(clock):
    clock.set(ny(2026, 11, 17, 17, 0))


def post(client, key: str, body: dict, **headers: str):
    return client.post("/api/v1/episodes", json=body, headers=bearer(key, **headers))


def visit(**extra) -> dict:
    return {"phone": "(212) 555-0143", "name": "Maria Lopez", "ended_at": "2026-11-17T15:00:00-05:00",
            "regions": ["upper_trapezius"], "precautions": ["anticoagulant"], "language": "es", **extra}


def problem_fields(response, status: int) -> set[str]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return {e["field"] for e in response.get_json().get("errors", [])}


def sessions() -> list[TreatmentSession]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(TreatmentSession).order_by(TreatmentSession.id)))


def test_a_new_number_is_a_new_patient_with_planned_check_ins_in_local_time(client, key, at_5pm):
    response = post(client, key, visit())
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/episodes/{body['episode']['id']}"
    assert body["patient_created"] is True
    assert (body["patient"]["phone"], body["patient"]["language"], body["patient"]["precautions"]) == \
           (MARIA, "es", ["anticoagulant"])
    episode = body["episode"]
    assert episode["time_zone"] == "America/New_York" and episode["regions"] == ["upper_trapezius"]
    assert episode["local_session_ended_at"] == "2026-11-17T15:00:00-05:00"
    checkins = episode["checkins"]
    assert checkins[0]["protocol_id"] == "C0"
    assert {c["time_zone"] for c in checkins} == {"America/New_York"}
    assert all(c["local_due_at"].endswith("-05:00") for c in checkins)
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "episode.enrolled")).one()
    assert event.actor.startswith("apikey:")


def test_a_time_without_an_offset_is_read_on_the_patients_zone(client, key, at_5pm):
    body = post(client, key, visit(ended_at="2026-11-17T14:00", timezone="America/Chicago")).get_json()
    assert body["episode"]["session_ended_at"] == "2026-11-17T20:00:00+00:00"
    assert body["episode"]["time_zone"] == "America/Chicago"


def test_a_number_on_file_is_refused_naming_the_patient_and_nothing_is_written(client, key, clinic, at_5pm):
    maria = enroll(clinic, ended=ny(2026, 11, 10, 15, 0))
    response = post(client, key, visit(name="Mario Lopez"))
    assert response.status_code == 409
    body = response.get_json()
    assert body["type"] == "/api/v1/problems/patient-on-file"
    assert body["existing_patient"] == {"id": maria.patient.id, "short_name": "Maria L."}
    assert f"new_session_for: {maria.patient.id}" in body["detail"] and "0143" not in body["detail"]
    assert [s.id for s in sessions()] == [maria.session.id]


def test_a_new_session_for_a_patient_on_file_keeps_their_name_and_precautions(client, key, clinic, at_5pm):
    maria = enroll(clinic, ended=ny(2026, 11, 10, 15, 0), precautions=("diabetes",))
    body = post(client, key, {"phone": MARIA, "new_session_for": maria.patient.id,
                                 "ended_at": "2026-11-17T15:00:00-05:00",
                              "regions": ["knee"]}).get_json()
    assert body["patient_created"] is False and body["patient"]["id"] == maria.patient.id
    assert (body["patient"]["name"], body["patient"]["precautions"]) == ("Maria Lopez", ["diabetes"])
    old, new = sessions()
    assert (old.status, new.status) == ("superseded", "open")


def test_the_same_name_and_precautions_may_be_sent_again(client, key, clinic, at_5pm):
    maria = enroll(clinic, ended=ny(2026, 11, 10, 15, 0), precautions=("anticoagulant",))
    response = post(client, key, visit(new_session_for=maria.patient.id, phone=MARIA))
    assert response.status_code == 201


@pytest.mark.parametrize("change, field", [({"name": "Mariana Lopez"}, "name"),
                                           ({"precautions": ["pregnancy"]}, "precautions")])
def test_another_name_or_precautions_need_their_replace_flag(client, key, clinic, at_5pm, change, field):
    maria = enroll(clinic, ended=ny(2026, 11, 10, 15, 0))
    refused = post(client, key, {"phone": MARIA, "new_session_for": maria.patient.id,
                                 "ended_at": "2026-11-17T15:00:00-05:00",
                                 "regions": ["knee"], **change})
    assert problem_fields(refused, 422) == {field}
    replaced = post(client, key, {"phone": MARIA, "new_session_for": maria.patient.id,
                                 "ended_at": "2026-11-17T15:00:00-05:00",
                                  "regions": ["knee"], f"replace_{field}": True, **change})
    assert replaced.status_code == 201
    db.session.expire_all()
    assert getattr(db.session.get(Patient, maria.patient.id), field) == next(iter(change.values()))


@pytest.mark.parametrize("body, field", [
    (visit(name=None), "name"),
    ({k: v for k, v in visit().items() if k != "name"}, "name"),
    (visit(phone="212-555-CALL"), "phone"),
    (visit(phone="+1 800 555 0199"), "phone"),
    (visit(regions=[]), "regions"),
    (visit(regions=["elbow"]), "regions"),
    (visit(precautions=["smoker"]), "precautions"),
    (visit(language="fr"), "language"),
    (visit(timezone="Mars/Olympus"), "timezone"),
    (visit(ended_at="2026-11-17T18:00:00-05:00"), "ended_at"),
    (visit(ended_at="2026-11-01T15:00:00-05:00"), "ended_at"),
    (visit(ended_at="last tuesday"), "ended_at"),
    (visit(replace_name=True), "replace_name"),
    (visit(patient_id=2**40), "patient_id"),
    (visit(new_session_for=2**40), "new_session_for"),
    (visit(new_session_for=3, patient_id=4), "patient_id"),
    (visit(provider_id=999), "provider_id"),
    (visit(nickname="Mari"), "nickname"),
])
def test_a_field_at_fault_is_named_and_nothing_is_saved(client, key, at_5pm, body, field):
    assert field in problem_fields(post(client, key, body), 422)
    assert sessions() == [] and db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 0


def test_every_field_at_fault_is_named_at_once(client, key, at_5pm):
    fields = problem_fields(post(client, key, visit(phone="call me", regions=["elbow"], language="fr")), 422)
    assert fields == {"phone", "regions", "language"}


def test_a_patient_id_that_is_not_this_numbers_patient_is_refused(client, key, clinic, at_5pm):
    maria = enroll(clinic, ended=ny(2026, 11, 10, 15, 0))
    ana = enroll(clinic, ended=ny(2026, 11, 10, 15, 0), phone="+12125550177", name="Ana Ruiz")
    response = post(client, key, visit(phone=MARIA, new_session_for=ana.patient.id, name=None))
    assert problem_fields(response, 422) == {"new_session_for"}
    assert f"patient {maria.patient.id}" in response.get_json()["errors"][0]["message"]
    assert "new_session_for" in problem_fields(post(client, key, visit(phone="+12125550999",
                                                                       new_session_for=ana.patient.id, name=None)), 422)


def test_another_clinics_patient_id_is_as_unknown_as_a_missing_one(client, key, at_5pm):
    theirs = enroll(lakeside(), ended=ny(2026, 11, 10, 15, 0), phone="+13125550177", name="Luis Lake")
    assert problem_fields(post(client, key, visit(new_session_for=theirs.patient.id)), 422) == {"new_session_for"}
    assert problem_fields(post(client, key, visit(patient_id=theirs.patient.id)), 422) == {"patient_id"}


def test_the_same_number_at_another_clinic_is_another_patient(client, key, at_5pm):
    enroll(lakeside(), ended=ny(2026, 11, 10, 15, 0), phone=MARIA, name="Maria Lopez")
    body = post(client, key, visit()).get_json()
    assert body["patient_created"] is True


def test_a_retried_enrolment_is_one_enrolment(client, key, at_5pm):
    first = post(client, key, visit(), **{"Idempotency-Key": "visit-4711"})
    again = post(client, key, visit(), **{"Idempotency-Key": "visit-4711"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json() and again.headers["Location"] == first.headers["Location"]
    assert len(sessions()) == 1


def test_a_refused_enrolment_does_not_use_up_its_idempotency_key(client, key, clinic, at_5pm):
    maria = enroll(clinic, ended=ny(2026, 11, 10, 15, 0))
    assert post(client, key, visit(phone=MARIA), **{"Idempotency-Key": "visit-9"}).status_code == 409
    retry = post(client, key, visit(phone=MARIA, new_session_for=maria.patient.id, name=None, precautions=None),
                 **{"Idempotency-Key": "visit-9"})
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers


def test_an_opted_out_patients_new_episode_is_planned_but_not_sent(client, key, clinic, at_5pm):
    maria = enroll(clinic, ended=ny(2026, 11, 10, 15, 0))
    client.post(f"/api/v1/patients/{maria.patient.id}/opt-out", headers=bearer(key))
    body = post(client, key, visit(phone=MARIA, new_session_for=maria.patient.id, name=None,
                                   precautions=None)).get_json()
    assert {c["status"] for c in body["episode"]["checkins"]} == {"cancelled"}
    assert {c["status_reason"] for c in body["episode"]["checkins"]} == {"opted out"}


def test_the_former_name_patient_id_still_records_a_new_session(client, key, clinic, at_5pm):
    maria = enroll(clinic, ended=ny(2026, 11, 10, 15, 0), precautions=("anticoagulant",))
    body = post(client, key, {"phone": MARIA, "patient_id": maria.patient.id, "ended_at": "2026-11-17T15:00:00-05:00",
                              "regions": ["knee"]}).get_json()
    assert body["patient"]["id"] == maria.patient.id and body["patient"]["precautions"] == ["anticoagulant"]


def test_a_patient_comes_with_their_episodes_newest_first(client, key, clinic, at_5pm):
    maria = enroll(clinic, ended=ny(2026, 11, 10, 15, 0))
    later = post(client, key, visit(phone=MARIA, new_session_for=maria.patient.id, name=None,
                                    precautions=None)).get_json()
    body = client.get(f"/api/v1/patients/{maria.patient.id}", headers=bearer(key)).get_json()
    assert [e["id"] for e in body["episodes"]] == [later["episode"]["id"], maria.session.id]


def test_an_episodes_record_holds_the_texts_until_the_next_enrolment(client, key, clinic, clock):
    from support import text_in

    maria = enroll(clinic, ended=ny(2026, 11, 10, 15, 0))
    clock.set(ny(2026, 11, 10, 16, 0))
    text_in(client, MARIA, "a 3")
    clock.set(ny(2026, 11, 17, 17, 0))
    post(client, key, visit(phone=MARIA, new_session_for=maria.patient.id, name=None, precautions=None))
    clock.set(ny(2026, 11, 17, 18, 0))
    text_in(client, MARIA, "a 5 now")
    first, second = sessions()
    assert [m.body for m in records.load(first).messages if m.direction == "in"] == ["a 3"]
    assert [m.body for m in records.load(second).messages if m.direction == "in"] == ["a 5 now"]


def test_a_number_enrolled_by_another_request_meanwhile_is_a_409_not_a_500(client, key, clinic, at_5pm, monkeypatch):
    from bot import episodes

    maria = enroll(clinic, ended=ny(2026, 11, 10, 15, 0))
    real, looks = episodes.on_file, []

    def a_moment_too_early(of_clinic):
        lookup = real(of_clinic)
        return lambda number: None if not looks.append(number) and len(looks) <= 2 else lookup(number)

    monkeypatch.setattr(episodes, "on_file", a_moment_too_early)
    response = post(client, key, visit(name="Mario Lopez"))
    assert response.status_code == 409 and response.get_json()["existing_patient"]["id"] == maria.patient.id
    assert [s.id for s in sessions()] == [maria.session.id]
