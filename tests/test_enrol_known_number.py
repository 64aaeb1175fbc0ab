"""A number already on file (issue 10, item 1): enrolling it again never overwrites the patient
without an explicit choice. Without `new_session_for` it is refused, naming the patient on file;
with it, a new session is recorded and the patient's name, language and precautions are kept
unless the caller changes them on purpose, so an anticoagulated patient's bruise stays urgent (U4)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, lakeside, text_in

from bot import episodes, validation
from bot.extensions import db
from bot.models import Assessment, AuditEvent, CheckIn, Patient, TreatmentSession

NY = ZoneInfo("America/New_York")
MARIA = "+12125550143"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def maria(clinic):
    """Maria, anticoagulated, Spanish-speaking, enrolled a week ago; her episode is still open."""
    return enroll(clinic, ended=ny(2026, 11, 11, 15, 0), name="Maria Lopez", precautions=("anticoagulant",),
                  language="es").patient


def again(clinic, **changes):
    """The same number enrolled after today's session, as a careless door would: a fresh name, no precautions."""
    fields = dict(clinic=clinic, phone=MARIA, name="Mario Lopez", ended_at=ny(2026, 11, 17, 15, 0),
                  regions=["upper_trapezius"], precautions=[], language="en", now=ny(2026, 11, 17, 15, 5))
    return episodes.enroll(**{**fields, **changes})


def reread(patient_id: int) -> Patient:
    db.session.expire_all()
    return db.session.get(Patient, patient_id)


def session_statuses() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(TreatmentSession.status).order_by(TreatmentSession.id)))


def test_a_number_on_file_is_refused_naming_the_patient_and_nothing_changes(clinic, maria):
    with pytest.raises(validation.ValidationError) as refused:
        again(clinic)
    db.session.rollback()
    assert refused.value.field == "phone"
    message = refused.value.message
    assert f"patient {maria.id}" in message and "new session" in message
    assert "0143" not in message and "Maria" not in message  # the id, never the number or the name
    kept = reread(maria.id)
    assert (kept.name, kept.language, kept.precautions) == ("Maria Lopez", "es", ["anticoagulant"])
    assert session_statuses() == ["open"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckIn).where(CheckIn.status == "cancelled")) == 0


def test_the_refusal_names_every_other_field_at_fault_too(clinic, maria):
    with pytest.raises(validation.ValidationError) as refused:
        again(clinic, regions=["elbow"])
    assert set(refused.value.errors) == {"phone", "regions"}


def test_a_new_session_for_the_patient_keeps_their_name_language_and_precautions(clinic, maria):
    enrolment = again(clinic, new_session_for=maria.id, name=None, precautions=None, language=None)
    db.session.commit()
    kept = reread(maria.id)
    assert enrolment.patient.id == maria.id
    assert (kept.name, kept.language, kept.precautions) == ("Maria Lopez", "es", ["anticoagulant"])
    assert session_statuses() == ["superseded", "open"]
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "episode.enrolled")
                               .order_by(AuditEvent.id.desc()).limit(1)).one()
    assert event.detail["new_session_for"] == maria.id


def test_the_same_name_and_precautions_given_again_are_no_change(clinic, maria):
    again(clinic, new_session_for=maria.id, name="maria  lopez", precautions=["anticoagulant"], language="es")
    kept = reread(maria.id)
    assert (kept.name, kept.precautions) == ("Maria Lopez", ["anticoagulant"])


@pytest.mark.parametrize("changes, field", [
    ({"name": "Mario Lopez"}, "name"),
    ({"precautions": []}, "precautions"),
    ({"precautions": ["diabetes"]}, "precautions"),
])
def test_another_name_or_precautions_without_saying_so_are_refused(clinic, maria, changes, field):
    with pytest.raises(validation.ValidationError) as refused:
        again(clinic, new_session_for=maria.id, **{"name": None, "precautions": None, **changes})
    db.session.rollback()
    assert field in refused.value.errors
    assert session_statuses() == ["open"]
    assert reread(maria.id).precautions == ["anticoagulant"]


def test_a_name_or_precautions_are_changed_only_on_purpose(clinic, maria):
    again(clinic, new_session_for=maria.id, name=None, precautions=None, language="en", rename="Maria Lopez Ruiz",
          change_precautions=["anticoagulant", "diabetes"])
    kept = reread(maria.id)
    assert (kept.name, kept.language, kept.precautions) == ("Maria Lopez Ruiz", "en", ["anticoagulant", "diabetes"])
    again(clinic, new_session_for=maria.id, name=None, precautions=None, change_precautions=[],
          ended_at=ny(2026, 11, 17, 15, 1), now=ny(2026, 11, 17, 15, 6))
    assert reread(maria.id).precautions == []


def test_new_session_for_must_be_the_patient_who_owns_the_number(clinic, maria):
    ana = enroll(clinic, ended=ny(2026, 11, 11, 15, 0), phone="+12125550177", name="Ana Ruiz").patient
    with pytest.raises(validation.ValidationError) as wrong_patient:
        again(clinic, new_session_for=ana.id, name=None, precautions=None)
    assert set(wrong_patient.value.errors) == {"new_session_for"}
    assert f"patient {maria.id}" in wrong_patient.value.message
    db.session.rollback()
    with pytest.raises(validation.ValidationError) as new_number:
        again(clinic, phone="+12125550199", new_session_for=maria.id, name=None, precautions=None)
    assert set(new_number.value.errors) == {"new_session_for"}
    db.session.rollback()
    theirs = enroll(lakeside(), ended=ny(2026, 11, 11, 15, 0), phone=MARIA, name="Maria Lake").patient
    with pytest.raises(validation.ValidationError) as other_clinic:
        again(clinic, new_session_for=theirs.id, name=None, precautions=None)
    assert set(other_clinic.value.errors) == {"new_session_for"}


def test_rename_and_change_precautions_are_only_for_a_new_session(clinic):
    with pytest.raises(validation.ValidationError) as refused:
        again(clinic, rename="Mario Lopez", change_precautions=["diabetes"])
    assert set(refused.value.errors) == {"rename", "change_precautions"}


def test_a_new_patient_needs_a_name(clinic):
    with pytest.raises(validation.ValidationError) as refused:
        again(clinic, name=None)
    assert set(refused.value.errors) == {"name"}


def test_the_same_number_at_another_clinic_is_another_patient(clinic):
    enroll(lakeside(), ended=ny(2026, 11, 11, 15, 0), phone=MARIA, name="Maria Lake")
    assert again(clinic).patient.name == "Mario Lopez"


def test_a_bruise_after_a_new_session_is_still_urgent_for_an_anticoagulated_patient(client, clinic, maria, clock):
    """The defect as it was seen: re-enrolment wiped `anticoagulant`, and U4 read the bruise as routine."""
    clock.set(ny(2026, 11, 17, 15, 5))
    again(clinic, new_session_for=maria.id, name=None, precautions=None, language=None)
    db.session.commit()
    clock.set(ny(2026, 11, 17, 19, 0))
    text_in(client, MARIA, "a 3, moretón enorme, más grande que mi mano")
    db.session.expire_all()
    assessment = db.session.scalars(sa.select(Assessment).order_by(Assessment.id.desc()).limit(1)).one()
    assert assessment.level == "urgent" and "U4" in assessment.rules


def test_a_number_enrolled_by_another_door_a_moment_ago_is_refused_as_on_file(clinic, maria, monkeypatch):
    """Two doors enrol one new number at once: the one that checks first and inserts second is told whose
    number it is now, as if it had looked a moment later (the unique (clinic, phone) index decides)."""
    real, looks = episodes.on_file, []

    def a_moment_too_early(of_clinic):
        lookup = real(of_clinic)
        return lambda number: None if not looks.append(number) and len(looks) == 1 else lookup(number)

    monkeypatch.setattr(episodes, "on_file", a_moment_too_early)
    with pytest.raises(validation.PatientOnFile) as refused:
        again(clinic)
    assert refused.value.patient_id == maria.id and refused.value.field == "phone"
    db.session.rollback()
    assert session_statuses() == ["open"]
    assert reread(maria.id).precautions == ["anticoagulant"]


def test_what_a_new_session_changed_on_purpose_is_audited_by_field_name_only(clinic, maria):
    again(clinic, new_session_for=maria.id, name=None, precautions=None, language="es", rename="Maria Ruiz")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "episode.enrolled")
                               .order_by(AuditEvent.id.desc()).limit(1)).one()
    assert event.detail["changed"] == ["name"] and "Ruiz" not in str(event.detail)
