"""The set-up and operations commands a clinic's admin runs."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import app_config
from support import enroll

from bot import create_app, episodes
from bot.extensions import db
from bot.models import AuditEvent, CheckIn, Clinic, Patient, Provider, TreatmentSession

NY = ZoneInfo("America/New_York")


def test_create_clinic_normalises_the_phone_and_checks_the_sms_name(runner):
    result = runner.invoke(args=["create-clinic", "--name", "Harbor Physical Therapy", "--sms-name", "Harbor PT",
                                 "--phone", "(212) 555-0100", "--timezone", "America/New_York"])
    assert result.exit_code == 0, result.output
    clinic = db.session.scalars(sa.select(Clinic)).one()
    assert (clinic.phone, clinic.sms_name, clinic.emergency_backup_minutes) == ("+12125550100", "Harbor PT", 15)
    too_long = runner.invoke(args=["create-clinic", "--name", "X", "--sms-name", "Northwestern Spine Physio",
                                   "--phone", "2125550100", "--timezone", "America/New_York"])
    assert too_long.exit_code != 0 and "every text fits one SMS" in too_long.output
    bad_zone = runner.invoke(args=["create-clinic", "--name", "X", "--sms-name", "X", "--phone", "2125550100",
                                   "--timezone", "Mars/Olympus"])
    assert bad_zone.exit_code != 0 and "not an IANA time zone" in bad_zone.output


def test_create_provider_asks_for_a_password_and_refuses_a_short_one(runner, clinic):
    args = ["create-provider", "--clinic", str(clinic.id), "--name", "Cara Reyes", "--email", "Cara@Harbor.example",
            "--phone", "212 555 0133", "--duty", "on_call"]
    assert "at least 10 characters" in runner.invoke(args=args, input="short\nshort\n").output
    result = runner.invoke(args=args, input="a long enough secret\na long enough secret\n")
    assert result.exit_code == 0, result.output
    cara = db.session.scalars(sa.select(Provider).where(Provider.email == "cara@harbor.example")).one()
    assert cara.phone == "+12125550133" and cara.check_password("a long enough secret")
    again = runner.invoke(args=args, input="a long enough secret\na long enough secret\n")
    assert again.exit_code != 0 and "exists" in again.output


def test_seed_demo_creates_a_login_once_and_only_on_an_empty_database(runner):
    first = runner.invoke(args=["seed-demo"])
    assert "demo@example.com with password: " in first.output
    password = first.output.rsplit(": ", 1)[1].strip()
    assert db.session.scalars(sa.select(Provider)).one().check_password(password)
    assert "already has a clinic" in runner.invoke(args=["seed-demo"]).output


def test_enroll_reads_a_time_without_offset_on_the_clinics_clock(runner, clinic):
    result = runner.invoke(args=["enroll", "--clinic", str(clinic.id), "--phone", "2125550143", "--name", "Maria Lopez",
                                 "--ended-at", "2026-11-17T10:00", "--region", "knee",
                                 "--now", "2026-11-17T15:05:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "C1    Tue 2026-11-17 14:00 EST" in result.output
    session = db.session.scalars(sa.select(TreatmentSession)).one()
    assert session.ended_at == datetime(2026, 11, 17, 10, 0, tzinfo=NY)


def test_close_episode_and_correct_session_from_the_command_line(runner, clinic, clock):
    now = clock.set(datetime(2026, 11, 17, 15, 5, tzinfo=NY))
    e = enroll(clinic, ended=datetime(2026, 11, 17, 15, 0, tzinfo=NY), now=now)
    result = runner.invoke(args=["correct-session", "--session", str(e.session.id), "--ended-at", "2026-11-17T11:00"])
    assert result.exit_code == 0, result.output
    assert "C2    Wed 2026-11-18 11:00 EST  planned" in result.output
    assert "closed" in runner.invoke(args=["close-episode", "--session", str(e.session.id)]).output
    statuses = set(db.session.scalars(sa.select(CheckIn.status).where(CheckIn.protocol_id != "C0")))
    assert statuses == {"cancelled"}
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"episode.time_corrected", "episode.closed"} <= actions


def test_dispatch_once_reports_what_it_did(runner, clinic):
    enroll(clinic, ended=datetime(2026, 11, 17, 10, 0, tzinfo=NY))
    result = runner.invoke(args=["dispatch", "--once", "--now", "2026-11-17T15:00:00+00:00"])
    assert result.exit_code == 0 and "checkins_queued=1" in result.output and "sent=1" in result.output


def test_the_triage_word_list_is_regenerated_from_dictionary_files(runner, tmp_path):
    dictionary = tmp_path / "words"
    dictionary.write_text("asiento\nbeautiful\nheaving\n")  # asiento is one letter from aliento (breath)
    out = tmp_path / "real_words.txt"
    result = runner.invoke(args=["triage-real-words", str(dictionary), "--out", str(out)])
    assert result.exit_code == 0, result.output
    listed = {line for line in out.read_text().splitlines() if line and not line.startswith("#")}
    assert "asiento" in listed and "beautiful" not in listed


# Careless input (issue 10, item 14): every command answers "Error: <field>: <message>", exits 2,
# saves nothing, and never prints a traceback or the phone number it was given.

def rows(*models) -> list[int]:
    return [db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in models]


def refused_quietly(result, *lines: str, phone: str = "") -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == list(lines)
    assert "Traceback" not in result.output and (not phone or phone not in result.output)


ENROL = {"--phone": "2125550143", "--name": "Maria Lopez", "--ended-at": "2026-11-17T10:00", "--region": "knee",
         "--now": "2026-11-17T15:05:00+00:00"}
TRACEBACK_NAME = "Maria Lopez " * 40 + 'Traceback (most recent call last):\n  File "enroll.py", line 3'


@pytest.mark.parametrize("option, value, line", [
    ("--name", "", "Error: name: Enter a name."),
    ("--name", "   ", "Error: name: Enter a name."),
    ("--name", "Maria\x1b[2JLopez", "Error: name: Remove the control characters (line breaks, tabs or invisible "
                                     "characters)."),
    ("--name", TRACEBACK_NAME, "Error: name: Remove the control characters (line breaks, tabs or invisible "
                               "characters)."),
    ("--name", TRACEBACK_NAME.replace("\n", " "), "Error: name: Use at most 120 characters (this one has 539)."),
    ("--phone", "212-555-CALL", "Error: phone: Write the number in digits: letters are not read as digits."),
    ("--phone", "555-0143", "Error: phone: This number is too short: include the area code."),
    ("--ended-at", "1900-01-01", "Error: ended_at: Add the time of day, such as 1900-01-01 15:30."),
    ("--ended-at", "1900-01-01T10:00", "Error: ended_at: This is more than 7 days ago: the protocol's last check-in "
                                       "(day 7) has passed."),
    ("--ended-at", "2026-11-17T10:06", "Error: ended_at: This is in the future: enter when the session ended."),
    ("--ended-at", "17/11/2026 10am", "Error: ended_at: Write a date and time such as 2026-11-21 15:30 "
                                      "(or 2026-11-21T15:30-05:00)."),
    ("--region", "elbow", "Error: regions: 'elbow' is not a region: choose from arm, calf, chest, foot, forearm, "
                          "gluteal, hand, head, hip, jaw, knee, lower_back, neck, scalenes, shoulder, thigh, "
                          "thoracic, upper_back, upper_trapezius."),
    ("--precaution", "aspirin", "Error: precautions: 'aspirin' is not a precaution: choose from anticoagulant, "
                                "diabetes, first_session, immunosuppressed, lung_disease, pregnancy."),
    ("--language", "fr", "Error: language: 'fr' is not a language the texts are written in: choose en or es."),
    ("--timezone", "Mars/Olympus", "Error: timezone: 'Mars/Olympus' is not an IANA time zone such as "
                                   "America/New_York."),
    ("--now", "soon", "Error: now: Write a date and time such as 2026-11-21 15:30 (or 2026-11-21T15:30-05:00)."),
])
def test_enroll_refuses_careless_input_naming_the_field_and_saves_nothing(runner, clinic, option, value, line):
    args = dict(ENROL, **{option: value})
    result = runner.invoke(args=["enroll", "--clinic", str(clinic.id), *[x for kv in args.items() for x in kv]])
    refused_quietly(result, line, phone="0143")
    assert rows(Patient, TreatmentSession, CheckIn, AuditEvent) == [0, 0, 0, 0]


def test_enroll_lists_every_field_at_fault_at_once(runner, clinic):
    result = runner.invoke(args=["enroll", "--clinic", str(clinic.id), "--phone", "212-555-CALL", "--name", " ",
                                 "--ended-at", "1900-01-01", "--region", "knee", "--region", "elbow"])
    refused_quietly(result, "Error: name: Enter a name.",
                    "Error: phone: Write the number in digits: letters are not read as digits.",
                    "Error: ended_at: Add the time of day, such as 1900-01-01 15:30.",
                    "Error: regions: 'elbow' is not a region: choose from arm, calf, chest, foot, forearm, gluteal, "
                    "hand, head, hip, jaw, knee, lower_back, neck, scalenes, shoulder, thigh, thoracic, upper_back, "
                    "upper_trapezius.")
    assert rows(Patient, TreatmentSession) == [0, 0]


def test_enroll_names_an_unknown_clinic_or_provider(runner, clinic):
    args = [x for kv in ENROL.items() for x in kv]
    refused_quietly(runner.invoke(args=["enroll", "--clinic", "999", *args]), "Error: clinic: No clinic with id 999.")
    refused_quietly(runner.invoke(args=["enroll", "--clinic", str(clinic.id), "--provider", "999", *args]),
                    f"Error: provider: No provider 999 at clinic {clinic.id}.")
    assert rows(Patient) == [0]


def test_enroll_reads_a_session_time_on_the_patients_own_clock(runner, clinic):
    args = dict(ENROL, **{"--now": "2026-11-17T16:05:00+00:00"})  # 10:05 in Chicago
    result = runner.invoke(args=["enroll", "--clinic", str(clinic.id), "--timezone", "america/chicago",
                                 *[x for kv in args.items() for x in kv]])
    assert result.exit_code == 0, result.output
    session = db.session.scalars(sa.select(TreatmentSession)).one()
    assert session.ended_at == datetime(2026, 11, 17, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
    assert session.patient.timezone == "America/Chicago"


def test_a_database_error_in_a_command_prints_neither_a_traceback_nor_the_phone_number(runner, clinic, monkeypatch):
    def refuse(**fields):
        db.session.add(Patient(clinic=clinic, phone=fields["phone"], name=fields["name"]))
        db.session.flush()
        raise sa.exc.IntegrityError("INSERT INTO patients (clinic_id, name, phone) VALUES (%(clinic_id)s, "
                                    "%(name)s, %(phone)s)", {"name": fields["name"], "phone": fields["phone"]},
                                    Exception("duplicate key value violates unique constraint"))

    monkeypatch.setattr(episodes, "enroll", refuse)
    result = runner.invoke(args=["enroll", "--clinic", str(clinic.id), *[x for kv in ENROL.items() for x in kv]])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: database: ") and "nothing was saved" in result.stderr
    assert "+12125550143" not in result.output and "Maria" not in result.output and "Traceback" not in result.output
    assert rows(Patient) == [0]


def test_a_real_database_error_prints_its_kind_and_not_the_values_it_carried(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path / 'never-migrated.db'}", tmp_path))
    with app.app_context():
        result = app.test_cli_runner().invoke(args=[
            "create-clinic", "--name", "Harbor Physical Therapy", "--sms-name", "Harbor PT",
            "--phone", "(212) 555-0100", "--timezone", "America/New_York"])
        db.session.remove()
        db.engine.dispose()
    assert result.exit_code == 1
    assert result.stderr == ("Error: database: the database is unreachable, not answering, or not migrated "
                             "(flask db upgrade); nothing was saved [OperationalError].\n")
    assert result.stdout == "" and "Traceback" not in result.output


@pytest.mark.parametrize("option, value, line", [
    ("--name", "", "Error: name: Enter a name."),
    ("--name", "x" * 500, "Error: name: Use at most 120 characters (this one has 500)."),
    ("--sms-name", "Harbor\nPT", "Error: sms_name: Remove the control characters (line breaks, tabs or invisible "
                                  "characters)."),
    ("--phone", "212-555-CALL", "Error: phone: Write the number in digits: letters are not read as digits."),
    ("--timezone", "", "Error: timezone: Enter a time zone, such as America/New_York."),
])
def test_create_clinic_refuses_careless_input_and_saves_nothing(runner, option, value, line):
    args = {"--name": "Harbor Physical Therapy", "--sms-name": "Harbor PT", "--phone": "(212) 555-0100",
            "--timezone": "America/New_York", option: value}
    refused_quietly(runner.invoke(args=["create-clinic", *[x for kv in args.items() for x in kv]]), line)
    assert rows(Clinic, AuditEvent) == [0, 0]


@pytest.mark.parametrize("option, value, line", [
    ("--name", "\t", "Error: name: Enter a name."),
    ("--email", "not an address", "Error: email: An email address must have an @-sign."),
    ("--email", "dana@harbor.example", "Error: email: A provider with this email address already exists."),
    ("--phone", "212-555-CALL", "Error: phone: Write the number in digits: letters are not read as digits."),
    ("--phone", "+1 800 555 0100", "Error: phone: This number cannot take text messages (a landline, toll-free or "
                                   "premium-rate number): enter a mobile number."),
])
def test_create_provider_refuses_careless_input_and_saves_nothing(runner, clinic, option, value, line):
    args = {"--name": "Cara Reyes", "--email": "cara@harbor.example", "--phone": "212 555 0133", option: value}
    result = runner.invoke(args=["create-provider", "--clinic", str(clinic.id),
                                 *[x for kv in args.items() for x in kv]],
                           input="a long enough secret\na long enough secret\n")
    assert result.exit_code == 2 and line in result.stderr.splitlines(), result.output
    assert "Traceback" not in result.output
    assert rows(Provider, AuditEvent) == [2, 0]


def test_correct_session_refuses_a_time_outside_the_protocol_and_keeps_the_plan(runner, clinic, clock):
    now = clock.set(datetime(2026, 11, 17, 15, 5, tzinfo=NY))
    e = enroll(clinic, ended=datetime(2026, 11, 17, 15, 0, tzinfo=NY), now=now)
    planned = [c.due_at for c in e.session.checkins]
    result = runner.invoke(args=["correct-session", "--session", str(e.session.id), "--ended-at", "1900-01-01T10:00"])
    refused_quietly(result, "Error: ended_at: This is more than 7 days ago: the protocol's last check-in (day 7) "
                            "has passed.")
    refused_quietly(runner.invoke(args=["correct-session", "--session", "999", "--ended-at", "2026-11-17T10:00"]),
                    "Error: session: No session 999.")
    db.session.expire_all()
    assert [c.due_at for c in e.session.checkins] == planned
    assert "episode.time_corrected" not in set(db.session.scalars(sa.select(AuditEvent.action)))


# A number on file (issue 10, item 1): never overwritten without --new-session-for; a new session keeps the
# patient's name, language and precautions unless --rename / --change-precautions say otherwise.

def enrol_again(runner, clinic, *extra: str):
    args = dict(ENROL, **{"--name": "Mario Lopez", "--ended-at": "2026-11-17T10:04"})
    return runner.invoke(args=["enroll", "--clinic", str(clinic.id), *[x for kv in args.items() for x in kv], *extra])


@pytest.fixture
def maria_on_file(clinic):
    return enroll(clinic, ended=datetime(2026, 11, 16, 15, 0, tzinfo=NY), precautions=("anticoagulant",),
                  language="es").patient


def test_enroll_refuses_a_number_on_file_and_says_how_to_record_a_new_session(runner, clinic, maria_on_file):
    pid = maria_on_file.id
    refused_quietly(enrol_again(runner, clinic),
                    f"Error: phone: This number is on file for patient {pid}. To record a new session for them, "
                    f"add --new-session-for {pid} (their name, language and precautions are kept).", phone="0143")
    db.session.expire_all()
    kept = db.session.get(Patient, pid)
    assert (kept.name, kept.language, kept.precautions) == ("Maria Lopez", "es", ["anticoagulant"])
    assert list(db.session.scalars(sa.select(TreatmentSession.status))) == ["open"]


def test_enroll_new_session_for_keeps_the_patient_on_file(runner, clinic, maria_on_file):
    args = dict(ENROL, **{"--ended-at": "2026-11-17T10:04"})
    del args["--name"]
    result = runner.invoke(args=["enroll", "--clinic", str(clinic.id), "--new-session-for", str(maria_on_file.id),
                                 *[x for kv in args.items() for x in kv]])
    assert result.exit_code == 0, result.output
    assert f"New session for patient {maria_on_file.id}" in result.output
    db.session.expire_all()
    kept = db.session.get(Patient, maria_on_file.id)
    assert (kept.name, kept.language, kept.precautions) == ("Maria Lopez", "es", ["anticoagulant"])
    assert list(db.session.scalars(sa.select(TreatmentSession.status).order_by(TreatmentSession.id))) == \
           ["superseded", "open"]


def test_enroll_new_session_refuses_another_name_without_rename(runner, clinic, maria_on_file):
    pid = maria_on_file.id
    result = enrol_again(runner, clinic, "--new-session-for", str(pid))
    assert result.exit_code == 2 and "Error: name: " in result.stderr and "--rename" in result.stderr
    renamed = enrol_again(runner, clinic, "--new-session-for", str(pid), "--rename", "Mario Lopez",
                          "--change-precautions", "anticoagulant,diabetes")
    assert renamed.exit_code == 0, renamed.output
    db.session.expire_all()
    assert (db.session.get(Patient, pid).name, db.session.get(Patient, pid).precautions) == \
           ("Mario Lopez", ["anticoagulant", "diabetes"])


def test_enroll_new_session_for_another_patient_is_refused(runner, clinic, maria_on_file):
    ana = enroll(clinic, ended=datetime(2026, 11, 16, 15, 0, tzinfo=NY), phone="+12125550177", name="Ana Ruiz")
    result = enrol_again(runner, clinic, "--new-session-for", str(ana.patient.id))
    assert result.exit_code == 2 and result.stderr.startswith("Error: new_session_for: ")
    assert f"patient {maria_on_file.id}" in result.stderr


def test_enroll_without_a_name_is_refused_for_a_new_number(runner, clinic):
    args = {k: v for k, v in ENROL.items() if k != "--name"}
    result = runner.invoke(args=["enroll", "--clinic", str(clinic.id), *[x for kv in args.items() for x in kv]])
    refused_quietly(result, "Error: name: Enter a name.", phone="0143")


def test_enroll_change_precautions_none_clears_them_on_purpose_and_only_for_a_new_session(runner, clinic,
                                                                                          maria_on_file):
    new_number = runner.invoke(args=["enroll", "--clinic", str(clinic.id), "--phone", "2125550177", "--name",
                                     "Ana Ruiz", "--ended-at", "2026-11-17T10:04", "--region", "knee",
                                     "--change-precautions", "none", "--now", "2026-11-17T15:05:00+00:00"])
    assert new_number.exit_code == 2 and "Error: change_precautions: Only for a new session" in new_number.stderr
    cleared = enrol_again(runner, clinic, "--new-session-for", str(maria_on_file.id), "--rename", "Mario Lopez",
                          "--change-precautions", "none")
    assert cleared.exit_code == 0, cleared.output
    db.session.expire_all()
    assert db.session.get(Patient, maria_on_file.id).precautions == []
