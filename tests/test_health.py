"""/healthz tells uptime monitoring whether the whole installation works; /readyz tells a load
balancer whether this web process can serve."""

from datetime import datetime, timedelta, timezone

from conftest import app_config

from bot import create_app, dispatch

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=timezone.utc)


def dispatcher_beat(at: datetime, interval: float = 15) -> None:
    dispatch.beat(dispatch.Heartbeat("worker-1:4242", at - timedelta(hours=1), interval), at)


def test_healthy_when_the_database_answers_and_a_dispatcher_ran_recently(client, clock):
    clock.set(NOW)
    dispatcher_beat(NOW - timedelta(seconds=10))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok" and response.json["database"] == "ok"
    assert response.json["dispatcher"]["age_seconds"] == 10 and response.json["dispatcher"]["name"] == "worker-1:4242"


def test_a_dispatcher_silent_for_more_than_three_intervals_makes_the_installation_unhealthy(client, clock):
    dispatcher_beat(NOW - timedelta(seconds=45))  # 3 x 15 s: still on time
    clock.set(NOW)
    assert client.get("/healthz").status_code == 200
    clock.set(NOW + timedelta(seconds=1))  # 46 s: late
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["dispatcher"]["status"] == "stale"
    assert response.json["problems"] == ["dispatcher: last pass 46 s ago (limit 45 s)"]


def test_the_limit_is_three_of_the_dispatchers_own_intervals(client, clock):
    dispatcher_beat(NOW - timedelta(seconds=100), interval=60)
    clock.set(NOW)
    assert client.get("/healthz").status_code == 200


def test_no_dispatcher_ever_is_unhealthy_but_the_web_process_is_ready(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["problems"] == ["dispatcher: no dispatcher has ever completed a pass"]
    assert client.get("/readyz").status_code == 200  # a load balancer keeps the webhook up


def test_unavailable_when_the_database_does_not_answer(tmp_path):
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
    app = create_app(app_config(unreachable, tmp_path))
    for path in ("/healthz", "/readyz"):
        response = app.test_client().get(path)
        assert response.status_code == 503
        assert response.json["database"] == "unavailable"
    assert "database: " in app.test_client().get("/healthz").json["problems"][0]


def test_the_scheduler_writes_a_heartbeat_after_each_pass_it_completes(app, clinic):
    from bot.models import DispatcherHeartbeat
    from bot.extensions import db

    heartbeat = dispatch.Heartbeat.of_this_process(15)
    dispatch._tick(app, dispatch.run_alerts, heartbeat)
    row = db.session.get(DispatcherHeartbeat, heartbeat.name)
    assert row is not None and row.interval_seconds == 15
    assert abs((row.beat_at - datetime.now(timezone.utc)).total_seconds()) < 30
