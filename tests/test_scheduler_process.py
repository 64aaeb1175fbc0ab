"""`flask scheduler`, the production dispatcher process: it sends what is due, and SIGTERM stops it
cleanly once the pass in hand is done."""

import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from support import enroll
from test_end_to_end import environment, midday_zone

from bot import ROOT

pytestmark = pytest.mark.slow


def test_the_scheduler_process_sends_what_is_due_and_stops_cleanly_on_sigterm(app, clinic, database_url, tmp_path):
    now = datetime.now(timezone.utc)
    clinic.timezone = midday_zone(now)  # the real clock must not meet quiet hours
    enroll(clinic, ended=now - timedelta(hours=1), now=now - timedelta(hours=1))  # the welcome is due
    env = dict(environment(database_url, tmp_path), SCHEDULER_INTERVAL_SECONDS="1", LOG_LEVEL="INFO")
    process = subprocess.Popen([sys.executable, "-m", "flask", "scheduler"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sms_file = tmp_path / "console-sms.jsonl"
    deadline = time.time() + 30
    while time.time() < deadline and not sms_file.exists():
        time.sleep(0.1)
    time.sleep(1.5)  # a pass or two more: nothing is sent twice
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "finishing the current pass, then stopping" in output
    texts = [json.loads(line) for line in sms_file.read_text().splitlines()]
    assert [t["to"] for t in texts] == ["+12125550143"]
