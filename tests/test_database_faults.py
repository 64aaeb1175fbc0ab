"""A PostgreSQL server that stops answering on open connections: every request still ends in time.

A small TCP proxy sits between the app and PostgreSQL and, when told, stops passing bytes while
keeping every connection open, as a frozen host or a stalled network path does. Its kernel keeps
acknowledging, so no TCP setting notices; only the app's own deadline (bot/database.py) does.
PostgreSQL only: SQLite has no connection to freeze.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import app_config, is_postgres
from support import enroll, text_in, twiml_text

from bot import create_app, dispatch, spool
from bot.extensions import db
from bot.models import Message, utcnow

pytestmark = pytest.mark.slow

TWILIO_LIMIT = 15  # seconds Twilio waits for a webhook's answer


class FreezingProxy:
    """Forwards TCP to `target` until `freeze()`; then holds every byte, connections left open."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.frozen = threading.Event()
        self.closed = threading.Event()
        self.sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.frozen.is_set() and not self.closed.is_set():
                    time.sleep(0.02)  # hold the bytes: nothing reaches the other side
                sink.sendall(data)
        except OSError:
            pass

    def freeze(self) -> None:
        self.frozen.set()

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass


@pytest.fixture
def proxy(database_url):
    if not is_postgres(database_url):
        pytest.skip("PostgreSQL only: the fault is a frozen network connection")
    url = sa.engine.make_url(database_url)
    proxy = FreezingProxy(url.host or "127.0.0.1", url.port or 5432)
    yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxy.close()


def test_a_frozen_database_never_holds_the_webhook_past_twilios_limit_and_healthz_says_why(app, clinic, proxy,
                                                                                        tmp_path):
    freezer, proxied_url = proxy
    enroll(clinic, ended=utcnow() - timedelta(hours=2))
    dispatch.beat(dispatch.Heartbeat("host:1", utcnow(), 15), utcnow())
    # The app with production's default limits (DATABASE_TIMEOUT 10 s, REQUEST_TIMEOUT 8 s), through the proxy.
    web = create_app(app_config(proxied_url, tmp_path / "web"))
    try:
        check_the_frozen_database(app, web, freezer)
    finally:
        with web.app_context():
            db.engine.dispose()


def check_the_frozen_database(app, web, freezer) -> None:
    client = web.test_client()
    assert client.get("/healthz").status_code == 200  # its pool now holds an open connection
    freezer.freeze()

    started = time.monotonic()
    response = text_in(client, "+12125550143", "I can't breathe", sid="SM" + "9" * 32)
    took = time.monotonic() - started
    assert response.status_code == 200 and twiml_text(response) == spool.HOLDING_ANSWER
    assert took < TWILIO_LIMIT, took
    print(f"/sms/inbound answered in {took:.1f} s")

    started = time.monotonic()
    health = client.get("/healthz")
    took = time.monotonic() - started
    assert health.status_code == 503 and took < TWILIO_LIMIT, took
    print(f"/healthz answered 503 in {took:.1f} s: {health.json['problems']}")
    assert health.json["database"] == "unavailable"
    assert any(word in health.json["problems"][0] for word in ("did not answer", "timeout")), health.json
    assert health.json["spooled_texts"] == 1

    # A dispatcher that reaches the database (directly here) stores the spooled text.
    app.config["INBOUND_SPOOL_DIR"] = web.config["INBOUND_SPOOL_DIR"]
    dispatch.run_alerts(now=utcnow())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
        Message.twilio_sid == "SM" + "9" * 32)) == 1
