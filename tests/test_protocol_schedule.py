"""PROTOCOL 3, line by line: each check-in's time, quiet hours, late sends, reminders and not
responding, at exactly the protocol's numbers and on both sides of them. Pure: the clock is passed in.

New York patient, quiet hours 21:00-08:00 (the protocol's default).
"""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot import schedule
from bot.schedule import CheckInState, Finding, QuietHours

NY = ZoneInfo("America/New_York")
QUIET = QuietHours(time(21), time(8))


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def local(moment: datetime) -> datetime:
    return moment.astimezone(NY)


def plan(ended: datetime, regions=("knee",), precautions=(), now=None, quiet=QUIET) -> dict[str, datetime]:
    planned = schedule.plan_checkins(ended_at=ended.astimezone(timezone.utc), regions=list(regions),
                                     precautions=list(precautions), tz=NY, quiet=quiet,
                                     now=(now or ended).astimezone(timezone.utc))
    assert all(p.due_at.tzinfo == timezone.utc for p in planned)  # stored as UTC
    return {p.protocol_id: local(p.due_at) for p in planned}


def order(ended: datetime, **kwargs) -> list[str]:
    planned = schedule.plan_checkins(ended_at=ended, tz=NY, quiet=QUIET, now=ended,
                                     regions=list(kwargs.get("regions", ("knee",))),
                                     precautions=list(kwargs.get("precautions", ())))
    return [p.protocol_id for p in planned]


# -- The check-ins' times -------------------------------------------------------------------------

def test_every_checkin_of_a_lung_risk_patient_with_diabetes_is_at_its_protocol_offset():
    due = plan(ny(2026, 11, 17, 10, 0), regions=["neck"], precautions=["diabetes"])
    assert due == {"C0": ny(2026, 11, 17, 10, 0), "C1": ny(2026, 11, 17, 14, 0), "C2": ny(2026, 11, 18, 10, 0),
                   "C3": ny(2026, 11, 19, 10, 0), "C4": ny(2026, 11, 20, 10, 0), "C5": ny(2026, 11, 24, 10, 0)}


def test_checkins_are_planned_in_the_order_they_go_out():
    assert order(ny(2026, 11, 17, 10, 0), regions=["neck"], precautions=["immunosuppressed"]) == [
        "C0", "C1", "C2", "C3", "C4", "C5"]


def test_the_welcome_goes_at_enrolment_not_at_the_session_end():
    due = plan(ny(2026, 11, 17, 10, 0), now=ny(2026, 11, 17, 11, 15))
    assert due["C0"] == ny(2026, 11, 17, 11, 15)


def test_a_welcome_asked_for_in_quiet_hours_waits_for_the_morning():
    assert plan(ny(2026, 11, 17, 18, 0), now=ny(2026, 11, 17, 23, 50))["C0"] == ny(2026, 11, 18, 8, 0)


# -- Quiet hours (21:00-08:00): both edges ---------------------------------------------------------

def test_checkin_due_exactly_at_quiet_start_moves_to_morning():
    # C2 = +24 h: a session ending at 21:00 puts it at 21:00 the next day, the first quiet minute.
    assert plan(ny(2026, 11, 17, 21, 0))["C2"] == ny(2026, 11, 19, 8, 0)


def test_checkin_due_a_minute_before_quiet_start_goes_on_time():
    assert plan(ny(2026, 11, 17, 20, 59))["C2"] == ny(2026, 11, 18, 20, 59)


def test_checkin_due_exactly_when_quiet_hours_end_goes_on_time():
    assert plan(ny(2026, 11, 17, 8, 0))["C2"] == ny(2026, 11, 18, 8, 0)


def test_checkin_due_a_minute_before_quiet_hours_end_waits_for_their_end():
    assert plan(ny(2026, 11, 17, 7, 59))["C2"] == ny(2026, 11, 18, 8, 0)


def test_checkin_due_just_after_midnight_waits_for_that_morning_not_the_next():
    assert plan(ny(2026, 11, 17, 0, 30))["C2"] == ny(2026, 11, 18, 8, 0)


@pytest.mark.parametrize("clock, quiet", [
    (time(20, 59), False), (time(21, 0), True), (time(23, 59), True), (time(0, 0), True),
    (time(7, 59), True), (time(8, 0), False), (time(12, 0), False),
])
def test_quiet_hours_run_from_21_00_up_to_but_not_including_08_00(clock, quiet):
    assert QUIET.contains(datetime.combine(datetime(2026, 11, 17).date(), clock, tzinfo=NY)) is quiet


@pytest.mark.parametrize("clock, quiet", [
    (time(12, 59), False), (time(13, 0), True), (time(14, 59), True), (time(15, 0), False),
])
def test_a_clinic_may_set_quiet_hours_that_do_not_span_midnight(clock, quiet):
    siesta = QuietHours(time(13), time(15))
    assert siesta.contains(datetime.combine(datetime(2026, 11, 17).date(), clock, tzinfo=NY)) is quiet
    moved = schedule.respect_quiet_hours(datetime.combine(datetime(2026, 11, 17).date(), clock, tzinfo=NY),
                                         NY, siesta)
    assert local(moved) == (ny(2026, 11, 17, 15, 0) if quiet else
                            datetime.combine(datetime(2026, 11, 17).date(), clock, tzinfo=NY))


def test_quiet_hours_are_the_patients_local_hours_not_utc():
    # 21:30 in Los Angeles is 00:30 in New York; a Los Angeles patient's check-in goes to 08:00 Pacific.
    la = ZoneInfo("America/Los_Angeles")
    moved = schedule.respect_quiet_hours(datetime(2026, 11, 17, 21, 30, tzinfo=la), la, QUIET)
    assert moved.astimezone(la) == datetime(2026, 11, 18, 8, 0, tzinfo=la)
    assert moved.tzinfo == timezone.utc
    afternoon = schedule.respect_quiet_hours(datetime(2026, 11, 17, 17, 30, tzinfo=la), la, QUIET)
    assert afternoon.astimezone(la) == datetime(2026, 11, 17, 17, 30, tzinfo=la)  # 20:30 in New York: not quiet


# -- C1: 20:30 instead, if the session ended before 20:30 -------------------------------------------

def test_c1_due_after_midnight_goes_at_20_30_the_evening_before():
    # Session ends 20:15; C1 (+4 h) would be 00:15, inside the window that began at 21:00 that evening.
    assert plan(ny(2026, 11, 17, 20, 15))["C1"] == ny(2026, 11, 17, 20, 30)


def test_c1_due_exactly_at_21_00_goes_at_20_30():
    assert plan(ny(2026, 11, 17, 17, 0))["C1"] == ny(2026, 11, 17, 20, 30)


def test_c1_due_before_quiet_hours_goes_at_its_time():
    assert plan(ny(2026, 11, 17, 16, 59))["C1"] == ny(2026, 11, 17, 20, 59)


def test_c1_of_a_session_that_ended_at_20_29_goes_at_20_30():
    assert plan(ny(2026, 11, 17, 20, 29))["C1"] == ny(2026, 11, 17, 20, 30)


def test_c1_of_a_session_that_ended_exactly_at_20_30_waits_for_the_morning():
    assert plan(ny(2026, 11, 17, 20, 30))["C1"] == ny(2026, 11, 18, 8, 0)


def test_c1_due_in_the_early_morning_quiet_hours_goes_at_their_end():
    # A session ending at 02:00 (a night shift clinic): C1 at 06:00 is in the morning side of the window.
    assert plan(ny(2026, 11, 17, 2, 0))["C1"] == ny(2026, 11, 17, 8, 0)


def test_only_c1_moves_back_to_20_30_other_checkins_wait_for_the_morning():
    due = schedule.respect_quiet_hours(ny(2026, 11, 18, 22, 0), NY, QUIET, protocol_id="C2",
                                       ended_at=ny(2026, 11, 17, 22, 0))
    assert local(due) == ny(2026, 11, 19, 8, 0)


def test_the_20_30_lead_follows_a_clinics_quiet_start():
    late = QuietHours(time(22), time(7))
    assert plan(ny(2026, 11, 17, 18, 30), quiet=late)["C1"] == ny(2026, 11, 17, 21, 30)


# -- Late sends after downtime: up to the next check-in, at most 12 h late ------------------------

def decide(due: datetime, now: datetime, next_due: datetime | None = None) -> schedule.SendDecision:
    return schedule.send_decision(due_at=due, next_due_at=next_due, now=now, tz=NY, quiet=QUIET)


def test_a_checkin_due_now_is_sent():
    decision = decide(ny(2026, 11, 18, 10, 0), ny(2026, 11, 18, 10, 0), ny(2026, 11, 19, 10, 0))
    assert (decision.action, decision.until) == ("send", None)


def test_a_checkin_exactly_12_hours_late_is_skipped_and_a_minute_less_is_sent():
    assert decide(ny(2026, 11, 18, 8, 0), ny(2026, 11, 18, 19, 59), ny(2026, 11, 19, 10, 0)).action == "send"
    decision = decide(ny(2026, 11, 18, 8, 0), ny(2026, 11, 18, 20, 0), ny(2026, 11, 19, 10, 0))
    assert (decision.action, decision.reason) == ("skip", "window closed")


def test_a_checkin_exactly_at_its_deadline_the_next_checkin_is_skipped():
    decision = decide(ny(2026, 11, 17, 14, 0), ny(2026, 11, 17, 18, 0), ny(2026, 11, 17, 18, 0))
    assert (decision.action, decision.reason) == ("skip", "window closed")
    assert decide(ny(2026, 11, 17, 14, 0), ny(2026, 11, 17, 17, 59), ny(2026, 11, 17, 18, 0)).action == "send"


def test_the_last_checkin_may_still_go_up_to_12_hours_late():
    assert decide(ny(2026, 11, 24, 10, 0), ny(2026, 11, 24, 18, 0)).action == "send"
    assert decide(ny(2026, 11, 24, 10, 0), ny(2026, 11, 24, 22, 0)).action != "send"


def test_a_late_send_in_quiet_hours_is_deferred_to_their_end_with_the_reason():
    decision = decide(ny(2026, 11, 18, 20, 30), ny(2026, 11, 18, 21, 0), ny(2026, 11, 19, 19, 0))
    assert (decision.action, decision.reason) == ("defer", "quiet hours")
    assert local(decision.until) == ny(2026, 11, 19, 8, 0) and decision.until.tzinfo == timezone.utc


def test_a_late_send_whose_window_closes_exactly_when_quiet_hours_end_is_skipped():
    # Due 20:00, 12 h window closes at 08:00, when quiet hours end: the patient would get it too late.
    decision = decide(ny(2026, 11, 18, 20, 0), ny(2026, 11, 18, 22, 0), ny(2026, 11, 19, 19, 0))
    assert (decision.action, decision.reason) == ("skip", "window closes in quiet hours")


def test_a_late_send_whose_window_closes_a_minute_after_quiet_hours_end_is_deferred():
    decision = decide(ny(2026, 11, 18, 20, 1), ny(2026, 11, 18, 22, 0), ny(2026, 11, 19, 19, 0))
    assert (decision.action, local(decision.until)) == ("defer", ny(2026, 11, 19, 8, 0))


# -- Reminders: 4 h after an unanswered check-in, outside quiet hours, before the next one ----------

def remind(sent: datetime, next_due: datetime | None) -> datetime | None:
    due = schedule.reminder_due(sent_at=sent, next_due_at=next_due, tz=NY, quiet=QUIET)
    return local(due) if due is not None else None


def test_a_reminder_comes_exactly_four_hours_after_the_checkin():
    assert remind(ny(2026, 11, 18, 10, 0), ny(2026, 11, 19, 10, 0)) == ny(2026, 11, 18, 14, 0)


def test_a_reminder_due_exactly_at_quiet_start_comes_next_morning():
    assert remind(ny(2026, 11, 18, 17, 0), ny(2026, 11, 19, 17, 0)) == ny(2026, 11, 19, 8, 0)
    assert remind(ny(2026, 11, 18, 16, 59), ny(2026, 11, 19, 17, 0)) == ny(2026, 11, 18, 20, 59)


def test_no_reminder_due_exactly_when_the_next_checkin_goes():
    assert remind(ny(2026, 11, 18, 10, 0), ny(2026, 11, 18, 14, 0)) is None
    assert remind(ny(2026, 11, 18, 10, 0), ny(2026, 11, 18, 14, 1)) == ny(2026, 11, 18, 14, 0)


def test_the_last_checkin_gets_a_reminder_too():
    assert remind(ny(2026, 11, 24, 10, 0), None) == ny(2026, 11, 24, 14, 0)


# -- Not responding: two missed in a row in a lung-risk region, or three in total -------------------

@pytest.mark.parametrize("statuses, lung_risk, raised", [
    (["missed", "cancelled", "missed"], True, True),   # a cancelled extra between them does not break the run
    (["missed", "skipped", "missed"], True, True),
    (["missed", "missed"], True, True),
    (["missed"], True, False),
    (["missed", "sent", "missed"], True, False),        # a check-in that went out and was not missed yet
    (["missed", "missed"], False, False),
    (["missed", "missed", "missed"], False, True),     # three in all, exactly
    (["missed", "replied", "missed", "replied", "missed"], False, True),
    (["missed", "replied", "missed", "replied"], True, False),
    ([], True, False),
])
def test_not_responding_at_exactly_the_protocols_counts(statuses, lung_risk, raised):
    assert schedule.not_responding(statuses, lung_risk=lung_risk) is raised


# -- C4 and C5: who gets them -----------------------------------------------------------------------

def finding(level: str, protocol_id: str | None = None, rules=(), symptoms=()) -> Finding:
    return Finding(level=level, rules=frozenset(rules), symptoms=frozenset(symptoms), protocol_id=protocol_id,
                   at=ny(2026, 11, 18, 10, 0))


def replan(findings, checkins=(), regions=("knee",), precautions=(), now=None) -> schedule.Replan:
    return schedule.replan_after_finding(
        ended_at=ny(2026, 11, 17, 10, 0), regions=list(regions), precautions=list(precautions), tz=NY,
        quiet=QUIET, checkins=list(checkins), findings=list(findings), now=now or ny(2026, 11, 18, 10, 30))


def added(change: schedule.Replan) -> dict[str, datetime]:
    return {p.protocol_id: local(p.due_at) for p in change.add}


@pytest.mark.parametrize("findings, wanted", [
    ([finding("expected", "C1"), finding("expected", "C2"), finding("expected", "C3")], False),
    ([finding("expected", "C3")], False),
    ([finding("monitor", "C3")], True),      # C3 not expected
    ([finding("unclear", "C3")], True),      # C3 not expected, though "unclear" ranks below nothing
    ([finding("monitor", "C1")], True),      # any reply monitor or higher
    ([finding("routine", None)], True),      # ... even one that answered no check-in
    ([finding("unclear", "C2")], False),     # unclear is not monitor or higher, and it is not C3
])
def test_c4_outside_lung_risk_regions_when_c3_was_not_expected_or_any_reply_was_monitor_or_higher(findings, wanted):
    assert schedule.wants_c4(["knee"], findings) is wanted


def test_c4_is_added_at_72_hours():
    assert added(replan([finding("monitor", "C3")], now=ny(2026, 11, 19, 11, 0)))["C4"] == ny(2026, 11, 20, 10, 0)


def test_a_checkin_whose_time_has_passed_is_not_added_late():
    change = replan([finding("monitor", "C3")], now=ny(2026, 11, 20, 10, 0))
    assert "C4" not in added(change)
    assert "C4" in added(replan([finding("monitor", "C3")], now=ny(2026, 11, 20, 9, 59)))


def test_a_cancelled_c4_is_planned_again_when_the_protocol_asks_for_it():
    cancelled = CheckInState(4, "C4", "cancelled", ny(2026, 11, 20, 10, 0))
    assert "C4" in added(replan([finding("monitor", "C2")], checkins=[cancelled]))


@pytest.mark.parametrize("regions, precautions, findings, wanted", [
    (["knee"], ["diabetes"], [], True),
    (["knee"], ["immunosuppressed"], [], True),
    (["scalenes"], ["lung_disease"], [], True),
    (["calf"], ["lung_disease"], [], False),
    (["knee"], ["anticoagulant"], [finding("expected", symptoms=["bruising"])], True),
    (["knee"], ["anticoagulant"], [finding("expected", symptoms=["soreness"])], False),
    (["knee"], [], [finding("expected", symptoms=["bruising"])], False),
    (["knee"], [], [finding("urgent", rules=["E4"])], True),
    (["knee"], [], [finding("emergency", rules=["E1"])], True),
    (["knee"], [], [finding("urgent", rules=["U3"])], False),
    (["knee"], ["pregnancy", "first_session"], [], False),
])
def test_day_7_checkin_for_exactly_the_patients_the_protocol_names(regions, precautions, findings, wanted):
    assert schedule.wants_c5(regions, precautions, findings) is wanted


def test_c5_is_added_on_day_7_at_the_session_time():
    assert added(replan([finding("urgent", rules=["U1"])]))["C5"] == ny(2026, 11, 24, 10, 0)


# -- The extra check-in after `monitor` -------------------------------------------------------------

def test_the_extra_checkin_comes_exactly_six_hours_after_the_reply():
    assert added(replan([finding("monitor", "C2")], now=ny(2026, 11, 18, 14, 59)))["extra"] == ny(2026, 11, 18, 20, 59)


def test_an_extra_checkin_due_exactly_at_21_00_comes_next_morning():
    assert added(replan([finding("monitor", "C2")], now=ny(2026, 11, 18, 15, 0)))["extra"] == ny(2026, 11, 19, 8, 0)


def test_a_second_monitor_keeps_the_pending_extra_checkin_and_plans_no_other():
    extra = CheckInState(9, "extra", "planned", ny(2026, 11, 18, 16, 30))
    change = replan([finding("monitor", "C2"), finding("monitor", None)], checkins=[extra],
                    now=ny(2026, 11, 18, 12, 0))
    assert change.cancel == () and "extra" not in added(change)


@pytest.mark.parametrize("level", ["unclear", "routine", "urgent", "emergency"])
def test_only_an_expected_reply_drops_the_pending_extra_checkin(level):
    extra = CheckInState(9, "extra", "planned", ny(2026, 11, 18, 16, 30))
    assert replan([finding("monitor", "C2"), finding(level)], checkins=[extra]).cancel == ()


def test_an_expected_reply_drops_only_pending_extra_checkins():
    states = [CheckInState(8, "extra", "sent", ny(2026, 11, 18, 8, 0)),
              CheckInState(9, "extra", "planned", ny(2026, 11, 18, 16, 30)),
              CheckInState(3, "C3", "planned", ny(2026, 11, 19, 10, 0))]
    assert replan([finding("monitor", "C1"), finding("expected", "C2")], checkins=states).cancel == (9,)


def test_an_extra_checkin_already_sent_does_not_stop_a_new_monitor_asking_for_another():
    sent = CheckInState(8, "extra", "sent", ny(2026, 11, 18, 8, 0))
    assert "extra" in added(replan([finding("monitor", "C2")], checkins=[sent]))


def test_no_reply_yet_changes_nothing():
    assert replan([]) == schedule.Replan()


# -- A corrected session time ---------------------------------------------------------------------

def test_a_corrected_session_time_moves_planned_checkins_and_respects_quiet_hours():
    states = [CheckInState(1, "C0", "planned", ny(2026, 11, 17, 12, 0)),
              CheckInState(2, "C1", "planned", ny(2026, 11, 17, 16, 0)),
              CheckInState(5, "extra", "planned", ny(2026, 11, 18, 9, 0)),
              CheckInState(3, "C2", "skipped", ny(2026, 11, 18, 12, 0)),
              CheckInState(4, "C3", "planned", ny(2026, 11, 19, 12, 0))]
    moved = schedule.moved_plan(new_ended_at=ny(2026, 11, 17, 18, 0), checkins=states, tz=NY, quiet=QUIET)
    assert {k: local(v) for k, v in moved.items()} == {2: ny(2026, 11, 17, 20, 30), 4: ny(2026, 11, 19, 18, 0)}


def test_whole_days_are_counted_on_the_wall_clock_and_hours_as_elapsed_time():
    ended = ny(2026, 3, 7, 15, 0).astimezone(timezone.utc)  # stored as UTC; the clocks go forward on 8 March
    assert local(schedule.offset_from(ended, 24, NY)) == ny(2026, 3, 8, 15, 0)
    assert local(schedule.offset_from(ended, 168, NY)) == ny(2026, 3, 14, 15, 0)
    assert schedule.offset_from(ended, 30, NY) - ended == timedelta(hours=30)  # not whole days: elapsed
    assert schedule.offset_from(ended, 0, NY) == ended


def test_a_lung_risk_episode_missing_its_c4_gets_it_back_after_any_reply():
    assert added(replan([finding("expected", "C2")], regions=["scalenes"]))["C4"] == ny(2026, 11, 20, 10, 0)


def test_lung_disease_with_a_lung_risk_region_gets_c5_after_any_reply():
    assert added(replan([finding("expected", "C2")], regions=["chest"], precautions=["lung_disease"]))["C5"] == \
        ny(2026, 11, 24, 10, 0)


def test_a_checkin_added_later_still_respects_the_patients_quiet_hours():
    # Session at 21:30 New York (02:30 UTC, not quiet in UTC): C4 three days later is quiet for the patient.
    change = schedule.replan_after_finding(
        ended_at=ny(2026, 11, 17, 21, 30), regions=["knee"], precautions=[], tz=NY, quiet=QUIET, checkins=[],
        findings=[finding("monitor", "C3")], now=ny(2026, 11, 19, 22, 0))
    assert added(change)["C4"] == ny(2026, 11, 21, 8, 0)


def test_quiet_hours_that_start_and_end_at_the_same_time_are_none():
    none = QuietHours(time(8), time(8))
    for clock in (time(0), time(7, 59), time(8), time(21)):
        assert not none.contains(datetime.combine(datetime(2026, 11, 17).date(), clock, tzinfo=NY))
