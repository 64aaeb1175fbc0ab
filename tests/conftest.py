"""Fixtures: an app per test on a clean database.

The database is SQLite by default and PostgreSQL when TEST_DATABASE_URL is set (`.ci/run` runs
the suite both ways). The schema comes from the migrations, once per run; each test starts from
empty tables.
"""

from __future__ import annotations

import functools
import os
import unicodedata
from datetime import datetime, time, timezone
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import g
from werkzeug.security import generate_password_hash

import config
from bot import create_app
from bot.extensions import db
from bot.models import Clinic, Provider


def ascii_id(text: str) -> str:
    """A test id in plain ASCII: "presión" -> "presion", "🙂" dropped, a newline "U+000A".

    pytest writes other characters as escapes ("presi\\xf3n"), and mutmut's runner then cannot find
    those tests by id (`make mutation` stops at its clean run, tests/MUTATION.md).
    """
    text = "".join(c if c.isprintable() else f"U+{ord(c):04X}" for c in text)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").strip() or "-"


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    return ascii_id(val) if isinstance(val, str) and not (val.isascii() and val.isprintable()) else None


AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_BASE_URL = "https://aftercare.example.org"


def app_config(database_url: str, workdir: Path, **overrides: object) -> dict[str, object]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SMS_BACKEND": "console",
        "CONSOLE_SMS_FILE": str(workdir / "console-sms.jsonl"),
        "INBOUND_SPOOL_DIR": str(workdir / "inbound-spool"),
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SCHEDULER": "off",
        "WTF_CSRF_ENABLED": False,
        **overrides,
    }


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test database, migrated to the latest schema once for the whole run."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'aftercare.db'}"
    url = config._normalise_database_url(url)
    app = create_app(app_config(url, tmp_path_factory.mktemp("migrate")))
    with app.app_context():
        if is_postgres(url):
            db.session.execute(sa.text("DROP SCHEMA public CASCADE"))
            db.session.execute(sa.text("CREATE SCHEMA public"))
            db.session.commit()
        flask_migrate.upgrade()
        db.session.remove()
        db.engine.dispose()
    return url


def empty_tables() -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    if is_postgres(str(db.engine.url)):
        db.session.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        db.session.execute(sa.text("PRAGMA foreign_keys=OFF"))
        for name in tables:
            db.session.execute(sa.text(f"DELETE FROM {name}"))
    db.session.commit()


def start_with_a_fresh_g() -> None:
    """The test holds an app context open and every request reuses it, and so its `g`, where
    Flask-Login keeps the signed-in user: empty it, so that each request signs in from its own
    cookies, as in production, where every request has a fresh context."""
    for name in list(g):
        g.pop(name)


@pytest.fixture
def app(database_url: str, tmp_path: Path):
    app = create_app(app_config(database_url, tmp_path))
    app.before_request(start_with_a_fresh_g)
    with app.app_context():
        yield app
        db.session.remove()
        empty_tables()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def gateway(app):
    """The console gateway the app sends through; `.records()` lists what went out."""
    return app.extensions["aftercare.gateway"]


@functools.cache
def password_hash(password: str) -> str:
    """The providers' real (scrypt) hash, made once a run: each costs a tenth of a second by design."""
    return generate_password_hash(password)


@pytest.fixture
def clinic(app) -> Clinic:
    """A clinic in New York with an on-call and a backup provider who can receive texts."""
    clinic = Clinic(name="Harbor Physical Therapy", sms_name="Harbor PT", phone="+12125550100",
                    timezone="America/New_York", quiet_start=time(21), quiet_end=time(8),
                    created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    on_call = Provider(clinic=clinic, name="Dana Oncall", email="dana@harbor.example", phone="+12125550111",
                       duty="on_call")
    backup = Provider(clinic=clinic, name="Ben Backup", email="ben@harbor.example", phone="+12125550122",
                      duty="backup")
    for provider in (on_call, backup):
        provider.password_hash = password_hash("correct horse battery")
        provider.end_sessions()
    db.session.add_all([clinic, on_call, backup])
    db.session.commit()
    return clinic


class Clock:
    """The time requests arrive at, set by the test (real time until set)."""

    def __init__(self) -> None:
        self.moment: datetime | None = None

    def __call__(self) -> datetime:
        return self.moment or datetime.now(timezone.utc)

    def set(self, moment: datetime) -> datetime:
        self.moment = moment.astimezone(timezone.utc)
        return self.moment


@pytest.fixture
def clock(app) -> Clock:
    clock = Clock()
    app.extensions["aftercare.clock"] = clock
    return clock
