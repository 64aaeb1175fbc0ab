"""Settings: defaults that run with nothing set; production refuses what cannot be safe."""

import pytest

import config
from bot import create_app


def settings(**env: str) -> dict:
    return config.load(env, instance_path="/srv/aftercare/instance")


def test_defaults_run_with_nothing_set():
    cfg = settings()
    config.check(cfg)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "sqlite:////srv/aftercare/instance/aftercare.db"
    assert cfg["SMS_BACKEND"] == "console"
    assert cfg["SCHEDULER"] == "in-process"
    assert len(cfg["SECRET_KEY"]) >= 32


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        config.check(settings(AFTERCARE_ENV="production"))


def test_production_defaults_to_a_separate_scheduler_process():
    assert settings(AFTERCARE_ENV="production", SECRET_KEY="s" * 40)["SCHEDULER"] == "off"


@pytest.mark.parametrize("missing, env", [
    ("TWILIO_ACCOUNT_SID", {"TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM_NUMBER": "+12125550100"}),
    ("TWILIO_AUTH_TOKEN", {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_FROM_NUMBER": "+12125550100"}),
    ("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID", {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}),
    ("PUBLIC_BASE_URL", {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_MESSAGING_SERVICE_SID": "MG1"}),
])
def test_twilio_backend_in_production_names_the_missing_setting(missing, env):
    with pytest.raises(config.ConfigError) as refused:
        config.check(settings(AFTERCARE_ENV="production", SECRET_KEY="s" * 40, SMS_BACKEND="twilio", **env))
    assert str(refused.value).startswith(missing)


def test_a_complete_twilio_production_configuration_starts():
    config.check(settings(AFTERCARE_ENV="production", SECRET_KEY="s" * 40, SMS_BACKEND="twilio",
                          TWILIO_ACCOUNT_SID="AC1", TWILIO_AUTH_TOKEN="t", TWILIO_MESSAGING_SERVICE_SID="MG1",
                          PUBLIC_BASE_URL="https://aftercare.example.org/"))


@pytest.mark.parametrize("given, used", [
    ("postgres://u@db/aftercare", "postgresql+psycopg://u@db/aftercare"),
    ("postgresql://u@db/aftercare", "postgresql+psycopg://u@db/aftercare"),
    ("postgresql+psycopg://u@db/aftercare", "postgresql+psycopg://u@db/aftercare"),
    ("sqlite:////tmp/a.db", "sqlite:////tmp/a.db"),
])
def test_database_urls_from_hosting_providers_use_psycopg3(given, used):
    assert settings(DATABASE_URL=given)["SQLALCHEMY_DATABASE_URI"] == used


@pytest.mark.parametrize("name, value", [("SMS_BACKEND", "carrier-pigeon"), ("SCHEDULER", "cron")])
def test_unknown_choices_are_refused_by_name(name, value):
    with pytest.raises(config.ConfigError, match=name):
        config.check(settings(**{name: value}))


def test_the_app_factory_refuses_a_bad_configuration(tmp_path):
    with pytest.raises(config.ConfigError, match="SMS_BACKEND"):
        create_app({"SMS_BACKEND": "fax", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})


@pytest.mark.parametrize("name, value, says", [
    ("REQUEST_TIMEOUT", "15", "REQUEST_TIMEOUT must be under 15 seconds"),
    ("DATABASE_TIMEOUT", "five", "DATABASE_TIMEOUT must be a number of seconds"),
    ("ALERT_INTERVAL_SECONDS", "0", "ALERT_INTERVAL_SECONDS must be more than 0 seconds"),
])
def test_time_limits_are_checked_by_name(name, value, says):
    with pytest.raises(config.ConfigError, match=says):
        config.check(settings(**{name: value}))


def test_the_default_limits_keep_a_request_inside_twilios_15_seconds():
    cfg = settings()
    assert (cfg["DATABASE_TIMEOUT"], cfg["REQUEST_TIMEOUT"]) == (10, 8)
