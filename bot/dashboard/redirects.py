"""Where a sign-in may lead: a page of this dashboard, never another site.

The `next` address comes from whoever wrote the link, so it is untrusted. Browsers are lenient
with a Location header: they drop tabs and newlines anywhere, trim control characters and spaces
at the ends, and read a backslash as a slash, so "/\t/evil.example" and "/\\evil.example" both
lead to evil.example. Rather than predict every such reading, only a plain path of our own is
followed: tests/browser checks the rule against Chromium's own URL parser.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from flask import current_app, request
from werkzeug.exceptions import HTTPException

# Control characters, space and backslash: what a browser strips or reinterprets.
_REREAD_BY_BROWSERS = re.compile(r"[\x00-\x20\x7f\\]")
MAX_LENGTH = 2000


def safe_next(target: str | None) -> str | None:
    """`target` if it is one of the dashboard's pages, else None (go to the findings instead).

    1. A plain absolute path: one leading "/", not "//"; no control character, space or
       backslash anywhere; not absurdly long.
    2. Nothing a URL parser reads as a scheme or a host.
    3. It names a page (a GET route) of the dashboard blueprint, exactly as written.
    """
    if not target or len(target) > MAX_LENGTH or not target.startswith("/") or target.startswith("//"):
        return None
    if _REREAD_BY_BROWSERS.search(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        endpoint, _ = adapter.match(unquote(parts.path), method="GET")
    except HTTPException:  # not found, not a GET page, or a redirect to another spelling
        return None
    return target if endpoint.startswith("dashboard.") else None
