"""Clinic settings (issue 11): admins only, every field validated through bot/validation.py,
every change audited, and new quiet hours move the texts that have not gone yet."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from support import enroll, sign_in

from bot import validation
from bot.extensions import db
from bot.models import AuditEvent, CheckIn, Clinic, Provider
from bot.protocol import PROTOCOL

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def admin(clinic):
    """Ben, the backup provider, is also the clinic's admin; Dana is a provider."""
    ben = db.session.get(Provider, 2)
    ben.role = "admin"
    db.session.commit()
    return ben


def as_admin(client):
    sign_in(client, email="ben@harbor.example")
    return client


def form(**changes: object) -> dict[str, object]:
    values: dict[str, object] = dict(
        name="Harbor Physical Therapy", sms_name="Harbor PT", phone="(212) 555-0100", timezone="America/New_York",
        quiet_start="21:00", quiet_end="08:00", business_open="08:00", business_close="17:00",
        business_days=["1", "2", "3", "4", "5"], emergency_realert_minutes="5", emergency_backup_minutes="15",
        urgent_backup_minutes="30", session_idle_minutes="480")
    values.update(changes)
    return values


def flashes(client) -> str:
    return client.get("/settings").get_data(as_text=True)


# -- validation, shared by every door -------------------------------------------------------------

@pytest.mark.parametrize(("name", "low", "high"), [(n, lo, hi) for n, (lo, hi) in PROTOCOL.escalation_bounds.items()])
def test_each_alert_timing_is_accepted_at_its_bounds_and_refused_just_outside(name, low, high):
    others = {n: str(max(lo, 15) if n == "emergency_backup_minutes" else lo)
              for n, (lo, _) in PROTOCOL.escalation_bounds.items()}
    others["emergency_realert_minutes"] = "2"
    for good in (low, high):
        assert validation.escalation_timings({**others, name: str(good)})[name] == good
    for bad in (low - 1, high + 1):
        with pytest.raises(validation.ValidationError) as error:
            validation.escalation_timings({**others, name: str(bad)})
        assert error.value.field == name
        assert f"{low} to {high}" in error.value.message


def test_the_protocol_defaults_lie_within_the_safe_bounds():
    for name, (low, high) in PROTOCOL.escalation_bounds.items():
        assert low <= PROTOCOL.escalation[name] <= high


def test_an_emergency_backup_paged_before_the_first_re_alert_is_refused():
    with pytest.raises(validation.ValidationError) as error:
        validation.escalation_timings({"emergency_realert_minutes": "10", "emergency_backup_minutes": "9",
                                       "urgent_backup_minutes": "30"})
    assert error.value.field == "emergency_backup_minutes"
    assert validation.escalation_timings({"emergency_realert_minutes": "10", "emergency_backup_minutes": "10",
                                          "urgent_backup_minutes": "30"})["emergency_backup_minutes"] == 10


@pytest.mark.parametrize(("raw", "ok"), [("14", False), ("15", True), ("720", True), ("721", False),
                                         ("abc", False), ("", False), ("-20", False)])
def test_idle_minutes_have_a_floor_and_a_ceiling(raw, ok):
    if ok:
        assert validation.session_idle_minutes(raw) == int(raw)
    else:
        with pytest.raises(validation.ValidationError) as error:
            validation.session_idle_minutes(raw)
        assert error.value.field == "session_idle_minutes"


def test_every_field_at_fault_is_named_at_once():
    with pytest.raises(validation.ValidationError) as error:
        validation.clinic_settings(form(name="", quiet_end="8", urgent_backup_minutes="90", business_days=[]),
                                   phone_region="US")
    assert set(error.value.errors) == {"name", "quiet_end", "urgent_backup_minutes", "business_days"}


# -- the page --------------------------------------------------------------------------------------

def test_an_admin_changes_the_settings_and_each_change_is_audited_old_to_new(client, clinic, admin, clock):
    clock.set(ny(2026, 11, 17, 9, 0))
    as_admin(client)
    response = client.post("/settings", data=form(sms_name="Harbor Rehab", urgent_backup_minutes="20",
                                                   business_days=["1", "2", "3", "4", "5", "6"]))
    assert response.status_code == 303
    db.session.expire_all()
    clinic = db.session.get(Clinic, clinic.id)
    assert (clinic.sms_name, clinic.urgent_backup_minutes, clinic.business_days) == ("Harbor Rehab", 20, "123456")
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "clinic.setting_changed")
                                .order_by(AuditEvent.id)).all()
    assert [(e.actor, e.detail["field"], e.detail["old"], e.detail["new"]) for e in events] == [
        ("provider:2", "sms_name", "Harbor PT", "Harbor Rehab"),
        ("provider:2", "business_days", "12345", "123456"),
        ("provider:2", "urgent_backup_minutes", 30, 20),
    ]
    assert "Saved: name on texts, open days, urgent backup." in flashes(client)


def test_an_unsafe_value_is_refused_naming_the_field_and_keeping_what_was_typed(client, clinic, admin):
    as_admin(client)
    response = client.post("/settings", data=form(sms_name="Harbor Rehab", emergency_realert_minutes="30",
                                                   timezone="Mars/Olympus"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="emergency_realert_minutes-error">Use 2 to 10 minutes' in page
    assert 'id="timezone-error"' in page
    assert 'value="30"' in page and 'value="Harbor Rehab"' in page and 'value="Mars/Olympus"' in page
    db.session.expire_all()
    assert db.session.get(Clinic, clinic.id).emergency_realert_minutes == 5
    assert db.session.get(Clinic, clinic.id).sms_name == "Harbor PT"


def test_new_quiet_hours_move_the_next_planned_text_and_the_page_says_when_it_now_goes(client, clinic, admin, clock):
    maria = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    c2 = next(c for c in maria.checkins if c.protocol_id == "C2")
    assert c2.due_at == ny(2026, 11, 18, 10, 0)
    clock.set(ny(2026, 11, 17, 15, 0))
    as_admin(client)

    client.post("/settings", data=form(quiet_start="23:00", quiet_end="10:30"))
    db.session.expire_all()
    assert db.session.get(CheckIn, c2.id).due_at == ny(2026, 11, 18, 10, 30)
    page = flashes(client)
    assert "The next planned text now goes Wed Nov 18, 10:30 EST (was Wed Nov 18, 10:00 EST)." in page

    # Back to the usual hours: the texts go back to the times the protocol gives them.
    client.post("/settings", data=form(quiet_start="21:00", quiet_end="08:00"))
    db.session.expire_all()
    assert db.session.get(CheckIn, c2.id).due_at == ny(2026, 11, 18, 10, 0)
    moved = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "clinic.checkins_moved")).all()
    assert [e.detail["moved"] for e in moved] == [2, 2]  # C2 and C3 each time


def test_quiet_hours_that_leave_a_text_where_it_was_move_nothing(client, clinic, admin, clock):
    maria = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 17, 15, 0))
    as_admin(client)
    client.post("/settings", data=form(quiet_start="22:00", quiet_end="09:59"))  # 10:00 is just outside
    db.session.expire_all()
    c2 = next(c for c in maria.checkins if c.protocol_id == "C2")
    assert db.session.get(CheckIn, c2.id).due_at == ny(2026, 11, 18, 10, 0)
    assert "0 planned texts moved" in flashes(client)


def test_texts_already_sent_do_not_move(client, clinic, admin, clock):
    maria = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    c2 = next(c for c in maria.checkins if c.protocol_id == "C2")
    c2.status, c2.sent_at = "sent", ny(2026, 11, 18, 10, 0)
    db.session.commit()
    clock.set(ny(2026, 11, 17, 15, 0))
    as_admin(client)
    client.post("/settings", data=form(quiet_start="23:00", quiet_end="10:30"))
    db.session.expire_all()
    assert db.session.get(CheckIn, c2.id).due_at == ny(2026, 11, 18, 10, 0)


def test_the_settings_page_shows_the_current_values(client, clinic, admin):
    as_admin(client)
    page = client.get("/settings").get_data(as_text=True)
    for value in ('value="Harbor PT"', 'value="(212) 555-0100"', 'value="21:00"', 'value="08:00"',
                  'value="America/New_York"', 'value="480"'):
        assert value in page


def test_a_new_clinic_time_zone_moves_the_planned_texts_to_the_same_wall_clock_there(client, clinic, admin, clock):
    maria = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    c2 = next(c for c in maria.checkins if c.protocol_id == "C2")
    clock.set(ny(2026, 11, 17, 15, 0))
    as_admin(client)
    client.post("/settings", data=form(timezone="America/Chicago"))
    db.session.expire_all()
    # The session ended at 09:00 Chicago time: C2, a day later on Chicago's clock, is the same moment.
    assert db.session.get(CheckIn, c2.id).due_at == ny(2026, 11, 18, 10, 0)
    client.post("/settings", data=form(timezone="America/Chicago", quiet_start="21:30", quiet_end="09:30"))
    db.session.expire_all()
    # Quiet hours are now read on Chicago's clock: 09:00 there is inside them.
    assert db.session.get(CheckIn, c2.id).due_at == datetime(2026, 11, 18, 9, 30, tzinfo=ZoneInfo("America/Chicago"))


def test_the_cli_changes_settings_by_the_same_rules_and_says_when_the_next_text_goes(runner, clinic, clock):
    maria = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    clock.set(ny(2026, 11, 17, 15, 0))
    result = runner.invoke(args=["clinic-settings", "--clinic", str(clinic.id), "--urgent-backup-minutes", "90"])
    assert result.exit_code == 2
    assert "Error: urgent_backup_minutes: Use 10 to 45 minutes" in result.output
    result = runner.invoke(args=["clinic-settings", "--clinic", str(clinic.id), "--quiet-start", "23:00",
                                 "--quiet-end", "10:30"])
    assert result.exit_code == 0, result.output
    assert "quiet_end                  10:30  (changed)" in result.output
    assert "Next planned text: Wed 2026-11-18 10:30 EST" in result.output
    c2 = next(c for c in maria.checkins if c.protocol_id == "C2")
    db.session.expire_all()
    assert db.session.get(CheckIn, c2.id).due_at == ny(2026, 11, 18, 10, 30)
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "clinic.setting_changed")
                               .order_by(AuditEvent.id)).first()
    assert (event.actor, event.detail) == ("cli", {"field": "quiet_start", "old": "21:00", "new": "23:00"})


def test_a_text_the_dispatcher_claims_while_the_settings_are_saved_keeps_its_time(client, clinic, admin, clock,
                                                                                  monkeypatch):
    """The dispatcher may send a check-in between the page reading the planned texts and moving
    them: the move is conditional on the text still being planned at its old time."""
    from bot import clinic_settings

    maria = enroll(clinic, ended=ny(2026, 11, 17, 10, 0))
    c2 = next(c for c in maria.checkins if c.protocol_id == "C2")
    read = clinic_settings._planned

    def read_then_the_dispatcher_sends_c2(*args, **kwargs):
        rows = read(*args, **kwargs)
        db.session.execute(sa.update(CheckIn).where(CheckIn.id == c2.id)
                           .values(status="sent").execution_options(synchronize_session=False))
        return rows

    monkeypatch.setattr(clinic_settings, "_planned", read_then_the_dispatcher_sends_c2)
    clock.set(ny(2026, 11, 17, 15, 0))
    as_admin(client)
    client.post("/settings", data=form(quiet_start="23:00", quiet_end="10:30"))
    db.session.expire_all()
    assert db.session.get(CheckIn, c2.id).due_at == ny(2026, 11, 18, 10, 0)
    c3 = next(c for c in maria.checkins if c.protocol_id == "C3")
    assert db.session.get(CheckIn, c3.id).due_at == ny(2026, 11, 19, 10, 30)


def test_a_text_whose_new_time_has_passed_goes_at_once_unless_that_is_inside_the_new_quiet_hours(client, clinic,
                                                                                                admin, clock):
    maria = enroll(clinic, ended=ny(2026, 11, 16, 21, 30))
    c2, c3 = (next(c for c in maria.checkins if c.protocol_id == p) for p in ("C2", "C3"))
    assert c2.due_at == ny(2026, 11, 18, 8, 0)  # 21:30 is inside 21:00-08:00
    clock.set(ny(2026, 11, 17, 22, 30))
    as_admin(client)
    client.post("/settings", data=form(quiet_start="22:00", quiet_end="08:00"))
    db.session.expire_all()
    # Under the new hours C2 was due at 21:30, an hour ago; it is 22:30, inside them: it waits for 08:00.
    assert db.session.get(CheckIn, c2.id).due_at == ny(2026, 11, 18, 8, 0)
    assert db.session.get(CheckIn, c3.id).due_at == ny(2026, 11, 18, 21, 30)
