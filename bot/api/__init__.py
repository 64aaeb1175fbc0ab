"""`/api/v1`: the practice system's door. JSON in and out, one clinic per API key.

Built on flask-smorest: its marshmallow schemas validate each request and also generate the
OpenAPI 3.1 document (`/api/v1/openapi.json`), so the two cannot disagree. It registers like any
blueprint on our plain Flask app (APIFlask would replace the app class), and marshmallow keeps
pydantic free for the FHIR R4 models (see bot/fhir.py). Errors are problem details (problems.py),
answered by this blueprint alone: the dashboard's HTML errors are untouched.

Order of checks on every request: the rate limit (per key), the key (401), then the view, where
another clinic's id is a 404, never a 403 that would say it exists.
"""

from __future__ import annotations

import logging
from typing import Any

import flask_smorest
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app, g, request
from flask.typing import ResponseReturnValue
from flask_smorest.spec import prepare_response
from werkzeug.exceptions import HTTPException

from .. import clock
from ..extensions import csrf, db, limiter
from . import keys, problems

log = logging.getLogger(__name__)

API_TITLE = "Aftercare API"
API_VERSION = "1.0.0"

bp = flask_smorest.Blueprint("api", __name__, url_prefix="/api/v1",
                             description="Enrol patients, read findings and records, acknowledge findings.")


class Api(flask_smorest.Api):
    """flask-smorest's Api, with problem details for every documented error and no app-wide handlers."""

    def _register_error_handlers(self) -> None:
        """The blueprint answers its own errors; the rest of the app keeps Flask's."""

    def _register_responses(self) -> None:
        for status in (400, 401, 404, 409, 422, 429):
            from http import HTTPStatus

            phrase = HTTPStatus(status)
            response = {"description": phrase.phrase, "schema": problems.ProblemSchema}
            prepare_response(response, self.spec, problems.MEDIA_TYPE)
            self.spec.components.response(phrase.name, response, lazy=True)
        response = {"description": "Default error response", "schema": problems.ProblemSchema}
        prepare_response(response, self.spec, problems.MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def _rate_key() -> str:
    """Requests are counted per API key (by its public prefix), or per address without one."""
    prefix = keys.prefix_of(_presented_key() or "")
    return f"apikey:{prefix}" if prefix else f"addr:{request.remote_addr}"


def _presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


# One limit shared by every endpoint of the API, counted per key (registered once, at import).
limiter.shared_limit(lambda: current_app.config["API_RATE_LIMIT"], scope="api", key_func=lambda: _rate_key())(bp)


@bp.before_request
def authenticate() -> None:
    presented = _presented_key()
    key = keys.verify(presented, clock.now()) if presented else None
    if key is None:
        raise problems.Problem(401, "unauthenticated", "Unauthenticated",
                               "Send a live API key as `Authorization: Bearer <key>`.",
                               headers={"WWW-Authenticate": 'Bearer realm="aftercare"'})
    g.api_key = key


@bp.errorhandler(problems.Problem)
def _problem(error: problems.Problem) -> ResponseReturnValue:
    db.session.rollback()
    return problems.response(error)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    db.session.rollback()
    return problems.response(problems.from_http_exception(error))


@bp.errorhandler(Exception)
def _crash(error: Exception) -> ResponseReturnValue:
    db.session.rollback()
    log.exception("API error on %s %s", request.method, request.url_rule)
    return problems.response(problems.Problem(500, None, "Internal Server Error"))


SPEC_OPTIONS: dict[str, Any] = {
    "info": {
        "description": (
            "The integration API of Aftercare: enrol a patient after a dry-needling session, correct or "
            "close the episode, opt a patient out or in, read and acknowledge findings, and fetch an "
            "episode's record as FHIR R4 or CSV.\n\n"
            "**Authentication**: `Authorization: Bearer <API key>`; a key is made by a clinic admin "
            "(dashboard, or `flask apikey create`) and sees only its clinic.\n\n"
            "**Idempotency**: send `Idempotency-Key: <unique string>` on every POST; a retry with the same key "
            "gets the first answer (`Idempotent-Replayed: true`) and changes nothing. Keys last 24 hours.\n\n"
            "**Errors** are RFC 9457 problem details (`application/problem+json`); a 422 lists each field "
            "at fault in `errors`.\n\n"
            "**Times** are ISO 8601: UTC in `*_at` fields, the patient's clock in `local_*` fields, with "
            "the zone named in `time_zone`.\n\n"
            "**Rate limit**: per key; a 429 carries `Retry-After` (seconds)."),
    },
    "components": {"securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                                  "description": "An Aftercare API key (ak_...)"}}},
    "security": [{"apiKey": []}],
}


def init_app(app: Flask) -> None:
    """Register the API, its rate limit, its docs, its admin page and `flask apikey`."""
    from . import admin, docs, endpoints  # noqa: F401  (the routes register on import)

    app.config.setdefault("API_TITLE", API_TITLE)
    app.config.setdefault("API_VERSION", API_VERSION)
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("API_SPEC_OPTIONS", SPEC_OPTIONS)
    api = Api(app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin()})
    api.register_blueprint(bp)
    csrf.exempt(bp)  # a key authenticates, not a cookie: no cross-site form can use it
    app.extensions["aftercare.api"] = api
    app.url_map.converters["anypath"] = docs.AnyPath
    app.register_blueprint(docs.bp)
    app.register_blueprint(admin.bp)
    app.cli.add_command(keys.cli)
