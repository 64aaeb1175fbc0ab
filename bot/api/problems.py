"""Errors as RFC 9457 problem details (`application/problem+json`), naming the field at fault.

Every error the API gives is one of these, whatever raised it: our own `Problem`, a schema that
refused a field (422, one entry per field in `errors`), the rate limiter (429 with Retry-After),
or Flask itself (404 for an unknown URL, 405, 413). `type` is a stable URI an integrator can
switch on; "about:blank" when the HTTP status says it all.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import Response, json, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "/api/v1/problems/"

# Problem types beyond plain HTTP statuses: slug -> what it means (served at TYPE_BASE + slug).
TYPES = {
    "invalid-fields": "One or more fields are missing or invalid; `errors` names each field and why.",
    "malformed-request": "The body is not JSON, or not a JSON object.",
    "unauthenticated": "No API key, or one that is unknown or revoked. Send `Authorization: Bearer <key>`.",
    "not-found": "No such resource at your clinic.",
    "patient-on-file": "The phone number is on file for a patient; send `new_session_for` to record a new session "
                       "for them (`existing_patient` says who), or correct the number.",
    "idempotency-key-reused": "This Idempotency-Key was first used with another request (method, path or body).",
    "request-in-progress": "A request with this Idempotency-Key is still being processed; retry shortly.",
    "conflict": "The resource is not in a state that allows this.",
    "rate-limited": "This API key sent too many requests; wait `Retry-After` seconds.",
}


class Problem(Exception):
    """Raised by a view to answer with a problem; `errors` lists {field, message} entries."""

    def __init__(self, status: int, slug: str | None, title: str, detail: str | None = None, *,
                 errors: list[dict[str, str]] | None = None, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors, self.headers, self.extra = errors, dict(headers or {}), extra


def invalid(field: str, message: str) -> Problem:
    """A 422 for one field, as a schema would have said it."""
    return Problem(422, "invalid-fields", "Invalid fields", f"{field}: {message}",
                   errors=[{"field": field, "message": message}])


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", "Not found", f"No {what} with this id at your clinic.")


def response(problem: Problem) -> Response:
    body: dict[str, Any] = {"type": TYPE_BASE + problem.slug if problem.slug else "about:blank",
                            "title": problem.title, "status": problem.status}
    if problem.detail:
        body["detail"] = problem.detail
    body["instance"] = request.path
    if problem.errors:
        body["errors"] = problem.errors
    body.update(problem.extra)
    resp = Response(json.dumps(body), status=problem.status, mimetype=MEDIA_TYPE)
    for name, value in problem.headers.items():
        resp.headers[name] = value
    return resp


def flatten(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """marshmallow's nested {"json": {"regions": {0: ["..."]}}} as [{"field": "regions.0", ...}]."""
    out: list[dict[str, str]] = []
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if not prefix and key in ("json", "query", "headers", "view_args"):
                out.extend(flatten(value, ""))
                continue
            name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten(value, name))
    elif isinstance(messages, (list, tuple)) and all(isinstance(m, str) for m in messages):
        out.extend({"field": prefix or "body", "message": m} for m in messages)
    elif isinstance(messages, (list, tuple)):
        for item in messages:
            out.extend(flatten(item, prefix))
    else:
        out.append({"field": prefix or "body", "message": str(messages)})
    return out


def from_http_exception(error: HTTPException) -> Problem:
    """Flask's, webargs' and the rate limiter's HTTP errors as problems."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    if code == 422 and "messages" in data:
        errors = flatten(data["messages"])
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        return Problem(422, "invalid-fields", "Invalid fields", f"Check these fields: {fields}.", errors=errors)
    if code == 400:
        return Problem(400, "malformed-request", "Malformed request",
                       "The body must be a JSON object (Content-Type: application/json).")
    if code == 404:
        return Problem(404, "not-found", "Not found", "No such resource at your clinic.")
    if code == 429:
        return Problem(429, "rate-limited", "Too many requests", f"Rate limit exceeded ({error.description}).",
                       headers={"Retry-After": str(_retry_after())})
    return Problem(code, None, error.name, error.description if code < 500 else None)


def _retry_after() -> int:
    """Seconds until the limit that was hit lets a request through again."""
    from ..extensions import limiter

    current = limiter.current_limit
    if current is None:
        return 60
    from ..models import utcnow

    return max(1, math.ceil(current.reset_at - utcnow().timestamp()))


class FieldError(ma.Schema):
    field = ma.fields.String(required=True, metadata={"description": "The field at fault, dotted for nested "
                                                                     "ones (`regions.1`)", "example": "phone"})
    message = ma.fields.String(required=True, metadata={"example": "not a phone number"})


class ExistingPatient(ma.Schema):
    id = ma.fields.Integer(required=True)
    short_name = ma.fields.String(required=True, metadata={"description": "First name and last initial"})


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True, metadata={
        "description": "A URI reference naming the kind of problem; `about:blank` for plain HTTP statuses",
        "example": TYPE_BASE + "invalid-fields"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    instance = ma.fields.String()
    errors = ma.fields.List(ma.fields.Nested(FieldError),
                            metadata={"description": "For 422: each field at fault"})
    existing_patient = ma.fields.Nested(ExistingPatient, metadata={"description": "For `patient-on-file`"})
