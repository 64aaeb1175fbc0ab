"""Texts within two minutes are read together, but a group never repeats what its texts already said.

Issue #10 item 3: 40 s after a finding was acknowledged an emoji-only text raised a new finding
from the earlier words and paged again; reasons showed beside the wrong texts; a text appeared 2-3
times in "latest replies"; a text after STOP got a full triage answer. Each test below failed on
the code before the fix. A group may raise a level; what is shown beside a text is what it said.
"""

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, lakeside, sign_in, text_in, twiml_text

from bot import conversation, records
from bot.extensions import db
from bot.models import Assessment, CheckIn, Escalation, Message
from bot.replies import latest_replies

NY = ZoneInfo("America/New_York")
MARIA = "+12125550143"
DANA = "+12125550111"  # the on-call provider
START = datetime(2026, 11, 18, 10, 30, tzinfo=NY)  # a day after the session
INSIDE, OUTSIDE = timedelta(seconds=119), timedelta(seconds=121)  # either side of the two-minute window


@pytest.fixture
def maria(app, clinic):
    return enroll(clinic, ended=datetime(2026, 11, 17, 10, 0, tzinfo=NY))


def say(client, clock, at: datetime, body: str) -> str:
    clock.set(at)
    return twiml_text(text_in(client, MARIA, body))


def findings() -> list[Escalation]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Escalation).order_by(Escalation.id)))


def pages() -> int:
    """Alert texts queued for providers."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.purpose == "alert"))


def text_id(body: str) -> int:
    return db.session.scalars(sa.select(Message.id).where(Message.direction == "in", Message.body == body)).one()


def readings_of(body: str) -> list[Assessment]:
    """Every assessment stored against this text (its own reading, and a group reading it completed)."""
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Assessment).where(Assessment.message_id == text_id(body))
                                   .order_by(Assessment.id)))


def acknowledged_urgent(client, clock) -> Escalation:
    """Maria writes of a hot red calf (U1), Dana is paged and acknowledges it by text 30 s later."""
    assert say(client, clock, START, "my calf is red and hot").startswith("Maria, the clinic will call you today")
    clock.set(START + timedelta(seconds=30))
    assert twiml_text(text_in(client, DANA, "ACK")).startswith("Acknowledged ")
    (finding,) = findings()
    assert (finding.level, finding.status) == ("urgent", "acknowledged")
    return finding


# -- (a) a group may raise a level, never repeat a finding ---------------------------------------

@pytest.mark.parametrize("after", [timedelta(seconds=40), INSIDE, OUTSIDE])
@pytest.mark.parametrize("body", ["👍", "ok", "🙏🙏"])
def test_an_emoji_or_ok_after_an_acknowledged_finding_raises_nothing_and_pages_no_one(maria, client, clock,
                                                                                     body, after):
    acknowledged_urgent(client, clock)
    paged = pages()
    say(client, clock, START + after, body)
    assert [(f.level, f.status) for f in findings()] == [("urgent", "acknowledged")]
    assert pages() == paged


def test_an_emoji_after_an_open_finding_adds_no_page(maria, client, clock):
    say(client, clock, START, "my calf is red and hot")
    paged = pages()
    say(client, clock, START + timedelta(seconds=40), "👍")
    assert [(f.level, f.status) for f in findings()] == [("urgent", "open")] and pages() == paged


@pytest.mark.parametrize("after", [timedelta(seconds=40), INSIDE, OUTSIDE])
def test_a_higher_red_flag_after_an_acknowledged_finding_raises_and_pages(maria, client, clock, after):
    acknowledged_urgent(client, clock)
    paged = pages()
    answer = say(client, clock, START + after, "and now it hurts when I breathe in")
    assert [(f.level, f.status) for f in findings()] == [("urgent", "acknowledged"), ("emergency", "open")]
    assert pages() > paged and answer.startswith("Maria, call 911 now.")


def test_words_split_over_two_texts_raise_a_finding_inside_the_window(maria, client, clock):
    say(client, clock, START, "my leg")
    assert findings() == []
    answer = say(client, clock, START + INSIDE, "feels weak")
    (finding,) = findings()
    assert (finding.level, finding.rule, finding.assessment.text) == ("urgent", "U2", "my leg feels weak")
    assert pages() >= 1 and answer.startswith("Maria, the clinic will call you today")


def test_words_split_over_two_texts_are_read_apart_outside_the_window(maria, client, clock):
    say(client, clock, START, "my leg")
    say(client, clock, START + OUTSIDE, "feels weak")
    assert findings() == [] and pages() == 0


def test_texts_after_an_acknowledged_emergency_page_no_one_however_many_follow(maria, client, clock):
    """The group's earlier texts were read at emergency and unclear: the highest is emergency (by rank, not name)."""
    say(client, clock, START, "my chest feels tight")
    clock.set(START + timedelta(seconds=20))
    assert twiml_text(text_in(client, DANA, "ACK")).startswith("Acknowledged ")
    paged = pages()
    say(client, clock, START + timedelta(seconds=40), "ok")
    say(client, clock, START + timedelta(seconds=60), "👍")
    assert [(f.level, f.status) for f in findings()] == [("emergency", "acknowledged")] and pages() == paged


@pytest.mark.parametrize("body", ["ok", "👍"])
def test_an_ok_after_a_breathing_complaint_is_never_told_it_is_expected(maria, client, clock, body):
    """PROTOCOL 1: a breathing complaint is never downgraded; an "ok" read with it must not turn it into soreness."""
    assert say(client, clock, START, "it hurts when I breathe in").startswith("Maria, call 911 now.")
    assert "that's expected" not in say(client, clock, START + timedelta(seconds=20), body)


def test_a_group_raises_an_acknowledged_finding_only_to_a_higher_level(maria, client, clock):
    """A routine finding acknowledged, then words that make the group urgent: a new, urgent finding."""
    say(client, clock, START, "my leg")
    say(client, clock, START + timedelta(seconds=20), "feels weak")
    (urgent,) = findings()
    clock.set(START + timedelta(seconds=30))
    text_in(client, DANA, "ACK")
    say(client, clock, START + timedelta(seconds=60), "ok")
    say(client, clock, START + timedelta(seconds=90), "feels weak")  # the same words again
    assert [(f.level, f.status) for f in findings()] == [("urgent", "acknowledged")]


def test_a_second_monitor_is_one_finding_however_many_texts_say_it(maria, client, clock):
    """PROTOCOL 5: a second monitor in a row becomes routine, once a reply, not once a text."""
    say(client, clock, START, "a 7 right now")  # monitor: an extra check-in
    later = START + timedelta(hours=6)
    say(client, clock, later, "still a 7")  # the second monitor in a row: routine
    (finding,) = findings()
    assert (finding.level, finding.rule) == ("routine", "M-again")
    clock.set(later + timedelta(seconds=20))
    text_in(client, DANA, f"ACK {finding.code}")
    say(client, clock, later + timedelta(seconds=40), "a 7")
    assert [(f.rule, f.status) for f in findings()] == [("M-again", "acknowledged")]


# -- (b) what is shown beside a text is what that text said ---------------------------------------

def test_each_text_keeps_its_own_reading_and_the_group_reading_points_at_its_texts(maria, client, clock):
    say(client, clock, START, "my leg")
    say(client, clock, START + timedelta(seconds=40), "feels weak")
    (first,) = readings_of("my leg")
    own, together = readings_of("feels weak")
    assert (first.text, first.level) == ("my leg", "unclear")
    assert (own.text, own.level, own.kind) == ("feels weak", "expected", "text")
    assert not any("leg" in reason for reason in own.reasons)
    assert (together.kind, together.text, together.level, together.rules) == ("group", "my leg feels weak",
                                                                               "urgent", ["U2"])
    assert together.message_ids == [text_id("my leg"), text_id("feels weak")]
    assert findings()[0].assessment_id == together.id


def test_an_emoji_shows_its_own_reading_not_the_earlier_words(maria, client, clock):
    acknowledged_urgent(client, clock)
    say(client, clock, START + timedelta(seconds=40), "👍")
    own = readings_of("👍")[0]
    assert (own.text, own.level, own.kind) == ("👍", "unclear", "text")
    assert not any("hot" in reason for reason in own.reasons)


def triage_cell(page: str, body: str) -> str:
    """The Triage cell of the row of the patient's page that shows this text."""
    row = next(r for r in re.findall(r"<tr[^>]*>.*?</tr>", page, re.S) if f">{body}</td>" in r)
    return re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[-1]


def test_the_patients_page_shows_beside_each_text_what_it_said(maria, client, clock):
    say(client, clock, START, "my leg")
    say(client, clock, START + timedelta(seconds=40), "feels weak")
    sign_in(client)
    page = client.get(f"/patients/{maria.patient.id}").get_data(as_text=True)
    assert "U2" not in triage_cell(page, "my leg")
    weak = triage_cell(page, "feels weak")
    assert "expected" in weak and "read together with the text just before it" in weak and "U2" in weak


def test_the_episode_csv_keeps_each_texts_reading_and_names_the_texts_a_group_read(maria, client, clock):
    say(client, clock, START, "my leg")
    say(client, clock, START + timedelta(seconds=40), "feels weak")
    rows = list(csv.DictReader(io.StringIO(records.to_csv(records.load(maria.session)))))
    read = [(r["kind"], r["level"], r["text"]) for r in rows if r["kind"].endswith("assessment")]
    leg, weak = text_id("my leg"), text_id("feels weak")
    assert read == [("assessment", "unclear", "unclear: nothing assessable"),
                    ("assessment", "expected", "expected: 'weak'"),
                    ("group_assessment", "urgent", f"texts {leg}, {weak} read together: U2: 'leg feels weak'")]


# -- (c) "latest replies" shows each text once ------------------------------------------------

def test_latest_replies_list_each_text_once_with_its_own_reading(maria, client, clock, clinic):
    bodies = ["still sore", "about a 4", "better than yesterday"]
    for i, body in enumerate(bodies):
        say(client, clock, START + timedelta(seconds=30 * i), body)
    say(client, clock, START + timedelta(seconds=100), "STOP")  # a keyword is not a reply
    replies = latest_replies(clinic.id)
    assert [r.message.body for r in replies] == bodies[::-1]
    assert [r.reading.text for r in replies] == bodies[::-1]
    assert [r.message.body for r in latest_replies(clinic.id, limit=2)] == bodies[:0:-1]


def test_latest_replies_show_a_group_reading_beside_the_text_that_completed_it(maria, client, clock, clinic):
    say(client, clock, START, "my leg")
    say(client, clock, START + timedelta(seconds=40), "feels weak")
    weak, leg = latest_replies(clinic.id)
    assert (weak.reading.level, weak.together.level, weak.together.text) == ("expected", "urgent",
                                                                             "my leg feels weak")
    assert leg.together is None


def test_latest_replies_are_one_clinics(maria, client, clock, clinic):
    other = lakeside()
    say(client, clock, START, "about a 4")
    assert latest_replies(other.id) == []


def test_the_dashboard_shows_each_latest_reply_once(maria, client, clock):
    bodies = ["still sore", "about a 4", "better than yesterday"]
    for i, body in enumerate(bodies):
        say(client, clock, START + timedelta(seconds=30 * i), body)
    sign_in(client)
    page = client.get("/").get_data(as_text=True)
    assert [page.count(f">{body}</td>") for body in bodies] == [1, 1, 1]


# -- (d) a text after STOP --------------------------------------------------------------------

@pytest.mark.parametrize("body", ["about a 4", "a 7 right now", "i think i will stop the treatment, too sore"])
def test_a_text_after_stop_gets_no_answer_and_no_finding_and_is_recorded(maria, client, clock, body):
    say(client, clock, START, "STOP")
    planned = db.session.scalar(sa.select(sa.func.count()).select_from(CheckIn).where(CheckIn.status == "planned"))
    assert say(client, clock, START + timedelta(minutes=30), body) == ""
    assert findings() == [] and pages() == 0
    (reading,) = readings_of(body)
    assert reading.text == body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckIn)
                             .where(CheckIn.status == "planned")) == planned  # no extra check-in


def test_a_red_flag_after_stop_gets_no_text_back_but_the_on_call_provider_is_paged(maria, client, clock):
    """The patient asked for no more texts, and gets none; a chest complaint still reaches a person
    (PROTOCOL 1: Aftercare never downgrades a breathing or chest complaint)."""
    say(client, clock, START, "STOP")
    assert say(client, clock, START + timedelta(minutes=30), "my chest feels tight") == ""
    assert [f.level for f in findings()] == ["emergency"] and pages() >= 1


def test_a_text_after_start_is_answered_again(maria, client, clock):
    say(client, clock, START, "STOP")
    say(client, clock, START + timedelta(minutes=10), "START")
    assert say(client, clock, START + timedelta(minutes=30), "about a 4").startswith("Thanks Maria")


# -- the decision itself (pure) ---------------------------------------------------------------

def reading(words: str) -> conversation.Reading:
    return conversation.read(words, None, hours_since_session=24.0, region="knee", precautions=(),
                             previous_soreness=None)


@pytest.mark.parametrize("already, raises", [(None, True), ("unclear", True), ("expected", True), ("routine", True),
                                             ("urgent", False), ("emergency", False)])
def test_a_group_reading_raises_a_finding_only_above_what_its_earlier_texts_were_read_at(already, raises):
    together = reading("my leg feels weak")  # urgent, U2
    decision = conversation.decide_reply(reading("feels weak"), together, already=already, opted_out=False)
    assert decision.together is together and decision.answer is together
    assert (decision.finding is together) is raises


@pytest.mark.parametrize("earlier, text, opens", [("not", "better", False),  # the group: monitor, M2
                                                   ("bruise", "is getting bigger", True)])  # the group: routine, R5
def test_a_group_reading_opens_a_finding_from_routine_up(earlier, text, opens):
    together = reading(f"{earlier} {text}")
    decision = conversation.decide_reply(reading(text), together, already=reading(earlier).level, opted_out=False)
    assert decision.together is together and decision.answer is together
    assert (decision.finding is together) is opens


def test_a_group_reading_that_says_no_more_than_the_text_is_not_kept():
    own = reading("like an 8 honestly")
    decision = conversation.decide_reply(own, reading("still sore like an 8 honestly"), already="expected",
                                         opted_out=False)
    assert decision.together is None and decision.finding is own and decision.answer is own


def test_a_text_raises_its_own_finding_whatever_its_group_said_before():
    own = reading("and now it hurts when I breathe in")
    decision = conversation.decide_reply(own, reading("my calf is red and hot and now it hurts when I breathe in"),
                                         already="urgent", opted_out=False)
    assert decision.finding is own and decision.finding.level == "emergency"


@pytest.mark.parametrize("words, paged", [("about a 4", False), ("a 7 right now", False),
                                          ("i will stop the treatment, too sore", False),
                                          ("my calf is red and hot", True), ("my chest feels tight", True)])
def test_after_stop_nothing_is_answered_and_only_a_red_flag_is_a_finding(words, paged):
    own = reading(words)
    decision = conversation.decide_reply(own, None, already=None, opted_out=True)
    assert decision.answer is None and (decision.finding is own) is paged


# -- readings stored before this change --------------------------------------------------------

def test_the_migration_calls_a_reading_longer_than_its_text_a_group_reading(tmp_path):
    """Before, a text read with its group kept only the group's words; they are not what it said."""
    import flask_migrate
    from conftest import app_config

    from bot import create_app

    old = create_app(app_config(f"sqlite:///{tmp_path / 'old.db'}", tmp_path))
    with old.app_context():
        flask_migrate.upgrade(revision="0006")
        run = db.session.execute
        run(sa.text("INSERT INTO clinics (id, name, sms_name, phone, timezone, quiet_start, quiet_end, business_open, "
                    "business_close, business_days, emergency_realert_minutes, emergency_backup_minutes, "
                    "urgent_backup_minutes, daily_text_limit, session_idle_minutes, created_at) VALUES (1, 'C', 'C', "
                    "'+12125550100', 'UTC', '21:00:00', '08:00:00', '08:00:00', '17:00:00', '12345', 5, 15, 30, 10, "
                    "480, '2026-11-18 15:00:00')"))
        run(sa.text("INSERT INTO patients (id, clinic_id, name, phone, language, precautions, created_at) "
                    "VALUES (1, 1, 'P', '+12125550143', 'en', '[]', '2026-11-18 15:00:00')"))
        for i, body, words in ((1, "my leg", "my leg"), (2, "feels weak  ", "my leg feels weak")):
            run(sa.text("INSERT INTO messages (id, clinic_id, direction, patient_id, purpose, body, status, attempts, "
                        "created_at, updated_at) VALUES (:i, 1, 'in', 1, 'reply', :body, 'received', 0, "
                        "'2026-11-18 15:00:00', '2026-11-18 15:00:00')"), {"i": i, "body": body})
            run(sa.text("INSERT INTO assessments (id, message_id, patient_id, level, text, symptoms, rules, reasons, "
                        "protocol_version, created_at) VALUES (:i, :i, 1, 'urgent', :words, '[]', '[]', '[]', '1', "
                        "'2026-11-18 15:00:00')"), {"i": i, "words": words})
        db.session.commit()
        flask_migrate.upgrade()
        assert run(sa.text("SELECT text, kind FROM assessments ORDER BY id")).all() == [
            ("my leg", "text"), ("my leg feels weak", "group")]
        db.session.remove()
        db.engine.dispose()
