"""What outgoing webhooks cost: on the reply path (events written with the change), and to send.

    .venv/bin/python bench/outgoing_bench.py                 # SQLite in a temporary directory
    .venv/bin/python bench/outgoing_bench.py --replies 400 --database-url postgresql+psycopg://...

1. Replies: patients' replies (scores, a red flag, STOP, START) through the inbound webhook (Flask's
   test client, signed as Twilio signs), from one group of patients with no webhook endpoint, then
   from another group, in the same state, with one endpoint subscribed to every event (a third
   group warms up first). Printed:
   p50/p99 per reply in ms, and the event rows written. The difference is the reply path's cost.
2. Sending: `outgoing.deliver_due` to a receiver on 127.0.0.1 (http.server, one thread per request,
   answering 204): deliveries per second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import flask_migrate  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from conftest import app_config  # noqa: E402
from support import enroll, text_in  # noqa: E402

from bot import create_app, outgoing  # noqa: E402
from bot.extensions import db  # noqa: E402
from bot.models import Clinic, Provider, WebhookDelivery, WebhookEvent, utcnow  # noqa: E402

REPLIES = ["a 3", "still like a 6, big bruise", "it hurts when I breathe in", "no me duele", "STOP", "START"]


class Quiet(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def replies(client, phones: list[str], count: int) -> list[float]:
    took = []
    for i in range(count):
        started = time.perf_counter()
        response = text_in(client, phones[i % len(phones)], REPLIES[i % len(REPLIES)])
        took.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return took


def summary(name: str, took: list[float]) -> str:
    p99 = statistics.quantiles(took, n=100)[98]
    return f"{name:<34} p50 {statistics.median(took):6.2f} ms   p99 {p99:6.2f} ms   ({len(took)} replies)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=300)
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="outgoing-bench-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    app = create_app(app_config(url, workdir, LOG_LEVEL="WARNING"))
    with app.app_context():
        if url.startswith("postgresql"):
            db.session.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        flask_migrate.upgrade()
        clinic = Clinic(name="Bench PT", sms_name="Bench PT", phone="+12125550100", timezone="America/New_York")
        db.session.add_all([clinic, Provider(clinic=clinic, name="Dana Oncall", email="d@bench.example",
                                             phone="+12125550111", duty="on_call", password_hash="x")])
        db.session.commit()
        now = utcnow()
        groups = [[f"+1212555{2000 + 100 * g + n:04d}" for n in range(args.patients)] for g in range(3)]
        for n, phone in enumerate(groups[0] + groups[1] + groups[2]):  # needled in the upper back: red flags are emergencies
            enroll(clinic, ended=now - timedelta(hours=20), phone=phone, name=f"Pat Bench{n}",
                   regions=("upper_back",), now=now - timedelta(hours=20))
        client = app.test_client()
        replies(client, groups[2], args.replies)  # warm-up, on patients of its own
        without = replies(client, groups[0], args.replies)
        receiver = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        outgoing.create_endpoint(clinic.id, f"http://127.0.0.1:{receiver.server_address[1]}/hooks",
                                 outgoing.EVENT_TYPES, "bench", actor="bench", now=now)
        db.session.commit()
        before = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent))
        with_endpoint = replies(client, groups[1], args.replies)
        events = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) - before
        print(f"database: {db.engine.dialect.name}")
        print(summary("replies, no webhook endpoint", without))
        print(summary("replies, an endpoint for every event", with_endpoint))
        print(f"events written during those replies: {events}")
        pending = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)
                                    .where(WebhookDelivery.status == "pending"))
        started = time.perf_counter()
        report = outgoing.deliver_due(utcnow())
        seconds = time.perf_counter() - started
        print(f"sending: {report['webhooks_delivered']} of {pending} deliveries in {seconds:.2f} s "
              f"({report['webhooks_delivered'] / seconds:.0f}/s)")
        receiver.shutdown()
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
