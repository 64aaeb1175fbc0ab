"""The set-up and operations commands a clinic's admin runs."""

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from support import enroll

from bot.extensions import db
from bot.models import AuditEvent, CheckIn, Clinic, Provider, TreatmentSession

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


def test_enroll_explains_a_bad_phone_or_an_unknown_region(runner, clinic):
    bad_phone = runner.invoke(args=["enroll", "--clinic", str(clinic.id), "--phone", "call me", "--name", "A B",
                                    "--ended-at", "2026-11-17T10:00", "--region", "knee"])
    assert bad_phone.exit_code != 0 and "is not a phone number" in bad_phone.output
    bad_region = runner.invoke(args=["enroll", "--clinic", str(clinic.id), "--phone", "2125550143", "--name", "A B",
                                     "--ended-at", "2026-11-17T10:00", "--region", "elbow"])
    assert bad_region.exit_code != 0 and "'elbow' is not one of" in bad_region.output


def test_enroll_reads_a_time_without_offset_on_the_clinics_clock(runner, clinic):
    result = runner.invoke(args=["enroll", "--clinic", str(clinic.id), "--phone", "2125550143", "--name", "Maria Lopez",
                                 "--ended-at", "2026-11-17T10:00", "--region", "knee",
                                 "--now", "2026-11-17T15:05:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "C1    Tue 2026-11-17 14:00 EST" in result.output
    session = db.session.scalars(sa.select(TreatmentSession)).one()
    assert session.ended_at == datetime(2026, 11, 17, 10, 0, tzinfo=NY)


def test_close_episode_and_correct_session_from_the_command_line(runner, clinic):
    e = enroll(clinic, ended=datetime(2026, 11, 17, 15, 0, tzinfo=NY), now=datetime(2026, 11, 17, 15, 5, tzinfo=NY))
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
