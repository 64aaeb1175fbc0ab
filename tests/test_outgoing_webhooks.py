"""Outgoing webhooks, against a real HTTP receiver on this machine: signed the Standard Webhooks way,
sent by the dispatcher from durable rows, retried with back-off until answered, and never in the way
of a patient's reply."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook
from support import enroll, post_signed, text_in

from bot import outgoing
from bot.dispatch import run_once
from bot.extensions import db
from bot.models import Message, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow

NY = ZoneInfo("America/New_York")
MARIA = "+12125550143"
EMERGENCY = "hurts a bit when i breathe in, prob nothing"


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers with the next planned status
    (200 once the plan runs out); "hang" holds the request open without answering."""

    def __init__(self, plan: list[int | str] | None = None) -> None:
        self.plan, self.received = list(plan or []), []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body.decode()})
                answer = receiver.plan.pop(0) if receiver.plan else 200
                if answer == "hang":
                    receiver.release.wait(30)
                    return
                self.send_response(int(answer))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/aftercare-events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(plan: list[int | str] | None = None) -> Receiver:
        made.append(Receiver(plan))
        return made[-1]

    yield make
    for r in made:
        r.close()


def subscribe(clinic, url: str, events=("finding.opened",)) -> WebhookEndpoint:
    endpoint = outgoing.create_endpoint(clinic.id, url, events, "test receiver", actor="test", now=utcnow())
    db.session.commit()
    return endpoint


@pytest.fixture
def now() -> datetime:
    """Real time: receivers check the signed timestamp against their own clock (5 minutes' tolerance)."""
    return utcnow().replace(microsecond=0)


def maria_writes_an_emergency(clinic, client, clock, now: datetime) -> None:
    enroll(clinic, ended=now - timedelta(hours=5), regions=("upper_back",), now=now - timedelta(hours=5))
    clock.set(now)
    text_in(client, MARIA, EMERGENCY)


def test_a_finding_reaches_the_receiver_signed_so_the_standard_webhooks_library_verifies_it(
        app, clinic, client, clock, receiver, now):
    listening = receiver()
    endpoint = subscribe(clinic, listening.url)
    maria_writes_an_emergency(clinic, client, clock, now)
    outgoing.deliver_due(now)
    [request] = listening.received
    payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["type"] == "finding.opened"
    assert payload["data"]["finding"]["level"] == "emergency"
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert request["headers"]["Content-Type"] == "application/json"
    with pytest.raises(Exception):
        Webhook(outgoing.new_secret()).verify(request["body"], request["headers"])


def test_a_receiver_that_fails_twice_then_succeeds_gets_the_event_exactly_once_more(
        app, clinic, client, clock, receiver, now):
    listening = receiver([500, 503])
    endpoint = subscribe(clinic, listening.url)
    maria_writes_an_emergency(clinic, client, clock, now)
    for seconds in (0, 29, 30, 89, 90, 600, 3600):  # back-off: 30 s after the first failure, 60 s after the second
        outgoing.deliver_due(now + timedelta(seconds=seconds))
    assert len(listening.received) == 3
    assert len({r["headers"]["webhook-id"] for r in listening.received}) == 1
    assert len({r["body"] for r in listening.received}) == 1
    for request in listening.received:
        Webhook(endpoint.secret).verify(request["body"], request["headers"])
    delivery = db.session.scalars(sa.select(WebhookDelivery)).one()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)


def test_a_receiver_that_never_answers_does_not_slow_a_patients_reply(app, clinic, client, clock, receiver, now):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 3.0
    hanging = receiver(["hang"] * 5)
    subscribe(clinic, hanging.url)
    maria_writes_an_emergency(clinic, client, clock, now)
    sender = threading.Thread(target=lambda: _deliver_in_app(app, now))
    sender.start()
    while not hanging.received:  # the dispatcher is now waiting on the receiver
        time.sleep(0.01)
    started = time.monotonic()
    answer = text_in(client, MARIA, "still like a 6 and it hurts to breathe")
    took = time.monotonic() - started
    sender.join(timeout=20)
    assert answer.status_code == 200 and took < 1.0, f"the reply took {took:.2f} s"
    db.session.expire_all()
    first = db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
    assert (first.status, first.last_error) == ("pending", "timed out")
    assert first.next_attempt_at == now + timedelta(seconds=30)


def _deliver_in_app(app, now: datetime) -> None:
    with app.app_context():
        try:
            outgoing.deliver_due(now)
        finally:
            db.session.remove()


def test_one_dead_receiver_costs_one_timeout_per_pass_not_one_per_event(app, clinic, client, clock, receiver, now):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 1.0
    hanging = receiver(["hang"] * 10)
    subscribe(clinic, hanging.url, events=outgoing.EVENT_TYPES)
    maria_writes_an_emergency(clinic, client, clock, now)
    text_in(client, MARIA, "STOP")
    report = outgoing.deliver_due(now)
    assert len(hanging.received) == 1
    assert report["webhooks_retrying"] == 1 and report["webhooks_postponed"] == 1  # the other event, once


def test_the_dispatcher_pass_sends_webhooks(app, clinic, client, clock, receiver, now):
    listening = receiver()
    subscribe(clinic, listening.url)
    maria_writes_an_emergency(clinic, client, clock, now)
    report = run_once(now=now)
    assert report["webhooks_delivered"] == 1 and len(listening.received) == 1


def test_a_delivery_is_given_up_after_its_last_attempt_and_the_dashboard_can_say_so(
        app, clinic, client, clock, receiver, now):
    listening = receiver([500] * outgoing.MAX_ATTEMPTS)
    subscribe(clinic, listening.url)
    maria_writes_an_emergency(clinic, client, clock, now)
    moment = now
    for attempt in range(1, outgoing.MAX_ATTEMPTS + 1):
        outgoing.deliver_due(moment)
        moment += outgoing.backoff(attempt)
    outgoing.deliver_due(moment + timedelta(days=1))
    delivery = db.session.scalars(sa.select(WebhookDelivery)).one()
    assert (delivery.status, delivery.attempts) == ("failed", outgoing.MAX_ATTEMPTS)
    assert len(listening.received) == outgoing.MAX_ATTEMPTS


@pytest.mark.parametrize("attempts, wait", [(1, timedelta(seconds=30)), (2, timedelta(minutes=1)),
                                            (5, timedelta(minutes=8)), (10, timedelta(hours=4, minutes=16)),
                                            (11, timedelta(hours=6)), (12, timedelta(hours=6))])
def test_retries_wait_twice_as_long_each_time_up_to_six_hours(attempts, wait):
    assert outgoing.backoff(attempts) == wait


# -- which events, from which changes ---------------------------------------------------------------

def events() -> list[tuple[str, dict]]:
    db.session.expire_all()
    return [(e.type, json.loads(e.body)) for e in db.session.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id))]


def test_no_endpoint_no_event_rows(app, clinic, client, clock, now):
    maria_writes_an_emergency(clinic, client, clock, now)
    assert events() == []


def test_an_endpoint_hears_only_the_events_it_chose(app, clinic, client, clock, now):
    subscribe(clinic, "https://practice.example/hooks", events=("patient.opted_out",))
    maria_writes_an_emergency(clinic, client, clock, now)
    text_in(client, MARIA, "STOP")
    clock.set(now + timedelta(minutes=1))
    text_in(client, MARIA, "STOP")  # said again: still one event
    assert [t for t, _ in events()] == ["patient.opted_out"]
    assert events()[0][1]["data"]["patient"]["source"] == "sms"


def test_a_finding_is_heard_opened_escalated_to_backup_acknowledged_and_resolved(
        app, clinic, client, clock, receiver, now):
    subscribe(clinic, receiver().url, events=outgoing.EVENT_TYPES)
    maria_writes_an_emergency(clinic, client, clock, now)
    run_once(now=now + timedelta(seconds=10))
    run_once(now=now + timedelta(minutes=15, seconds=10))  # nobody acknowledged: the backup is alerted
    run_once(now=now + timedelta(minutes=20, seconds=10))  # re-alerted, backup again: no second event
    from bot import escalation
    from bot.models import Escalation

    finding = db.session.scalars(sa.select(Escalation)).one()
    escalation.acknowledge(finding, clinic.providers[0], now + timedelta(minutes=21), via="dashboard")
    escalation.resolve(finding, clinic.providers[0], now + timedelta(minutes=40), via="dashboard")
    db.session.commit()
    heard = events()
    assert [t for t, _ in heard] == ["finding.opened", "finding.escalated_to_backup", "finding.acknowledged",
                                     "finding.resolved"]
    assert {body["data"]["finding"]["id"] for _, body in heard} == {finding.id}
    assert heard[-1][1]["data"]["finding"]["status"] == "resolved"


def test_a_number_that_cannot_take_texts_is_heard(app, clinic, client, clock, receiver):
    subscribe(clinic, receiver().url, events=("patient.number_cannot_take_texts",))
    e = enroll(clinic, ended=datetime(2026, 11, 17, 10, 0, tzinfo=NY))  # a welcome sent in the morning
    run_once(now=datetime(2026, 11, 17, 10, 0, 30, tzinfo=NY))
    message = db.session.scalars(sa.select(Message).where(Message.purpose == "checkin")).one()
    params = {"MessageSid": message.twilio_sid, "MessageStatus": "undelivered", "ErrorCode": "21614",
              "AccountSid": "AC" + "0" * 32}
    assert post_signed(client, f"/sms/status?m={message.id}", params).status_code == 204
    [(kind, body)] = events()
    assert kind == "patient.number_cannot_take_texts"
    assert body["data"]["patient"] == {"id": e.patient.id, "carrier_error_code": 21614,
                                       "url": f"https://aftercare.example.org/api/v1/patients/{e.patient.id}"}


def test_an_event_carries_ids_and_links_but_no_phone_number_or_message_text(app, clinic, client, clock, now):
    subscribe(clinic, "https://practice.example/hooks", events=outgoing.EVENT_TYPES)
    maria_writes_an_emergency(clinic, client, clock, now)
    text_in(client, MARIA, "STOP")
    for _, body in events():
        raw = json.dumps(body)
        assert MARIA not in raw and "breathe" not in raw and "Maria" not in raw


def test_a_disabled_endpoint_gets_nothing_more(app, clinic, client, clock, receiver, now):
    listening = receiver()
    endpoint = subscribe(clinic, listening.url)
    maria_writes_an_emergency(clinic, client, clock, now)
    outgoing.disable_endpoint(endpoint, actor="test", now=now)
    db.session.commit()
    report = outgoing.deliver_due(now)
    assert listening.received == [] and report["webhooks_cancelled"] == 1


@pytest.mark.parametrize("url, production", [("ftp://practice.example/x", False), ("practice.example/x", False),
                                             ("http://practice.example/x", True),
                                             ("https://user:pw@practice.example/x", False)])
def test_an_endpoint_url_that_cannot_be_used_is_refused_naming_the_url(app, clinic, url, production):
    app.config["AFTERCARE_ENV"] = "production" if production else "development"
    with pytest.raises(ValueError, match="^url: "):
        outgoing.create_endpoint(clinic.id, url, ["finding.opened"], "", actor="test", now=utcnow())


def test_an_endpoint_needs_known_events(app, clinic):
    with pytest.raises(ValueError, match="^events: "):
        outgoing.create_endpoint(clinic.id, "https://practice.example/x", ["finding.lost"], "", actor="test",
                                 now=utcnow())


def test_a_delivery_claimed_by_a_sender_that_died_is_sent_again_after_its_lease(
        app, clinic, client, clock, receiver, now):
    listening = receiver()
    subscribe(clinic, listening.url)
    maria_writes_an_emergency(clinic, client, clock, now)
    db.session.execute(sa.update(WebhookDelivery).values(status="claimed", claimed_at=now, attempts=1))
    db.session.commit()
    outgoing.deliver_due(now + outgoing.LEASE - timedelta(seconds=1))
    assert listening.received == []
    outgoing.deliver_due(now + outgoing.LEASE + timedelta(seconds=1))
    assert len(listening.received) == 1
