"""/api/v1, as a practice system uses it: a key per clinic, problem details naming the field at fault,
ids of another clinic that look missing, and POSTs a retry can repeat safely."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from api_support import bearer, make_key, open_finding
from support import enroll, lakeside

from bot.extensions import db
from bot.models import ApiKey, AuditEvent, CheckIn

NY = ZoneInfo("America/New_York")
MARIA = "+12125550143"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def key(clinic) -> str:
    return make_key(clinic)


class Api:
    """The test client with the key's Authorization header on every request."""

    def __init__(self, client, key: str) -> None:
        self.client, self.key = client, key

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers=bearer(self.key, **kwargs.pop("headers", {})), **kwargs)

    def post(self, path: str, body=None, **kwargs):
        headers = bearer(self.key, **kwargs.pop("headers", {}))
        if body is None:
            return self.client.post(path, headers=headers, **kwargs)
        return self.client.post(path, json=body, headers=headers, **kwargs)


@pytest.fixture
def api(client, key) -> Api:
    return Api(client, key)


@pytest.fixture
def maria(clinic, clock):
    """Maria, needled in the knee at 3 pm; the request arrives at 3:30 pm."""
    enrolment = enroll(clinic, ended=ny(2026, 11, 17, 15, 0))
    clock.set(ny(2026, 11, 17, 15, 30))
    return enrolment


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"]
    return body


def fields(body: dict) -> set[str]:
    return {e["field"] for e in body["errors"]}


# -- keys ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer ak_0123456789_wrong"])
def test_a_request_without_a_live_key_is_401_with_a_problem(client, clinic, header):
    headers = {"Authorization": header} if header else {}
    body = problem(client.get("/api/v1/findings", headers=headers), 401)
    assert body["type"] == "/api/v1/problems/unauthenticated"


def test_a_revoked_key_is_refused_from_the_next_request(api, clinic, runner):
    assert api.get("/api/v1/findings").status_code == 200
    key_id = db.session.scalar(sa.select(ApiKey.id))
    assert runner.invoke(args=["apikey", "revoke", "--clinic", str(clinic.id), str(key_id)]).exit_code == 0
    problem(api.get("/api/v1/findings"), 401)


def test_the_database_keeps_a_hash_of_the_key_and_when_it_was_last_used(api, key, clock):
    clock.set(ny(2026, 11, 18, 9, 0))
    api.get("/api/v1/findings")
    row = db.session.scalars(sa.select(ApiKey)).one()
    db.session.refresh(row)
    assert key not in (row.key_hash, row.prefix) and key.split("_", 2)[2] not in row.key_hash
    assert row.last_used_at == ny(2026, 11, 18, 9, 0)


# -- clinic isolation ------------------------------------------------------------------------------------

def test_another_clinics_patient_episode_and_finding_are_404_like_missing_ones(api, maria, clock):
    other = lakeside()
    theirs = enroll(other, ended=ny(2026, 11, 17, 14, 0), phone="+13125550177", name="Luis Lake")
    finding = open_finding(theirs, now=ny(2026, 11, 17, 15, 0))
    for template, row_id in (("/api/v1/patients/{}", theirs.patient.id), ("/api/v1/episodes/{}", theirs.session.id),
                             ("/api/v1/episodes/{}/fhir", theirs.session.id),
                             ("/api/v1/episodes/{}/csv", theirs.session.id), ("/api/v1/findings/{}", finding.id)):
        theirs_answer = problem(api.get(template.format(row_id)), 404)
        missing_answer = problem(api.get(template.format(99999)), 404)
        assert theirs_answer == missing_answer | {"instance": template.format(row_id)}
    for path in (f"/api/v1/patients/{theirs.patient.id}/opt-out", f"/api/v1/episodes/{theirs.session.id}/close",
                 f"/api/v1/findings/{finding.id}/acknowledge"):
        problem(api.post(path, {}), 404)
    db.session.refresh(finding)
    assert finding.status == "open" and theirs.patient.opted_out_at is None


def test_a_clinic_lists_only_its_own_findings(api, maria):
    other = lakeside()
    theirs = enroll(other, ended=ny(2026, 11, 17, 14, 0), phone="+13125550177", name="Luis Lake")
    open_finding(theirs, now=ny(2026, 11, 17, 15, 0))
    ours = open_finding(maria, now=ny(2026, 11, 17, 15, 10))
    assert [f["id"] for f in api.get("/api/v1/findings").get_json()["items"]] == [ours.id]


# -- findings ---------------------------------------------------------------------------------------------

@pytest.fixture
def findings(clinic, clock):
    """Six patients' findings, opened an hour apart from 9 am: levels and states mixed."""
    made = []
    for n, (level, status) in enumerate([("routine", "open"), ("urgent", "open"), ("emergency", "acknowledged"),
                                         ("urgent", "resolved"), ("emergency", "open"), ("routine", "resolved")]):
        enrolment = enroll(clinic, ended=ny(2026, 11, 17, 8, 0), phone=f"+1212555020{n}", name=f"Pat Number{n}",
                           now=ny(2026, 11, 17, 8, 30))
        finding = open_finding(enrolment, level=level, rule={"routine": "R1", "urgent": "U1", "emergency": "E1"}[level],
                               now=ny(2026, 11, 17, 9 + n, 0))
        finding.status = status
        made.append(finding)
    db.session.commit()
    clock.set(ny(2026, 11, 17, 16, 0))
    return made


@pytest.mark.parametrize("query, expected", [
    ("", [5, 4, 3, 2, 1, 0]),
    ("?status=open", [4, 1, 0]),
    ("?status=open&status=acknowledged", [4, 2, 1, 0]),
    ("?level=emergency", [4, 2]),
    ("?level=urgent&status=open", [1]),
    ("?opened_after=2026-11-17T11:00:00-05:00", [5, 4, 3, 2]),
    ("?opened_before=2026-11-17T11:00:00-05:00", [1, 0]),
    ("?opened_after=2026-11-17T10:00:00-05:00&opened_before=2026-11-17T12:00:00-05:00", [2, 1]),
])
def test_findings_filter_by_status_level_and_when_opened_newest_first(api, findings, query, expected):
    items = api.get("/api/v1/findings" + query).get_json()["items"]
    assert [i["id"] for i in items] == [findings[n].id for n in expected]


def test_findings_page_with_a_cursor_until_the_last_page_says_so(api, findings):
    seen, cursor = [], None
    for _ in range(4):
        page = api.get("/api/v1/findings?limit=4" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen.append([i["id"] for i in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [[f.id for f in reversed(findings[2:])], [f.id for f in reversed(findings[:2])]]


def test_a_cursor_keeps_its_filters_page_after_page(api, findings):
    first = api.get("/api/v1/findings?status=open&limit=2").get_json()
    second = api.get(f"/api/v1/findings?status=open&limit=2&cursor={first['next_cursor']}").get_json()
    assert [i["id"] for i in first["items"] + second["items"]] == [findings[n].id for n in (4, 1, 0)]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("query, field", [
    ("?status=closed", "status.0"), ("?level=severe", "level.0"), ("?limit=0", "limit"), ("?limit=201", "limit"),
    ("?cursor=garbage", "cursor"), ("?opened_after=yesterday", "opened_after"),
    ("?opened_after=2026-11-17T11:00:00", "opened_after"), ("?sort=level", "sort"),
])
def test_a_bad_filter_is_422_naming_it(api, findings, query, field):
    body = problem(api.get("/api/v1/findings" + query), 422)
    assert field in fields(body) and body["type"] == "/api/v1/problems/invalid-fields"


def test_limit_200_is_the_largest_page(api, findings):
    assert api.get("/api/v1/findings?limit=200").status_code == 200


def test_a_finding_says_what_and_when_in_utc(api, maria):
    finding = open_finding(maria, level="urgent", rule="U1", now=ny(2026, 11, 17, 15, 10))
    body = api.get(f"/api/v1/findings/{finding.id}").get_json()
    assert body | {"links": None} == {
        "id": finding.id, "code": finding.code, "level": "urgent", "rule": "U1", "reasons": [], "status": "open",
        "patient_id": maria.patient.id, "episode_id": maria.session.id, "opened_at": "2026-11-17T20:10:00+00:00",
        "backup_alerted_at": None, "acknowledged_at": None, "acknowledged_by_provider_id": None,
        "resolved_at": None, "resolved_by_provider_id": None, "patient_choice": None, "links": None}


def test_acknowledging_a_finding_stops_its_alerts_and_names_the_provider(api, maria, clinic, clock):
    finding = open_finding(maria, level="emergency", rule="E1", now=ny(2026, 11, 17, 15, 10))
    dana = clinic.providers[0]
    clock.set(ny(2026, 11, 17, 15, 12))
    body = api.post(f"/api/v1/findings/{finding.id}/acknowledge", {"provider_id": dana.id}).get_json()
    assert (body["status"], body["acknowledged_at"], body["acknowledged_by_provider_id"]) == \
           ("acknowledged", "2026-11-17T20:12:00+00:00", dana.id)
    db.session.refresh(finding)
    assert finding.next_alert_at is None
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "escalation.acknowledged")).one()
    assert event.actor.startswith("apikey:") and event.detail == {"via": "api"}


def test_acknowledging_without_a_body_or_a_provider_is_fine(api, maria):
    finding = open_finding(maria, now=ny(2026, 11, 17, 15, 10))
    body = api.post(f"/api/v1/findings/{finding.id}/acknowledge").get_json()
    assert body["status"] == "acknowledged" and body["acknowledged_by_provider_id"] is None


def test_acknowledging_with_another_clinics_provider_is_422_on_provider_id(api, maria):
    olga = lakeside().providers[0]
    finding = open_finding(maria, now=ny(2026, 11, 17, 15, 10))
    body = problem(api.post(f"/api/v1/findings/{finding.id}/acknowledge", {"provider_id": olga.id}), 422)
    assert fields(body) == {"provider_id"}
    db.session.refresh(finding)
    assert finding.status == "open"


def test_resolving_an_open_finding_acknowledges_and_closes_it(api, maria, clock):
    finding = open_finding(maria, now=ny(2026, 11, 17, 15, 10))
    clock.set(ny(2026, 11, 17, 16, 0))
    body = api.post(f"/api/v1/findings/{finding.id}/resolve", {}).get_json()
    assert (body["status"], body["acknowledged_at"], body["resolved_at"]) == \
           ("resolved", "2026-11-17T21:00:00+00:00", "2026-11-17T21:00:00+00:00")


def test_acknowledging_a_resolved_finding_leaves_it_resolved(api, maria, clock):
    finding = open_finding(maria, now=ny(2026, 11, 17, 15, 10))
    api.post(f"/api/v1/findings/{finding.id}/resolve", {})
    body = api.post(f"/api/v1/findings/{finding.id}/acknowledge", {}).get_json()
    assert body["status"] == "resolved"


def test_a_resolved_finding_no_longer_blocks_a_new_one_for_the_episode(api, maria, clock):
    first = open_finding(maria, now=ny(2026, 11, 17, 15, 10))
    api.post(f"/api/v1/findings/{first.id}/resolve", {})
    second = open_finding(maria, now=ny(2026, 11, 17, 17, 0))
    assert second.id != first.id and second.status == "open"


# -- patients ---------------------------------------------------------------------------------------------

def test_a_patient_comes_with_their_episodes_and_the_view_is_audited(api, maria):
    body = api.get(f"/api/v1/patients/{maria.patient.id}").get_json()
    assert (body["name"], body["phone"], body["time_zone"], body["opted_out"]) == \
           ("Maria Lopez", MARIA, "America/New_York", False)
    assert [e["id"] for e in body["episodes"]] == [maria.session.id]
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "patient.viewed")).one()
    assert event.subject == f"patient:{maria.patient.id}" and event.actor.startswith("apikey:")


def test_an_episode_lists_its_check_ins_in_utc_and_on_the_patients_clock(api, maria):
    body = api.get(f"/api/v1/episodes/{maria.session.id}").get_json()
    assert body["time_zone"] == "America/New_York"
    assert body["session_ended_at"] == "2026-11-17T20:00:00+00:00"
    assert body["local_session_ended_at"] == "2026-11-17T15:00:00-05:00"
    welcome = body["checkins"][0]
    assert welcome["protocol_id"] == "C0" and welcome["local_due_at"].endswith("-05:00")
    assert all(datetime.fromisoformat(c["due_at"]) == datetime.fromisoformat(c["local_due_at"])
               for c in body["checkins"])


@pytest.mark.parametrize("phone, found", [(MARIA, True), ("(212) 555-0143", True), ("+12125550999", False)])
def test_a_patient_is_found_by_phone_as_people_write_it(api, maria, phone, found):
    items = api.get("/api/v1/patients", query_string={"phone": phone}).get_json()["items"]
    assert [i["id"] for i in items] == ([maria.patient.id] if found else [])


def test_finding_a_patient_by_something_not_a_phone_is_422_on_phone(api, maria):
    assert fields(problem(api.get("/api/v1/patients?phone=call-me"), 422)) == {"phone"}


def test_opting_a_patient_out_cancels_their_planned_check_ins(api, maria):
    body = api.post(f"/api/v1/patients/{maria.patient.id}/opt-out").get_json()
    assert body["opted_out"] is True and body["opted_out_at"] == "2026-11-17T20:30:00+00:00"
    planned = db.session.scalar(sa.select(sa.func.count()).select_from(CheckIn)
                                .where(CheckIn.session_id == maria.session.id, CheckIn.status == "planned"))
    assert planned == 0


def test_a_patient_opted_out_through_the_api_can_be_opted_back_in(api, maria, clock):
    api.post(f"/api/v1/patients/{maria.patient.id}/opt-out")
    clock.set(ny(2026, 11, 17, 15, 40))
    body = api.post(f"/api/v1/patients/{maria.patient.id}/opt-in").get_json()
    assert body["opted_out"] is False
    planned = db.session.scalar(sa.select(sa.func.count()).select_from(CheckIn)
                                .where(CheckIn.session_id == maria.session.id, CheckIn.status == "planned"))
    assert planned > 0


def test_a_patient_who_texted_stop_can_only_opt_in_themselves(api, maria, client):
    from support import text_in

    text_in(client, MARIA, "STOP")
    body = problem(api.post(f"/api/v1/patients/{maria.patient.id}/opt-in"), 409)
    assert "START" in body["detail"]
    db.session.refresh(maria.patient)
    assert maria.patient.opted_out_at is not None


# -- episodes ----------------------------------------------------------------------------------------------

def test_correcting_the_session_time_re_plans_the_check_ins_to_come(api, maria):
    episode = api.get(f"/api/v1/episodes/{maria.session.id}").get_json()
    before = {c["protocol_id"]: c["due_at"] for c in episode["checkins"]}
    body = api.post(f"/api/v1/episodes/{maria.session.id}/correct-time",
                    {"ended_at": "2026-11-17T14:00:00-05:00"}).get_json()
    after = {c["protocol_id"]: c["due_at"] for c in body["checkins"]}
    assert body["session_ended_at"] == "2026-11-17T19:00:00+00:00"
    assert datetime.fromisoformat(after["C2"]) == datetime.fromisoformat(before["C2"]) - timedelta(hours=1)


@pytest.mark.parametrize("ended_at", ["2026-11-17T16:00:00-05:00", "tomorrow", "2026-11-01T14:00:00-05:00", None, 5])
def test_a_session_time_in_the_future_or_not_a_time_is_422_on_ended_at(api, maria, ended_at):
    body = problem(api.post(f"/api/v1/episodes/{maria.session.id}/correct-time", {"ended_at": ended_at}), 422)
    assert fields(body) == {"ended_at"}
    db.session.refresh(maria.session)
    assert maria.session.ended_at == ny(2026, 11, 17, 15, 0)


def test_a_session_time_without_an_offset_is_read_on_the_patients_clock(api, maria):
    body = api.post(f"/api/v1/episodes/{maria.session.id}/correct-time", {"ended_at": "2026-11-17T14:00:00"})
    assert body.status_code == 200 and body.get_json()["session_ended_at"] == "2026-11-17T19:00:00+00:00"


def test_closing_an_episode_cancels_what_is_still_planned(api, maria):
    body = api.post(f"/api/v1/episodes/{maria.session.id}/close").get_json()
    assert body["status"] == "closed" and body["closed_at"] == "2026-11-17T20:30:00+00:00"
    assert {c["status"] for c in body["checkins"]} == {"cancelled"}


def test_a_closed_episodes_time_cannot_be_corrected(api, maria):
    api.post(f"/api/v1/episodes/{maria.session.id}/close")
    problem(api.post(f"/api/v1/episodes/{maria.session.id}/correct-time", {"ended_at": "2026-11-17T14:00:00-05:00"}),
            409)


@pytest.mark.parametrize("body, field", [({"ended_at": "2026-11-17T14:00:00-05:00", "extra": 1}, "extra"),
                                         ({}, "ended_at")])
def test_an_unknown_or_missing_field_is_named(api, maria, body, field):
    assert field in fields(problem(api.post(f"/api/v1/episodes/{maria.session.id}/correct-time", body), 422))


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"'])
def test_a_body_that_is_not_a_json_object_is_a_problem_not_a_crash(api, maria, raw):
    response = api.client.post(f"/api/v1/episodes/{maria.session.id}/correct-time", data=raw,
                               content_type="application/json", headers=bearer(api.key))
    assert response.status_code in (400, 422) and response.mimetype == "application/problem+json"


# -- records ----------------------------------------------------------------------------------------------

def test_an_episode_record_is_a_fhir_r4_bundle(api, maria):
    response = api.get(f"/api/v1/episodes/{maria.session.id}/fhir")
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    assert "fhirVersion=4.0" in response.headers["Content-Type"]
    bundle = response.get_json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} >= {"Patient", "Organization"}
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "episode.record_exported")).one()
    assert event.detail["format"] == "fhir" and event.actor.startswith("apikey:")


def test_an_episode_record_is_also_a_csv_with_a_row_per_check_in(api, maria):
    response = api.get(f"/api/v1/episodes/{maria.session.id}/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    checkins = [r for r in rows if r["kind"] == "checkin"]
    assert [r["protocol_id"] for r in checkins] == [c.protocol_id for c in maria.session.checkins]
    assert {r["time_zone"] for r in rows} == {"America/New_York"}


# -- idempotency ------------------------------------------------------------------------------------------

def test_a_retried_post_with_the_same_key_gets_the_first_answer_and_changes_nothing_more(api, maria, clock):
    finding = open_finding(maria, now=ny(2026, 11, 17, 15, 10))
    first = api.post(f"/api/v1/findings/{finding.id}/resolve", {}, headers={"Idempotency-Key": "resolve-1"})
    clock.set(ny(2026, 11, 17, 18, 0))
    again = api.post(f"/api/v1/findings/{finding.id}/resolve", {}, headers={"Idempotency-Key": "resolve-1"})
    assert again.status_code == first.status_code == 200
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    resolved = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "escalation.resolved"))
    assert resolved == 1


def test_the_same_key_for_another_request_is_a_409(api, maria):
    api.post(f"/api/v1/episodes/{maria.session.id}/correct-time", {"ended_at": "2026-11-17T14:00:00-05:00"},
             headers={"Idempotency-Key": "k1"})
    body = problem(api.post(f"/api/v1/episodes/{maria.session.id}/correct-time",
                            {"ended_at": "2026-11-17T14:30:00-05:00"}, headers={"Idempotency-Key": "k1"}), 409)
    assert body["type"] == "/api/v1/problems/idempotency-key-reused"
    db.session.refresh(maria.session)
    assert maria.session.ended_at == ny(2026, 11, 17, 14, 0)


def test_the_same_body_written_differently_is_the_same_request(api, maria):
    path = f"/api/v1/episodes/{maria.session.id}/correct-time"
    first = api.client.post(path, data='{"ended_at": "2026-11-17T14:00:00-05:00"}', content_type="application/json",
                            headers=bearer(api.key, **{"Idempotency-Key": "same"}))
    again = api.client.post(path, data='{ "ended_at" :\n "2026-11-17T14:00:00-05:00" }',
                            content_type="application/json", headers=bearer(api.key, **{"Idempotency-Key": "same"}))
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json() == first.get_json()


def test_a_request_refused_for_its_fields_leaves_the_key_free_for_the_corrected_one(api, maria):
    bad = api.post(f"/api/v1/episodes/{maria.session.id}/correct-time", {"ended_at": "later"},
                   headers={"Idempotency-Key": "fix-me"})
    assert bad.status_code == 422
    good = api.post(f"/api/v1/episodes/{maria.session.id}/correct-time", {"ended_at": "2026-11-17T14:00:00-05:00"},
                    headers={"Idempotency-Key": "fix-me"})
    assert good.status_code == 200 and "Idempotent-Replayed" not in good.headers


def test_keys_are_kept_per_clinic(api, maria, client):
    other = lakeside()
    theirs = enroll(other, ended=ny(2026, 11, 17, 14, 0), phone="+13125550177", name="Luis Lake")
    their_api = type(api)(client, make_key(other))
    ours = api.post(f"/api/v1/episodes/{maria.session.id}/close", headers={"Idempotency-Key": "shared"})
    mine = their_api.post(f"/api/v1/episodes/{theirs.session.id}/close", headers={"Idempotency-Key": "shared"})
    assert ours.status_code == mine.status_code == 200 and "Idempotent-Replayed" not in mine.headers
    assert mine.get_json()["id"] == theirs.session.id


def test_a_key_expires_after_its_hours(api, maria, clock, app):
    finding = open_finding(maria, now=ny(2026, 11, 17, 15, 10))
    api.post(f"/api/v1/findings/{finding.id}/acknowledge", {}, headers={"Idempotency-Key": "old"})
    clock.set(ny(2026, 11, 17, 15, 30) + timedelta(hours=app.config["API_IDEMPOTENCY_HOURS"], minutes=1))
    again = api.post(f"/api/v1/findings/{finding.id}/acknowledge", {}, headers={"Idempotency-Key": "old"})
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers


@pytest.mark.parametrize("value", [" ", " padded", "x" * 256, "tab\tinside"])
def test_an_unusable_idempotency_key_is_422_naming_the_header(api, maria, value):
    response = api.client.post(f"/api/v1/episodes/{maria.session.id}/close",
                               headers=[("Authorization", f"Bearer {api.key}"), ("Idempotency-Key", value)])
    assert fields(problem(response, 422)) == {"Idempotency-Key"}


# -- rate limit ---------------------------------------------------------------------------------------------

def test_a_key_over_its_rate_limit_gets_429_with_retry_after(api, app, clinic, client):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    assert [api.get("/api/v1/findings").status_code for _ in range(3)] == [200, 200, 200]
    body = problem(api.get("/api/v1/findings"), 429)
    response = api.get("/api/v1/findings")
    assert 1 <= int(response.headers["Retry-After"]) <= 61 and body["type"] == "/api/v1/problems/rate-limited"
    other = Api(client, make_key(clinic, "another system"))
    assert other.get("/api/v1/findings").status_code == 200  # the limit is the key's, not the clinic's


# -- the document ---------------------------------------------------------------------------------------------

def test_the_openapi_document_is_3_1_and_public(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0" and "/api/v1/findings" in doc["paths"]
    enrol = doc["paths"]["/api/v1/episodes"]["post"]
    assert set(enrol["responses"]) >= {"201", "401", "409", "422", "429"}
    refused = doc["components"]["responses"][enrol["responses"]["422"]["$ref"].rsplit("/", 1)[1]]
    assert list(refused["content"]) == ["application/problem+json"]


def test_the_reference_page_loads_its_scripts_from_this_server_only(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "<script>" not in page and "https://" not in page
    for src in ("swagger-ui-bundle.js", "reference.js"):
        path = page.split(src)[0].rsplit('"', 1)[1] + src
        with client.get(path) as response:
            assert response.status_code == 200 and response.mimetype == "text/javascript"


@pytest.mark.parametrize("path", ["/api/v1/patients/{}", "/api/v1/episodes/{}", "/api/v1/findings/{}",
                                  "/api/v1/episodes/{}/fhir"])
def test_an_id_larger_than_any_row_can_have_is_404_not_a_crash(api, maria, path):
    problem(api.get(path.format(2**63)), 404)


def test_a_provider_id_larger_than_any_row_can_have_is_422(api, maria):
    finding = open_finding(maria, now=ny(2026, 11, 17, 15, 10))
    assert fields(problem(api.post(f"/api/v1/findings/{finding.id}/acknowledge", {"provider_id": 2**63}), 422)) \
        == {"provider_id"}


@pytest.mark.parametrize("path", ["/api/v1/episodes/abc", "/api/v1/episodes/-1", "/api/v1/nothing-here",
                                  "/api/v1/episodes/%0A/correct-time"])
def test_an_address_the_api_does_not_have_is_a_404_problem_not_a_page(api, path):
    problem(api.get(path), 404)


def test_a_problem_type_says_what_it_means(client):
    body = client.get("/api/v1/problems/patient-on-file").get_json()
    assert body["type"] == "/api/v1/problems/patient-on-file" and "new_session_for" in body["description"]


def test_a_retry_while_the_first_request_still_runs_is_told_to_wait(api, maria, clock):
    from bot.api import idempotency
    from bot.models import IdempotencyRecord

    path = f"/api/v1/episodes/{maria.session.id}/close"
    with api.client.application.test_request_context(path, method="POST"):
        running = idempotency.fingerprint()
    db.session.add(IdempotencyRecord(clinic_id=maria.patient.clinic_id, key="busy", fingerprint=running,
                                     created_at=ny(2026, 11, 17, 15, 30), expires_at=ny(2026, 11, 18, 15, 30)))
    db.session.commit()
    waiting = api.post(path, headers={"Idempotency-Key": "busy"})
    assert problem(waiting, 409)["type"] == "/api/v1/problems/request-in-progress"
    assert waiting.headers["Retry-After"] == "1"
    clock.set(ny(2026, 11, 17, 15, 31, 1))  # that request died: its claim is abandoned
    assert api.post(path, headers={"Idempotency-Key": "busy"}).status_code == 200


def test_only_a_refusal_to_wait_carries_retry_after(api, maria):
    answer = api.get("/api/v1/findings")
    assert "Retry-After" not in answer.headers and int(answer.headers["X-RateLimit-Remaining"]) >= 0
