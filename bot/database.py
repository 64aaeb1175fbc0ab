"""How long the app may wait on its database, and what a request gets when it cannot.

A PostgreSQL server that stops answering on an open connection (a frozen host, a stalled proxy, a
failover that left the old address silent) would otherwise hold a request for as long as it hangs.
Each limit below covers a failure the others miss:

1. `connect_timeout`: a connection attempt gives up (DATABASE_TIMEOUT, at least 2 s: libpq's rule).
2. `statement_timeout`, on the server: it cancels a statement that runs too long and keeps the
   connection. It does nothing when the server or the network has stopped answering.
3. TCP keepalives and `tcp_user_timeout`: the kernel breaks a connection whose peer vanished (host
   down, network cut), even while idle in the pool. They do nothing when the peer's kernel is
   alive and acknowledging but nothing answers above it.
4. A deadline on every wait for the server (`BoundedConnection`): after DATABASE_TIMEOUT plus a
   second (so the server's own cancel wins when it can), the app stops waiting, closes that
   connection and raises OperationalError. This is the limit that always holds.
5. A budget per web request (REQUEST_TIMEOUT): all the request's waits together, connecting
   included, stay within it, so a request answers well inside Twilio's 15 seconds.

OperationalError (and the pool's TimeoutError) that reach Flask become a 503 with Retry-After,
never a 500. The inbound webhook does better: it keeps the text in the spool (`bot/spool.py`).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, request
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

GRACE_SECONDS = 1.0  # the client outwaits the server's statement_timeout by this much
MIN_WAIT_SECONDS = 0.2  # a wait near the end of a request's budget still gets this long
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3, "keepalives_count": 3}

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("aftercare_db_deadline", default=None)
_unbounded: contextvars.ContextVar[bool] = contextvars.ContextVar("aftercare_db_unbounded", default=False)


def remaining() -> float | None:
    """Seconds left of the current request's database budget (None outside a request)."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def wait_limit(per_call: float | None) -> float | None:
    """How long the next wait for the server may take: the per-call limit, within the request's budget."""
    if _unbounded.get():
        return None
    left = remaining()
    if left is None:
        return per_call
    left = max(left, MIN_WAIT_SECONDS)
    return left if per_call is None else min(per_call, left)


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Bound all the database waits inside the block to `seconds` in total."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


@contextmanager
def unbounded() -> Iterator[None]:
    """No client-side deadline inside the block: migrations may rewrite large tables."""
    token = _unbounded.set(True)
    try:
        yield
    finally:
        _unbounded.reset(token)


def _bounded_connection_class() -> type:
    import psycopg

    interval = getattr(psycopg.connection, "_WAIT_INTERVAL", 0.1)  # how often psycopg checks for Ctrl-C

    class BoundedConnection(psycopg.Connection):  # type: ignore[type-arg]
        """A psycopg connection that never waits on the server longer than its limit.

        psycopg routes every wait on an established connection (queries, commit, rollback, the
        pool's ping) through `wait`, which takes a timeout and raises its internal `_WaitTimeout`
        when it expires. Here that timeout is always set, and its expiry becomes a public
        OperationalError on a closed connection, which SQLAlchemy treats as a disconnect: the
        connection is dropped from the pool rather than reused half-way through a query.
        """

        wait_seconds: float | None = None

        def wait(self, gen: Any, interval: float = interval, timeout: float | None = None) -> Any:
            limit = wait_limit(self.wait_seconds) if timeout is None else timeout
            try:
                return super().wait(gen, interval, limit)
            except psycopg.errors._WaitTimeout:
                self.close()
                raise psycopg.OperationalError(
                    f"the database did not answer within {limit:.1f} s; connection closed") from None

    return BoundedConnection


def configure(app: Flask, db: Any) -> None:
    """Engine options for the configured database, its timeouts, and the 503 error handlers."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    timeout = float(app.config["DATABASE_TIMEOUT"])
    # Statement parameters are phone numbers and message bodies: keep them out of every
    # exception message, and so out of every logged traceback.
    options: dict[str, Any] = {"hide_parameters": True}
    if url.get_backend_name() == "postgresql":
        options.update(
            pool_pre_ping=True,
            pool_timeout=timeout,  # waiting for a free pooled connection is bounded too
            connect_args={"connect_timeout": max(2, round(timeout)),
                          "options": f"-c statement_timeout={int(timeout * 1000)}",
                          "tcp_user_timeout": int(timeout * 1000), **KEEPALIVE},
        )
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)
    db.init_app(app)
    if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg":
        with app.app_context():
            _bound(db.engine, timeout)

    request_timeout = float(app.config["REQUEST_TIMEOUT"])

    @app.before_request
    def start_budget() -> None:
        request.environ["aftercare.db_budget"] = _deadline.set(time.monotonic() + request_timeout)

    @app.teardown_request
    def end_budget(exc: BaseException | None) -> None:
        token = request.environ.pop("aftercare.db_budget", None)
        if token is not None:
            try:
                _deadline.reset(token)
            except ValueError:  # torn down in another context than it started: just clear it
                _deadline.set(None)

    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(sa.exc.TimeoutError, database_unavailable)


def _bound(engine: sa.Engine, timeout: float) -> None:
    connection_class = _bounded_connection_class()

    @sa.event.listens_for(engine, "do_connect")
    def connect(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        left = remaining()
        if left is not None and not _unbounded.get():  # inside a request: connecting spends its budget too
            cparams["connect_timeout"] = max(2, min(int(cparams.get("connect_timeout", 2)), int(left)))
        connection = connection_class.connect(*cargs, **cparams)
        connection.wait_seconds = timeout + GRACE_SECONDS
        return connection


def database_unavailable(error: Exception) -> Response:
    """The database is down or not answering: 503 with Retry-After, never a 500 or a traceback page."""
    from .extensions import db

    try:
        db.session.rollback()
    except Exception:  # the connection is gone already; the session is reset either way
        log.debug("rollback after a database error failed", exc_info=True)
    log.error("database unavailable while handling %s: %s", request.path, type(error).__name__)
    wants_html = request.accept_mimetypes.best == "text/html"
    body = ("<!doctype html><title>Briefly unavailable</title><h1>Briefly unavailable</h1>"
            "<p>Aftercare cannot reach its database. Please try again in a minute.</p>"
            if wants_html else "database unavailable\n")
    return Response(body, status=503, mimetype="text/html" if wants_html else "text/plain",
                    headers={"Retry-After": "30"})
