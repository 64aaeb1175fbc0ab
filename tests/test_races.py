"""Requests that arrive at the same moment: each is its own thread, connection and session, as in
gunicorn's workers. Nothing is doubled (one open finding, one page) and nothing goes backwards.

Run on SQLite and on PostgreSQL (TEST_DATABASE_URL); issue #10 items 2, 4 and 5.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from support import all_at_once, enroll, post_signed, text_in, twiml_text

from bot import escalation
from bot.extensions import db
from bot.models import Escalation, Message
from bot.triage import classify

MARIA = "+12125550143"
DANA = "+12125550111"  # the clinic fixture's on-call provider
RED_FLAGS = ["hurts a bit when i breathe in, prob nothing", "it hurts to breathe", "short of breath since the session",
             "sharp pain when I take a deep breath", "cant catch my breath", "chest hurts when i breathe in",
             "me duele al respirar", "harder to breathe than this morning", "my breathing feels tight and short",
             "pain in my chest when breathing deep"]


@pytest.fixture(scope="module", autouse=True)
def triage_ready() -> None:
    """Triage learns its banks on its first reply (seconds): done before the threads are released,
    so that they race each other and not the warm-up."""
    classify("it hurts to breathe", hours_since_session=5, region="upper_back", precautions=(), previous_soreness=None)


@pytest.fixture
def maria(app, clinic):
    """Maria, needled in the upper back (a lung-risk region) five hours ago."""
    now = datetime.now(timezone.utc)
    return enroll(clinic, ended=now - timedelta(hours=5), regions=("upper_back",), now=now - timedelta(hours=5))


def open_findings() -> list[Escalation]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Escalation).where(Escalation.status == "open")).all()


def pages() -> list[Message]:
    return db.session.scalars(sa.select(Message).where(Message.purpose == "alert")).all()


# -- item 2: one open finding, one page ---------------------------------------------------------

def test_ten_red_flag_texts_at_once_open_one_finding_and_page_once(app, maria):
    responses = all_at_once(app, lambda i: text_in(app.test_client(), MARIA, RED_FLAGS[i]), 10)
    assert all(r.status_code == 200 and "call 911 now" in twiml_text(r) for r in responses)  # each told at once
    findings = open_findings()
    assert [(f.level, f.rule) for f in findings] == [("emergency", "E1")]
    assert [m.to_number for m in pages()] == [DANA]
    assert findings[0].alerts_sent == 1


def test_ten_findings_raised_at_once_for_one_episode_are_one_finding_and_one_page(app, maria):
    """The escalation step alone, without the inbound text's write first (the dispatcher's R10 and
    'not responding' raise findings this way): the check and the insert are still one step."""
    now = datetime.now(timezone.utc)

    def raise_one(i: int) -> int:
        patient = db.session.merge(maria.patient, load=True)
        session = db.session.merge(maria.session, load=True)
        esc = escalation.open_escalation(patient=patient, session=session, level="emergency", rule="E1",
                                         assessment=None, now=now)
        db.session.commit()
        return esc.id

    ids = all_at_once(app, raise_one, 10)
    findings = open_findings()
    assert [f.id for f in findings] == [ids[0]] and set(ids) == {ids[0]}
    assert [m.to_number for m in pages()] == [DANA]


def test_ten_texts_at_once_raising_an_open_urgent_finding_to_emergency_page_once_more(app, maria):
    now = datetime.now(timezone.utc)
    urgent = escalation.open_escalation(patient=maria.patient, session=maria.session, level="urgent", rule="U1",
                                        assessment=None, now=now)
    db.session.commit()

    def raise_one(i: int) -> int:
        patient = db.session.merge(maria.patient, load=True)
        session = db.session.merge(maria.session, load=True)
        esc = escalation.open_escalation(patient=patient, session=session, level="emergency", rule="E1",
                                         assessment=None, now=now + timedelta(minutes=1))
        db.session.commit()
        return esc.id

    assert set(all_at_once(app, raise_one, 10)) == {urgent.id}
    assert [(f.id, f.level, f.rule) for f in open_findings()] == [(urgent.id, "emergency", "E1")]
    assert [m.body.split(":")[0] for m in pages()] == ["Aftercare URGENT", "Aftercare EMERGENCY"]


def test_an_urgent_and_emergencies_at_once_leave_one_finding_at_the_highest_level(app, maria):
    """Whichever text wins the race, the finding ends at the most urgent level said, paged at most
    once per level."""
    texts = ["i have a fever of 101", *RED_FLAGS[:5]]
    all_at_once(app, lambda i: text_in(app.test_client(), MARIA, texts[i]).status_code, len(texts))
    assert [f.level for f in open_findings()] == ["emergency"]
    assert len(pages()) <= 2 and [m.body.split(":")[0] for m in pages()][-1] == "Aftercare EMERGENCY"


# -- item 4: delivery reports never go backwards -------------------------------------------------

def outbound(maria, sid: str, status: str = "queued") -> Message:
    now = datetime.now(timezone.utc)
    message = Message(clinic_id=maria.patient.clinic_id, direction="out", patient_id=maria.patient.id,
                      purpose="checkin", body="How is the needled area?", to_number=MARIA, twilio_sid=sid,
                      status=status, attempts=1, sent_at=now, created_at=now, updated_at=now)
    db.session.add(message)
    db.session.commit()
    return message


def report(app, message_id: int, sid: str, state: str, error: str = "") -> int:
    params = {"MessageSid": sid, "MessageStatus": state, "AccountSid": "AC" + "0" * 32}
    if error:
        params["ErrorCode"] = error
    return post_signed(app.test_client(), f"/sms/status?m={message_id}", params).status_code


def test_delivery_reports_arriving_at_once_end_at_the_latest_status_never_backwards(app, maria):
    # Twilio reports queued, sending, sent and delivered for one text; they can overtake each other.
    states = ["sent", "delivered", "queued", "sent", "sending", "delivered", "sent", "sent", "delivered", "sent",
              "sending", "sent"]
    for round_ in range(3):
        sid = f"SM{round_:032x}"
        message_id = outbound(maria, sid).id
        answers = all_at_once(app, lambda i: report(app, message_id, sid, states[i]), len(states))
        assert answers == [204] * len(states)
        db.session.expire_all()
        assert db.session.get(Message, message_id).status == "delivered", f"round {round_}"


def test_a_terminal_failure_among_reports_at_once_is_kept_with_its_carrier_code(app, maria):
    # 30006: a landline or a carrier that cannot be reached; the number is flagged for staff.
    states = [("failed", "30006"), ("sent", ""), ("queued", ""), ("sending", ""), ("sent", ""), ("queued", ""),
              ("sent", ""), ("sending", ""), ("sent", ""), ("accepted", "")]
    sid = "SM" + "f" * 32
    message_id = outbound(maria, sid).id
    assert all_at_once(app, lambda i: report(app, message_id, sid, *states[i]), len(states)) == [204] * len(states)
    db.session.expire_all()
    message = db.session.get(Message, message_id)
    assert (message.status, message.error_code) == ("failed", 30006)
    assert message.patient.phone_problem_code == 30006


# -- item 5: a report's SID names its row ----------------------------------------------------------

def test_a_report_naming_a_row_without_a_sid_for_a_sid_another_row_holds_is_recorded_on_the_holder(
        app, maria, caplog):
    holder = outbound(maria, "SM" + "a" * 32, status="sent")
    named = outbound(maria, None, status="claimed")  # being sent: its SID not recorded yet
    holder_id, named_id = holder.id, named.id
    caplog.set_level("INFO", logger="bot")
    assert report(app, named_id, holder.twilio_sid, "delivered") == 204
    db.session.expire_all()
    holder, named = db.session.get(Message, holder_id), db.session.get(Message, named_id)
    assert (holder.status, holder.twilio_sid) == ("delivered", "SM" + "a" * 32)
    assert (named.status, named.twilio_sid) == ("claimed", None)
    logged = caplog.text
    assert f"id={holder_id}" in logged and f"id={named_id}" in logged
    assert MARIA not in logged and MARIA[2:] not in logged and "needled" not in logged


def test_reports_at_once_naming_two_rows_for_one_new_sid_give_it_to_one_row_and_never_fail(app, maria):
    first, second = outbound(maria, None, status="claimed").id, outbound(maria, None, status="claimed").id
    sid = "SM" + "b" * 32
    answers = all_at_once(app, lambda i: report(app, (first, second)[i % 2], sid, "sent"), 10)
    assert answers == [204] * 10
    db.session.expire_all()
    rows = {i: (db.session.get(Message, i).twilio_sid, db.session.get(Message, i).status) for i in (first, second)}
    assert set(rows.values()) == {(None, "claimed"), (sid, "sent")}
