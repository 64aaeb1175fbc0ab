"""/metrics: Prometheus metrics for the whole installation, counted from the database, behind a token."""

from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import enroll, post_signed, text_in

from bot import create_app, dispatch
from bot.extensions import db
from bot.models import Escalation, Message
from conftest import app_config

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=timezone.utc)
TOKEN = "scrape-token-0123456789"


@pytest.fixture
def scrape(app, client):
    app.config["METRICS_TOKEN"] = TOKEN

    def get(which=client):
        response = which.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        samples = {}
        for family in text_string_to_metric_families(response.get_data(as_text=True)):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples
    return get


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_metrics_are_off_without_a_token_setting(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_bearer_token(app, client):
    app.config["METRICS_TOKEN"] = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_open_findings_by_level_and_time_to_acknowledge(app, client, clock, clinic, scrape):
    enroll(clinic, ended=NOW - timedelta(hours=2))
    clock.set(NOW)
    text_in(client, "+12125550143", "I can't breathe and my chest hurts")
    samples = scrape()
    assert value(samples, "aftercare_open_findings", level="emergency") == 1
    assert value(samples, "aftercare_open_findings", level="urgent") == 0
    finding = db.session.query(Escalation).one()
    clock.set(NOW + timedelta(minutes=4))
    text_in(client, "+12125550111", f"ACK {finding.code}")
    samples = scrape()
    assert value(samples, "aftercare_open_findings", level="emergency") == 0
    assert value(samples, "aftercare_time_to_acknowledge_seconds_bucket", level="emergency", le="60.0") == 0
    assert value(samples, "aftercare_time_to_acknowledge_seconds_bucket", level="emergency", le="300.0") == 1
    assert value(samples, "aftercare_time_to_acknowledge_seconds_sum", level="emergency") == 240


def test_due_and_overdue_items(app, clinic, clock, scrape):
    enroll(clinic, ended=NOW - timedelta(seconds=30))
    enroll(clinic, ended=NOW - timedelta(minutes=5), phone="+12125550144", name="Late Patient")
    clock.set(NOW)
    samples = scrape()
    assert value(samples, "aftercare_due_items", kind="checkin") == 2
    assert value(samples, "aftercare_overdue_items", kind="checkin") == 1  # due for more than 3 x 15 s
    assert value(samples, "aftercare_oldest_due_age_seconds", kind="checkin") == 300


def test_sends_and_failures_by_carrier_code(app, client, clinic, scrape):
    for i in range(2):
        enroll(clinic, ended=NOW, phone=f"+1212555014{i}", name=f"P{i} Test")
    dispatch.run_once(now=NOW)
    first = db.session.query(Message).filter_by(purpose="checkin").order_by(Message.id).first()
    post_signed(client, f"/sms/status?m={first.id}", {"MessageSid": first.twilio_sid, "MessageStatus": "undelivered",
                                                      "ErrorCode": "30006", "AccountSid": "AC" + "0" * 32})
    samples = scrape()
    assert value(samples, "aftercare_texts_sent_total", purpose="checkin") == 2
    assert value(samples, "aftercare_text_failures_total", purpose="checkin", code="30006") == 1


def test_every_worker_reports_the_same_numbers_from_the_database(app, clinic, database_url, tmp_path, clock, scrape):
    enroll(clinic, ended=NOW - timedelta(minutes=5))
    clock.set(NOW)
    other = create_app(app_config(database_url, tmp_path / "other", METRICS_TOKEN=TOKEN))  # another gunicorn worker
    other.extensions["aftercare.clock"] = clock
    assert value(scrape(), "aftercare_due_items", kind="checkin") == 1
    assert value(scrape(other.test_client()), "aftercare_due_items", kind="checkin") == 1
    with other.app_context():
        db.engine.dispose()


def test_the_dispatcher_heartbeat_age_is_exported(app, clock, scrape):
    dispatch.beat(dispatch.Heartbeat("host:1", NOW, 15), NOW - timedelta(seconds=20))
    clock.set(NOW)
    assert value(scrape(), "aftercare_dispatcher_heartbeat_age_seconds") == 20
