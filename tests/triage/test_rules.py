"""Section 5, rule by rule, in English and Spanish. The level is the highest rule that fires."""

from __future__ import annotations

import pytest

from bot.protocol import PROTOCOL
from .helpers import level, result

ALL_REGIONS = sorted(PROTOCOL.regions)
LUNG_RISK = sorted(PROTOCOL.lung_risk_regions)
OTHER_REGIONS = sorted(PROTOCOL.regions - PROTOCOL.lung_risk_regions)


# -- Emergency --------------------------------------------------------------------------------

@pytest.mark.parametrize("region", ALL_REGIONS)
@pytest.mark.parametrize("text", ["it hurts when I breathe in", "me duele al respirar hondo"])
def test_pain_on_breathing_in_is_emergency_in_any_region(text, region):
    r = result(text, hours=20, region=region)
    assert r.level == "emergency"
    assert r.rules[0] == "E1"
    assert r.reasons[0].startswith("E1: '")


@pytest.mark.parametrize("hours", [0.5, 6, 30, 50, 80, 150])
@pytest.mark.parametrize("text", [
    "a little short of breath", "can't take a full breath", "chest pressure", "pain in my chest",
    "coughing up blood", "my lips look blue", "me falta el aire", "dolor de pecho",
])
def test_breathing_and_chest_symptoms_are_emergency_at_any_time(text, hours):
    assert level(text, hours=hours, region="calf") == "emergency"


def test_a_breathing_complaint_is_never_downgraded_by_a_good_score_or_improvement():
    assert level("sore 1, much better, just a bit hard to breathe", hours=70, previous_soreness=4) == "emergency"


@pytest.mark.parametrize("text", [
    "started coughing and my upper back hurts",
    "tengo tos y me duele la espalda alta",
])
def test_new_cough_with_upper_back_pain_is_emergency(text):
    assert level(text, hours=30, region="thoracic") == "emergency"


COUGH_WITH_SORENESS = [
    ("new cough, soreness is a 3", "cough"), ("started coughing and i'm sore, about a 4", "coughing"),
    ("new cough and still sore", "cough"), ("tengo tos nueva y me duele, un 4", "tos"),
]


@pytest.mark.parametrize("region", LUNG_RISK)
@pytest.mark.parametrize("text, cough", COUGH_WITH_SORENESS)
def test_new_cough_with_soreness_where_a_lung_risk_region_was_needled_is_emergency(text, cough, region):
    """The soreness of a needled neck, shoulder, upper back or chest is pain there: with a new
    cough, E1 (and the provider reads where)."""
    r = result(text, hours=20, region=region)
    assert r.level == "emergency"
    assert r.reasons[0] == f"E1: '{cough}' + soreness in the {region}"


@pytest.mark.parametrize("region", OTHER_REGIONS)
@pytest.mark.parametrize("text, cough", COUGH_WITH_SORENESS)
def test_new_cough_with_soreness_where_another_region_was_needled_is_not_emergency(text, cough, region):
    r = result(text, hours=20, region=region)
    assert r.level != "emergency" and "E1" not in r.rules


@pytest.mark.parametrize("region", LUNG_RISK)
def test_new_cough_without_any_soreness_in_a_lung_risk_region_is_not_e1(region):
    assert "E1" not in result("new cough, soreness 0", hours=20, region=region).rules


@pytest.mark.parametrize("text, rule", [
    ("fainted at home and now my chest feels tight", "E2"),
    ("passed out in the kitchen and hit my head", "E2"),
    ("me desmayé en casa y sigo mareada", "E2"),
])
def test_faint_after_leaving_with_danger_signs_is_emergency(text, rule):
    r = result(text, hours=4)
    assert r.level == "emergency" and rule in r.rules


def test_faint_after_leaving_on_an_anticoagulant_is_emergency():
    assert level("blacked out for a moment at home, fine now", hours=4, precautions=("anticoagulant",)) == "emergency"
    assert level("blacked out for a moment at home, fine now", hours=4) == "urgent"          # U5


@pytest.mark.parametrize("text", [
    "both arms are numb", "both my legs feel weak", "my left arm and left leg are numb",
    "my face is drooping", "my speech is slurred", "feeling confused",
    "se me durmieron los dos brazos", "estoy confundido",
])
def test_stroke_like_signs_are_emergency(text):
    assert result(text, hours=10).rules[0] == "E3"


@pytest.mark.parametrize("text", ["fever and my heart is racing", "chills and threw up", "fiebre y vómito"])
def test_fever_with_sepsis_features_is_emergency_and_not_also_u1(text):
    r = result(text, hours=40)
    assert r.level == "emergency" and "E4" in r.rules and "U1" not in r.rules


def test_rapidly_spreading_redness_with_fever_is_emergency():
    r = result("fever and the redness is spreading really fast", hours=40)
    assert r.rules == ("E4", "U1")       # the spreading redness is a U1 sign of its own


def test_fever_with_a_local_sign_is_emergency_with_diabetes_or_immunosuppression():
    assert level("fever and the spot is red", hours=40, precautions=("diabetes",)) == "emergency"
    assert level("fever and the spot is red", hours=40, precautions=("immunosuppressed",)) == "emergency"
    assert level("fever and the spot is red", hours=40) == "urgent"


@pytest.mark.parametrize("precautions, named", [
    (("diabetes",), "diabetes"), (("immunosuppressed",), "immunosuppressed"),
    (("immunosuppressed", "diabetes"), "diabetes, immunosuppressed"),
])
@pytest.mark.parametrize("text, sign", [
    ("fever and the spot is red", "red"), ("chills and the needle spot is swollen", "swollen"),
    ("tengo fiebre y el piquete está rojo", "rojo"),
])
def test_fever_with_a_local_sign_names_each_infection_risk_the_patient_has(text, sign, precautions, named):
    """E4's second half: the provider reads which of `diabetes` and `immunosuppressed` made a
    local sign with fever an emergency, both when the patient has both."""
    r = result(text, hours=40, precautions=precautions)
    assert r.level == "emergency"
    assert r.reasons[0].startswith("E4: ") and r.reasons[0].endswith(f"'{sign}' + {named}")


@pytest.mark.parametrize("text", ["fever and the spot is red", "chills and the needle spot is swollen", "tengo fiebre y el piquete está rojo"])
def test_fever_with_a_local_sign_is_not_e4_without_an_infection_risk(text):
    assert "E4" not in result(text, hours=40, precautions=("anticoagulant", "pregnancy")).rules


@pytest.mark.parametrize("text", [
    "calf keeps swelling and my foot is cold", "the thigh is swollen and rock hard and the pain is unbearable",
    "el brazo está hinchado y duro y se me adormece la mano",
])
def test_growing_or_tight_swelling_with_severe_pain_numbness_or_a_cold_limb_is_emergency(text):
    assert result(text, hours=20).rules[0] == "E5"


@pytest.mark.parametrize("text", ["the needle spot won't stop bleeding", "still bleeding after pressing for 10 minutes", "no deja de sangrar"])
def test_bleeding_that_will_not_stop_is_emergency(text):
    assert result(text, hours=2).rules[0] == "E6"


@pytest.mark.parametrize("text", ["worst headache of my life", "sudden splitting headache", "stiff neck and vomiting", "el peor dolor de cabeza de mi vida"])
def test_thunderclap_headache_or_stiff_neck_with_vomiting_is_emergency(text):
    r = result(text, hours=10)
    assert r.rules[0] == "E7"


# -- Urgent -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["the redness is spreading", "warm to the touch around the needle spot", "there's pus", "a red streak going up my arm", "I have a fever", "chills", "sale pus", "está caliente y rojo"])
def test_infection_signs_are_urgent(text):
    assert result(text, hours=40).rules[0] == "U1"


def test_one_local_sign_is_urgent_after_24h_with_diabetes_and_monitor_before():
    assert level("small pink spot at one needle site", hours=30, precautions=("diabetes",)) == "urgent"
    assert level("small pink spot at one needle site", hours=10, precautions=("diabetes",)) == "monitor"
    assert level("small pink spot at one needle site", hours=30) == "monitor"            # M5


@pytest.mark.parametrize("text", ["my grip is weak", "can't lift my arm", "wrist is floppy", "no puedo levantar el brazo"])
def test_weakness_of_the_treated_limb_is_urgent(text):
    assert result(text, hours=10).rules[0] == "U2"


@pytest.mark.parametrize("hours", [2, 20, 40, 80])
@pytest.mark.parametrize("text", ["8", "9/10", "a 10", "ocho", "excruciating"])
def test_soreness_of_8_or_more_is_urgent_at_any_time(text, hours):
    assert level(text, hours=hours) == "urgent"


def test_anticoagulant_with_a_large_or_growing_bruise_is_urgent():
    on_thinners = {"precautions": ("anticoagulant",)}
    assert level("bruise bigger than my palm", hours=30, **on_thinners) == "urgent"
    assert level("the bruise keeps getting bigger", hours=30, **on_thinners) == "urgent"
    assert level("started bleeding again from a needle spot", hours=30, **on_thinners) == "urgent"
    assert level("small bruise, the size of a dime", hours=30, **on_thinners) == "monitor"   # M6
    assert level("small bruise, the size of a dime", hours=30) == "expected"


def test_fainting_after_leaving_and_recovered_or_dizziness_still_present_is_urgent():
    assert result("fainted when I got home but I'm fine now", hours=5).rules[0] == "U5"
    assert result("still dizzy", hours=5).rules[0] == "U5"
    assert result("sigo mareado", hours=5).rules[0] == "U5"


@pytest.mark.parametrize("text", [
    "fainted in the clinic car park", "passed out in the parking lot at the clinic",
    "i fainted in the clinic parking lot, fine now", "fainted at the clinic, on the way home",
    "me desmayé en la clínica de camino a casa",
])
def test_a_faint_at_the_clinic_but_on_the_way_home_is_after_leaving(text):
    """The clinic named beside the way home ("the clinic car park") is not a faint in the clinic
    (M4): it is after leaving, U5, and E2 on an anticoagulant."""
    assert result(text, hours=3).rules == ("U5",)
    assert result(text, hours=3, precautions=("anticoagulant",)).rules[0] == "E2"


@pytest.mark.parametrize("text", ["fainted in the clinic", "passed out on the table at the clinic", "me desmayé en la clínica"])
def test_a_faint_in_the_clinic_is_monitor_even_on_an_anticoagulant(text):
    assert result(text, hours=3).rules == ("M4",)
    assert result(text, hours=3, precautions=("anticoagulant",)).rules == ("M4",)


@pytest.mark.parametrize("region", LUNG_RISK)
def test_sharp_pain_at_the_shoulder_blade_with_breathing_fine_is_urgent_in_lung_risk_regions(region):
    r = result("sharp stabbing pain under my shoulder blade, breathing is fine", hours=20, region=region)
    assert r.rules[0] == "U6"


@pytest.mark.parametrize("region", OTHER_REGIONS)
def test_sharp_pain_at_the_shoulder_blade_is_not_u6_outside_lung_risk_regions(region):
    assert "U6" not in result("sharp pain at my shoulder blade, breathing fine", hours=20, region=region).rules


def test_sharp_pain_at_the_shoulder_blade_without_a_region_is_treated_as_lung_risk():
    assert "U6" in result("punzadas en las costillas, respiro bien", hours=20).rules


SHOULDER_BLADE_PAIN_AND_A_SHARP_WORD = [
    ("my shoulder blade hurts with a sharp stabbing pain", "shoulder blade hurts"),
    ("a stabbing pain and my shoulder blade hurts", "shoulder blade hurts"),
    ("shoulder blade pain that is sharp", "shoulder blade pain"),
    ("me duele el omóplato y es un dolor agudo", "me duele el omoplato"),
    ("punzadas y me duele el omóplato", "me duele el omoplato"),
]


@pytest.mark.parametrize("region", LUNG_RISK)
@pytest.mark.parametrize("text, words", SHOULDER_BLADE_PAIN_AND_A_SHARP_WORD)
def test_a_shoulder_blade_pain_said_to_be_sharp_in_its_own_words_is_u6_in_lung_risk_regions(text, words, region):
    """The sharp word may stand apart from the shoulder-blade words ("me duele el omóplato y es un
    dolor agudo"): said together, it is the sharp pain of U6, quoted by its place."""
    assert result(text, hours=20, region=region).reasons == (f"U6: '{words}'",)


@pytest.mark.parametrize("region", OTHER_REGIONS)
@pytest.mark.parametrize("text, words", SHOULDER_BLADE_PAIN_AND_A_SHARP_WORD)
def test_a_shoulder_blade_pain_said_to_be_sharp_is_not_u6_outside_lung_risk_regions(text, words, region):
    assert "U6" not in result(text, hours=20, region=region).rules


@pytest.mark.parametrize("region", LUNG_RISK)
@pytest.mark.parametrize("text", ["pain at my shoulder blade", "dull ache at my shoulder blade", "me duele el omóplato"])
def test_a_shoulder_blade_pain_not_said_to_be_sharp_is_not_u6(text, region):
    assert "U6" not in result(text, hours=20, region=region).rules


@pytest.mark.parametrize("text", ["was short of breath last night, fine now", "anoche me faltaba el aire pero ya se me pasó"])
def test_a_resolved_breathing_symptom_is_urgent_not_emergency(text):
    r = result(text, hours=20)
    assert r.level == "urgent" and r.rules == ("U7",)
    assert "shortness_of_breath" in r.resolved


# -- Routine ----------------------------------------------------------------------------------

def test_day2_soreness_of_4_not_improving_is_routine_and_improving_is_monitor():
    assert level("5", hours=40) == "routine"                              # R1
    assert level("5, better than yesterday", hours=40) == "monitor"       # M3
    assert level("5", hours=40, previous_soreness=6) == "monitor"         # M3: S < P
    assert level("3", hours=40) == "expected"


def test_soreness_worse_from_day2_is_routine():
    assert "R2" in result("3 but worse than yesterday", hours=40).rules
    assert "R2" in result("3", hours=40, previous_soreness=1).rules


def test_soreness_above_the_band_on_day3_and_late_is_routine_even_when_improving():
    assert level("3, better than before", hours=70) == "routine"
    assert level("2", hours=70) == "expected"
    assert level("a little sore", hours=120) == "routine"
    assert level("1", hours=120) == "expected"


def test_a_flare_of_the_usual_complaint_is_expected_until_48h_and_routine_after():
    assert level("my usual back pain flared up", hours=30) == "expected"
    assert level("my usual back pain flared up", hours=60) == "routine"
    assert level("mi dolor de siempre sigue peor que antes de la sesión", hours=60) == "routine"


def test_a_large_bruise_is_routine_without_anticoagulant_and_any_bruise_after_14_days():
    assert level("huge bruise on my thigh", hours=30) == "routine"
    assert level("tengo un moretón enorme", hours=30) == "routine"
    assert level("tiny bruise still there", hours=340) == "routine"


def test_numbness_or_tingling_is_monitor_in_the_first_24h_and_routine_after():
    assert level("fingers tingly", hours=10) == "monitor"
    assert level("fingers still tingly", hours=30) == "routine"
    assert level("had some tingling but it went away", hours=30) == "expected"


def test_tiredness_or_nausea_lasting_more_than_48h_is_routine():
    assert level("so tired", hours=5) == "expected"
    assert level("still exhausted", hours=60) == "routine"
    assert level("still nauseous", hours=60) == "routine"


@pytest.mark.parametrize("text", [
    "can I take ibuprofen?", "can I go to the gym tomorrow?", "do I need to reschedule my appointment?",
    "should I keep doing the needling?", "puedo ir a trabajar mañana?", "¿puedo tomar algo para el dolor?",
])
def test_a_question_for_a_person_is_routine(text):
    r = result(text, hours=20)
    assert r.is_question and r.rules[0] == "R8"


@pytest.mark.parametrize("text", ["is this soreness normal?", "should I use ice or heat?", "is it ok to stretch?", "es normal este moretón pequeño?"])
def test_a_question_the_bot_can_answer_is_not_routine(text):
    r = result(text, hours=20)
    assert r.is_question and "R8" not in r.rules


def test_asking_if_it_is_normal_outside_the_expected_course_is_for_a_person():
    assert "R8" in result("still a 5, is that normal?", hours=70).rules


def test_saying_they_will_stop_treatment_or_mentioning_pregnancy_is_routine():
    assert "R8" in result("it hurt so much I'm not coming back", hours=20).rules
    assert "R8" in result("just found out I'm pregnant", hours=20).rules
    assert "R8" not in result("just found out I'm pregnant", hours=20, precautions=("pregnancy",)).rules


def test_a_lump_a_week_later_is_routine():
    assert level("there's a small lump where the needle went", hours=200) == "routine"
    assert level("there's a small lump where the needle went", hours=30) == "monitor"     # M5


# -- Monitor and expected ---------------------------------------------------------------------

def test_early_7_is_monitor_and_day1_6_or_7_is_monitor():
    assert level("7", hours=5) == "monitor"
    assert level("6", hours=5) == "expected"
    assert level("6", hours=20) == "monitor"
    assert level("5", hours=20) == "expected"


def test_worse_on_day1_is_monitor_and_early_has_no_trend_rule():
    assert level("3, worse than this morning", hours=20) == "monitor"
    assert level("5", hours=8, previous_soreness=3) == "expected"


def test_passing_lightheadedness_nausea_and_plain_headache_are_monitor():
    assert level("felt lightheaded on the way home, fine now", hours=5) == "monitor"
    assert level("fainted on the table at the clinic", hours=5) == "monitor"
    assert level("a bit nauseous", hours=5) == "monitor"
    assert level("dolor de cabeza leve", hours=5) == "monitor"


def test_small_bruise_spot_bleeding_that_stopped_and_fine_are_expected():
    for text in ("small bruise", "bled a little but it stopped", "all good", "a bit tired today", "tingling went away"):
        assert level(text, hours=5) == "expected", text


def test_improvement_words_next_to_a_mild_adverb_still_count():
    assert level("a bit better, 4 or 5", hours=40) == "monitor"           # M3, not R1
    assert level("un poco mejor, como 5", hours=40) == "monitor"


@pytest.mark.parametrize("text", ["pretty good", "really good today", "muy bien"])
def test_intensity_adverbs_before_good_are_not_soreness(text):
    r = result(text, hours=40)
    assert r.level == "expected" and "soreness" not in r.symptoms


def test_a_soreness_word_inside_a_question_is_not_a_report():
    assert level("how long will the soreness last?", hours=40) == "expected"


@pytest.mark.parametrize("text, words", [
    ("the view took my breath away", "took my breath away"), ("did my deep breathing exercises", "deep breathing"),
    ("hice respiraciones profundas", "respiraciones profundas"), ("heat pad on my chest", "chest"),
])
def test_a_breathing_or_chest_word_said_harmlessly_is_expected_and_the_provider_reads_it_was_harmless(text, words):
    assert result(text, hours=30).reasons == (f"expected: harmless '{words}'",)


@pytest.mark.parametrize("text", ["took a deep breath and it hurt", "my chest hurts"])
def test_a_breathing_or_chest_word_said_with_pain_is_not_harmless(text):
    assert result(text, hours=30).rules[0] == "E1"


@pytest.mark.parametrize("text, hours", [
    ("better than yesterday", 30), ("easing off", 40), ("mejor que ayer", 30), ("va mejorando", 50),
    ("much better today", 100),
])
def test_feeling_better_with_nothing_else_is_expected_with_nothing_of_concern(text, hours):
    assert result(text, hours=hours).reasons == ("expected: nothing of concern",)
