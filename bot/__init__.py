"""Aftercare: follows patients by text after dry needling and gets the ones who need it to their PT.

`create_app` builds the Flask application: settings, database, one blueprint per area, the SMS
gateway. Background work (the dispatcher) is started by `flask scheduler`, `flask serve` or
`wsgi.py`, never by merely creating an app, so CLI commands and tests stay side-effect free.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

import config

from . import database, security
from .extensions import csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment (and `.env`), overridden by `test_config` when given."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    if test_config is None and not os.environ.get("FLASK_SKIP_DOTENV"):
        from dotenv import load_dotenv

        load_dotenv(ROOT / ".env", override=False)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(config.load(instance_path=app.instance_path))
    if test_config is not None:
        app.config.from_mapping(test_config)
    config.check(app.config)
    _configure_logging(app)
    _configure_database(app)

    login_manager.init_app(app)
    csrf.init_app(app)
    security.init_app(app)  # headers, proxies, request limits

    from . import api, cli, dashboard, doctor, gateways, health, metrics, practice, webhooks
    from .triage import learned
    from .triage.cli import bp as triage_cli

    learned.configure(enabled=app.config.get("TRIAGE_SECOND_READER", "on") == "on")

    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(doctor.bp)
    app.register_blueprint(webhooks.bp)
    csrf.exempt(webhooks.bp)  # Twilio cannot send a CSRF token; its signature is checked instead
    app.register_blueprint(dashboard.bp)
    practice.register(app)  # /practice, only with the console SMS backend
    app.register_blueprint(cli.bp)
    app.register_blueprint(triage_cli)
    api.init_app(app)

    app.extensions["aftercare.gateway"] = gateways.from_config(app.config)
    return app


def _configure_database(app: Flask) -> None:
    """The engine with bounded waits (bot/database.py), and Alembic through Flask-Migrate."""
    database.configure(app, db)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite: enforce foreign keys, let readers and a writer work at once, wait on a busy lock."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _configure_logging(app: Flask) -> None:
    """Plain, timestamped logs. Log ids, never phone numbers or message bodies."""
    level = getattr(logging, app.config["LOG_LEVEL"], logging.INFO)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bot").setLevel(level)
    # The twilio SDK logs request URLs and bodies (phone numbers, texts) at DEBUG/INFO.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
