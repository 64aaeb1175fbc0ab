"""Practice data never reaches a real phone.

The practice phone exists only with the console backend. When a clinic that tried Aftercare with
practice patients switches to Twilio, those patients' check-ins, reminders and alerts must not go
out, nor page the on-call provider about a finding nobody has. Harbor PT (New York): Pat, a
practice patient, has a planned check-in and an open emergency finding with an alert waiting;
Maria, a real patient, has the same. Then the dispatcher runs with a real gateway.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, text_in
from test_practice import enrol_practice_patient, sign_in

from bot import dispatch, gateways
from bot.extensions import db
from bot.models import CheckIn, Escalation, Message, Patient

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 17, 10, 0, tzinfo=NY)


class RealGateway(gateways.ConsoleGateway):
    """Sends like the console but is not it: what the dispatcher sees once Twilio is configured."""

    name = "twilio"


@pytest.fixture
def both(app, clinic, clock, client, tmp_path):
    clock.set(NOW)
    sign_in(client)
    pat = enrol_practice_patient(client)
    maria = enroll(clinic, ended=NOW - timedelta(hours=1)).patient
    for patient in (pat, maria):
        assert text_in(client, patient.phone, "my chest feels tight").status_code == 200
    return pat, maria, RealGateway(tmp_path / "real.jsonl")


def sent_to(gateway, number):
    return [r["body"] for r in gateway.records() if r["to"] == number]


def test_with_a_real_gateway_nothing_about_a_practice_patient_goes_out(both, clinic):
    pat, maria, real = both
    dispatch.run_once(now=NOW + timedelta(hours=4), gateway=real)
    on_call = next(p for p in clinic.providers if p.duty == "on_call")
    alerts = sent_to(real, on_call.phone)
    assert sent_to(real, pat.phone) == []
    assert alerts and all(pat.name.split()[0] not in a for a in alerts)
    assert sent_to(real, maria.phone), "the real patient's check-in still goes"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Escalation)
                             .where(Escalation.patient_id == pat.id, Escalation.status != "resolved")) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Escalation)
                             .where(Escalation.patient_id == maria.id, Escalation.status == "open")) == 1


def test_re_alerts_and_later_check_ins_for_a_practice_patient_never_go_out_either(both, clinic):
    pat, maria, real = both
    for hours in (0, 1, 4, 24, 30):
        dispatch.run_once(now=NOW + timedelta(hours=hours), gateway=real)
    assert sent_to(real, pat.phone) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckIn).join(CheckIn.session)
                             .where(CheckIn.status == "planned", CheckIn.session.has(patient_id=pat.id))) == 0


def test_with_the_console_backend_the_practice_patient_is_followed_as_before(both, app, gateway):
    pat, maria, _ = both
    dispatch.run_once(now=NOW + timedelta(hours=4), gateway=gateway)
    assert db.session.scalar(sa.select(Escalation.status).where(Escalation.patient_id == pat.id)) == "open"
