"""An episode's record as FHIR R4, as Epic's R4 interface takes it: Patient, a QuestionnaireResponse per
answered check-in, an Observation per soreness score (LOINC 72514-3), a Communication per text, and each
finding as a Communication to the care team. Checked by the fhir.resources R4 (4.0.1) models."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fhir.resources import __fhir_version__
from fhir.resources.bundle import Bundle
from support import enroll, text_in

from bot import fhir, records
from bot.dispatch import run_once
from bot.extensions import db
from bot.models import Assessment, CheckIn, Escalation, Message

NY = ZoneInfo("America/New_York")
MARIA = "+12125550143"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def episode(app, clinic, client, clock):
    """Maria, needled in the upper back at 10 am: welcomed, asked at 2 pm, answers a 4, then at 3 pm
    writes that breathing in hurts."""
    enrolment = enroll(clinic, ended=ny(2026, 11, 17, 10, 0), regions=("upper_back",))
    run_once(now=ny(2026, 11, 17, 10, 0, 30))
    run_once(now=ny(2026, 11, 17, 14, 0, 30))
    clock.set(ny(2026, 11, 17, 14, 20))
    text_in(client, MARIA, "about a 4, a bit stiff")
    clock.set(ny(2026, 11, 17, 15, 0))
    text_in(client, MARIA, "hurts when i breathe in, like a 7")
    run_once(now=ny(2026, 11, 17, 15, 0, 30))
    return enrolment


def export(session) -> dict:
    document = fhir.bundle(records.load(session), base_url="https://aftercare.example.org",
                           now=ny(2026, 11, 17, 16, 0))
    return json.loads(document)


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_models_are_fhir_r4_not_r4b_or_r5():
    assert __fhir_version__ == "4.0.1"


def test_the_bundle_validates_against_the_r4_models(episode):
    bundle = export(episode.session)
    assert Bundle.parse_obj(bundle).type == "collection"


def test_every_reference_points_at_an_entry_of_the_bundle(episode):
    bundle = export(episode.session)
    urls = {e["fullUrl"] for e in bundle["entry"]}
    text = json.dumps(bundle)
    references = {part.split('"')[0] for part in text.split('"reference": "')[1:]}
    assert references and references <= urls


def test_the_patient_is_there_with_their_mobile_and_language(episode):
    [patient] = resources(export(episode.session), "Patient")
    assert patient["name"][0] == {"text": "Maria Lopez", "given": ["Maria"], "family": "Lopez"}
    assert patient["telecom"] == [{"system": "sms", "value": MARIA, "use": "mobile"}]


def test_each_answered_check_in_is_a_questionnaire_response(episode):
    bundle = export(episode.session)
    answered = db.session.scalars(sa.select(CheckIn).where(CheckIn.session_id == episode.session.id,
                                                           CheckIn.status == "replied")).all()
    responses = resources(bundle, "QuestionnaireResponse")
    assert [r["identifier"]["value"] for r in responses] == [str(c.id) for c in answered]
    first = responses[0]
    assert first["status"] == "completed"
    assert {i["linkId"]: i["answer"] for i in first["item"]}["soreness"] == [{"valueInteger": 4}]


def test_each_soreness_score_is_an_observation_coded_loinc_72514_3(episode):
    observations = resources(export(episode.session), "Observation")
    scores = db.session.scalars(sa.select(Assessment.soreness).where(Assessment.soreness.is_not(None))
                                .order_by(Assessment.id)).all()
    assert [o["valueInteger"] for o in observations] == scores and 4 in scores
    for o in observations:
        assert o["code"]["coding"][0]["system"] == "http://loinc.org"
        assert o["code"]["coding"][0]["code"] == "72514-3"
        assert 0 <= o["valueInteger"] <= 10 and o["status"] == "final"


def test_each_text_in_and_out_is_a_communication_by_sms(episode):
    bundle = export(episode.session)
    texts = db.session.scalars(sa.select(Message).where(Message.patient_id == episode.patient.id)).all()
    communications = [c for c in resources(bundle, "Communication")
                      if c["identifier"][0]["system"].endswith("/message")]
    assert sorted(int(c["identifier"][0]["value"]) for c in communications) == sorted(m.id for m in texts)
    inbound = [c for c in communications if "received" in c]
    assert {c["payload"][0]["contentString"] for c in inbound} == {"about a 4, a bit stiff",
                                                                  "hurts when i breathe in, like a 7"}
    assert all(c["medium"][0]["coding"][0]["code"] == "SMSWRIT" for c in communications)


def test_a_finding_is_a_communication_to_the_care_team_not_a_flag(episode):
    bundle = export(episode.session)
    finding = db.session.scalars(sa.select(Escalation)).one()
    assert resources(bundle, "Flag") == []
    [alert] = [c for c in resources(bundle, "Communication") if c.get("category", [{}])[0].get("coding", [{}])[0]
               .get("code") == "alert"]
    assert alert["priority"] == "stat" and alert["recipient"][0]["display"] == "Care team"
    assert finding.code in alert["payload"][0]["contentString"]
    assert alert["inResponseTo"]  # the patient's text that raised it


def test_the_same_episode_exported_twice_keeps_its_identifiers(episode):
    first, second = export(episode.session), export(episode.session)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]


def test_an_episode_just_enrolled_exports_with_no_answers(app, clinic):
    fresh = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    bundle = export(fresh.session)
    assert {r["resource"]["resourceType"] for r in bundle["entry"]} == {"Organization", "Patient"}


def test_the_csv_holds_the_same_episode_in_time_order(episode):
    rows = list(csv.DictReader(io.StringIO(records.to_csv(records.load(episode.session)))))
    kinds = {r["kind"] for r in rows}
    assert kinds == {"checkin", "message", "assessment", "finding"}
    times = [datetime.fromisoformat(r["time_utc"]) for r in rows]
    assert times == sorted(times)
    assert [r["soreness"] for r in rows if r["kind"] == "assessment"][0] == "4"


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)"])
def test_a_reply_that_looks_like_a_formula_is_not_run_by_a_spreadsheet(app, clinic, client, clock, text):
    e = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 17, 10, 30))
    text_in(client, MARIA, text)
    rows = list(csv.DictReader(io.StringIO(records.to_csv(records.load(e.session)))))
    assert "'" + text in [r["text"] for r in rows if r["kind"] == "message"]
