"""Reading concepts, not phrases (PROTOCOL.md sections 4 and 5).

Each test names one reading mechanism: word classes combined into concept frames, a negation or a
verdict scoped to the concept it is attached to, and the fail-safe for breathing and chest words.
Every wording here is in none of the labelled files: the classifier must read the concept.
"""

from __future__ import annotations

import pytest

from .helpers import level, result


# -- Denials: a negation or a verdict judges the concept it is attached to ------------------------

@pytest.mark.parametrize("text", [
    "breathing? zero issues. neck about a 2",                      # the verdict in the next clause
    "shortness of breath: none. chest tightness: none. shoulder 3",  # "X: none"
    "chest - fine. breathing - fine. shoulder 2",                  # "X - fine"
    "dolor de pecho? nada. falta de aire? tampoco. cuello 2",
    "no probs with my breathing at all, trap is a 3",              # "no X", texting spelling
    "ningún problema para respirar, la espalda en 3",
    "lungs feel totally normal, just a sore neck, 3",               # "X is fine"
    "respiro de lo más normal, el cuello en 2",
    "breathing is a-ok, shoulder 3",
    "chest and breathing are both fine",                           # one verdict, two concepts
])
def test_a_denied_or_fine_breathing_or_chest_concept_is_not_a_complaint(text):
    assert level(text, hours=5, region="shoulder") == "expected"


@pytest.mark.parametrize("text", [
    "my breathing isn't right tonight",            # a negated verdict is a complaint
    "no respiro como siempre",
    "can't quite get a full breath in",            # "can't" before the concept
    "hard to get a good breath in",                # "good" describes the breath, judges nothing
])
def test_a_negated_verdict_about_breathing_is_a_complaint(text):
    assert result(text, hours=20, region="neck").rules[0] == "E1"


@pytest.mark.parametrize("text", [
    "neck is great but i get winded on the stairs",
    "todo perfecto salvo que me cuesta tomar aire",
    "feeling good! though my chest feels kind of heavy",
    "all good, just can't seem to breathe in fully",
    "estoy bien pero me cuesta jalar aire",
    "bien en general, aunque no me llega bien el aire",
    "feeling fine overall but my breathing isn't quite right",
])
def test_a_good_word_in_another_clause_never_cancels_a_breathing_or_chest_complaint(text):
    assert result(text, hours=30, region="neck").rules[0] == "E1"


@pytest.mark.parametrize("text", [
    "got that off my chest lol, neck is a 2",
    "me lo tomé a pecho jaja, el hombro en 2",
])
def test_idioms_that_name_the_chest_are_not_chest_symptoms(text):
    assert level(text, hours=30, region="neck") == "expected"


def test_i_dont_think_keeps_a_breathing_complaint_in_doubt():
    assert result("i dont think im short of breath but idk", hours=20, region="neck").rules[0] == "E1"


# -- E1: breathing and chest concepts in other words ----------------------------------------------

@pytest.mark.parametrize("text", [
    "it stings on my right side when i suck in air",      # pain + drawing air in
    "cada vez que respiro hondo me pincha la espalda",
    "kinda short of breast since this morning",            # dictation
])
def test_pain_or_lack_of_air_in_any_words_is_e1(text):
    assert result(text, hours=20, region="thoracic").rules[0] == "E1"


def test_a_cough_bringing_up_blood_of_any_colour_is_e1():
    assert result("coughing up some rusty colored stuff", hours=20, region="thoracic").rules[0] == "E1"


@pytest.mark.parametrize("text", [
    "couldn't catch my breath last night but today breathing is fine",
    "ayer me faltaba el aire pero hoy respiro normal",
])
def test_a_past_breathing_complaint_said_to_be_fine_today_is_u7(text):
    assert result(text, hours=30, region="neck").rules == ("U7",)


# -- The other emergencies, as concepts -----------------------------------------------------------

@pytest.mark.parametrize("text", [
    "fainted in the driveway and cut my lip",                 # hurt in the fall
    "me desmayé en el baño y todavía estoy mareada",          # still dizzy
])
def test_a_faint_after_leaving_with_an_injury_or_still_dizzy_is_e2(text):
    assert "E2" in result(text, hours=3, region="knee").rules


@pytest.mark.parametrize("text", [
    "my smile looks lopsided in the mirror",
    "la boca se me ve chueca de un lado",
    "both hands have gone numb",
    "can't move my left arm or left leg",
])
def test_a_drooping_face_or_both_limbs_numb_is_e3(text):
    assert result(text, hours=10, region="jaw").rules[0] == "E3"


def test_chills_with_a_racing_heart_is_e4():
    assert "E4" in result("shivering with a temp of 102 and my heart is pounding", hours=40, region="hip").rules


@pytest.mark.parametrize("text", [
    "my forearm keeps getting bigger, it's tight and my hand is cold",   # a limb "getting bigger"
    "la pantorrilla se hinchó, está durísima y tengo el pie helado",     # superlative of "duro"
])
def test_swelling_growing_or_hard_with_a_cold_limb_is_e5(text):
    assert result(text, hours=10, region="calf").rules[0] == "E5"


@pytest.mark.parametrize("text", [
    "held pressure for 20 minutes and it's still oozing blood",
    "apreté media hora y sigue sangrando",
])
def test_bleeding_still_going_after_firm_pressure_is_e6(text):
    assert result(text, hours=1, region="calf").rules[0] == "E6"


def test_bleeding_that_stopped_under_pressure_is_not_e6():
    assert level("it bled a bit, i pressed on it for 10 minutes and it stopped", hours=1, region="calf") == "expected"


@pytest.mark.parametrize("text", [
    "sudden explosive headache, worst i've ever had",
    "de repente un dolor de cabeza brutal, nunca me había dolido así",
    "worst headache i've ever had came on suddenly",
])
def test_a_sudden_or_never_before_headache_is_e7(text):
    assert result(text, hours=10, region="neck").rules[0] == "E7"


# -- Urgent and routine concepts ------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "can't hold my toothbrush with that hand, no strength",      # what the limb can't do
    "no puedo agarrar la taza, la mano sin fuerza",
    "my foot keeps slapping the floor when i walk",
])
def test_weakness_described_by_what_the_patient_cannot_do_is_u2(text):
    assert result(text, hours=20, region="hand").rules[0] == "U2"


def test_a_decimal_score_rounds_up_into_u3():
    assert result("honestly like a 9.5", hours=20, region="hip").rules[0] == "U3"


def test_a_bruise_bigger_than_the_hand_on_a_blood_thinner_is_u4():
    r = result("on warfarin and the bruise is now bigger than my hand", hours=30, region="thigh",
               precautions=("anticoagulant",))
    assert r.rules[0] == "U4"


def test_a_bruise_that_keeps_spreading_is_r5():
    assert result("the bruise keeps spreading", hours=30, region="thigh").rules[0] == "R5"


@pytest.mark.parametrize("text", [
    "is it ok to have a glass of wine tonight",        # alcohol, no question mark
    "can i fly to denver tomorrow?",                   # travel
    "me puedo tomar algo pa la molestia",              # medicine
    "i'm not going back for more of this",            # not continuing treatment
    "not sure I want to continue the needling",        # in doubt about going on
    "just found out we're expecting!",                 # pregnancy, first mention
])
def test_questions_and_news_for_a_person_are_r8(text):
    assert "R8" in result(text, hours=20, region="lower_back").rules


def test_tiredness_lasting_past_48_hours_is_r7():
    assert "R7" in result("still so tired on day 4, can barely stay awake", hours=90, region="hip").rules


def test_a_plain_headache_is_m4():
    assert result("a bit of a headache tonight", hours=8, region="neck").rules == ("M4",)


def test_a_plain_thank_you_is_unclear():
    assert level("thanks so much for checking!", hours=8, region="neck") == "unclear"


# -- Words that name a concept without being a complaint ------------------------------------------

@pytest.mark.parametrize("text", [
    "i tripped on the stairs but i'm fine, neck 2",           # one trip is not a foot drop
    "breast cancer survivor here, shoulder is a 2",           # a body part named, no complaint
    "puedo mover el brazo bien, un 3",                        # "puedo" here says, it does not ask
    "my hands are always cold lol, shoulder 2",               # a cold hand without swelling
    "i hold my breath when they put the needles in haha, 2",
])
def test_a_concept_word_without_its_complaint_is_not_escalated(text):
    assert level(text, hours=30, region="neck") in ("expected", "monitor")
