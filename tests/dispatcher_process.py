"""A dispatcher process for the multi-process tests: `python tests/dispatcher_process.py --database-url ...`.

Waits for --parties processes to be ready (so they really race), then runs dispatch passes at --now
until nothing is left, and prints its report as JSON. --send-delay slows each send, so a test
can kill the process in the middle of a batch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import create_app  # noqa: E402
from bot.dispatch import Report, run_once  # noqa: E402
from bot.gateways import ConsoleGateway  # noqa: E402


class SlowGateway(ConsoleGateway):
    def __init__(self, path: str, delay: float) -> None:
        super().__init__(path)
        self.delay = delay

    def send(self, to, body, *, reference, status_callback=None):  # noqa: ANN001
        time.sleep(self.delay)
        return super().send(to, body, reference=reference, status_callback=status_callback)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--sms-file", required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--ready-dir", default=None, help="a directory where the racing processes meet")
    parser.add_argument("--parties", type=int, default=1)
    parser.add_argument("--send-delay", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url, "SECRET_KEY": "process-test",
                      "SMS_BACKEND": "console", "CONSOLE_SMS_FILE": args.sms_file, "SCHEDULER": "off",
                      "PUBLIC_BASE_URL": "https://aftercare.example.org", "DISPATCH_BATCH_SIZE": args.batch,
                      "LOG_LEVEL": "WARNING"})
    gateway = SlowGateway(args.sms_file, args.send_delay)
    total = Report()
    with app.app_context():
        if args.ready_dir:
            ready = Path(args.ready_dir)
            (ready / str(os.getpid())).touch()
            while len(list(ready.iterdir())) < args.parties:
                time.sleep(0.01)
        while True:
            report = run_once(now=datetime.fromisoformat(args.now), gateway=gateway)
            total.update(report)
            if not report:
                break
    print(json.dumps(dict(total)))


if __name__ == "__main__":
    main()
