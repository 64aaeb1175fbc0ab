"""Settings: environment variables (and an optional `.env`), with defaults that run with none set.

`load(environ)` turns the environment into a Flask config mapping; `check(config)` refuses a
configuration that cannot work, naming the setting to fix. Production must be told its secrets;
development invents what it can so that `make run` needs nothing.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("development", "production", "testing")
SMS_BACKENDS = ("console", "twilio")
SCHEDULERS = ("in-process", "off")
SWITCHES = ("on", "off")

class ConfigError(RuntimeError):
    """The configuration cannot work; the message names the setting to fix."""


def _normalise_database_url(url: str) -> str:
    """Accept the URLs hosting providers hand out and use psycopg 3 for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _seconds(text: str, name: str) -> float:
    """A positive number of seconds, or a ConfigError naming the setting."""
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 < value < 86_400:
        raise ConfigError(f"{name} must be more than 0 seconds and less than a day")
    return value


def load(environ: Mapping[str, str] | None = None, *, instance_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Build the Flask config from the environment; nothing here talks to the network or database."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path)

    def get(name: str, default: str = "") -> str:
        return (env.get(name) or default).strip()

    app_env = get("AFTERCARE_ENV", "development").lower()
    production = app_env == "production"
    sms_backend = get("SMS_BACKEND", "console").lower()
    return {
        "AFTERCARE_ENV": app_env,
        "SECRET_KEY": get("SECRET_KEY") or (None if production else secrets.token_hex(32)),
        "SQLALCHEMY_DATABASE_URI": _normalise_database_url(
            get("DATABASE_URL") or f"sqlite:///{instance / 'aftercare.db'}"
        ),
        "SMS_BACKEND": sms_backend,
        "TWILIO_ACCOUNT_SID": get("TWILIO_ACCOUNT_SID"),
        # The console backend has no carrier to sign webhooks: a token made at each start, known to
        # this process only, lets the practice phone (bot/practice) sign its texts as Twilio does.
        "TWILIO_AUTH_TOKEN": get("TWILIO_AUTH_TOKEN") or (secrets.token_hex(32) if sms_backend == "console" else ""),
        "TWILIO_FROM_NUMBER": get("TWILIO_FROM_NUMBER"),
        "TWILIO_MESSAGING_SERVICE_SID": get("TWILIO_MESSAGING_SERVICE_SID"),
        "TWILIO_HTTP_TIMEOUT": _seconds(get("TWILIO_HTTP_TIMEOUT", "10"), "TWILIO_HTTP_TIMEOUT"),
        "PUBLIC_BASE_URL": get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "SCHEDULER": get("SCHEDULER", "off" if production else "in-process").lower(),
        "SCHEDULER_INTERVAL_SECONDS": _seconds(get("SCHEDULER_INTERVAL_SECONDS", "15"), "SCHEDULER_INTERVAL_SECONDS"),
        "ALERT_INTERVAL_SECONDS": _seconds(get("ALERT_INTERVAL_SECONDS", "5"), "ALERT_INTERVAL_SECONDS"),
        "CONSOLE_SMS_FILE": get("CONSOLE_SMS_FILE") or str(instance / "console-sms.jsonl"),
        "INBOUND_SPOOL_DIR": get("INBOUND_SPOOL_DIR") or str(instance / "inbound-spool"),
        "DATABASE_TIMEOUT": _seconds(get("DATABASE_TIMEOUT", "10"), "DATABASE_TIMEOUT"),
        "REQUEST_TIMEOUT": _seconds(get("REQUEST_TIMEOUT", "8"), "REQUEST_TIMEOUT"),
        "METRICS_TOKEN": get("METRICS_TOKEN"),
        "DEFAULT_PHONE_REGION": get("DEFAULT_PHONE_REGION", "US").upper(),
        "LOG_LEVEL": get("LOG_LEVEL", "INFO").upper(),
        # The integration API (bot/api): requests per API key, and how long an Idempotency-Key holds.
        "API_RATE_LIMIT": get("API_RATE_LIMIT", "300 per minute"),
        "API_IDEMPOTENCY_HOURS": int(get("API_IDEMPOTENCY_HOURS", "24")),
        # Flask-Limiter (RATELIMIT_STORAGE_URI below): if Redis is down, each process counts alone.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,  # X-RateLimit-Limit, -Remaining, -Reset on every API answer
        # Flask-Limiter would put its own Retry-After on every answer; only a 429 (or a 409 "in
        # progress") should carry one, and bot/api sets it there.
        "RATELIMIT_HEADER_RETRY_AFTER": "X-RateLimit-Retry-After",
        "WEBHOOK_TIMEOUT_SECONDS": float(get("WEBHOOK_TIMEOUT_SECONDS", "5")),
        "TRIAGE_SECOND_READER": get("TRIAGE_SECOND_READER", "on").lower(),
        "MAX_CONTENT_LENGTH": 256 * 1024,  # Twilio's posts are a few kB; refuse (413) anything near this
        **_sign_in_settings(get, production),
    }


def _sign_in_settings(get: Any, production: bool) -> dict[str, Any]:
    """Dashboard sessions, cookies and sign-in limits (bot/security.py, bot/dashboard/sessions.py).

    Cookies are HttpOnly and SameSite=Lax everywhere, and in production Secure with the `__Host-`
    prefix (the browser then refuses them over http or scoped to another host). How long a session
    may sit idle is each clinic's setting (`clinics.session_idle_minutes`, 8 hours by default);
    the lifetimes here are only outer bounds.
    """
    prefix = "__Host-" if production else ""
    return {
        "SESSION_COOKIE_NAME": f"{prefix}aftercare_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        # Flask refuses a session cookie signed longer ago than this, whatever the clinic allows.
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=24),
        "REMEMBER_COOKIE_NAME": f"{prefix}aftercare_remember",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_DURATION": timedelta(hours=8),  # replaced by the clinic's idle limit at sign-in
        "DEVICE_COOKIE_NAME": f"{prefix}aftercare_device",
        # Where sign-in attempts are counted per network address (flask-limiter): memory:// keeps
        # counts per process; with several gunicorn workers use redis://host:6379/0.
        "RATELIMIT_STORAGE_URI": get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_STRATEGY": "sliding-window-counter",
        "RATELIMIT_KEY_PREFIX": "aftercare",
        # Reverse proxies in front of the app (each adds X-Forwarded-For/-Proto): 0 = the client
        # connects directly. Per-network limits and HSTS need the client's real address and scheme.
        "TRUSTED_PROXY_COUNT": _whole_number(get("TRUSTED_PROXY_COUNT", "0"), "TRUSTED_PROXY_COUNT"),
    }


def _whole_number(text: str, name: str) -> int:
    if not text.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more), not {text!r}")
    return int(text)


def check(config: Mapping[str, Any]) -> None:
    """Refuse a configuration that cannot work, saying which setting is missing or wrong."""
    if config["AFTERCARE_ENV"] not in ENVIRONMENTS:
        raise ConfigError(f"AFTERCARE_ENV must be one of {', '.join(ENVIRONMENTS)}")
    if config["SMS_BACKEND"] not in SMS_BACKENDS:
        raise ConfigError(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}")
    if config["SCHEDULER"] not in SCHEDULERS:
        raise ConfigError(f"SCHEDULER must be one of {', '.join(SCHEDULERS)}")
    if config["REQUEST_TIMEOUT"] >= 15:
        raise ConfigError("REQUEST_TIMEOUT must be under 15 seconds: Twilio gives up on a webhook after 15")
    if config.get("TRIAGE_SECOND_READER", "on") not in SWITCHES:
        raise ConfigError(f"TRIAGE_SECOND_READER must be one of {', '.join(SWITCHES)}")
    if not config.get("SECRET_KEY"):
        raise ConfigError("SECRET_KEY is not set; production needs a long random value")
    if config["SMS_BACKEND"] == "twilio":
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            if not config.get(name):
                raise ConfigError(f"{name} is not set; the twilio SMS backend needs it")
        if not (config.get("TWILIO_FROM_NUMBER") or config.get("TWILIO_MESSAGING_SERVICE_SID")):
            raise ConfigError(
                "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is not set; the twilio SMS backend needs one"
            )
        if config["AFTERCARE_ENV"] == "production" and not config["PUBLIC_BASE_URL"].startswith("https://"):
            raise ConfigError("PUBLIC_BASE_URL must be the https:// address Twilio reaches this service at")
