"""Schemathesis against the document /api/v1/openapi.json serves: for generated requests, valid and
invalid, no answer is a 5xx and every answer (status, content type, headers, body) is one the document
describes. A clinic with patients, episodes and findings gives the generated ids something to hit.

Driven by hand (hypothesis over each operation's strategy) rather than through schemathesis' pytest
plugin, whose lazy fixture loader does not run under pytest 9.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import schemathesis
from api_support import bearer, make_key, open_finding
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)
from support import enroll

pytestmark = pytest.mark.slow

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = int(__import__("os").environ.get("SCHEMATHESIS_EXAMPLES", "20"))  # per operation and mode: 14 operations x 2 modes x 20 stays within a minute


@pytest.fixture
def served(app, clinic):
    app.config["API_RATE_LIMIT"] = "1000000 per minute"  # a rate limit would hide the rest
    now = datetime.now(timezone.utc)
    for n in range(3):
        e = enroll(clinic, ended=now, phone=f"+1212555030{n}", name=f"Pat Number{n}", regions=("upper_back",))
        open_finding(e, level=("routine", "urgent", "emergency")[n], now=now)
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app), bearer(make_key(clinic))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_is_one_the_document_describes(served, mode):
    schema, headers = served
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            exercise()
        except Exception as failure:  # noqa: BLE001 (collect every operation's failure, then report them all)
            failures[operation.label] = str(failure)[:2000]
    assert failures == {}
