"""Twenty red-flag texts from one patient at the same moment, through gunicorn with several
workers and threads, open one finding and page the provider once (issue 10, item 2).

Patients in distress send several texts in a burst; Twilio delivers them in parallel to whatever
worker is free. The check for an open finding and its insert are one step in the database, so the
race between workers cannot open a second finding or send a second page.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from support import enroll
from test_end_to_end import environment, free_port, reply

from bot import ROOT
from bot.dispatch import run_once
from bot.extensions import db
from bot.models import Escalation, Message

pytestmark = pytest.mark.slow

RED_FLAGS = [
    "it hurts when I breathe in", "cant catch my breath", "my chest feels tight", "sharp pain breathing in",
    "short of breath walking to the kitchen", "me duele el pecho al respirar", "me falta el aire",
    "hurts to take a deep breath", "tight chest and breathing hurts", "chest pain since an hour ago",
    "can't get a full breath", "breathing feels hard", "pain in my chest when I inhale", "I'm wheezing and short of breath",
    "no puedo respirar bien", "chest is heavy and it's hard to breathe", "pain under my shoulder blade when I breathe",
    "struggling to breathe", "every breath hurts", "siento presión en el pecho",
]


@pytest.fixture
def gunicorn(database_url, tmp_path):
    env = {**environment(database_url, tmp_path), "TRIAGE_SECOND_READER": "off", "RATELIMIT_ENABLED": "false"}
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "4", "--threads", "5",
                                "--bind", f"127.0.0.1:{port}", "wsgi:app"], env=env, cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline, ready = time.monotonic() + 90, False
    while not ready and time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1)
            ready = True
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    if not ready:
        process.kill()
        log.close()
        pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text())
    time.sleep(2)  # let every worker finish booting, so the burst meets four of them
    yield base
    process.terminate()
    process.wait(timeout=20)
    log.close()


def test_twenty_red_flags_at_once_through_gunicorn_open_one_finding_and_one_page(app, clinic, gunicorn):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    maria = enroll(clinic, ended=now - timedelta(hours=5), regions=("upper_back",)).patient
    phone, maria_id = maria.phone, maria.id
    start = threading.Barrier(len(RED_FLAGS))
    answers: list[str] = []

    def send(body: str) -> None:
        start.wait()
        answers.append(reply(gunicorn, phone, body))

    threads = [threading.Thread(target=send, args=(body,)) for body in RED_FLAGS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(answers) == len(RED_FLAGS)           # every text answered (200) within Twilio's time
    run_once(now=datetime.now(timezone.utc))        # takes in anything spooled, sends the alerts
    db.session.expire_all()
    findings = db.session.scalars(sa.select(Escalation).where(Escalation.patient_id == maria_id)).all()
    assert [(f.level, f.status) for f in findings] == [("emergency", "open")]
    pages = db.session.scalar(sa.select(sa.func.count()).select_from(Message)
                              .where(Message.purpose == "alert", Message.escalation_id == findings[0].id))
    assert pages == 1
