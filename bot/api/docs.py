"""The API's own description: the OpenAPI 3.1 document and a rendered reference page, both public.

The reference page is Swagger UI, served from the `offapi` package's bundled copy (no CDN), with
its start-up code in a file of ours rather than inline, so it runs under a strict Content Security
Policy (`script-src 'self'`).
"""

from __future__ import annotations

from importlib import resources

from flask import Blueprint, Response, abort, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue
from werkzeug.routing import PathConverter

from . import problems
from .problems import TYPES

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1", static_folder="static",
               static_url_path="/docs/static")

# Swagger UI's files in the offapi package, by the name we serve them under.
ASSETS = {"swagger-ui-bundle.js": ("swagger_bundle.js", "text/javascript"),
          "swagger-ui-standalone-preset.js": ("swagger_preset.js", "text/javascript"),
          "swagger-ui.css": ("swagger_style.css", "text/css")}


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    return jsonify(current_app.extensions["aftercare.api"].spec.to_dict())


@bp.get("/docs")
def reference() -> ResponseReturnValue:
    return render_template("api/reference.html")


@bp.get("/docs/swagger/<name>")
def swagger_asset(name: str) -> ResponseReturnValue:
    if name not in ASSETS:
        abort(404)
    filename, mimetype = ASSETS[name]
    body = (resources.files("offapi") / filename).read_bytes()
    response = Response(body, mimetype=mimetype)
    response.cache_control.public, response.cache_control.max_age = True, 86400
    return response


@bp.get("/problems/<slug>")
def problem_type(slug: str) -> ResponseReturnValue:
    """What a problem `type` means (RFC 9457 suggests the URI says)."""
    if slug not in TYPES:
        abort(404)
    return jsonify(type=f"/api/v1/problems/{slug}", description=TYPES[slug])


class AnyPath(PathConverter):
    """Like `path`, but also across line breaks (%0A), which a client can put in a URL."""

    regex = r"[\s\S]*?"
    part_isolating = False  # it spans segments, as `path` does


@bp.route("/<anypath:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(anything: str) -> ResponseReturnValue:
    """Any other address under /api/v1 (an id that is not a number, a misspelt path): a problem, not HTML."""
    return problems.response(problems.Problem(404, "not-found", "Not found", "No such resource or address."))
