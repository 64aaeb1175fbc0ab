"""Error pages inside the layout, saying what to do next. The API answers its own errors (JSON)."""

from __future__ import annotations

import logging

from flask import render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from ..extensions import db
from . import bp

log = logging.getLogger(__name__)

PAGES = {
    403: ("Not for your role", "This page is for the clinic's admins. Ask one of them if you need it."),
    404: ("Page not found", "There is no such page, or it belongs to another clinic. A finding that was "
                            "resolved or a patient whose link you followed may have moved: search the "
                            "patients list or go back to the findings."),
    500: ("Something went wrong", "The page could not be shown. Nothing you entered was saved unless the page "
                                  "said so. Try again in a minute; if it keeps happening, tell the clinic's "
                                  "admin the time it happened."),
}


def _html_wanted() -> bool:
    """A person's browser, not the API or a program asking for JSON."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"], default="text/html")
    return not request.path.startswith("/api/") and best == "text/html"


@bp.app_errorhandler(403)
@bp.app_errorhandler(404)
def not_found(error: HTTPException) -> ResponseReturnValue:
    if not _html_wanted():
        return error
    title, advice = PAGES[error.code or 404]
    return render_template("errors.html", code=error.code, title=title, advice=advice), error.code


@bp.app_errorhandler(500)
def server_error(error: HTTPException) -> ResponseReturnValue:
    """An unexpected error: the transaction is rolled back first, so the page can still read who is signed in."""
    db.session.rollback()
    if not _html_wanted():
        return error
    title, advice = PAGES[500]
    try:
        return render_template("errors.html", code=500, title=title, advice=advice), 500
    except Exception:  # the layout itself failed (the database is gone): plain words, no layout
        log.exception("the error page could not be rendered")
        return f"{title}. {advice}", 500, {"Content-Type": "text/plain; charset=utf-8"}
