"""The dashboard's pages at a big clinic: latency and SQL statements per page, on PostgreSQL.

    .venv/bin/python bench/dashboard_bench.py                          # 50,000 patients, 500,000 messages
    .venv/bin/python bench/dashboard_bench.py --patients 500 --messages 5000   # the same pages, small
    .venv/bin/python bench/dashboard_bench.py --reuse                  # measure the database seeded last time

What runs: the database `aftercare_queue_bench` on 127.0.0.1:5432 is dropped, created, migrated and
seeded with COPY (minutes, not hours): one clinic in New York with `--patients` patients, each with
one episode of six check-ins and their share of `--messages` texts (check-ins out, replies in, each
reply's assessment with a soreness); 1.5% of patients have a finding (one in three still open: the
queue is a few hundred long, as the issue measured), each with its alert texts; a second clinic of
1% the size whose rows must never show. Then VACUUM ANALYZE, as autovacuum would have.

Measured in this process through Flask's test client (no HTTP server, so the numbers are the app's
and the database's time: routing, queries, templates), signed in as the on-call provider:
`--requests` requests a page after 5 warm-up ones; p50 and p95 in ms; and the SQL statements one
request runs, counted with SQLAlchemy's `before_cursor_execute` event. Pages: the findings queue
(`/`), its 10-second poll (`/findings/live`), the patients list searched by name, by phone, filtered
and on a far page, and one patient's course (`/patients/<id>`). Target: p95 under 200 ms, and the
same statement count at any size (run it with `--patients 500 --messages 5000` to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from bot import create_app  # noqa: E402
from bot.extensions import db  # noqa: E402

DATABASE = "aftercare_queue_bench"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
TARGET_P95_MS = 200
PASSWORD = "correct horse battery"
FIRST = ["Maria", "James", "Ana", "Luis", "Grace", "Omar", "Chen", "Fatima", "Noah", "Olivia", "Diego", "Sofia",
         "Liam", "Aisha", "Mateo", "Emma", "Ravi", "Hana", "Jonas", "Lucia"]
LAST = ["Lopez", "Smith", "Nguyen", "Garcia", "Okafor", "Kim", "Rossi", "Cohen", "Patel", "Silva", "Brown",
        "Haddad", "Novak", "Tanaka", "Murphy", "Santos", "Fischer", "Ali", "Dubois", "Moreau"]
REPLIES = ["about a {n}", "{n}", "it's a {n} today", "sore, maybe {n}", "{n}/10 better than yesterday"]
CHECKINS = [("C0", 0), ("C1", 4), ("C2", 24), ("C3", 48), ("C4", 72), ("C5", 168)]


def app_config(workdir: Path) -> dict[str, object]:
    return {"SECRET_KEY": "bench-secret", "SQLALCHEMY_DATABASE_URI": URL, "SMS_BACKEND": "console",
            "CONSOLE_SMS_FILE": str(workdir / "sms.jsonl"), "TWILIO_AUTH_TOKEN": "bench-auth-token-0123456789abcdef",
            "PUBLIC_BASE_URL": "https://aftercare.example.org", "SCHEDULER": "off", "LOG_LEVEL": "WARNING",
            "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


# -- seeding ----------------------------------------------------------------------------------

def fresh_database() -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')


def copy(conn: psycopg.Connection, table: str, columns: list[str], rows) -> int:
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as out:
        for row in rows:
            out.write_row(row)
            count += 1
    return count


def seed(patients: int, messages: int, now: datetime) -> dict[str, int]:
    """Every table the pages read, with ids assigned here (sequences moved on afterwards)."""
    rng = random.Random(11)
    other = max(1, patients // 100)
    per_patient = max(2, -(-messages // (patients + other)))
    counts: dict[str, int] = {}
    with psycopg.connect(URL.replace("+psycopg", "")) as conn:
        created = now - timedelta(days=400)
        copy(conn, "clinics", ["id", "name", "sms_name", "phone", "timezone", "quiet_start", "quiet_end",
                               "business_open", "business_close", "business_days", "emergency_realert_minutes",
                               "emergency_backup_minutes", "urgent_backup_minutes", "daily_text_limit",
                               "session_idle_minutes", "created_at"],
             [(1, "Harbor Physical Therapy", "Harbor PT", "+12125550100", "America/New_York", "21:00", "08:00",
               "08:00", "17:00", "12345", 5, 15, 30, 6, 480, created),
              (2, "Lakeside Rehab", "Lakeside", "+13125550100", "America/Chicago", "21:00", "08:00",
               "08:00", "17:00", "12345", 5, 15, 30, 6, 480, created)])
        password = generate_password_hash(PASSWORD)
        copy(conn, "providers", ["id", "clinic_id", "name", "phone", "email", "password_hash", "role", "duty",
                                 "active", "session_token", "created_at"],
             [(1, 1, "Dana Oncall", "+12125550111", "dana@harbor.example", password, "admin", "on_call", True,
               "0" * 32, created),
              (2, 2, "Olga Lake", "+13125550111", "olga@lakeside.example", password, "provider", "on_call", True,
               "1" * 32, created)])

        people = []  # (patient id, clinic id, session id, session end, phone)
        for pid in range(1, patients + other + 1):
            clinic_id = 1 if pid <= patients else 2
            ended = now - timedelta(hours=rng.uniform(1, 24 * 120))
            people.append((pid, clinic_id, pid, ended, f"+1{212 if clinic_id == 1 else 312}{2000000 + pid:07d}"))
        counts["patients"] = copy(conn, "patients", [
            "id", "clinic_id", "name", "phone", "language", "timezone", "opted_out_at", "precautions",
            "phone_problem_code", "practice", "practice_clock_seconds", "created_at"],
            ((pid, cid, f"{rng.choice(FIRST)} {rng.choice(LAST)}", phone, "es" if pid % 4 == 0 else "en", None,
              ended + timedelta(days=3) if pid % 97 == 0 else None, "[]", 30006 if pid % 211 == 0 else None,
              False, 0, ended) for pid, cid, _, ended, phone in people))
        counts["treatment_sessions"] = copy(conn, "treatment_sessions", [
            "id", "patient_id", "provider_id", "ended_at", "regions", "status", "closed_at", "created_at"],
            ((sid, pid, None, ended, '["knee"]', "open" if now - ended < timedelta(days=8) else "closed",
              None if now - ended < timedelta(days=8) else ended + timedelta(days=8), ended)
             for pid, _, sid, ended, _ in people))

        checkins: list[tuple] = []
        for pid, _, sid, ended, _ in people:
            for n, (code, hours) in enumerate(CHECKINS):
                due = ended + timedelta(hours=hours)
                status = "planned" if due > now else ("missed" if (pid + n) % 23 == 0 else "replied")
                checkins.append((sid * 10 + n, sid, code, due, status, 0 if status == "planned" else 1,
                                 None if status == "planned" else due, due))
        counts["checkins"] = copy(conn, "checkins", ["id", "session_id", "protocol_id", "due_at", "status",
                                                     "attempts", "sent_at", "created_at"], checkins)

        message_rows: list[tuple] = []
        assessment_rows: list[tuple] = []
        mid = aid = 0
        for pid, cid, sid, ended, phone in people:
            for k in range(per_patient):
                n = k // 2 % len(CHECKINS)
                at = ended + timedelta(hours=CHECKINS[n][1], minutes=k)
                if at > now:
                    at = now - timedelta(minutes=rng.randint(1, 600))
                mid += 1
                if k % 2 == 0:
                    message_rows.append((mid, cid, "out", pid, None, sid * 10 + n, None, "checkin",
                                         "How sore is the needled area today, 0-10?", phone, f"SMO{mid:012d}",
                                         "delivered", None, 1, at, at, at, at, at))
                else:
                    soreness = rng.choice([1, 2, 2, 3, 3, 4, 5, 6])
                    message_rows.append((mid, cid, "in", pid, None, sid * 10 + n, None, "inbound",
                                         rng.choice(REPLIES).format(n=soreness), None, f"SMI{mid:012d}",
                                         "received", None, 0, None, None, None, at, at))
                    aid += 1
                    assessment_rows.append((aid, mid, pid, sid, sid * 10 + n, "expected", message_rows[-1][8],
                                            soreness, "[]", '["S1"]', json.dumps([f"soreness {soreness}"]),
                                            (at - ended).total_seconds() / 3600, "1", at))

        escalation_rows: list[tuple] = []
        alert_rows: list[tuple] = []
        eid = 0
        for pid, cid, sid, ended, phone in people:
            if pid % 67:
                continue
            eid += 1
            level = ["routine", "urgent", "urgent", "emergency"][eid % 4]
            raised = max(ended + timedelta(hours=5), now - timedelta(days=rng.randint(0, 30), minutes=rng.randint(0, 600)))
            raised = min(raised, now - timedelta(minutes=1))
            status = ["open", "acknowledged", "resolved"][eid % 3]
            acked = raised + timedelta(minutes=7) if status != "open" else None
            if status == "acknowledged" and eid % 2:
                acked = now - timedelta(days=2)
            resolved = raised + timedelta(hours=1) if status == "resolved" else None
            escalation_rows.append((eid, cid, pid, sid, None, level, "U1", f"B{eid:06d}", status, raised, 0, None,
                                    None, None, "call" if eid % 5 == 0 else None, raised if eid % 5 == 0 else None,
                                    1 if acked and cid == 1 else None, acked, 1 if resolved and cid == 1 else None,
                                    resolved, "handled" if resolved else None, raised))
            for r in range(3 if level != "routine" else 0):
                mid += 1
                at = raised + timedelta(minutes=5 * r)
                alert_rows.append((mid, cid, "out", None, 1 if cid == 1 else 2, None, eid, "alert",
                                     f"{level.upper()} alert B{eid:06d}", "+12125550111", f"SMA{mid:012d}",
                                     "delivered", None, 1, at, at, at, at, at))
        message_columns = ["id", "clinic_id", "direction", "patient_id", "provider_id", "checkin_id", "escalation_id",
                           "purpose", "body", "to_number", "twilio_sid", "status", "error_code", "attempts",
                           "send_after", "claimed_at", "sent_at", "created_at", "updated_at"]
        counts["messages"] = copy(conn, "messages", message_columns, message_rows)
        counts["assessments"] = copy(conn, "assessments", [
            "id", "message_id", "patient_id", "session_id", "checkin_id", "level", "text", "soreness", "symptoms",
            "rules", "reasons", "hours_since_session", "protocol_version", "created_at"], assessment_rows)
        counts["escalations"] = copy(conn, "escalations", [
            "id", "clinic_id", "patient_id", "session_id", "assessment_id", "level", "rule", "code", "status",
            "alert_started_at", "alerts_sent", "next_alert_at", "backup_alerted_at", "digest_sent_at",
            "patient_choice", "patient_choice_at", "acknowledged_by_id", "acknowledged_at", "resolved_by_id",
            "resolved_at", "resolution", "created_at"], escalation_rows)
        counts["messages"] += copy(conn, "messages", message_columns, alert_rows)
        counts["open findings (Harbor)"] = sum(1 for e in escalation_rows if e[1] == 1 and e[8] == "open")
        for table in ("clinics", "providers", "patients", "treatment_sessions", "checkins", "messages",
                      "assessments", "escalations"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return counts


# -- measuring --------------------------------------------------------------------------------

def measure(client, path: str, requests: int) -> tuple[float, float, int]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    for _ in range(5):
        assert client.get(path).status_code in (200, 204), path
    sa.event.listen(db.engine, "before_cursor_execute", count)
    response = client.get(path)
    sa.event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code in (200, 204), (path, response.status_code)
    times = []
    for _ in range(requests):
        db.session.expunge_all()
        start = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], len(statements)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--requests", type=int, default=100, help="measured requests per page")
    parser.add_argument("--reuse", action="store_true", help="measure the database seeded by the last run")
    args = parser.parse_args()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    workdir = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    app = create_app(app_config(workdir))
    if not args.reuse:
        fresh_database()
        with app.app_context():
            flask_migrate.upgrade()
            db.session.remove()
            db.engine.dispose()
        started = time.perf_counter()
        counts = seed(args.patients, args.messages, now)
        print(f"seeded in {time.perf_counter() - started:.0f} s: "
              + ", ".join(f"{n:,} {table}" for table, n in counts.items()))
    with app.app_context():
        client = app.test_client()
        response = client.post("/login", data={"email": "dana@harbor.example", "password": PASSWORD})
        assert response.status_code == 302, "sign-in failed"
        some = db.session.execute(sa.text("SELECT id, phone FROM patients WHERE clinic_id = 1 "
                                          "ORDER BY id DESC LIMIT 1")).one()
        far = max(1, min(500, args.patients // 50))  # a far page that exists at this size
        pages = [
            ("findings queue", "/"),
            ("queue poll (changed)", "/findings/live"),
            ("patients, first page", "/patients"),
            ("patients, name search", "/patients?q=maria+lo"),
            ("patients, phone search", f"/patients?q={some.phone[2:5]}+{some.phone[5:8]}+{some.phone[8:]}"),
            ("patients, open + missed", "/patients?show=open&show=missed"),
            (f"patients, page {far}", f"/patients?page={far}"),
            ("one patient's course", f"/patients/{some.id}"),
        ]
        print(f"\nload average before measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"{'page':28} {'p50 ms':>8} {'p95 ms':>8} {'SQL':>5}")
        worst = 0.0
        for name, path in pages:
            p50, p95, statements = measure(client, path, args.requests)
            worst = max(worst, p95)
            print(f"{name:28} {p50:8.1f} {p95:8.1f} {statements:5d}")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        print(f"\nworst p95 {worst:.1f} ms (target < {TARGET_P95_MS} ms): {'met' if worst < TARGET_P95_MS else 'NOT met'}")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
