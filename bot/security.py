"""The HTTP-level protections of every response: security headers, the proxy in front, limits.

flask-talisman sets the headers (a well-kept library that keeps up with what browsers honour);
the policy below allows only this site's own files: no inline script or style anywhere, so an
injected `<script>` or `style=` in a patient's text could not run even if escaping ever failed.
Pages are never framed (clickjacking), never sniffed, never sent with their address to another
site; HSTS is sent over https in production. Pages with patient data are also marked no-store
(bot/dashboard), so a shared computer's browser keeps no copy of them.
"""

from __future__ import annotations

from flask import Flask
from flask_talisman import Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

from .extensions import limiter

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Browser features no page of ours uses.
PERMISSIONS_POLICY = {"camera": "()", "microphone": "()", "geolocation": "()", "payment": "()", "usb": "()"}


def init_app(app: Flask) -> None:
    """1. Read the client's address and scheme from the trusted proxies, if any.
    2. Security headers on every response (and Secure cookies in production).
    3. Request limits (sign-in attempts per network address)."""
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    production = app.config["AFTERCARE_ENV"] == "production"
    # One Talisman per app, not one shared at module level: it keeps its settings on itself.
    app.extensions["talisman"] = Talisman(
        app,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="same-origin",
        permissions_policy=PERMISSIONS_POLICY,
        # TLS ends at the clinic's proxy, which redirects http to https; redirecting here too would
        # loop behind a proxy that does not say X-Forwarded-Proto, and break local health checks.
        force_https=False,
        strict_transport_security=production,
        session_cookie_secure=production,
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
    )

    limiter.init_app(app)
    if production and app.config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        app.logger.warning("RATELIMIT_STORAGE_URI is memory://: each gunicorn worker counts sign-in attempts "
                           "on its own; set redis://... so they share one count")
