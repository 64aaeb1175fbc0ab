"""CPU time of one reply through the webhook, in one process: the part of a reply that is ours.

    .venv/bin/python bench/reply_cpu_bench.py             # one reply a patient, a tenth followed up in the window
    .venv/bin/python bench/reply_cpu_bench.py --grouped   # 100 patients in turn: every reply re-reads its group

webhook_bench.py measures gunicorn workers under open-loop load, where the CPU a reply takes also
grows with the load on the machine (threads contending for the interpreter lock). This one posts
1,200 signed replies one after another through Flask's test client against a fresh SQLite file,
and prints the process CPU time of the last 1,000 divided by 1,000 (the first 200 warm up).
Each reply is half a second after the one before on the app's clock, so with `--grouped` each
patient writes every 50 s and each reply is read with its two-minute group.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_migrate  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bot import create_app, episodes  # noqa: E402
from bot.extensions import db  # noqa: E402
from bot.models import Clinic, Provider  # noqa: E402

TOKEN = "bench-auth-token-0123456789abcdef"
BASE = "https://aftercare.example.org"
REPLIES = ["a 3", "about a 4", "still sore, like a 5, better than yesterday", "fine thanks", "un 2, mejor",
           "a 7 right now", "my calf is red and hot", "ok", "👍", "it hurts when I breathe in", "feels weak", "my leg"]
WARMUP, MEASURED = 200, 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grouped", action="store_true", help="100 patients in turn: every reply is read in a group")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="reply_cpu_"))
    moment = [datetime(2026, 11, 18, 15, tzinfo=timezone.utc)]
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.db'}",
                      "SMS_BACKEND": "console", "CONSOLE_SMS_FILE": str(workdir / "sms.jsonl"),
                      "INBOUND_SPOOL_DIR": str(workdir / "spool"), "TWILIO_AUTH_TOKEN": TOKEN,
                      "PUBLIC_BASE_URL": BASE, "SCHEDULER": "off", "LOG_LEVEL": "WARNING"})
    app.extensions["aftercare.clock"] = lambda: moment[0]
    rng = random.Random(1)
    sids = itertools.count()
    with app.app_context():
        flask_migrate.upgrade()
        clinic = Clinic(name="Bench PT", sms_name="Bench PT", phone="+12125550100", timezone="America/New_York")
        on_call = Provider(clinic=clinic, name="On Call", email="oncall@bench.example", phone="+12125550111",
                           duty="on_call", password_hash="-")
        db.session.add_all([clinic, on_call])
        patients = 100 if args.grouped else WARMUP + MEASURED
        phones = [f"+1212555{i:04d}" for i in range(patients)]
        for phone in phones:
            episodes.enroll(clinic=clinic, phone=phone, name="Pat Bench", ended_at=moment[0] - timedelta(hours=26),
                            regions=["knee"], precautions=[], language="en", now=moment[0] - timedelta(hours=26))
        db.session.commit()
        order = [phones[i % patients] if args.grouped or not i or rng.random() >= 0.1 else phones[(i - 1) % patients]
                 for i in range(WARMUP + MEASURED)]
        client = app.test_client()
        validator = RequestValidator(TOKEN)
        started = 0.0
        for i, phone in enumerate(order):
            if i == WARMUP:
                started = time.process_time()
            moment[0] += timedelta(seconds=0.5)
            form = {"MessageSid": f"SM{next(sids):032x}", "From": phone, "To": "+12125550199",
                    "Body": rng.choice(REPLIES)}
            signature = validator.compute_signature(BASE + "/sms/inbound", form)
            response = client.post("/sms/inbound", data=urlencode(form), headers={"X-Twilio-Signature": signature},
                                   content_type="application/x-www-form-urlencoded")
            if response.status_code != 200:
                print(f"reply {i} answered {response.status_code}")
                return 1
        used = time.process_time() - started
    print(f"{'grouped' if args.grouped else 'default'}: {used / MEASURED * 1000:.2f} ms of CPU a reply "
          f"({MEASURED:,} replies, in one process, SQLite)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
