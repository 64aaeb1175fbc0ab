"""Signed inbound replies per second, and their latency, through gunicorn against PostgreSQL.

    .venv/bin/python bench/webhook_bench.py                       # 200 replies/s for 30 s
    .venv/bin/python bench/webhook_bench.py --rate 100 --seconds 20
    .venv/bin/python bench/webhook_bench.py --patients 500         # the same few patients, over and over
    .venv/bin/python bench/webhook_bench.py --healthz              # also GET /healthz at the same rate

What runs: a fresh PostgreSQL database `aftercare_bench_webhook_<pid>` on 127.0.0.1:5432, migrated
and seeded here: one clinic in New York with an on-call and a backup provider, and `--patients`
patients enrolled with `episodes.enroll` 26 hours after their session. The check-ins already due
have been sent and answered, with the texts, assessments and answers a running clinic would hold
(`seed_history`); then VACUUM ANALYZE and a CHECKPOINT. Then `gunicorn --workers 2 wsgi:app` from
the venv on a free loopback port, configured by environment variables as in production (console
SMS backend, SCHEDULER=off, LOG_LEVEL=WARNING). Database and gunicorn are removed afterwards, also
on failure.

The load: this process is an open-loop generator (asyncio + aiohttp, one connection pool). Request
i is due at start + i / rate whatever happened to the earlier ones, and its latency is measured
from that due time to the end of its response, so a server that falls behind shows it in the
latency instead of slowing the generator down (no coordinated omission). Every request is a
POST /sms/inbound form signed as Twilio signs it (RequestValidator over
https://aftercare.example.org/sms/inbound), with its own MessageSid, with a realistic reply:
scores ("a 3"), sentences, Spanish, and a few red flags that open escalations. Each is triaged and
stored, and answered with TwiML. A warm-up (`--warmup` seconds at the same rate, just before the
measured seconds) is not counted.

Who sends what: as patients answer a check-in, most texts are a patient's one reply; a tenth
(`--follow-ups`) are a second text from someone who wrote in the last 30 seconds, which is read
together with the first (`conversation.GROUP_WINDOW`). By default there are just enough patients
for that. With `--patients` set lower, patients are reused in turn, so each sends many texts
within two minutes and every reply re-reads its group (at most `conversation.GROUP_LIMIT` texts):
a heavier load than any clinic's.

Printed: offered and achieved rate, count, errors by status (anything but 200 is an error), p50,
p90, p99 and max latency in ms, how late the generator itself was, and the CPU time used during the
measured seconds by the gunicorn workers, the database's server processes and the generator. The
target is p99 under 100 ms at 200 replies per second. The machine these numbers come from may have
few cores shared by gunicorn, PostgreSQL and the generator: read them with the core count printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time as clock_time, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import flask_migrate  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bot import create_app, episodes  # noqa: E402
from bot.extensions import db  # noqa: E402
from bot.models import CheckIn, Clinic, Provider  # noqa: E402

TARGET_RATE, TARGET_P99_MS = 200, 100
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
PUBLIC_BASE_URL = "https://aftercare.example.org"
PATH = "/sms/inbound"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

# (reply, weight): mostly the expected course, some worries, a few red flags (about 5%).
REPLIES = [
    ("a 3", 12), ("3", 8), ("2, much better today", 6), ("still sore, like a 5, better than yesterday", 10),
    ("about a 4, a bit stiff when I turn my head", 6), ("sore in the good way lol, 5", 4),
    ("foot is at 1, no swelling", 3), ("can I ice the bruise? its small", 4), ("6 again, no movement at all", 3),
    ("better but still a 4", 5), ("took 2 tylenol at 9pm and it's still an 8", 2),
    ("un 3", 6), ("sigue como un 5, un moretón pequeño en el hombro", 5), ("bien gracias", 4),
    ("todavía me duele, un 4, igual que ayer", 3), ("no me duele", 3), ("puedo ir al gimnasio mañana?", 2),
    ("thanks!", 3), ("no fever but the redness is spreading", 2), ("bit nauseous tonight. neck is a 3", 2),
    # red flags
    ("it hurts when I breathe in", 1), ("me falta el aire", 1), ("short of breath since this morning", 1),
    ("redness spreading and I have a fever of 101", 1), ("my hand is numb and tingling and it won't stop", 1),
]
REGIONS = [("knee",), ("lower_back",), ("calf",), ("thigh",), ("upper_trapezius",), ("neck", "shoulder"), ("hip",)]


# -- set-up -----------------------------------------------------------------------------------

@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    name = f"aftercare_bench_webhook_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def phone(i: int) -> str:
    return f"+1646{2000000 + i:07d}"  # exchanges from 200: numbers a phone line can have


def migrate_and_seed(url: str, workdir: Path, patients: int) -> None:
    """One clinic with two providers; patients 26 h after their session, due check-ins already sent."""
    app = create_app({"SECRET_KEY": "bench-secret", "SQLALCHEMY_DATABASE_URI": url, "SMS_BACKEND": "console",
                      "CONSOLE_SMS_FILE": str(workdir / "seed-sms.jsonl"), "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                      "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "SCHEDULER": "off", "LOG_LEVEL": "WARNING"})
    rng = random.Random(7)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ended = now - timedelta(hours=26)
    with app.app_context():
        flask_migrate.upgrade()
        clinic = Clinic(name="Harbor Physical Therapy", sms_name="Harbor PT", phone="+12125550100",
                        timezone="America/New_York", quiet_start=clock_time(21), quiet_end=clock_time(8),
                        created_at=now - timedelta(days=30))
        for name, email, number, duty in (("Dana Oncall", "dana@harbor.example", "+12125550111", "on_call"),
                                          ("Ben Backup", "ben@harbor.example", "+12125550122", "backup")):
            provider = Provider(clinic=clinic, name=name, email=email, phone=number, duty=duty)
            provider.set_password("correct horse battery")
            db.session.add(provider)
        db.session.add(clinic)
        db.session.commit()
        for i in range(1, patients + 1):
            episodes.enroll(clinic=clinic, phone=phone(i), name=f"Patient{i} Bench", ended_at=ended,
                            regions=list(rng.choice(REGIONS)), language="es" if i % 4 == 0 else "en",
                            precautions=["anticoagulant"] if i % 10 == 0 else [], now=ended)
            if i % 200 == 0:
                db.session.commit()
        db.session.execute(sa.update(CheckIn).where(CheckIn.due_at <= now, CheckIn.status == "planned")
                           .values(status="sent", sent_at=CheckIn.due_at, attempts=1))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        seed_history(conn)
        # Statistics for the planner, as autovacuum keeps them in a running clinic (it may be off on
        # a test server), and a checkpoint so the seeding's writes are not flushed while measuring.
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def seed_history(conn: psycopg.Connection) -> None:
    """The texts a running clinic already holds: each check-in sent so far, the patient's reply, its
    assessment and the answer. Without them the tables the replies read start empty, and the
    planner's plans for empty tables (sequential scans) get slower with every reply stored."""
    conn.execute("""
        INSERT INTO messages (clinic_id, direction, patient_id, checkin_id, purpose, body, to_number, twilio_sid,
                              status, attempts, sent_at, created_at, updated_at)
        SELECT p.clinic_id, 'out', p.id, c.id, 'checkin', 'How sore is it now, 0 to 10?', p.phone,
               'SMout' || c.id, 'delivered', 1, c.sent_at, c.sent_at, c.sent_at
        FROM checkins c JOIN treatment_sessions s ON s.id = c.session_id JOIN patients p ON p.id = s.patient_id
        WHERE c.status = 'sent'""")
    conn.execute("""
        INSERT INTO messages (clinic_id, direction, patient_id, checkin_id, purpose, body, twilio_sid, status,
                              attempts, created_at, updated_at)
        SELECT clinic_id, 'in', patient_id, checkin_id, 'reply', 'about a 4', 'SMin' || checkin_id, 'received', 0,
               sent_at + interval '20 minutes', sent_at + interval '20 minutes'
        FROM messages WHERE purpose = 'checkin'""")
    conn.execute("""
        INSERT INTO assessments (message_id, patient_id, session_id, checkin_id, level, text, soreness, symptoms,
                                 rules, reasons, hours_since_session, protocol_version, created_at)
        SELECT m.id, m.patient_id, c.session_id, m.checkin_id, 'expected', m.body, 4, '["soreness"]', '[]',
               '[]', extract(epoch FROM m.created_at - s.ended_at) / 3600, '1', m.created_at
        FROM messages m JOIN checkins c ON c.id = m.checkin_id JOIN treatment_sessions s ON s.id = c.session_id
        WHERE m.direction = 'in'""")
    conn.execute("""
        INSERT INTO messages (clinic_id, direction, patient_id, reply_to_id, purpose, body, status, attempts,
                              created_at, updated_at)
        SELECT clinic_id, 'out', patient_id, id, 'answer', 'Thanks. That is expected.', 'twiml', 0, created_at,
               created_at
        FROM messages WHERE direction = 'in'""")
    conn.execute("""UPDATE checkins SET status = 'replied', replied_at = sent_at + interval '20 minutes'
                    WHERE status = 'sent'""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(database: str, workdir: Path, workers: int, threads: int) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": PG_URL.format(name=database), "SECRET_KEY": "bench-secret",
           "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "SCHEDULER": "off",
           "SMS_BACKEND": "console", "CONSOLE_SMS_FILE": str(workdir / "console-sms.jsonl"),
           "FLASK_SKIP_DOTENV": "1", "LOG_LEVEL": "INFO", "AFTERCARE_ENV": "development"}
    log_path = workdir / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "--workers", str(workers), "--threads",
                                    str(threads), "--bind", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env,
                                   stdout=log,
                                   stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not come up:\n" + log_path.read_text(errors="replace"))
            time.sleep(0.2)
        yield base, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        problems = [line for line in log_path.read_text(errors="replace").splitlines()
                    if "ERROR" in line or "Traceback" in line]
        if problems:
            print(f"gunicorn logged {len(problems)} error lines, e.g. {problems[0]}")


# -- CPU accounting (Linux /proc) ---------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far, or 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processes(match) -> list[int]:  # noqa: ANN001 - a predicate on (pid, ppid, cmdline)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if match(int(entry), ppid, command):
            found.append(int(entry))
    return found


@dataclass
class CpuSnapshot:
    workers: dict[int, float]
    backends: dict[int, float]
    generator: float

    @classmethod
    def take(cls, gunicorn_pid: int, database: str) -> CpuSnapshot:
        workers = processes(lambda pid, ppid, cmd: ppid == gunicorn_pid)
        backends = processes(lambda pid, ppid, cmd: cmd.startswith("postgres:") and f" {database} " in cmd)
        times = os.times()
        return cls({p: cpu_seconds(p) for p in workers}, {p: cpu_seconds(p) for p in backends},
                   times.user + times.system)

    def since(self, earlier: CpuSnapshot) -> dict[str, float]:
        def used(now: dict[int, float], then: dict[int, float]) -> float:
            return sum(seconds - then.get(pid, 0.0) for pid, seconds in now.items())
        return {"gunicorn workers": used(self.workers, earlier.workers),
                "postgres backends": used(self.backends, earlier.backends),
                "load generator": self.generator - earlier.generator}


def wait_until_idle(gunicorn_pid: int, limit: float = 120) -> None:
    """Wait for the workers to finish requests their clients gave up on (they still run them)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        workers = processes(lambda pid, ppid, cmd: ppid == gunicorn_pid)
        before = sum(cpu_seconds(p) for p in workers)
        time.sleep(0.5)
        if sum(cpu_seconds(p) for p in workers) - before < 0.05:
            return


# -- the load ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


def sender_sequence(count: int, patients: int, follow_ups: float, rate: float, rng: random.Random) -> list[int]:
    """Which patient sends each text: mostly one reply each, as patients answer a check-in; a
    `follow_ups` share are a second text from someone who wrote in the last 30 seconds ("oh and
    the bruise is small"), which is read together with the first (`conversation.GROUP_WINDOW`).
    Patients are reused in turn once each has written."""
    senders: list[int] = []
    fresh = 0
    recent = max(1, round(30 * rate))
    for i in range(count):
        if senders and rng.random() < follow_ups:
            senders.append(rng.choice(senders[-recent:]))
        else:
            senders.append(fresh % patients + 1)
            fresh += 1
    return senders


def signed_replies(count: int, patients: int, follow_ups: float, rate: float, seed: int = 11) -> list[Request]:
    """`count` inbound texts, each signed as Twilio would, from the patients' numbers."""
    rng = random.Random(seed)
    texts, weights = zip(*REPLIES)
    validator = RequestValidator(AUTH_TOKEN)
    requests = []
    senders = sender_sequence(count, patients, follow_ups, rate, rng)
    for i, (body, sender) in enumerate(zip(rng.choices(texts, weights, k=count), senders)):
        params = {"MessageSid": f"SM{os.getpid():08x}{i:024x}", "AccountSid": "AC" + "0" * 32,
                  "From": phone(sender), "To": "+12125550199", "Body": body, "NumMedia": "0"}
        signature = validator.compute_signature(PUBLIC_BASE_URL + PATH, params)
        requests.append(Request("POST", PATH, urlencode(params).encode(), {
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}))
    return requests


@dataclass(frozen=True)
class Outcome:
    due: float  # when the request was due to be sent (loop clock)
    sent: float  # when the generator got round to sending it
    done: float  # when its response had been read
    status: int | str  # HTTP status, or the exception's name

    @property
    def latency_ms(self) -> float:
        return (self.done - self.due) * 1000


async def open_loop(base: str, requests: list[Request], rate: float, connections: int, timeout: float,
                    measure_from: int, on_measure: Callable[[], None]) -> list[Outcome]:
    """Send request i at start + i / rate, however the earlier ones are doing.

    One unbroken stream: requests before `measure_from` are the warm-up; `on_measure` is called
    just before the first measured one goes. Returns every request's outcome, in order.
    """
    loop = asyncio.get_running_loop()
    outcomes: list[Outcome | None] = [None] * len(requests)

    async def fire(session: aiohttp.ClientSession, i: int, due: float) -> None:
        request, sent = requests[i], loop.time()
        try:
            async with session.request(request.method, base + request.path, data=request.body or None,
                                       headers=request.headers) as response:
                await response.read()
                status: int | str = response.status
        except asyncio.TimeoutError:
            status = "timeout"
        except aiohttp.ClientError as exc:
            status = type(exc).__name__
        outcomes[i] = Outcome(due, sent, loop.time(), status)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        start = loop.time() + 0.05
        tasks = []
        for i in range(len(requests)):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if i == measure_from:
                on_measure()
            tasks.append(asyncio.create_task(fire(session, i, due)))
        await asyncio.gather(*tasks)
    return outcomes  # type: ignore[return-value]  # gather() waited for every one


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def summarise(label: str, outcomes: list[Outcome], rate: float, cpu: dict[str, float]) -> bool:
    """Print the measured requests' numbers; True when every one was answered 200."""
    seconds = max(o.done for o in outcomes) - min(o.due for o in outcomes)
    latencies = sorted(o.latency_ms for o in outcomes)
    statuses = Counter(o.status for o in outcomes)
    errors = {status: n for status, n in statuses.items() if status != 200}
    lag = max(o.sent - o.due for o in outcomes) * 1000
    print(f"{label}: offered {rate:,.0f}/s for {len(outcomes) / rate:.0f} s; achieved {statuses[200] / seconds:,.1f}/s "
          f"({statuses[200]:,} of {len(outcomes):,} answered 200, the last {seconds:.1f} s after the first was due)")
    print(f"  errors: {sum(errors.values())}" + (f" {dict(sorted(errors.items(), key=str))}" if errors else ""))
    print(f"  latency from due time: p50 {percentile(latencies, 0.50):.1f} ms, p90 {percentile(latencies, 0.90):.1f} ms, "
          f"p99 {percentile(latencies, 0.99):.1f} ms, max {latencies[-1]:.1f} ms "
          f"(mean {statistics.fmean(latencies):.1f} ms; errors included)")
    print(f"  generator: at most {lag:.1f} ms late sending a request (counted in the latencies)")
    print(f"  CPU used in those {seconds:.1f} s: " + ", ".join(
        f"{name} {used:.1f} s ({used / seconds:.0%} of a core)" for name, used in cpu.items()))
    return not errors


def run_phase(label: str, base: str, requests: list[Request], warmup: int, args: argparse.Namespace,
              gunicorn_pid: int, database: str) -> bool:
    """Warm up and measure in one stream; print the measured part. True when every request got a 200."""
    before: list[CpuSnapshot] = []
    outcomes = asyncio.run(open_loop(base, requests, args.rate, args.connections, args.timeout, warmup,
                                     lambda: before.append(CpuSnapshot.take(gunicorn_pid, database))))
    ok = summarise(label, outcomes[warmup:], args.rate, CpuSnapshot.take(gunicorn_pid, database).since(before[0]))
    warmup_errors = sum(o.status != 200 for o in outcomes[:warmup])
    if warmup_errors:
        print(f"  and {warmup_errors} errors during the warm-up")
    return ok and not warmup_errors


BENCH_SID = "twilio_sid NOT LIKE 'SMin%'"  # the replies sent while measuring, not the seeded history


def check_stored(database: str, sent: int, all_answered: bool) -> bool:
    """Every reply was stored once and triaged (if some failed, at most as many as were sent: a reply
    whose request timed out may still have been handled)."""
    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{database}") as conn:
        inbound = conn.execute(f"SELECT count(*) FROM messages WHERE direction = 'in' AND {BENCH_SID}").fetchone()[0]
        assessed = conn.execute("SELECT count(*) FROM assessments a JOIN messages m ON m.id = a.message_id "
                                f"WHERE a.kind = 'text' AND {BENCH_SID}").fetchone()[0]
        together = conn.execute("SELECT count(*) FROM assessments a JOIN messages m ON m.id = a.message_id "
                                f"WHERE a.kind = 'group' AND {BENCH_SID}").fetchone()[0]
        escalations = conn.execute("SELECT level, count(*) FROM escalations GROUP BY level ORDER BY level").fetchall()
    print(f"stored: {inbound:,} inbound texts, {assessed:,} assessments (and {together:,} of groups), escalations "
          f"{dict(escalations) or 'none'} ({sent:,} replies sent, warm-up included)")
    if inbound > sent or assessed != inbound or (all_answered and inbound != sent):
        print("*** FAILED: every reply must be stored once, with its assessment ***")
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="requests per second (default 200)")
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds (default 30)")
    parser.add_argument("--warmup", type=float, default=5, help="unmeasured seconds first, same rate (default 5)")
    parser.add_argument("--patients", type=int, default=None,
                        help="patients the replies come from (default: one reply each, follow-ups aside)")
    parser.add_argument("--follow-ups", type=float, default=0.1,
                        help="share of texts that follow the same patient's text of the last 30 s (default 0.1)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per worker (default 4, as gunicorn.conf.py; 1 = the sync worker)")
    parser.add_argument("--connections", type=int, default=100, help="client connection pool size (default 100)")
    parser.add_argument("--timeout", type=float, default=15, help="seconds before a request counts as failed "
                        "(Twilio's own limit, default 15)")
    parser.add_argument("--healthz", action="store_true", help="also GET /healthz at the same rate, as a baseline")
    args = parser.parse_args()

    warmup, measured = round(args.warmup * args.rate), round(args.seconds * args.rate)
    if args.patients is None:
        args.patients = math.ceil((warmup + measured) * (1 - args.follow_ups))
    print(f"webhook: gunicorn --workers {args.workers} --threads {args.threads} on loopback, PostgreSQL, {args.patients:,} patients; "
          f"{os.cpu_count()} cores shared by gunicorn, PostgreSQL and this generator")
    ok = True
    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as tmp, fresh_database() as database:
        workdir = Path(tmp)
        started = time.perf_counter()
        migrate_and_seed(PG_URL.format(name=database), workdir, args.patients)
        print(f"seeded in {time.perf_counter() - started:.1f} s (not measured); "
              f"{warmup:,} warm-up then {measured:,} measured requests")
        requests = signed_replies(warmup + measured, args.patients, args.follow_ups, args.rate)
        with gunicorn(database, workdir, args.workers, args.threads) as (base, process):
            replies_ok = run_phase("POST /sms/inbound (signed replies)", base, requests, warmup, args, process.pid,
                                   database)
            if args.healthz:
                wait_until_idle(process.pid)
                probes = [Request("GET", "/healthz", b"", {})] * (warmup + measured)
                ok &= run_phase("GET /healthz (baseline)", base, probes, warmup, args, process.pid, database)
        ok &= replies_ok & check_stored(database, len(requests), replies_ok)
    if not ok:
        print("*** FAILED: see above ***")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
