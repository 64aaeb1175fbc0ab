"""PROTOCOL 5 at exactly its numbers: each window's soreness band, each rule's hour edge, and the
reasons a provider reads, on both sides of every boundary. Windows: early h < 12, day 1 12 <= h < 36,
day 2 36 <= h < 60, day 3 60 <= h < 96, late h >= 96.

These read the rules, which carry the protocol's numbers. The second reader may raise a reply past
them where its wording is like a higher one (a raise only: tests/triage/test_second_reader.py)."""

import pytest

from bot.triage import read_by_rules


def triage(text: str, hours: float, **context):
    return read_by_rules(text, hours, **context)


# -- Soreness bands: the top of each window's expected band, and one point above --------------------

@pytest.mark.parametrize("hours, top, above, rule", [
    (0.5, 6, 7, "M1"), (11.9, 6, 7, "M1"),
    (12, 5, 6, "M2"), (35.9, 5, 6, "M2"),
    (36, 3, 4, "R1"), (59.9, 3, 4, "R1"),
    (60, 2, 3, "R3"), (95.9, 2, 3, "R3"),
    (96, 1, 2, "R3"), (300, 1, 2, "R3"),
])
def test_soreness_at_the_top_of_the_windows_band_is_expected_and_one_point_more_is_not(hours, top, above, rule):
    assert triage(f"a {top}", hours).level == "expected"
    over = triage(f"a {above}", hours)
    assert over.rules[0] == rule and over.level == ("monitor" if rule.startswith("M") else "routine")


@pytest.mark.parametrize("hours", [1, 20, 40, 70, 200])
def test_soreness_of_8_is_urgent_at_any_time_and_7_is_not(hours):
    assert triage("a 8", hours).level == "urgent" and triage("a 8", hours).rules[0] == "U3"
    assert triage("a 7", hours).level != "urgent"


def test_soreness_7_early_is_monitor_m1():
    assert triage("a 7", 5).reasons == ("M1: soreness 7 ('7') early",)


# -- M2 and M3 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("score", [6, 7])
def test_day_1_soreness_of_6_or_7_is_monitor_m2(score):
    result = triage(f"a {score}", 20)
    assert (result.level, result.reasons) == ("monitor", (f"M2: soreness {score} ('{score}') on day 1",))


def test_day_1_soreness_two_points_up_is_monitor_m2_and_one_point_up_is_not():
    assert triage("a 5", 20, previous_soreness=3).reasons == ("M2: soreness worse (5 from 3) on day 1",)
    assert triage("a 4", 20, previous_soreness=3).level == "expected"


def test_day_1_soreness_worse_in_the_patients_words_is_monitor_m2():
    assert triage("the soreness is getting worse", 20).reasons == (
        "M2: soreness worse ('getting worse') on day 1",)


@pytest.mark.parametrize("score, previous", [(7, None), (4, None), (5, 7), (4, 5)])
def test_day_2_soreness_of_4_to_7_and_improving_is_monitor_m3(score, previous):
    text = f"a {score}, better than yesterday" if previous is None else f"a {score}"
    result = triage(text, 40, previous_soreness=previous)
    assert (result.level, result.rules) == ("monitor", ("M3",))
    assert result.reasons == (f"M3: soreness {score} ('{score}') on day 2, improving",)


def test_day_2_soreness_of_8_improving_is_still_urgent():
    assert triage("a 8, better than yesterday", 40).level == "urgent"


# -- R1 and R2 --------------------------------------------------------------------------------------

def test_day_2_soreness_the_same_as_before_is_not_improving_r1():
    assert triage("a 5", 40, previous_soreness=5).reasons == ("R1: soreness 5 ('5') on day 2, not improving",)


def test_day_2_soreness_one_point_up_is_r1_alone_and_two_points_up_is_r2_too():
    assert triage("a 5", 40, previous_soreness=4).rules == ("R1",)
    assert triage("a 6", 40, previous_soreness=4).reasons == (
        "R1: soreness 6 ('6') on day 2, not improving", "R2: soreness worse (6 from 4)")


@pytest.mark.parametrize("hours, rule", [(35.9, "M2"), (36, "R2"), (80, "R2"), (200, "R2")])
def test_soreness_worse_is_r2_from_exactly_36_hours_on(hours, rule):
    assert rule in triage("the soreness is getting worse", hours).rules


# -- The hour edges of U1 (diabetes), U5, R4, R5, R6, R7, R9 ----------------------------------------

@pytest.mark.parametrize("precaution", ["diabetes", "immunosuppressed"])
def test_one_local_sign_is_urgent_with_diabetes_or_immunosuppression_only_after_24_hours(precaution):
    # The rules' reading (the learned second reader may raise a level further, and says so with L1).
    at_24 = triage("the needle spot is red", 24, precautions=[precaution])
    assert "U1" not in at_24.rules and f"M5: 'red'" in at_24.reasons
    after = triage("the needle spot is red", 24.1, precautions=[precaution])
    assert (after.level, after.rules[0], after.reasons[0]) == ("urgent", "U1", f"U1: 'red' + {precaution}")


def test_one_local_sign_without_diabetes_or_immunosuppression_is_m5_not_u1_after_24_hours():
    result = triage("the needle spot is red", 30)
    assert "U1" not in result.rules and "M5: 'red'" in result.reasons


def test_dizziness_still_present_is_urgent_only_more_than_2_hours_after_the_session():
    assert triage("still dizzy", 2).rules == ("M4",)
    assert triage("still dizzy", 2.1).reasons == ("U5: 'dizzy'",)


def test_a_faint_on_the_way_home_that_has_passed_is_urgent_u5():
    assert triage("i fainted on the way home, fine now", 3).reasons == ("U5: 'fainted' (on_way_home)",)


@pytest.mark.parametrize("text, hours, rule, level", [
    ("my usual back pain is worse than before the session", 48, None, "expected"),
    ("my usual back pain is worse than before the session", 48.1, "R4", "routine"),
    ("my hand is still numb", 24, "M7", "monitor"),
    ("my hand is still numb", 24.1, "R6", "routine"),
    ("still tired", 48, None, "expected"),
    ("still tired", 48.1, "R7", "routine"),
    ("still have a bruise", 335.9, None, "expected"),
    ("still have a bruise", 336, "R5", "routine"),
    ("there's a small lump where the needle went", 167.9, "M5", "monitor"),
    ("there's a small lump where the needle went", 168, "R9", "routine"),
])
def test_each_rules_hour_edge(text, hours, rule, level):
    result = triage(text, hours)
    assert result.level == level
    assert (result.rules[0] if result.rules else None) == rule


# -- E6: bleeding that will not stop after 10 minutes of firm pressure ------------------------------

def test_still_bleeding_after_pressing_on_it_for_a_time_not_given_is_emergency():
    result = triage("i pressed on it and it's still bleeding", 10)
    assert (result.level, result.reasons) == ("emergency", ("E6: 'bleeding' + pressure",))


def test_still_bleeding_after_exactly_10_minutes_of_pressure_is_emergency_and_after_9_it_is_not():
    assert triage("pressed on it 10 minutes, still bleeding", 10).reasons == (
        "E6: 'bleeding' + 10 minutes of pressure",)
    assert triage("pressed on it 9 minutes, still bleeding", 10).level != "emergency"


# -- Anticoagulant bruises: U4, M6, R5 --------------------------------------------------------------

def test_a_large_bruise_is_urgent_on_blood_thinners_and_routine_otherwise():
    assert triage("big bruise on my arm", 30, precautions=["anticoagulant"]).reasons == (
        "U4: 'bruise' (large) + anticoagulant",)
    assert triage("big bruise on my arm", 30).reasons == ("R5: 'bruise' (large)",)


def test_a_small_bruise_on_blood_thinners_is_monitor_m6():
    assert triage("small bruise", 30, precautions=["anticoagulant"]).reasons == (
        "M6: 'bruise' (small) + anticoagulant",)
    assert triage("small bruise", 30).level == "expected"


# -- The reasons of an expected reply ---------------------------------------------------------------

@pytest.mark.parametrize("text, hours, reason", [
    ("a 2, feeling fine", 5, "expected: soreness 2 ('2') within early band 0-6; 'feeling fine'"),
    ("a 5", 20, "expected: soreness 5 ('5') within day1 band 0-5"),
    ("a 3", 40, "expected: soreness 3 ('3') within day2 band 0-3"),
    ("small bruise", 30, "expected: 'bruise' (small)"),
])
def test_an_expected_reply_says_why_it_is_expected(text, hours, reason):
    assert triage(text, hours).reasons == (reason,)


# -- Each finding fires the rule that is its own, and not its neighbours' ----------------------------

@pytest.mark.parametrize("text, hours, reasons", [
    ("both my arms are numb", 5, ("E3: 'numb' (bilateral)",)),                 # E3's, not M7's
    ("my hand is numb and my grip is weak", 5, ("U2: 'grip is weak'",)),        # weakness: U2, not M7
    ("felt dizzy in the clinic and still a bit dizzy", 3, ("M4: 'dizzy' (in_clinic)",)),
    ("i was dizzy yesterday", 30, ("M4: 'dizzy'",)),                             # past, not still dizzy
    ("i fainted at home and im still dizzy", 3,
     ("E2: 'fainted' (after_leaving) + 'dizzy' (after_leaving)", "U5: 'dizzy' (after_leaving)")),
    ("the swelling keeps growing", 30, ("U1: 'swelling' (growing)",)),           # E5 needs severe pain too
    ("the swelling keeps growing and it really hurts, like a 9", 30,
     ("E5: 'swelling' (growing) + soreness 9 ('9')", "U1: 'swelling' (growing)", "U3: soreness 9 ('9')")),
    ("stiff neck and i threw up", 30, ("E7: 'stiff neck' + 'threw up'", "M4: 'threw up'")),
    ("i have a headache, the worst", 30, ("E7: 'headache' (worst)",)),
])
def test_a_finding_fires_its_own_rule_with_the_patients_words(text, hours, reasons):
    assert triage(text, hours).reasons == reasons


def test_a_stiff_neck_alone_is_not_an_emergency():
    assert triage("my neck is stiff", 30).level != "emergency"


def test_bleeding_that_stopped_or_was_earlier_after_pressure_is_not_an_emergency():
    assert triage("pressed on it for 15 minutes and it stopped bleeding", 10).level == "expected"
    assert triage("pressed on it for 15 minutes, it had bled a lot earlier", 10).level == "expected"


@pytest.mark.parametrize("text, hours, context, reasons", [
    # E1: a new cough with chest or upper-back pain, or with soreness in a lung-risk region.
    ("new cough and my upper back is sore", 20, {"region": "upper_back"}, ("E1: 'cough' + 'upper back is sore'",)),
    ("new cough and my shoulder blade hurts", 20, {"region": "knee"}, ("E1: 'cough' + 'shoulder blade hurts'",)),
    # U7: both have passed.
    ("had a cough and shoulder blade pain last night, both gone now", 20, {}, ("U7: 'cough' + 'shoulder blade pain'",)),
    # E4: fever with fainting; fever with an infection sign in diabetes.
    ("fever and i fainted", 30, {}, ("E4: 'fever' + 'fainted'", "U5: 'fainted'")),
    ("fever and the needle spot is red", 30, {"precautions": ["diabetes"]},
     ("E4: 'fever' + 'red' + diabetes", "U1: 'red' + diabetes")),
    # U1: warmth alone; one local sign after 24 h in diabetes or immunosuppression, each sign.
    ("the needle spot is warm", 30, {}, ("U1: 'warm'",)),
    ("the swelling is getting bigger", 30, {}, ("U1: 'swelling' (growing)",)),
    ("the needle spot is a bit swollen", 30, {"precautions": ["immunosuppressed"]},
     ("U1: 'swollen' + immunosuppressed",)),
    ("there's a lump at the needle spot", 30, {"precautions": ["diabetes"]}, ("U1: 'lump' + diabetes",)),
    # U4: a growing bruise on blood thinners.
    ("the bruise is growing", 30, {"precautions": ["anticoagulant"]}, ("U4: 'bruise' (growing) + anticoagulant",)),
    # U6: sharp pain at the shoulder blade in a lung-risk region.
    ("sharp pain at my shoulder blade", 20, {"region": "upper_back"}, ("U6: 'sharp pain at my shoulder blade' (sharp)",)),
    # E3: face drooping.
    ("my face is drooping", 5, {}, ("E3: 'face is drooping'",)),
    # M4: vomiting once; R9 (not M5 too) for a lump a week later.
    ("threw up once", 5, {}, ("M4: 'threw up'",)),
    ("there's a small lump where the needle went", 168, {}, ("R9: 'lump' (small)",)),
    # R8: the patient says they will stop treatment.
    ("i'm going to stop the treatment, it's too sore", 40, {},
     ("R1: soreness 6 ('too') on day 2, not improving", "R8: 'stop the treatment'")),
    # Day 2: a 3 that is improving is within the band, not M3.
    ("a 3, better than yesterday", 40, {}, ("expected: soreness 3 ('3') within day2 band 0-3",)),
])
def test_each_rule_reads_its_findings_in_the_patients_words(text, hours, context, reasons):
    assert triage(text, hours, **context).reasons == reasons


def test_sharp_shoulder_blade_pain_is_u6_even_when_said_to_be_getting_better():
    """A sharp pain there is taken as new, whatever the soreness does (safety first: rules.py U6)."""
    assert "U6" in triage("sharp pain at my shoulder blade, getting better", 20, region="upper_back").rules
    assert "U6" not in triage("sharp pain at my shoulder blade, getting better", 20, region="calf").rules
