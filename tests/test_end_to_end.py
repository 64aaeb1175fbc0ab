"""The thin path, end to end, through the real CLI and a real HTTP server.

Enrol a patient, dispatch what is due, reply to a check-in, then report a red flag: the answer
says call 911 and the on-call provider's alert goes out with the next dispatch.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from conftest import AUTH_TOKEN, PUBLIC_BASE_URL
from support import new_sid, signature

from bot import ROOT
from bot.extensions import db
from bot.models import Assessment, Escalation

pytestmark = pytest.mark.slow


def environment(database_url: str, workdir: Path) -> dict[str, str]:
    return {**os.environ, "FLASK_APP": "bot:create_app", "FLASK_SKIP_DOTENV": "1", "DATABASE_URL": database_url,
            "SMS_BACKEND": "console", "CONSOLE_SMS_FILE": str(workdir / "console-sms.jsonl"),
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "SECRET_KEY": "e2e-secret",
            "SCHEDULER": "off", "AFTERCARE_ENV": "development", "LOG_LEVEL": "WARNING"}


def flask(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(database_url, tmp_path):
    env = environment(database_url, tmp_path)
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "flask", "serve", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        log.close()
        pytest.fail("server did not start: " + (tmp_path / "server.log").read_text())
    yield base
    process.terminate()
    process.wait(timeout=10)
    log.close()


def reply(base: str, sender: str, body: str) -> str:
    params = {"MessageSid": new_sid(), "AccountSid": "AC" + "0" * 32, "From": sender, "To": "+12125550199",
              "Body": body}
    request = urllib.request.Request(base + "/sms/inbound", data=urlencode(params).encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature("/sms/inbound", params)})
    with urllib.request.urlopen(request, timeout=15) as response:
        assert response.status == 200
        return response.read().decode()


def sent(workdir: Path) -> list[dict]:
    path = workdir / "console-sms.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def midday_zone(now: datetime) -> str:
    """An IANA zone where it is early afternoon now, so the real clock never meets quiet hours."""
    offset = now.hour - 13  # Etc/GMT+N is N hours behind UTC
    offset = (offset + 12) % 24 - 12
    return "Etc/GMT" + (f"+{offset}" if offset >= 0 else str(offset)) if offset else "UTC"


def test_enrol_dispatch_reply_and_red_flag_alert(app, clinic, database_url, tmp_path, server):
    env = environment(database_url, tmp_path)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ended = now - timedelta(hours=5)
    clinic.timezone = midday_zone(now)
    db.session.commit()

    planned = flask(env, "enroll", "--clinic", str(clinic.id), "--phone", "(212) 555-0143", "--name", "Maria Lopez",
                    "--ended-at", ended.isoformat(), "--region", "upper_trapezius", "--precaution", "anticoagulant",
                    "--language", "es", "--now", (now - timedelta(minutes=1)).isoformat())
    lines = planned.splitlines()
    assert sorted(line.split()[0] for line in lines[1:]) == ["C0", "C1", "C2", "C3", "C4"]
    assert clinic.timezone in lines[0]
    c2 = next(line for line in lines if line.split()[0] == "C2")
    local_c2 = (ended + timedelta(hours=24)).astimezone(ZoneInfo(clinic.timezone))
    assert local_c2.strftime("%Y-%m-%d %H:%M") in c2  # printed on the patient's clock

    report = flask(env, "dispatch", "--once", "--now", now.isoformat())
    assert "sent=" in report
    texts = sent(tmp_path)
    assert [t["to"] for t in texts] == ["+12125550143", "+12125550143"]  # the welcome, then C1 (due at +4 h)
    assert texts[0]["body"].startswith("Harbor PT: Hola Maria")

    answer = reply(server, "+12125550143", "sigue como un 5, un moretón pequeño en el hombro")
    assert "<Message>Gracias Maria" in answer and "911 ahora" not in answer  # not the emergency answer
    assessment = db.session.scalars(sa.select(Assessment)).one()
    assert assessment.soreness == 5
    assert assessment.level in ("expected", "monitor")

    answer = reply(server, "+12125550143", "it hurts when I breathe in")
    assert "911" in answer
    escalation = db.session.scalars(sa.select(Escalation)).one()
    assert (escalation.level, escalation.rule, escalation.status) == ("emergency", "E1", "open")
    assert [t["to"] for t in sent(tmp_path)][-1] == "+12125550143"  # nothing new sent by the webhook itself

    flask(env, "dispatch", "--once", "--now", datetime.now(timezone.utc).isoformat())
    alert = sent(tmp_path)[-1]
    assert alert["to"] == "+12125550111"  # Dana, on call
    assert alert["body"].startswith("Aftercare EMERGENCY: Maria L.") and escalation.code in alert["body"]
