"""PROTOCOL 5's escalation, step by step: who is paged, when, with what, and what an ACK stops.

Defaults: an emergency pages the on-call now and every 5 minutes, and from 15 minutes on the
backup and the clinic's phone too; an urgent finding pages the on-call now and every 30 minutes,
the backup too from 30 minutes on; routine findings wait for one digest per provider at the start
of the clinic's next business day (Monday to Friday, 08:00 New York here).
"""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, lakeside

from bot import escalation
from bot.escalation import Timings, alert_step, next_business_start
from bot.extensions import db
from bot.models import Escalation, Message, Provider

NY = ZoneInfo("America/New_York")
DANA, BEN, CLINIC = "+12125550111", "+12125550122", "+12125550100"
TOM, ANA = "+12125550160", "+12125550133"
DEFAULT = Timings(timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=30))


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


# -- Who is paged at each step (pure) --------------------------------------------------------------

@pytest.mark.parametrize("waited, targets", [
    (timedelta(0), ("on_call",)),
    (timedelta(minutes=14, seconds=59), ("on_call",)),
    (timedelta(minutes=15), ("on_call", "backup", "clinic")),
    (timedelta(hours=2), ("on_call", "backup", "clinic")),
])
def test_an_emergency_pages_the_on_call_then_from_exactly_15_minutes_the_backup_and_clinic(waited, targets):
    opened = ny(2026, 11, 17, 23, 0)
    step = alert_step("emergency", opened, opened + waited, DEFAULT)
    assert step.targets == targets
    assert step.next_at == opened + waited + timedelta(minutes=5)


@pytest.mark.parametrize("waited, targets", [
    (timedelta(0), ("on_call",)),
    (timedelta(minutes=29, seconds=59), ("on_call",)),
    (timedelta(minutes=30), ("on_call", "backup")),
])
def test_an_urgent_finding_pages_the_on_call_then_from_exactly_30_minutes_the_backup(waited, targets):
    opened = ny(2026, 11, 18, 11, 0)
    step = alert_step("urgent", opened, opened + waited, DEFAULT)
    assert step.targets == targets
    assert step.next_at == opened + waited + timedelta(minutes=30)


def test_routine_findings_page_nobody():
    step = alert_step("routine", ny(2026, 11, 18, 11, 0), ny(2026, 11, 18, 12, 0), DEFAULT)
    assert (step.targets, step.next_at) == ((), None)


def test_a_clinics_own_timings_set_the_steps():
    quick = Timings(timedelta(minutes=2), timedelta(minutes=6), timedelta(minutes=10))
    opened = ny(2026, 11, 17, 23, 0)
    assert alert_step("emergency", opened, opened + timedelta(minutes=6), quick).next_at == opened + timedelta(minutes=8)
    assert alert_step("urgent", opened, opened + timedelta(minutes=10), quick).targets == ("on_call", "backup")


# -- When routine findings are told: the next business morning (pure) --------------------------------

@pytest.mark.parametrize("now, digest", [
    (ny(2026, 11, 20, 17, 30), ny(2026, 11, 23, 8, 0)),   # Friday evening -> Monday 08:00
    (ny(2026, 11, 21, 9, 0), ny(2026, 11, 23, 8, 0)),     # Saturday
    (ny(2026, 11, 23, 7, 59), ny(2026, 11, 23, 8, 0)),    # Monday before opening -> that morning
    (ny(2026, 11, 23, 8, 0), ny(2026, 11, 24, 8, 0)),     # exactly at opening -> the next business day
    (ny(2026, 11, 18, 12, 0), ny(2026, 11, 19, 8, 0)),    # Wednesday noon -> Thursday
])
def test_routine_findings_are_told_at_the_start_of_the_next_business_day(now, digest):
    start = next_business_start(now.astimezone(timezone.utc), NY, time(8, 0), "12345")
    assert start.astimezone(NY) == digest and start.tzinfo == timezone.utc


def test_a_clinic_open_on_saturdays_hears_on_saturday():
    assert next_business_start(ny(2026, 11, 20, 17, 30), NY, time(9, 0), "123456").astimezone(NY) == ny(2026, 11, 21, 9, 0)


def test_a_clinic_open_only_on_fridays_hears_a_week_later():
    assert next_business_start(ny(2026, 11, 20, 9, 0), NY, time(8, 0), "5").astimezone(NY) == ny(2026, 11, 27, 8, 0)


def test_a_clinic_with_no_business_days_still_hears_within_a_day():
    now = ny(2026, 11, 20, 17, 30)
    assert next_business_start(now, NY, time(8, 0), "") == now + timedelta(days=1)


# -- Alerts through the outbox ---------------------------------------------------------------------

def outbox(purpose: str = "alert") -> list[Message]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Message).where(Message.direction == "out", Message.purpose == purpose)
                              .order_by(Message.id)).all()


def to(number: str, purpose: str = "alert") -> list[str]:
    return [m.body for m in outbox(purpose) if m.to_number == number]


@pytest.fixture
def maria(app, clinic):
    """Maria, needled in the upper back at 18:00 on Tuesday 17 November."""
    return enroll(clinic, ended=ny(2026, 11, 17, 18, 0), regions=("upper_back",))


def open_finding(maria, level: str, rule: str, at: datetime) -> Escalation:
    esc = escalation.open_escalation(patient=maria.patient, session=maria.session, level=level, rule=rule,
                                     assessment=None, now=at.astimezone(timezone.utc))
    db.session.commit()
    return esc


def enroll_tom(clinic, ended: datetime = ny(2026, 11, 17, 18, 30)):
    """Tom, a second patient of the same clinic."""
    return enroll(clinic, ended=ended, phone=TOM, name="Tom Baker")


def add_ana(clinic, *, active: bool = True) -> Provider:
    """Ana, a treating provider who is not on call."""
    provider = Provider(clinic=clinic, name="Ana Treat", email="ana@harbor.example", phone=ANA, duty="off",
                        active=active)
    provider.set_password("correct horse battery")
    db.session.add(provider)
    db.session.commit()
    return provider


def treated_by(clinic, provider: Provider, *, phone: str = "+12125550143", name: str = "Maria Lopez",
               ended: datetime = ny(2026, 11, 18, 9, 0)):
    return enroll(clinic, ended=ended, phone=phone, name=name, provider=provider)


def test_an_emergency_alert_names_the_patient_the_hours_since_the_session_the_rule_and_the_code(maria):
    esc = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 59))
    assert to(DANA) == [f'Aftercare EMERGENCY: Maria L., 5h post-DN, E1: "" Reply ACK {esc.code}']
    assert to(BEN) == [] and to(CLINIC) == []
    assert esc.alerts_sent == 1
    assert esc.next_alert_at.astimezone(NY) == ny(2026, 11, 18, 0, 4)


def test_after_15_minutes_the_backup_and_the_clinic_are_paged_too_and_the_count_says_so(maria, app):
    esc = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    for minute in (5, 10, 15):
        escalation.run_timers(ny(2026, 11, 17, 23, minute).astimezone(timezone.utc))
    assert len(to(DANA)) == 4
    assert to(BEN) == [f'Aftercare EMERGENCY, no ACK in 15m: Maria L., 5h post-DN, E1: "" Reply ACK {esc.code}']
    assert len(to(CLINIC)) == 1
    db.session.expire_all()
    esc = db.session.get(Escalation, esc.id)
    assert esc.alerts_sent == 6
    assert esc.backup_alerted_at.astimezone(NY) == ny(2026, 11, 17, 23, 15)


def test_the_backup_is_paged_once_per_step_not_before_its_time(maria):
    open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    assert escalation.run_timers(ny(2026, 11, 18, 11, 29, 59).astimezone(timezone.utc)) == 0
    assert escalation.run_timers(ny(2026, 11, 18, 11, 30).astimezone(timezone.utc)) == 2
    assert len(to(DANA)) == 2 and to(BEN)[0].startswith("Aftercare URGENT, no ACK in 30m: Maria L., 17h post-DN, U1")


def test_with_no_backup_on_duty_the_clinics_phone_is_paged_in_their_place(maria, clinic):
    db.session.scalars(sa.select(Provider).where(Provider.duty == "backup")).one().duty = "off"
    db.session.commit()
    open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    escalation.run_timers(ny(2026, 11, 18, 11, 30).astimezone(timezone.utc))
    assert len(to(CLINIC)) == 1 and to(BEN) == []


def test_an_inactive_or_phoneless_provider_is_not_paged(maria, clinic):
    dana = db.session.scalars(sa.select(Provider).where(Provider.duty == "on_call")).one()
    dana.active = False
    db.session.commit()
    open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    assert to(DANA) == [] and len(to(CLINIC)) == 1


def test_a_provider_who_is_also_the_clinic_number_is_paged_once(maria, clinic):
    backup = db.session.scalars(sa.select(Provider).where(Provider.duty == "backup")).one()
    backup.phone = CLINIC
    db.session.commit()
    open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    escalation.run_timers(ny(2026, 11, 17, 23, 15).astimezone(timezone.utc))
    assert len(to(CLINIC)) == 1


def test_a_second_finding_of_the_same_level_does_not_page_again(maria):
    first = open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    again = open_finding(maria, "urgent", "U3", ny(2026, 11, 18, 11, 5))
    lower = open_finding(maria, "routine", "R1", ny(2026, 11, 18, 11, 6))
    assert first.id == again.id == lower.id and len(to(DANA)) == 1
    assert (again.level, again.rule) == ("urgent", "U1")


def test_a_more_urgent_finding_upgrades_and_restarts_the_clock(maria):
    esc = open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    escalation.run_timers(ny(2026, 11, 18, 11, 30).astimezone(timezone.utc))
    open_finding(maria, "emergency", "E1", ny(2026, 11, 18, 11, 40))
    assert (esc.level, esc.rule, esc.backup_alerted_at) == ("emergency", "E1", None)
    assert to(DANA)[-1].startswith("Aftercare EMERGENCY: Maria L.")
    escalation.run_timers(ny(2026, 11, 18, 11, 50).astimezone(timezone.utc))
    assert len(to(BEN)) == 1  # the urgent step's page only: 10 minutes into the emergency
    escalation.run_timers(ny(2026, 11, 18, 11, 55).astimezone(timezone.utc))
    assert len(to(BEN)) == 2


# -- Who holds each role ---------------------------------------------------------------------------

def test_a_page_reaches_only_the_patients_own_clinic(maria):
    lakeside()                                      # Olga is on call at another clinic
    open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    assert len(to(DANA)) == 1 and to("+13125550111") == []


def test_an_on_call_without_a_mobile_number_leaves_the_page_to_the_clinics_phone(maria):
    dana().phone = None
    db.session.commit()
    esc = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    assert [m.to_number for m in outbox()] == [CLINIC]
    assert esc.alerts_sent == 1


def test_each_round_of_pages_is_audited_with_its_roles_and_how_many_were_paged(maria):
    esc = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    escalation.run_timers(ny(2026, 11, 17, 23, 15).astimezone(timezone.utc))
    rounds = sorted(events(esc, "escalation.alerted"), key=lambda e: e.created_at)
    assert [(e.clinic_id, e.created_at.astimezone(NY), e.detail) for e in rounds] == [
        (maria.patient.clinic_id, ny(2026, 11, 17, 23, 0), {"roles": ["on_call"], "recipients": 1}),
        (maria.patient.clinic_id, ny(2026, 11, 17, 23, 15),
         {"roles": ["on_call", "backup", "clinic"], "recipients": 3})]


def test_a_page_for_a_finding_outside_any_episode_counts_no_hours_since_a_session(maria):
    esc = escalation.open_escalation(patient=maria.patient, session=None, level="urgent", rule="U3",
                                     assessment=None, now=ny(2026, 11, 20, 11, 0).astimezone(timezone.utc))
    db.session.commit()
    assert to(DANA) == [f'Aftercare URGENT: Maria L., 0h post-DN, U3: "" Reply ACK {esc.code}']


def test_a_backup_page_after_an_upgrade_counts_the_minutes_since_the_upgrade(maria):
    open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    open_finding(maria, "emergency", "E1", ny(2026, 11, 18, 11, 40))
    escalation.run_timers(ny(2026, 11, 18, 11, 45).astimezone(timezone.utc))
    escalation.run_timers(ny(2026, 11, 18, 11, 50).astimezone(timezone.utc))
    escalation.run_timers(ny(2026, 11, 18, 11, 55).astimezone(timezone.utc))
    assert to(BEN)[-1].startswith("Aftercare EMERGENCY, no ACK in 15m: Maria L.")


def test_raising_one_patients_finding_leaves_another_patients_finding_as_it_was(app, clinic, maria):
    tom = enroll_tom(clinic)
    toms = open_finding(tom, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    marias = open_finding(maria, "urgent", "U3", ny(2026, 11, 18, 11, 1))
    open_finding(maria, "emergency", "E1", ny(2026, 11, 18, 11, 5))
    db.session.expire_all()
    assert (marias.level, toms.level, toms.rule) == ("emergency", "urgent", "U1")


def test_the_dispatchers_count_is_every_text_queued_in_a_round(app, clinic, maria):
    """Two emergencies re-paging Dana at 23:05 are two texts; two providers' digests are two."""
    tom = enroll_tom(clinic)
    open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    open_finding(tom, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    assert escalation.run_timers(ny(2026, 11, 17, 23, 5).astimezone(timezone.utc)) == 2


def test_with_no_one_on_call_the_digest_goes_to_the_clinics_phone(maria):
    dana().duty = "off"
    db.session.commit()
    esc = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    assert escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc)) == 1
    assert to(CLINIC, "digest") == [f"Aftercare routine, 1 to call within 1 business day: Maria L. R1 ({esc.code}). "
                                    "See dashboard."]
    assert outbox("digest")[0].provider_id is None


# -- Routine digests -------------------------------------------------------------------------------

def test_a_routine_finding_is_digested_at_the_next_business_morning_to_the_on_call(maria):
    esc = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 17, 30))
    assert esc.next_alert_at.astimezone(NY) == ny(2026, 11, 23, 8, 0) and to(DANA) == []
    escalation.run_timers(ny(2026, 11, 23, 7, 59).astimezone(timezone.utc))
    assert to(DANA, "digest") == []
    escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc))
    assert to(DANA, "digest") == [f"Aftercare routine, 1 to call within 1 business day: Maria L. R1 ({esc.code}). "
                                  "See dashboard."]
    db.session.expire_all()
    esc = db.session.get(Escalation, esc.id)
    assert esc.alerts_sent == 1 and esc.digest_sent_at.astimezone(NY) == ny(2026, 11, 23, 8, 0)


def test_the_treating_provider_gets_the_digest_of_their_patients(app, clinic):
    ana = add_ana(clinic)
    e = treated_by(clinic, ana)
    open_finding(e, "routine", "R1", ny(2026, 11, 20, 11, 0))
    escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc))
    assert len(to(ANA, "digest")) == 1 and to(DANA, "digest") == []
    assert outbox("digest")[0].provider_id == ana.id


def test_a_treating_provider_who_cannot_be_texted_leaves_the_digest_to_the_on_call(app, clinic):
    ana = add_ana(clinic, active=False)
    e = treated_by(clinic, ana)
    open_finding(e, "routine", "R1", ny(2026, 11, 20, 11, 0))
    escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc))
    assert len(to(DANA, "digest")) == 1 and to(ANA, "digest") == []


# -- ACK by text -----------------------------------------------------------------------------------

def dana() -> Provider:
    return db.session.scalars(sa.select(Provider).where(Provider.phone == DANA)).one()


def ben() -> Provider:
    return db.session.scalars(sa.select(Provider).where(Provider.phone == BEN)).one()


@pytest.mark.parametrize("text", ["ACK ABCDE please", "ack it now ok", "ACKNOWLEDGE", "OK", ""])
def test_an_ack_with_extra_words_gets_the_how_to_and_acknowledges_nothing(maria, text):
    esc = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    answer = escalation.acknowledge_by_text(dana(), text, ny(2026, 11, 17, 23, 2))
    assert answer == "Aftercare: reply ACK <code> to acknowledge an alert, or ACK for your latest one."
    assert esc.status == "open"


def test_an_ack_in_any_case_and_spacing_acknowledges(maria):
    esc = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    answer = escalation.acknowledge_by_text(ben(), f"  ack   {esc.code.lower()} ", ny(2026, 11, 17, 23, 2))
    assert answer == f"Acknowledged {esc.code} (Maria L., EMERGENCY). Re-alerts stopped."
    assert (esc.status, esc.acknowledged_by_id, esc.next_alert_at) == ("acknowledged", ben().id, None)
    assert esc.acknowledged_at.astimezone(NY) == ny(2026, 11, 17, 23, 2)
    (event,) = events(esc, "escalation.acknowledged")
    assert (event.actor, event.detail) == (f"provider:{ben().id}", {"via": "sms"})


def test_a_bare_ack_acknowledges_the_latest_open_finding_the_provider_was_paged_for(app, clinic, maria):
    tom = enroll_tom(clinic)
    older = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    newer = open_finding(tom, "urgent", "U1", ny(2026, 11, 17, 23, 1))
    answer = escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 17, 23, 2))
    assert answer == f"Acknowledged {newer.code} (Tom B., URGENT). Re-alerts stopped."
    assert (older.status, newer.status) == ("open", "acknowledged")
    assert escalation.acknowledge_by_text(dana(), "ack", ny(2026, 11, 17, 23, 3)).startswith(f"Acknowledged {older.code}")
    assert escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 17, 23, 4)) == "Aftercare: no open alert to acknowledge."


def test_a_bare_ack_from_a_provider_never_paged_acknowledges_nothing(maria):
    esc = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    assert escalation.acknowledge_by_text(ben(), "ACK", ny(2026, 11, 17, 23, 2)) == "Aftercare: no open alert to acknowledge."
    assert esc.status == "open"


def test_an_acknowledged_finding_cannot_be_acknowledged_again(maria):
    esc = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    assert escalation.acknowledge(esc, dana(), ny(2026, 11, 17, 23, 1), via="dashboard") is True
    assert escalation.acknowledge(esc, ben(), ny(2026, 11, 17, 23, 2), via="sms") is False
    assert esc.acknowledged_by_id == dana().id


# -- The patient's CALL or WAIT --------------------------------------------------------------------

def test_call_raises_a_routine_finding_to_urgent_and_pages_the_on_call_now(maria):
    esc = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    escalation.record_patient_choice(maria.patient, "call", ny(2026, 11, 20, 11, 3).astimezone(timezone.utc))
    db.session.commit()
    assert (esc.level, esc.patient_choice) == ("urgent", "call")
    assert esc.alert_started_at.astimezone(NY) == ny(2026, 11, 20, 11, 3)
    assert to(DANA)[0].startswith("Aftercare URGENT: Maria L., 65h post-DN, R1")


def test_call_on_an_urgent_finding_records_the_choice_and_pages_no_one_extra(maria):
    esc = open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    escalation.record_patient_choice(maria.patient, "call", ny(2026, 11, 18, 11, 3).astimezone(timezone.utc))
    assert (esc.level, esc.patient_choice, len(to(DANA))) == ("urgent", "call", 1)


def test_wait_keeps_a_routine_finding_routine(maria):
    esc = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    assert escalation.record_patient_choice(maria.patient, "wait", ny(2026, 11, 20, 11, 3)) is esc
    assert (esc.level, esc.patient_choice) == ("routine", "wait") and to(DANA) == []


def test_an_emergency_is_not_waiting_for_call_or_wait(maria):
    open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    assert escalation.awaiting_choice(maria.patient) is None
    assert escalation.record_patient_choice(maria.patient, "wait", ny(2026, 11, 17, 23, 3)) is None


def test_call_answers_the_writers_own_finding_not_another_patients(app, clinic, maria):
    tom = enroll_tom(clinic)
    marias = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    toms = open_finding(tom, "routine", "R2", ny(2026, 11, 20, 11, 1))
    assert escalation.record_patient_choice(maria.patient, "call", ny(2026, 11, 20, 11, 3)) is marias
    assert (marias.level, toms.level, toms.patient_choice) == ("urgent", "routine", None)


def test_call_after_the_finding_was_dealt_with_changes_nothing(maria):
    esc = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    escalation.resolve(esc, dana(), ny(2026, 11, 20, 11, 2), via="dashboard")
    assert escalation.record_patient_choice(maria.patient, "call", ny(2026, 11, 20, 11, 3)) is None
    assert (esc.level, esc.patient_choice, to(DANA)) == ("routine", None, [])


def test_call_answers_the_newest_open_finding_when_two_episodes_have_one(app, clinic, maria):
    """Maria's knee finding from her last session is still open when this session's finding opens:
    the CALL she texts now is about the newer one."""
    older = open_finding(maria, "routine", "R1", ny(2026, 11, 18, 11, 0))
    again = enroll(clinic, ended=ny(2026, 11, 24, 18, 0), new_session_for=maria.patient.id)
    newer = open_finding(again, "routine", "R2", ny(2026, 11, 25, 11, 0))
    assert escalation.record_patient_choice(maria.patient, "call", ny(2026, 11, 25, 11, 3)) is newer
    assert (older.level, newer.level) == ("routine", "urgent")


# -- Every change of a finding is an audit event: what, who, which clinic, when, and the details ----

def events(esc: Escalation, action: str) -> list:
    from bot.models import AuditEvent
    db.session.expire_all()
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.subject == f"escalation:{esc.id}",
                                                          AuditEvent.action == action)).all()


def test_a_digest_is_sent_and_audited_for_each_finding_in_it(maria, gateway):
    from bot.dispatch import run_once
    esc = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 17, 30))
    run_once(now=ny(2026, 11, 23, 8, 0))
    assert [r["body"] for r in gateway.records() if r["to"] == DANA][0].startswith("Aftercare routine, 1 to call")
    (event,) = events(esc, "escalation.digested")
    assert (event.clinic_id, event.created_at.astimezone(NY), event.detail) == (
        maria.patient.clinic_id, ny(2026, 11, 23, 8, 0), {"provider_id": dana().id})


def test_an_acknowledgement_is_audited_with_who_when_and_how(maria):
    esc = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    escalation.acknowledge(esc, dana(), ny(2026, 11, 17, 23, 2).astimezone(timezone.utc), via="sms")
    db.session.commit()
    (event,) = events(esc, "escalation.acknowledged")
    assert (event.actor, event.clinic_id, event.created_at.astimezone(NY), event.detail) == (
        f"provider:{dana().id}", maria.patient.clinic_id, ny(2026, 11, 17, 23, 2), {"via": "sms"})


def test_a_patients_call_is_audited_as_their_choice_and_as_an_upgrade(maria):
    esc = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    escalation.record_patient_choice(maria.patient, "call", ny(2026, 11, 20, 11, 3).astimezone(timezone.utc))
    db.session.commit()
    (choice,) = events(esc, "escalation.patient_choice")
    assert (choice.actor, choice.clinic_id, choice.created_at.astimezone(NY), choice.detail) == (
        f"patient:{maria.patient.id}", maria.patient.clinic_id, ny(2026, 11, 20, 11, 3), {"choice": "call"})
    (upgrade,) = events(esc, "escalation.upgraded")
    assert (upgrade.clinic_id, upgrade.created_at.astimezone(NY), upgrade.detail) == (
        maria.patient.clinic_id, ny(2026, 11, 20, 11, 3),
        {"previous": "routine", "level": "urgent", "rule": "R1", "why": "patient asked for a call"})


# -- Resolving: the care team has dealt with a finding ---------------------------------------------

def other_clinics_provider() -> Provider:
    from bot.models import Clinic
    other = Clinic(name="Elsewhere PT", sms_name="Elsewhere", phone="+13125550100", timezone="America/Chicago")
    olga = Provider(clinic=other, name="Olga Other", email="olga@elsewhere.example", phone="+13125550111",
                    password_hash="x", duty="on_call")
    db.session.add(olga)
    db.session.commit()
    return olga


def test_resolving_an_open_emergency_stops_its_pages_and_counts_as_acknowledged_then(maria):
    esc = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    at = ny(2026, 11, 17, 23, 3).astimezone(timezone.utc)
    assert escalation.resolve(esc, ben(), at, via="dashboard") is True
    db.session.commit()
    assert (esc.status, esc.next_alert_at, esc.resolved_by_id, esc.acknowledged_by_id) == (
        "resolved", None, ben().id, ben().id)
    assert esc.resolved_at.astimezone(NY) == esc.acknowledged_at.astimezone(NY) == ny(2026, 11, 17, 23, 3)
    assert escalation.run_timers(ny(2026, 11, 17, 23, 20).astimezone(timezone.utc)) == 0
    assert len(to(DANA)) == 1 and to(BEN) == [] and to(CLINIC) == []
    (event,) = events(esc, "escalation.resolved")
    assert (event.actor, event.clinic_id, event.created_at.astimezone(NY), event.detail) == (
        f"provider:{ben().id}", maria.patient.clinic_id, ny(2026, 11, 17, 23, 3), {"via": "dashboard"})


def test_resolving_an_acknowledged_finding_keeps_who_acknowledged_it_and_when(maria):
    esc = open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    escalation.acknowledge(esc, dana(), ny(2026, 11, 18, 11, 2).astimezone(timezone.utc), via="sms")
    assert escalation.resolve(esc, ben(), ny(2026, 11, 18, 12, 0).astimezone(timezone.utc), via="dashboard") is True
    assert (esc.acknowledged_by_id, esc.resolved_by_id) == (dana().id, ben().id)
    assert esc.acknowledged_at.astimezone(NY) == ny(2026, 11, 18, 11, 2)
    assert esc.resolved_at.astimezone(NY) == ny(2026, 11, 18, 12, 0)


def test_a_finding_is_resolved_once_and_only_by_its_own_clinic(maria):
    esc = open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    olga = other_clinics_provider()
    assert escalation.resolve(esc, olga, ny(2026, 11, 18, 11, 5), via="dashboard") is False
    assert escalation.acknowledge(esc, olga, ny(2026, 11, 18, 11, 5), via="sms") is False
    assert (esc.status, esc.acknowledged_at) == ("open", None)
    assert escalation.resolve(esc, dana(), ny(2026, 11, 18, 11, 10).astimezone(timezone.utc), via="dashboard") is True
    assert escalation.resolve(esc, ben(), ny(2026, 11, 18, 11, 20).astimezone(timezone.utc), via="dashboard") is False
    assert esc.resolved_by_id == dana().id and esc.resolved_at.astimezone(NY) == ny(2026, 11, 18, 11, 10)
    assert len(events(esc, "escalation.resolved")) == 1


def test_a_practice_system_resolving_without_a_provider_is_audited_as_its_key(maria):
    esc = open_finding(maria, "routine", "R1", ny(2026, 11, 18, 11, 0))
    assert escalation.resolve(esc, None, ny(2026, 11, 18, 11, 5).astimezone(timezone.utc), via="api",
                              actor="api_key:7") is True
    assert (esc.status, esc.resolved_by_id, esc.acknowledged_by_id) == ("resolved", None, None)
    (event,) = events(esc, "escalation.resolved")
    assert (event.actor, event.detail) == ("api_key:7", {"via": "api"})


def test_an_api_acknowledgement_without_a_provider_is_audited_as_its_key(maria):
    esc = open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    assert escalation.acknowledge(esc, None, ny(2026, 11, 18, 11, 5).astimezone(timezone.utc), via="api",
                                  actor="api_key:7") is True
    assert (esc.status, esc.acknowledged_by_id, esc.next_alert_at) == ("acknowledged", None, None)
    (event,) = events(esc, "escalation.acknowledged")
    assert (event.actor, event.detail) == ("api_key:7", {"via": "api"})


def test_closing_as_handled_keeps_the_note_on_the_finding_and_only_that_there_was_one_in_the_audit(maria):
    esc = open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    at = ny(2026, 11, 18, 12, 30).astimezone(timezone.utc)
    assert escalation.close_finding(esc, dana(), at, resolution="handled", note="Called her: easing, ice advised.",
                                    via="dashboard") is True
    db.session.commit()
    assert (esc.status, esc.resolution, esc.resolution_note, esc.resolved_by_id) == (
        "resolved", "handled", "Called her: easing, ice advised.", dana().id)
    (event,) = events(esc, "escalation.resolution_recorded")
    assert (event.actor, event.clinic_id, event.created_at.astimezone(NY), event.detail) == (
        f"provider:{dana().id}", maria.patient.clinic_id, ny(2026, 11, 18, 12, 30),
        {"via": "dashboard", "resolution": "handled", "note": True})
    (resolved,) = events(esc, "escalation.resolved")
    assert (resolved.created_at.astimezone(NY), resolved.detail) == (ny(2026, 11, 18, 12, 30), {"via": "dashboard"})
    db.session.refresh(esc)
    assert esc.resolved_at.astimezone(NY) == esc.acknowledged_at.astimezone(NY) == ny(2026, 11, 18, 12, 30)


def test_closing_as_not_actionable_with_no_note_stores_no_note(maria):
    esc = open_finding(maria, "routine", "R1", ny(2026, 11, 18, 11, 0))
    assert escalation.close_finding(esc, dana(), ny(2026, 11, 18, 11, 30), resolution="not_actionable", note="",
                                    via="dashboard") is True
    assert (esc.status, esc.resolution, esc.resolution_note) == ("resolved", "not_actionable", None)
    (event,) = events(esc, "escalation.resolution_recorded")
    assert event.detail == {"via": "dashboard", "resolution": "not_actionable", "note": False}


def test_closing_says_which_resolutions_there_are_and_a_closed_finding_keeps_its_first(maria):
    esc = open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    with pytest.raises(ValueError, match=r"resolution must be one of \('handled', 'not_actionable'\)"):
        escalation.close_finding(esc, dana(), ny(2026, 11, 18, 11, 30), resolution="fixed", note="x", via="dashboard")
    assert esc.status == "open"
    assert escalation.close_finding(esc, dana(), ny(2026, 11, 18, 11, 30), resolution="handled", note="Called.",
                                    via="dashboard") is True
    assert escalation.close_finding(esc, ben(), ny(2026, 11, 18, 11, 40), resolution="not_actionable", note="",
                                    via="dashboard") is False
    assert (esc.resolution, esc.resolution_note, esc.resolved_by_id) == ("handled", "Called.", dana().id)
    assert len(events(esc, "escalation.resolution_recorded")) == 1


def test_a_mistyped_code_lists_the_open_findings_the_provider_was_paged_for_most_urgent_first_then_oldest(app, clinic):
    """Dana was paged for four findings, one of them since acknowledged; a fifth, routine and not yet
    digested, she has not heard of."""
    def patient(k: int):
        return enroll(clinic, ended=ny(2026, 11, 19, 9, 0), phone=f"+1212555017{k}", name=f"Pat{k} Test")

    urgent = open_finding(patient(1), "urgent", "U1", ny(2026, 11, 23, 9, 0))
    first = open_finding(patient(2), "emergency", "E1", ny(2026, 11, 23, 9, 5))
    second = open_finding(patient(3), "emergency", "E6", ny(2026, 11, 23, 9, 10))
    done = open_finding(patient(4), "emergency", "E1", ny(2026, 11, 23, 9, 15))
    escalation.acknowledge(done, dana(), ny(2026, 11, 23, 9, 16).astimezone(timezone.utc), via="sms")
    open_finding(patient(5), "routine", "R2", ny(2026, 11, 23, 9, 20))
    db.session.commit()
    answer = escalation.acknowledge_by_text(dana(), "ACK zzzzz", ny(2026, 11, 23, 9, 30).astimezone(timezone.utc))
    assert answer == f"Aftercare: no alert ZZZZZ. Your open alerts: {first.code}; {second.code}; {urgent.code}"
    assert escalation.acknowledge_by_text(ben(), "ACK ZZZZZ", ny(2026, 11, 23, 9, 30)) == (
        "Aftercare: no alert ZZZZZ. You have no open alerts.")
    assert [e.status for e in (urgent, first, second)] == ["open"] * 3


def test_a_provider_who_got_a_digest_can_ack_it_and_a_mistyped_code_lists_its_findings(maria):
    digested = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc))
    assert escalation.acknowledge_by_text(dana(), "ACK ZZZZZ", ny(2026, 11, 23, 8, 5)) == (
        f"Aftercare: no alert ZZZZZ. Your open alerts: {digested.code}")
    assert escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 23, 8, 6)) == (
        f"Acknowledged {digested.code} (Maria L., ROUTINE). Re-alerts stopped.")
    assert digested.status == "acknowledged" and digested.acknowledged_by_id == dana().id


def test_a_bare_ack_to_a_digest_of_several_findings_asks_which_and_acknowledges_none(app, clinic, maria):
    """One ACK cannot say which of two patients the provider has taken in hand: the answer lists
    the digest's open codes, oldest first, and each is acknowledged by its own code."""
    tom = enroll_tom(clinic)
    first = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    second = open_finding(tom, "routine", "R2", ny(2026, 11, 20, 12, 0))
    escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc))
    assert len(to(DANA, "digest")) == 1
    assert escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 23, 8, 5)) == (
        f"Aftercare: 2 open alerts came together. Reply ACK and one code: {first.code}; {second.code}")
    assert (first.status, second.status) == ("open", "open")
    assert escalation.acknowledge_by_text(dana(), f"ACK {second.code}", ny(2026, 11, 23, 8, 6)).startswith(
        f"Acknowledged {second.code} (Tom B., ROUTINE)")
    assert escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 23, 8, 7)).startswith(  # one left: that one
        f"Acknowledged {first.code} (Maria L., ROUTINE)")
    assert escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 23, 8, 8)) == "Aftercare: no open alert to acknowledge."


def test_a_bare_ack_after_two_pages_at_the_same_moment_asks_which_most_urgent_first(app, clinic, maria):
    """Tom's urgent finding (22:40) and Maria's emergency (23:00) re-page Dana in the same round at
    23:10: her phone shows two pages at once, so a bare ACK names both and acknowledges neither."""
    tom = enroll_tom(clinic)
    urgent = open_finding(tom, "urgent", "U1", ny(2026, 11, 17, 22, 40))
    emergency = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    escalation.run_timers(ny(2026, 11, 17, 23, 5).astimezone(timezone.utc))
    escalation.run_timers(ny(2026, 11, 17, 23, 10).astimezone(timezone.utc))
    assert len(to(DANA)) == 5  # Tom 22:40, Maria 23:00 and 23:05, then both at 23:10
    assert escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 17, 23, 11)) == (
        f"Aftercare: 2 open alerts came together. Reply ACK and one code: {emergency.code}; {urgent.code}")
    assert (emergency.status, urgent.status) == ("open", "open")


def test_a_bare_ack_after_a_page_then_a_digest_acknowledges_the_digests_finding(app, clinic):
    """Dana was paged for Tom at 07:30 and went off call; at 08:00 the on-call (Ben) is paged again
    for Tom and Dana gets the digest of her own patient Maria: her latest text is the digest."""
    tom = enroll_tom(clinic, ended=ny(2026, 11, 22, 18, 0))
    maria = treated_by(clinic, dana(), ended=ny(2026, 11, 19, 9, 0))
    digested = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    paged = open_finding(tom, "urgent", "U1", ny(2026, 11, 23, 7, 30))
    dana().duty, ben().duty = "off", "on_call"
    db.session.commit()
    escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc))
    assert len(to(DANA)) == 1 and len(to(DANA, "digest")) == 1
    assert escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 23, 8, 5)).startswith(
        f"Acknowledged {digested.code} (Maria L., ROUTINE)")
    assert paged.status == "open"


def test_open_alerts_are_listed_oldest_first_by_when_they_were_raised(app, clinic, maria):
    """A text kept in the spool while the database was down is read later with the time it was
    sent, so a finding can be raised after another yet be older: the list goes by when."""
    tom = enroll_tom(clinic)
    later = open_finding(tom, "urgent", "U1", ny(2026, 11, 18, 11, 5))
    earlier = open_finding(maria, "urgent", "U3", ny(2026, 11, 18, 11, 0))  # replayed from the spool
    assert escalation.alerted_open(dana()) == [earlier, later]
    escalation.run_timers(ny(2026, 11, 18, 11, 35).astimezone(timezone.utc))  # both re-page at 11:35
    assert escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 18, 11, 36)) == (
        f"Aftercare: 2 open alerts came together. Reply ACK and one code: {earlier.code}; {later.code}")


def test_one_digest_of_two_findings_is_one_text_queued(app, clinic, maria):
    tom = enroll_tom(clinic)
    open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    open_finding(tom, "routine", "R2", ny(2026, 11, 20, 12, 0))
    assert escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc)) == 1  # the dispatcher's count


def test_two_providers_digests_are_two_texts_queued(app, clinic, maria):
    ana = add_ana(clinic)
    anas = treated_by(clinic, ana, phone=TOM, name="Tom Baker")
    open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    open_finding(anas, "routine", "R2", ny(2026, 11, 20, 12, 0))
    assert escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc)) == 2
    assert (len(to(DANA, "digest")), len(to(ANA, "digest"))) == (1, 1)


def test_a_routine_finding_outside_any_episode_goes_to_the_on_calls_digest(maria):
    esc = escalation.open_escalation(patient=maria.patient, session=None, level="routine", rule="R8",
                                     assessment=None, now=ny(2026, 11, 20, 11, 0).astimezone(timezone.utc))
    db.session.commit()
    escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc))
    assert to(DANA, "digest") == [f"Aftercare routine, 1 to call within 1 business day: Maria L. R8 ({esc.code}). "
                                  "See dashboard."]


def test_a_long_mistyped_code_is_cut_to_twelve_characters_in_the_answer(maria):
    open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    answer = escalation.acknowledge_by_text(dana(), "ACK ABCDEFGHJKLMNPQRSTUVWXYZ", ny(2026, 11, 17, 23, 1))
    assert answer.startswith("Aftercare: no alert ABCDEFGHJKLM. Your open alerts:")


def test_a_bare_ack_after_a_digest_and_a_later_page_acknowledges_the_page(app, clinic, maria):
    tom = enroll_tom(clinic, ended=ny(2026, 11, 22, 18, 0))
    digested = open_finding(maria, "routine", "R1", ny(2026, 11, 20, 11, 0))
    escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc))
    paged = open_finding(tom, "urgent", "U1", ny(2026, 11, 23, 8, 2))
    assert escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 23, 8, 3)).startswith(
        f"Acknowledged {paged.code} (Tom B., URGENT)")
    assert (digested.status, paged.status) == ("open", "acknowledged")


def test_a_digest_sent_to_another_provider_is_not_dana_to_acknowledge(app, clinic):
    ana = add_ana(clinic)
    e = treated_by(clinic, ana)
    esc = open_finding(e, "routine", "R1", ny(2026, 11, 20, 11, 0))
    escalation.run_timers(ny(2026, 11, 23, 8, 0).astimezone(timezone.utc))
    assert escalation.alerted_open(dana()) == [] and escalation.alerted_open(ana) == [esc]
    assert escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 23, 8, 5)) == "Aftercare: no open alert to acknowledge."
    assert esc.status == "open"


def test_a_bare_ack_acknowledges_the_finding_of_the_providers_latest_page_even_an_older_finding(app, clinic, maria):
    """Maria's emergency (23:00) re-pages Dana at 23:05, after Tom's urgent finding (23:01) paged her:
    the page on Dana's phone when she answers ACK is Maria's."""
    tom = enroll_tom(clinic)
    older = open_finding(maria, "emergency", "E1", ny(2026, 11, 17, 23, 0))
    newer = open_finding(tom, "urgent", "U1", ny(2026, 11, 17, 23, 1))
    escalation.run_timers(ny(2026, 11, 17, 23, 5).astimezone(timezone.utc))
    answer = escalation.acknowledge_by_text(dana(), "ACK", ny(2026, 11, 17, 23, 6).astimezone(timezone.utc))
    assert answer == f"Acknowledged {older.code} (Maria L., EMERGENCY). Re-alerts stopped."
    assert (older.status, newer.status) == ("acknowledged", "open")


def test_a_findings_code_is_five_characters_a_provider_cannot_misread(app, clinic):
    """The code a provider types back after ACK: five capitals or digits, never 0/O or 1/I."""
    codes = [open_finding(enroll(clinic, ended=ny(2026, 11, 17, 9, 0), phone=f"+121255502{k:02d}", name=f"Pat{k} Test"),
                          "routine", "R1", ny(2026, 11, 17, 12, 0)).code for k in range(40)]
    assert len(set(codes)) == 40
    assert all(len(code) == 5 and set(code) <= set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for code in codes)
    assert not set("".join(codes)) & set("0O1I")


def test_opening_a_finding_is_audited_with_its_level_rule_and_evidence(maria):
    esc = open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    (event,) = events(esc, "escalation.opened")
    assert (event.clinic_id, event.created_at.astimezone(NY), event.detail) == (
        maria.patient.clinic_id, ny(2026, 11, 18, 11, 0), {"level": "urgent", "rule": "U1", "assessment_id": None})
    assert esc.created_at.astimezone(NY) == ny(2026, 11, 18, 11, 0)  # "raised ... ago" on the queue counts from here
    open_finding(maria, "routine", "R1", ny(2026, 11, 18, 11, 5))
    (added,) = events(esc, "escalation.finding_added")
    assert (added.clinic_id, added.created_at.astimezone(NY), added.detail) == (
        maria.patient.clinic_id, ny(2026, 11, 18, 11, 5), {"level": "routine", "rule": "R1", "assessment_id": None})
    open_finding(maria, "emergency", "E1", ny(2026, 11, 18, 11, 10))
    (upgraded,) = events(esc, "escalation.upgraded")
    assert (upgraded.clinic_id, upgraded.created_at.astimezone(NY), upgraded.detail) == (
        maria.patient.clinic_id, ny(2026, 11, 18, 11, 10), {"previous": "urgent", "level": "emergency", "rule": "E1"})


def test_a_new_session_of_the_same_patient_is_a_new_episode_with_its_own_finding(app, clinic, maria):
    old = open_finding(maria, "urgent", "U1", ny(2026, 11, 18, 11, 0))
    again = enroll(clinic, ended=ny(2026, 11, 24, 18, 0), new_session_for=maria.patient.id)
    new = open_finding(again, "urgent", "U1", ny(2026, 11, 25, 11, 0))
    assert new.id != old.id and (old.status, new.status) == ("open", "open")
    assert len(to(DANA)) == 2
