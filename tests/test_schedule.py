"""When check-ins go out (PROTOCOL 3): pure functions, with the clock passed in."""

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot import schedule
from bot.schedule import CheckInState, Finding, QuietHours

NY = ZoneInfo("America/New_York")
QUIET = QuietHours(time(21), time(8))


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def plan(ended: datetime, regions=("knee",), precautions=(), now=None):
    planned = schedule.plan_checkins(ended_at=ended.astimezone(timezone.utc), regions=list(regions),
                                     precautions=list(precautions), tz=NY, quiet=QUIET,
                                     now=(now or ended).astimezone(timezone.utc))
    return {p.protocol_id: p.due_at.astimezone(NY) for p in planned}


def test_checkins_follow_the_session_at_the_protocol_offsets():
    due = plan(ny(2026, 11, 17, 10, 0))
    assert due == {"C0": ny(2026, 11, 17, 10, 0), "C1": ny(2026, 11, 17, 14, 0),
                   "C2": ny(2026, 11, 18, 10, 0), "C3": ny(2026, 11, 19, 10, 0)}


def test_lung_risk_regions_always_get_the_72_hour_checkin():
    assert plan(ny(2026, 11, 17, 10, 0), regions=["upper_trapezius"])["C4"] == ny(2026, 11, 20, 10, 0)
    assert "C4" not in plan(ny(2026, 11, 17, 10, 0), regions=["calf"])


@pytest.mark.parametrize("regions, precautions, day7", [
    (["knee"], ["diabetes"], True),
    (["knee"], ["immunosuppressed"], True),
    (["neck"], ["lung_disease"], True),
    (["knee"], ["lung_disease"], False),
    (["knee"], ["anticoagulant"], False),  # only once bruising is reported
    (["neck"], [], False),
])
def test_day_7_checkin_for_the_precautions_that_ask_for_it(regions, precautions, day7):
    due = plan(ny(2026, 11, 17, 10, 0), regions=regions, precautions=precautions)
    assert ("C5" in due) is day7
    if day7:
        assert due["C5"] == ny(2026, 11, 24, 10, 0)


def test_daily_checkins_keep_the_local_time_across_the_march_clock_change():
    # Sat 7 March 2026, 3 pm EST; the clocks go forward at 2 am on Sunday.
    due = plan(ny(2026, 3, 7, 15, 0), regions=["upper_back"])
    assert due["C1"] == ny(2026, 3, 7, 19, 0)  # +4 h is elapsed time
    assert due["C2"] == ny(2026, 3, 8, 15, 0) and due["C2"].tzname() == "EDT"
    assert due["C2"].astimezone(timezone.utc) - ny(2026, 3, 7, 15, 0).astimezone(timezone.utc) == timedelta(hours=23)
    assert due["C3"] == ny(2026, 3, 9, 15, 0) and due["C4"] == ny(2026, 3, 10, 15, 0)


def test_daily_checkins_keep_the_local_time_across_the_november_clock_change():
    due = plan(ny(2026, 10, 31, 15, 0))
    assert due["C2"] == ny(2026, 11, 1, 15, 0) and due["C2"].tzname() == "EST"
    assert due["C2"].astimezone(timezone.utc) - ny(2026, 10, 31, 15, 0).astimezone(timezone.utc) == timedelta(hours=25)


def test_c1_due_in_quiet_hours_goes_at_half_past_eight_if_the_session_ended_before_then():
    assert plan(ny(2026, 11, 17, 18, 0))["C1"] == ny(2026, 11, 17, 20, 30)


def test_c1_after_a_late_session_waits_for_the_morning():
    assert plan(ny(2026, 11, 17, 20, 45))["C1"] == ny(2026, 11, 18, 8, 0)


def test_a_checkin_landing_in_quiet_hours_moves_to_their_end():
    due = plan(ny(2026, 11, 17, 21, 30), now=ny(2026, 11, 17, 21, 40))
    assert due["C0"] == ny(2026, 11, 18, 8, 0)  # the welcome too
    assert due["C2"] == ny(2026, 11, 19, 8, 0)  # 21:30 the next day is quiet
    assert due["C3"] == ny(2026, 11, 20, 8, 0)


def test_clinic_quiet_hours_are_a_setting():
    late_quiet = QuietHours(time(22), time(7))
    due = schedule.respect_quiet_hours(ny(2026, 11, 17, 21, 30).astimezone(timezone.utc), NY, late_quiet)
    assert due.astimezone(NY) == ny(2026, 11, 17, 21, 30)


def test_a_reminder_comes_four_hours_after_an_unanswered_checkin():
    assert schedule.reminder_due(sent_at=ny(2026, 11, 18, 10, 0), next_due_at=ny(2026, 11, 19, 10, 0),
                                 tz=NY, quiet=QUIET) == ny(2026, 11, 18, 14, 0)


def test_a_reminder_that_would_fall_in_quiet_hours_comes_next_morning():
    assert schedule.reminder_due(sent_at=ny(2026, 11, 18, 19, 0), next_due_at=ny(2026, 11, 19, 19, 0),
                                 tz=NY, quiet=QUIET) == ny(2026, 11, 19, 8, 0)


def test_no_reminder_when_the_next_checkin_comes_first():
    assert schedule.reminder_due(sent_at=ny(2026, 11, 17, 20, 30), next_due_at=ny(2026, 11, 18, 8, 0),
                                 tz=NY, quiet=QUIET) is None


def decide(due: datetime, now: datetime, next_due: datetime | None = None) -> schedule.SendDecision:
    return schedule.send_decision(due_at=due, next_due_at=next_due, now=now, tz=NY, quiet=QUIET)


def test_a_checkin_delayed_by_downtime_goes_late_while_its_window_is_open():
    assert decide(ny(2026, 11, 18, 10, 0), ny(2026, 11, 18, 16, 0), ny(2026, 11, 19, 10, 0)).action == "send"


def test_a_checkin_more_than_12_hours_late_is_skipped():
    decision = decide(ny(2026, 11, 18, 8, 0), ny(2026, 11, 18, 20, 1), ny(2026, 11, 19, 10, 0))
    assert (decision.action, decision.reason) == ("skip", "window closed")


def test_a_checkin_is_skipped_once_the_next_one_is_due():
    assert decide(ny(2026, 11, 17, 14, 0), ny(2026, 11, 18, 10, 5), ny(2026, 11, 18, 10, 0)).action == "skip"


def test_a_late_send_waits_out_quiet_hours_if_the_window_stays_open():
    decision = decide(ny(2026, 11, 18, 20, 30), ny(2026, 11, 18, 22, 0), ny(2026, 11, 19, 19, 0))
    assert decision.action == "defer" and decision.until.astimezone(NY) == ny(2026, 11, 19, 8, 0)


def test_a_late_send_whose_window_closes_in_quiet_hours_is_skipped():
    assert decide(ny(2026, 11, 18, 10, 0), ny(2026, 11, 18, 21, 30), ny(2026, 11, 19, 10, 0)).action == "skip"
    assert decide(ny(2026, 11, 18, 19, 0), ny(2026, 11, 18, 22, 0), ny(2026, 11, 19, 19, 0)).action == "skip"


def finding(level: str, protocol_id: str | None = None, rules=(), symptoms=(), at=None) -> Finding:
    return Finding(level=level, rules=frozenset(rules), symptoms=frozenset(symptoms), protocol_id=protocol_id,
                   at=at or ny(2026, 11, 18, 10, 0))


def replan(findings, checkins=(), regions=("knee",), precautions=(), now=None):
    ended = ny(2026, 11, 17, 10, 0)
    return schedule.replan_after_finding(
        ended_at=ended, regions=list(regions), precautions=list(precautions), tz=NY, quiet=QUIET,
        checkins=list(checkins), findings=list(findings), now=now or ny(2026, 11, 18, 10, 30))


def extras(change: schedule.Replan) -> list[datetime]:
    return [p.due_at.astimezone(NY) for p in change.add if p.protocol_id == "extra"]


def test_monitor_asks_for_one_extra_checkin_six_hours_later():
    assert extras(replan([finding("monitor", "C2")])) == [ny(2026, 11, 18, 16, 30)]


def test_an_extra_checkin_that_falls_in_quiet_hours_comes_next_morning():
    assert extras(replan([finding("monitor", "C1")], now=ny(2026, 11, 17, 19, 0))) == [ny(2026, 11, 18, 8, 0)]


def test_an_expected_reply_drops_a_pending_extra_checkin():
    extra = CheckInState(id=9, protocol_id="extra", status="planned", due_at=ny(2026, 11, 18, 16, 30))
    change = replan([finding("monitor", "C2"), finding("expected")], checkins=[extra])
    assert change.cancel == (9,) and extras(change) == []


def test_c4_is_added_outside_lung_risk_regions_once_any_reply_was_monitor_or_higher():
    assert [p.protocol_id for p in replan([finding("monitor", "C1")]).add] == ["C4", "extra"]


def test_c4_is_added_outside_lung_risk_regions_when_c3_was_not_expected():
    assert [p.protocol_id for p in replan([finding("expected", "C2"), finding("unclear", "C3")],
                                          now=ny(2026, 11, 19, 11, 0)).add] == ["C4"]
    assert replan([finding("expected", "C2"), finding("expected", "C3")], now=ny(2026, 11, 19, 11, 0)).add == ()


def test_c5_is_added_for_a_bruise_on_blood_thinners_and_for_infection_or_breathing_findings():
    assert "C5" in [p.protocol_id for p in replan([finding("monitor", rules=["M6"], symptoms=["bruising"])],
                                                  precautions=["anticoagulant"]).add]
    assert "C5" in [p.protocol_id for p in replan([finding("urgent", rules=["U1"], symptoms=["redness"])]).add]
    assert "C5" in [p.protocol_id for p in replan([finding("urgent", rules=["U7"])]).add]
    assert "C5" not in [p.protocol_id for p in replan([finding("monitor", rules=["M6"], symptoms=["bruising"])]).add]


def test_nothing_already_planned_is_planned_twice():
    c4 = CheckInState(id=4, protocol_id="C4", status="planned", due_at=ny(2026, 11, 20, 10, 0))
    assert replan([finding("monitor", "C2")], checkins=[c4]).add[0].protocol_id == "extra"
    assert all(p.protocol_id != "C4" for p in replan([finding("monitor", "C2")], checkins=[c4]).add)


def test_correcting_the_session_time_replans_what_is_still_to_come():
    states = [CheckInState(1, "C0", "sent", ny(2026, 11, 17, 12, 0)), CheckInState(2, "C1", "sent", ny(2026, 11, 17, 16, 0)),
              CheckInState(3, "C2", "planned", ny(2026, 11, 18, 12, 0)), CheckInState(4, "C3", "planned", ny(2026, 11, 19, 12, 0))]
    moved = schedule.moved_plan(new_ended_at=ny(2026, 11, 17, 9, 0),
                                checkins=states, tz=NY, quiet=QUIET)
    assert {k: v.astimezone(NY) for k, v in moved.items()} == {3: ny(2026, 11, 18, 9, 0), 4: ny(2026, 11, 19, 9, 0)}


@pytest.mark.parametrize("statuses, lung_risk, raised", [
    (["replied", "missed", "missed"], True, True),
    (["missed", "replied", "missed"], True, False),
    (["missed", "skipped", "missed"], True, True),  # a skipped check-in does not break the run
    (["replied", "missed", "missed"], False, False),
    (["missed", "replied", "missed", "missed"], False, True),  # three in all
])
def test_not_responding_after_two_missed_in_a_row_in_a_lung_risk_region_or_three_in_all(statuses, lung_risk, raised):
    assert schedule.not_responding(statuses, lung_risk=lung_risk) is raised
