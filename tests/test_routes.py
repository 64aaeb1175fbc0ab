"""Every route of the app, read from its url_map, so that a new page is covered the day it is added.

Without a sign-in every page redirects to the sign-in page, except the public routes listed below
with why; another clinic's ids answer 404 on every route that takes one; a form posted without its
CSRF token is refused; a provider who is not an admin is refused every admin page.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from api_support import bearer, make_key
from support import enroll, lakeside, sign_in

from bot.extensions import db
from bot.models import ApiKey, Escalation, Provider, WebhookEndpoint

# Routes anyone may reach without signing in, and why.
PUBLIC = {
    "dashboard.login": "the sign-in page itself",
    "dashboard.set_password": "an invitation or reset link: the signed, expiring token is the credential",
    "health.healthz": "the load balancer's liveness probe (no data)",
    "health.readyz": "the load balancer's readiness probe (no data)",
    "metrics.metrics": "Prometheus scrapes it with its bearer token (METRICS_TOKEN); 401 or 404 without",
    "webhooks.inbound": "Twilio posts patients' texts; its X-Twilio-Signature is checked instead",
    "webhooks.status": "Twilio posts delivery receipts; its X-Twilio-Signature is checked instead",
    "static": "stylesheets, scripts and the favicon",
    "practice.static": "the practice phone's stylesheet and script",
}
# Blueprints that are public as a whole.
PUBLIC_BLUEPRINTS = {
    "api": "the clinic's API: an API key (Authorization: Bearer) is the credential; 401 without",
    "api_docs": "the API's reference (OpenAPI, Swagger UI, problem types): documentation, no clinic data",
}
POST_FORM = {"name": "X", "phone": "", "role": "admin", "duty": "off", "body": "hello", "note": "n",
             "hours": "1", "minutes": "5", "url": "https://example.org/hook", "description": "d"}


# The API checks a body's shape before it looks the id up (the same 422 for any id, so it tells
# nothing): give these a well-formed body.
API_BODIES = {"api.correct_time": {"ended_at": "2026-11-17T10:00"}}


def is_public(rule: Any) -> bool:
    return rule.endpoint in PUBLIC or rule.endpoint.split(".")[0] in PUBLIC_BLUEPRINTS


def methods(rule: Any) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def rules(app: Any, *, public: bool = False, with_ids: bool | None = None) -> list[Any]:
    found = [r for r in app.url_map.iter_rules() if is_public(r) == public]
    if with_ids is not None:
        found = [r for r in found if bool(r.arguments) == with_ids]
    return sorted(found, key=lambda r: r.rule)


def path_of(app: Any, rule: Any, ids: dict[str, int]) -> str:
    with app.test_request_context():
        return rule.build({name: ids[name] for name in rule.arguments}, append_unknown=False)[1]


def request(client: Any, method: str, path: str, **kwargs: Any) -> Any:
    return client.open(path, method=method, data=POST_FORM if method == "POST" else None, **kwargs)


def is_admin_only(view: Any) -> bool:
    """True when `view` is wrapped by either admin check (the dashboard's or the integrations')."""
    from bot.api.admin import admin_required as integrations_admin
    from bot.dashboard import admin_required as dashboard_admin

    checks = {code for decorator in (dashboard_admin, integrations_admin)
              for code in decorator.__code__.co_consts if hasattr(code, "co_code")}  # their inner functions
    seen, todo = set(), [view]
    while todo:  # through functools.wraps' __wrapped__ and the closures of the decorators around it
        function = todo.pop()
        if id(function) in seen or not callable(function) or not hasattr(function, "__code__"):
            continue
        seen.add(id(function))
        if function.__code__ in checks:
            return True
        todo.append(getattr(function, "__wrapped__", None))
        todo.extend(cell.cell_contents for cell in function.__closure__ or ())
    return False


@pytest.fixture
def two_clinics(app, clinic) -> dict[str, dict[str, int]]:
    """Harbor (the signed-in clinic, Dana an admin) and Lakeside, each with a practice patient, an
    episode, a finding, a provider, an API key and a webhook endpoint: the ids of each, by the name
    the routes give them."""
    ended = datetime(2026, 11, 17, 15, 0, tzinfo=timezone.utc)
    dana = db.session.get(Provider, 1)
    dana.role = "admin"
    other = lakeside()
    ids = {}
    for place, phone, provider_email in ((clinic, "+12125550143", "ben@harbor.example"),
                                         (other, "+13125550143", "olga@lakeside.example")):
        enrolment = enroll(place, ended=ended, phone=phone, name="Maria Lopez")
        enrolment.patient.practice = True  # so that the practice phone's routes find it too
        finding = Escalation(clinic_id=place.id, patient_id=enrolment.patient.id, session_id=enrolment.session.id,
                             level="urgent", rule="U2", code=f"R{place.id}", created_at=ended)
        endpoint = WebhookEndpoint(clinic_id=place.id, url="https://example.org/hook", events=["finding.opened"],
                                   secret="whsec_" + "A" * 32)
        db.session.add_all([finding, endpoint])
        make_key(place)
        db.session.commit()
        provider = db.session.scalar(sa.select(Provider).where(Provider.email == provider_email))
        key = db.session.scalar(sa.select(ApiKey).where(ApiKey.clinic_id == place.id))
        ids[place.name] = {"patient_id": enrolment.patient.id, "session_id": enrolment.session.id,
                           "episode_id": enrolment.session.id, "escalation_id": finding.id,
                           "finding_id": finding.id, "provider_id": provider.id, "key_id": key.id,
                           "endpoint_id": endpoint.id}
    db.session.commit()
    return {"harbor": ids["Harbor Physical Therapy"], "lakeside": ids["Lakeside Rehab"]}


# -- the list itself ---------------------------------------------------------------------------------

def test_the_public_list_names_real_routes_and_the_rest_is_most_of_the_app(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    assert set(PUBLIC) <= endpoints  # a renamed public route is noticed here, not silently protected
    assert {e.split(".")[0] for e in endpoints} >= set(PUBLIC_BLUEPRINTS)
    private = {r.endpoint for r in rules(app)}
    assert {"dashboard.index", "dashboard.patient", "dashboard.settings", "practice.index",
            "api_admin.index"} <= private


# -- without a sign-in ------------------------------------------------------------------------------

def test_without_a_sign_in_every_page_and_form_redirects_to_sign_in(app, client, two_clinics):
    ids = two_clinics["harbor"]
    wrong = {}
    for rule in rules(app):
        path = path_of(app, rule, ids)
        for method in methods(rule):
            response = request(client, method, path)
            if response.status_code not in (302, 303) or not response.headers["Location"].startswith("/login"):
                wrong[f"{method} {path}"] = (response.status_code, response.headers.get("Location"))
    assert wrong == {}


def test_without_its_key_the_api_answers_401_and_metrics_without_its_token_401(app, client, two_clinics):
    ids = two_clinics["harbor"]
    wrong = {}
    for rule in (r for r in rules(app, public=True) if r.endpoint.startswith("api.")):
        path = path_of(app, rule, ids)
        for method in methods(rule):
            response = client.open(path, method=method, json={})
            if response.status_code != 401:
                wrong[f"{method} {path}"] = response.status_code
    assert wrong == {}
    assert client.get("/metrics").status_code == 404  # no token configured: there is no such page
    app.config["METRICS_TOKEN"] = "metrics-token-0123456789"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"}).status_code == 200


# -- another clinic's ids -----------------------------------------------------------------------------

def test_another_clinics_ids_answer_404_on_every_route_that_takes_one(app, client, two_clinics):
    sign_in(client)  # Dana, an admin of Harbor
    own, theirs = two_clinics["harbor"], two_clinics["lakeside"]
    wrong, shown = {}, []
    for rule in rules(app, with_ids=True):
        for method in methods(rule):
            response = request(client, method, path_of(app, rule, theirs))
            if response.status_code != 404:
                wrong[f"{method} {rule.rule} (Lakeside's)"] = response.status_code
        if "GET" in rule.methods:  # the same page with Harbor's own ids is there: the 404 is about whose
            path = path_of(app, rule, own)
            status = client.get(path).status_code
            if status != 200:
                wrong[f"GET {path} (Harbor's own)"] = status
            shown.append(path)
    assert wrong == {}
    assert len(shown) >= 6


def test_another_clinics_ids_answer_404_in_the_api_too(app, client, clinic, two_clinics):
    key = make_key(clinic, name="routes test")  # Harbor's
    theirs = two_clinics["lakeside"]
    wrong = {}
    for rule in (r for r in rules(app, public=True, with_ids=True) if r.endpoint.startswith("api.")):
        path = path_of(app, rule, theirs)
        for method in methods(rule):
            response = client.open(path, method=method, json=API_BODIES.get(rule.endpoint, {}), headers=bearer(key))
            if response.status_code != 404:
                wrong[f"{method} {path}"] = response.status_code
    assert wrong == {}


# -- CSRF ------------------------------------------------------------------------------------------

def test_a_form_posted_without_its_csrf_token_is_refused_on_every_dashboard_form(app, client, two_clinics):
    """Refused as the app refuses an expired form (bot/dashboard `form_expired`): nothing done, a 303 to
    the findings page with "This page expired", rather than a bare 400 page."""
    sign_in(client)
    app.config["WTF_CSRF_ENABLED"] = True
    exempt = {"webhooks", "api", "api_docs"}  # signed by Twilio, or an API key: no cookie, no form
    wrong, tried = {}, 0
    for rule in rules(app) + rules(app, public=True):
        if "POST" not in rule.methods or rule.endpoint.split(".")[0] in exempt:
            continue
        ids = dict(two_clinics["harbor"])
        path = path_of(app, rule, ids) if rule.endpoint != "dashboard.set_password" else "/set-password/x"
        response = client.post(path, data=POST_FORM)
        with client.session_transaction() as session:
            flashes = [message for _, message in session.pop("_flashes", [])]
        tried += 1
        if response.status_code != 303 or "This page expired. Please try again." not in flashes:
            wrong[f"POST {path}"] = (response.status_code, flashes)
    assert wrong == {}
    assert tried >= 15
    db.session.expire_all()
    assert db.session.get(Provider, 2).role == "provider"  # the posted role="admin" was not applied


# -- admin pages -----------------------------------------------------------------------------------

def test_a_provider_who_is_not_an_admin_is_refused_every_admin_page(app, client, two_clinics):
    admin_rules = [r for r in rules(app) if is_admin_only(app.view_functions[r.endpoint])]
    assert {"dashboard.settings", "dashboard.providers_page", "dashboard.access_log",
            "api_admin.index"} <= {r.endpoint for r in admin_rules}
    sign_in(client, email="ben@harbor.example")  # a provider of Harbor, not an admin
    wrong = {}
    for rule in admin_rules:
        path = path_of(app, rule, two_clinics["harbor"])
        for method in methods(rule):
            status = request(client, method, path).status_code
            if status not in (403, 404):
                wrong[f"{method} {path}"] = status
    assert wrong == {}
    db.session.expire_all()
    assert db.session.get(Provider, 2).role == "provider"
