"""Several dispatcher processes, and one killed mid-batch: every due check-in is sent exactly once.

Runs on SQLite (conditional updates) and on PostgreSQL (SKIP LOCKED), like every database test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.extensions import db
from bot.models import CheckIn, Message, Patient, TreatmentSession

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("dispatcher_process.py")
NOW = datetime(2026, 11, 18, 16, 0, tzinfo=timezone.utc)  # 11 am in New York: no quiet hours


def seed_due_checkins(clinic, count: int) -> None:
    """`count` patients, each with one C2 check-in that fell due an hour ago."""
    ended = NOW - timedelta(hours=25)
    for i in range(count):
        patient = Patient(clinic=clinic, name=f"Patient{i} Test", phone=f"+1646555{i:04d}", created_at=ended)
        session = TreatmentSession(patient=patient, ended_at=ended, regions=["knee"], created_at=ended)
        db.session.add(CheckIn(session=session, protocol_id="C2", due_at=NOW - timedelta(hours=1), created_at=ended))
    db.session.commit()


def start(database_url: str, sms_file: Path, *, now: datetime = NOW, send_delay: float = 0.0, batch: int = 100,
          ready_dir: Path | None = None, parties: int = 1) -> subprocess.Popen:
    meet = ["--ready-dir", str(ready_dir), "--parties", str(parties)] if ready_dir else []
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "--database-url", database_url, "--sms-file", str(sms_file),
         "--now", now.isoformat(), "--send-delay", str(send_delay), "--batch", str(batch), *meet],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "FLASK_SKIP_DOTENV": "1"})


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out)


def sent_references(sms_file: Path) -> Counter:
    return Counter(json.loads(line)["reference"] for line in sms_file.read_text().splitlines())


def test_two_dispatchers_at_once_send_each_of_2000_checkins_exactly_once(app, clinic, database_url, tmp_path):
    seed_due_checkins(clinic, 2000)
    sms_file = tmp_path / "sms.jsonl"
    ready = tmp_path / "ready"
    ready.mkdir()
    # Both processes wait for each other, then race; a millisecond per send keeps them overlapping.
    racers = [start(database_url, sms_file, send_delay=0.001, ready_dir=ready, parties=2) for _ in range(2)]
    reports = [finish(p) for p in racers]

    references = sent_references(sms_file)
    assert len(references) == 2000 and max(references.values()) == 1
    assert all(report.get("sent", 0) > 0 for report in reports), reports  # both really took part
    assert sum(report["sent"] for report in reports) == 2000
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.status == "sent")) == 2000
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckIn).where(CheckIn.status == "sent")) == 2000


def test_a_dispatcher_killed_mid_batch_is_finished_by_the_next_without_duplicates(app, clinic, database_url,
                                                                                 tmp_path):
    seed_due_checkins(clinic, 600)
    sms_file = tmp_path / "sms.jsonl"
    victim = start(database_url, sms_file, send_delay=0.004, batch=500)
    deadline = time.time() + 60
    while time.time() < deadline and (not sms_file.exists() or len(sms_file.read_text().splitlines()) < 300):
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()

    db.session.expire_all()
    recorded = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.status == "sent"))
    claimed = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.status == "claimed"))
    went = len(sms_file.read_text().splitlines())
    assert claimed > 0 and went > recorded  # killed with texts handed over but not yet recorded

    # The next dispatcher starts after the dead one's claims have expired (10 minutes).
    report = finish(start(database_url, sms_file, now=NOW + timedelta(minutes=11)))
    assert report["reconciled_sent"] == went - recorded  # recorded from the carrier's word, not resent
    references = sent_references(sms_file)
    assert len(references) == 600 and max(references.values()) == 1
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.status == "sent")) == 600
