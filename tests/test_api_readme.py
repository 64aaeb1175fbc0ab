"""The README's integration examples do what it says: its shell blocks (make a key, enrol, list findings,
acknowledge, fetch the FHIR record) run against a live server, and its webhook receiver accepts a signed
event and refuses a forged or stale one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from test_end_to_end import environment, free_port, reply

from bot import ROOT, outgoing
from bot.extensions import db
from bot.models import Escalation

pytestmark = pytest.mark.slow

README = (ROOT / "README.md").read_text()


def example(name: str) -> str:
    """The fenced block after `<!-- readme-example: NAME -->`."""
    match = re.search(rf"<!-- readme-example: {name} -->\n```\w+\n(.*?)```", README, re.S)
    assert match, f"README has no example {name!r}"
    return match.group(1)


@pytest.fixture
def server(database_url, tmp_path):
    """`flask serve` on a free port, as `make run` serves (triage's second reader off: it loads slowly)."""
    env = environment(database_url, tmp_path) | {"TRIAGE_SECOND_READER": "off"}
    port = free_port()
    with open(tmp_path / "server.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "flask", "serve", "--port", str(port)], env=env, cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(base + "/readyz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                pytest.fail("server did not start: " + (tmp_path / "server.log").read_text())
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)


def run_shell(script: str, env: dict[str, str], cwd) -> str:
    done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_readme_curl_examples_run_against_a_live_server(app, clinic, database_url, tmp_path, server):
    env = environment(database_url, tmp_path) | {"PYTHONPATH": str(ROOT), "TRIAGE_SECOND_READER": "off"}  # run from tmp_path, not the checkout
    live = lambda script: script.replace("http://127.0.0.1:5000", server).replace(".venv/bin/flask",  # noqa: E731
                                                                                   str(ROOT / ".venv/bin/flask"))
    enrolment = json.loads(run_shell(live(example("enrol")), env, tmp_path))
    assert enrolment["patient"]["phone"] == "+12125550143" and enrolment["patient_created"] is True
    assert enrolment["episode"]["checkins"][0]["time_zone"] == "America/New_York"

    reply(server, "+12125550143", "me duele el pecho cuando respiro")  # a red flag: a finding opens

    script = example("enrol").split("ENDED=")[0] + example("findings")  # the same shell: BASE and KEY
    script = script.replace("| tee enrolment.json", "").replace("curl -sS -X POST \"$BASE/episodes\"", "true")
    out = run_shell(live(script), env, tmp_path)
    assert '"status":"acknowledged"' in out.replace(" ", "")
    bundle = json.loads((tmp_path / "episode.fhir.json").read_text())
    assert bundle["resourceType"] == "Bundle"
    assert {"Patient", "Communication"} <= {e["resource"]["resourceType"] for e in bundle["entry"]}
    db.session.expire_all()
    assert db.session.scalars(sa.select(Escalation.status)).all() == ["acknowledged"]


@pytest.fixture
def receiver_app():
    secret = outgoing.new_secret()
    namespace: dict[str, object] = {"__name__": "__main__"}  # Flask(__name__) finds a root path
    exec(compile(example("receiver").replace("whsec_...", secret), "README receiver", "exec"), namespace)
    receiver = namespace["app"]
    receiver.config["TESTING"] = True
    return receiver.test_client(), secret


def signed_post(client, secret: str, body: str, *, at: datetime, message_id: str = "msg_1", tamper: bool = False):
    headers = outgoing.sign(secret, message_id, at, body)
    return client.post("/aftercare-events", data=body + (" " if tamper else ""), headers=headers,
                       content_type="application/json")


def test_the_readme_receiver_accepts_our_signature_and_refuses_a_forged_or_stale_one(receiver_app, capsys):
    client, secret = receiver_app
    body = json.dumps({"type": "finding.opened", "timestamp": "2026-11-21T20:00:00Z", "data": {"finding": {"id": 1}}})
    now = datetime.now(timezone.utc)
    assert signed_post(client, secret, body, at=now).status_code == 204
    assert signed_post(client, secret, body, at=now).status_code == 204  # a retry: handled once
    assert capsys.readouterr().out.count("finding.opened") == 1
    assert signed_post(client, secret, body, at=now, tamper=True).status_code == 400
    assert signed_post(client, outgoing.new_secret(), body, at=now, message_id="msg_2").status_code == 400
    assert signed_post(client, secret, body, at=now - timedelta(minutes=10), message_id="msg_3").status_code == 400
