"""GET /healthz tells a load balancer whether this process can serve."""

from conftest import app_config

from bot import create_app


def test_healthy_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_unavailable_when_the_database_does_not_answer(tmp_path):
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
    app = create_app(app_config(unreachable, tmp_path))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"
