"""Check-ins dispatched per second through the console gateway, and the dispatcher's peak memory.

    .venv/bin/python bench/dispatch_bench.py                      # 5,000 rows, SQLite and PostgreSQL
    .venv/bin/python bench/dispatch_bench.py --rows 20000 --database postgresql
    .venv/bin/python bench/dispatch_bench.py --memory             # also peak memory at 10,000 and 100,000 rows
    .venv/bin/python bench/dispatch_bench.py --memory --tracemalloc --memory-rows 10000,30000
    .venv/bin/python bench/dispatch_bench.py --profile            # also the top of a cProfile of the pass

Each case starts from a fresh, migrated database (a SQLite file in a temp directory, or a
PostgreSQL database `aftercare_bench_dispatch_<pid>_<rows>` created on 127.0.0.1:5432 and dropped
afterwards) seeded with bulk inserts: one clinic in America/New_York, N patients, each with one
open session and one planned C2 check-in due an hour before a fixed `now` at noon local time (no
quiet hours, inside the 12-hour window, one text per patient so the daily ceiling never bites).

Rate: one `dispatch.run_once(now=..., gateway=ConsoleGateway(...))` call drains everything due
(check-ins become outbox rows, then the outbox is sent in batches of 500); rows per second is N
divided by the wall time of that call. Afterwards the console file must hold exactly N texts and
the database exactly N outbound messages with status "sent"; anything else is printed as FAILED
and the script exits non-zero. Target: 1,000 check-ins per second on each database.

Memory (`--memory`): for each of `--memory-rows` (10,000 and 100,000) the parent seeds a fresh
database and the pass runs in a fresh child process, so seeding never counts. Just before
`run_once` the child resets its resident-set high-water mark (Linux: `5` to /proc/self/clear_refs,
so start-up does not count); afterwards VmHWM in /proc/self/status is the peak resident memory of
the process during the pass. (Not ru_maxrss: in a child it is at least the parent's RSS at fork,
which the kernel carries over the exec.) Printed: the RSS before the pass, that peak, and the
difference, which should be about the same at 10,000 and 100,000 rows because the dispatcher works
in batches of 500. RSS counts everything, including the database drivers' C buffers.
`--tracemalloc` also traces Python allocations during the pass and prints their peak (it slows
the pass about fourfold, and its bookkeeping then shows in the RSS too).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, time as clock_time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bot import create_app  # noqa: E402
from bot.dispatch import BATCH_SIZE, run_once  # noqa: E402
from bot.extensions import db  # noqa: E402
from bot.gateways import ConsoleGateway  # noqa: E402
from bot.models import CheckIn, Clinic, Message, Patient, TreatmentSession  # noqa: E402

TARGET_PER_SECOND = 1_000
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
CLINIC_TZ = "America/New_York"
# Noon on a weekday in New York: far from quiet hours (21:00-08:00) and from any DST change.
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=ZoneInfo(CLINIC_TZ)).astimezone(timezone.utc)
SEED_CHUNK = 10_000  # rows per bulk insert


# -- databases --------------------------------------------------------------------------------

@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path, tag: str) -> Iterator[str]:
    """A SQLAlchemy URL for an empty database of `kind`; a PostgreSQL one is dropped on the way out."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / f'bench-{tag}.db'}"  # the temp directory goes with the file
        return
    name = f"aftercare_bench_dispatch_{os.getpid()}_{tag}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_app(url: str, workdir: Path):  # noqa: ANN201 - a Flask app
    return create_app({
        "TESTING": True,
        "SECRET_KEY": "bench-secret-key",
        "SQLALCHEMY_DATABASE_URI": url,
        "SMS_BACKEND": "console",
        "CONSOLE_SMS_FILE": str(workdir / "console-sms.jsonl"),
        "TWILIO_AUTH_TOKEN": "bench-auth-token",
        "PUBLIC_BASE_URL": "https://aftercare.example.org",
        "SCHEDULER": "off",
        "LOG_LEVEL": "WARNING",
    })


def migrate_and_seed(url: str, workdir: Path, rows: int) -> None:
    app = make_app(url, workdir)
    with app.app_context():
        flask_migrate.upgrade()
        seed(rows)
        db.session.remove()
        db.engine.dispose()


def seed(rows: int) -> None:
    """One clinic; per patient one open session ended 25 h ago and one planned C2 due an hour ago."""
    ended, due = NOW - timedelta(hours=25), NOW - timedelta(hours=1)
    db.session.execute(sa.insert(Clinic.__table__), [{
        "id": 1, "name": "Harbor Physical Therapy", "sms_name": "Harbor PT", "phone": "+12125550100",
        "timezone": CLINIC_TZ, "quiet_start": clock_time(21), "quiet_end": clock_time(8),
        "business_open": clock_time(8), "business_close": clock_time(17), "business_days": "12345",
        "emergency_realert_minutes": 5, "emergency_backup_minutes": 15, "urgent_backup_minutes": 30,
        "daily_text_limit": 4, "created_at": NOW - timedelta(days=30)}])
    for start in range(1, rows + 1, SEED_CHUNK):
        ids = range(start, min(start + SEED_CHUNK, rows + 1))
        db.session.execute(sa.insert(Patient.__table__), [{
            "id": i, "clinic_id": 1, "name": f"Patient Number{i}", "phone": f"+1646{i:07d}",
            "language": "es" if i % 4 == 0 else "en", "precautions": [], "created_at": ended} for i in ids])
        db.session.execute(sa.insert(TreatmentSession.__table__), [{
            "id": i, "patient_id": i, "ended_at": ended, "regions": ["knee"], "status": "open",
            "created_at": ended} for i in ids])
        db.session.execute(sa.insert(CheckIn.__table__), [{
            "id": i, "session_id": i, "protocol_id": "C2", "due_at": due, "status": "planned", "attempts": 0,
            "created_at": ended} for i in ids])
    if db.engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
        for table in ("clinics", "patients", "treatment_sessions", "checkins"):
            db.session.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    db.session.commit()


# -- one pass ---------------------------------------------------------------------------------

def memory_status(field: str) -> int:
    """A field of /proc/self/status in KiB: VmRSS (resident now) or VmHWM (resident high-water mark)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def reset_peak_rss() -> bool:
    """Make the resident high-water mark (VmHWM) start again from the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def dispatch_once(url: str, workdir: Path, *, profile: bool = False, trace_memory: bool = False) -> dict:
    """Run one timed `run_once` on a seeded database; what it did, how long, and what it used."""
    app = make_app(url, workdir)
    gateway = ConsoleGateway(workdir / "console-sms.jsonl")
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))  # connect before the clock starts
        db.session.commit()
        profiler = cProfile.Profile() if profile else None
        rss_before, peak_reset = memory_status("VmRSS"), reset_peak_rss()
        if trace_memory:
            tracemalloc.start()
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        report = run_once(now=NOW, gateway=gateway)
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.disable()
        traced_peak = tracemalloc.get_traced_memory()[1] if trace_memory else None
        if trace_memory:
            tracemalloc.stop()
        rss_peak = memory_status("VmHWM")
        sent_rows = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
            Message.direction == "out", Message.status == "sent"))
        db.session.remove()
        db.engine.dispose()
    if profiler:
        print("  cProfile of run_once (cumulative, top 30):")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    lines = gateway.path.read_text(encoding="utf-8").splitlines() if gateway.path.exists() else []
    return {"elapsed": elapsed, "report": dict(report), "sent_rows": sent_rows, "texts": len(lines),
            "distinct_texts": len(gateway.records()), "traced_peak": traced_peak,
            "rss_before_kib": rss_before, "rss_peak_kib": rss_peak, "peak_reset": peak_reset}


def check(result: dict, rows: int) -> bool:
    """Exactly one text per due check-in, recorded by the gateway and in the database."""
    problems = []
    if result["texts"] != rows or result["distinct_texts"] != rows:
        problems.append(f"console gateway recorded {result['texts']:,} texts ({result['distinct_texts']:,} distinct "
                        f"references), expected {rows:,}")
    if result["sent_rows"] != rows:
        problems.append(f"{result['sent_rows']:,} messages have status 'sent', expected {rows:,}")
    if result["report"].get("sent") != rows:
        problems.append(f"run_once reported {result['report']}")
    for problem in problems:
        print(f"  *** FAILED: {problem} ***")
    return not problems


# -- the measurements -------------------------------------------------------------------------

def one_pass(kind: str, rows: int, *, profile: bool = False, trace: bool = False) -> dict | None:
    """Seed a fresh database with `rows` due check-ins here, dispatch them in a fresh child process.

    The child is a clean dispatcher process: no seeding garbage in its heap, and its own memory
    high-water mark. Returns the child's result, or None (after saying why) if the pass failed.
    """
    with tempfile.TemporaryDirectory(prefix="aftercare-bench-") as tmp:
        workdir = Path(tmp)
        with fresh_database(kind, workdir, str(rows)) as url:
            migrate_and_seed(url, workdir, rows)
            command = [sys.executable, __file__, "--child", url, str(workdir)]
            command += ["--profile"] * profile + ["--tracemalloc"] * trace
            child = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if child.returncode != 0:
        print(f"  *** FAILED: the dispatch process exited with {child.returncode} ***\n{child.stderr}")
        return None
    *printed, last = child.stdout.splitlines()
    if printed:
        print("\n".join(printed))  # the profile
    result = json.loads(last)
    return result if check(result, rows) else None


def measure_rate(kind: str, rows: int, repeat: int, profile: bool) -> bool:
    rates = []
    for _ in range(repeat):
        result = one_pass(kind, rows, profile=profile)
        if result is None:
            return False
        rates.append(rows / result["elapsed"])
    rate = statistics.median(rates)
    verdict = "meets" if rate >= TARGET_PER_SECOND else "BELOW"
    spread = f"median of {repeat}: {min(rates):,.0f} to {max(rates):,.0f}; " if repeat > 1 else ""
    spread += "profiled, so slower than it is; " if profile else ""
    print(f"{kind:<10} {rows:>9,} check-ins: {rate:7,.0f} per second ({spread}{verdict} the target of "
          f"{TARGET_PER_SECOND:,}/s)")
    return True


def measure_memory(kind: str, rows: int, trace: bool) -> bool:
    result = one_pass(kind, rows, trace=trace)
    if result is None:
        return False
    before, peak = result["rss_before_kib"] / 1024, result["rss_peak_kib"] / 1024
    line = (f"{kind:<10} {rows:>9,} rows: RSS {before:6.1f} MiB before run_once, peak during it {peak:6.1f} MiB "
            f"(+{peak - before:5.1f} MiB)")
    if not result["peak_reset"]:
        line += " [could not reset the high-water mark: the peak includes start-up]"
    if trace:
        line += (f"; tracemalloc peak during run_once {result['traced_peak'] / 2**20:5.1f} MiB "
                 f"({result['elapsed']:.1f} s, slowed by tracing)")
    else:
        line += f"; {rows / result['elapsed']:,.0f} per second"
    print(line)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000, help="due check-ins for the rate (default 5,000)")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rate passes per database, each on a fresh database; the median is printed (default 3)")
    parser.add_argument("--memory", action="store_true",
                        help="also measure peak memory of the pass at each of --memory-rows")
    parser.add_argument("--memory-rows", default="10000,100000", help="comma-separated row counts for --memory")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="with --memory: also print the traced peak of Python allocations (slow)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each rate pass")
    parser.add_argument("--child", nargs=2, metavar=("URL", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # the dispatcher process of one_pass: one pass, its result as one JSON line
        result = dispatch_once(args.child[0], Path(args.child[1]), profile=args.profile, trace_memory=args.tracemalloc)
        print(json.dumps(result))
        return 0

    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    ok = True
    print(f"dispatch: one run_once at {NOW.astimezone(ZoneInfo(CLINIC_TZ)):%Y-%m-%d %H:%M %Z} in a fresh process, "
          f"batches of {BATCH_SIZE}, console gateway; {os.cpu_count()} cores")
    for kind in kinds:
        ok &= measure_rate(kind, args.rows, args.repeat, args.profile)
    if args.memory:
        print("memory (the peak is of the dispatch process during run_once; seeding is done by another process):")
        for kind in kinds:
            for rows in (int(n) for n in args.memory_rows.split(",")):
                ok &= measure_memory(kind, rows, args.tracemalloc)
    if not ok:
        print("*** FAILED: see above ***")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
