"""Kinds of wording the fifth held-out set (tests/data/replies_dev5.jsonl) found misread, each
shown with wordings of its own on both sides: a condition on breathing put first with "if", a
Spanish "no longer", a count that is not a score, a child named by age, a site that has "gone"
pink, hot yoga, and numbness that keeps coming back in Spanish."""

from __future__ import annotations

import pytest

from bot.triage import read_by_rules


def level(text: str, hours: float = 26, **context) -> str:
    return read_by_rules(text, hours, **context).level


# -- "if I breathe in ... it hurts": a condition on breathing, as "when" is (E1) ------------------

@pytest.mark.parametrize("text", [
    "if I breathe in all the way I get a pinch under my shoulder blade, otherwise not bad like a 3",
    "if i take a deep breath i get a sharp pain",
    "if I breathe in all the way it hurts",
    "si respiro hondo me duele el costado",
    "si respiro profundo me pincha la espalda",
])
def test_pain_that_comes_if_the_patient_breathes_in_is_e1(text):
    assert level(text, region="upper_trapezius") == "emergency"


@pytest.mark.parametrize("text", [
    "what should I do if it hurts to breathe?",      # asked, not reported
    "if my breathing gets worse I will call you",   # a plan for later
    "if I start having trouble breathing I'll go to the ER",
])
def test_an_if_that_asks_or_plans_reports_nothing(text):
    assert level(text, region="upper_trapezius") != "emergency"


# -- "ya no me duele": no longer -------------------------------------------------------------------

@pytest.mark.parametrize("text", ["ya no me duele", "Muy bien gracias, ya no me duele", "ya no tengo dolor",
                                  "ya no siento dolor", "ya no me duele el cuello"])
def test_pain_that_no_longer_hurts_on_day_2_is_not_r1(text):
    assert level(text, 48.5, region="neck") == "expected"


def test_no_longer_hurting_does_not_hide_a_breathing_complaint_beside_it():
    assert level("ya no me duele pero me falta el aire", 48.5, region="neck") == "emergency"


# -- a number that counts something is not a score ------------------------------------------------

@pytest.mark.parametrize("text, soreness", [
    ("me salió un moretón chiquito en la pantorrilla, como una moneda de 10 centavos", None),
    ("slept on 3 pillows, soreness is fine", None),
    ("the bruise is the size of 2 quarters", None),
    ("soaked 2 bandaids but it stopped, a 3", 3),
])
def test_money_and_household_counts_are_not_soreness_scores(text, soreness):
    assert read_by_rules(text, 30, region="calf").soreness == soreness


def test_a_small_bruise_the_size_of_a_coin_on_an_anticoagulant_is_m6_not_u3():
    text = "me salió un moretón chiquito en la pantorrilla, como una moneda de 10 centavos"
    assert level(text, 30, region="calf", precautions=["anticoagulant"]) == "monitor"


# -- a child named by age is someone else ---------------------------------------------------------

@pytest.mark.parametrize("text", ["my 2 yr old has a fever, my back is a 3",
                                  "my 5 year old has a fever, I'm fine",
                                  "my 6 month old has a fever and my back is a 2"])
def test_a_childs_fever_beside_the_patients_own_words_is_not_u1(text):
    assert level(text, 75, region="lower_back") != "urgent"


@pytest.mark.parametrize("text, expected", [
    ("my 2 yr old has a fever and so do I", "urgent"),
    ("my 6 month old has a cough and my chest hurts when i breathe", "emergency"),
    ("my 2 legs are numb", "emergency"),
])
def test_the_patients_own_findings_beside_a_childs_still_count(text, expected):
    assert level(text, 75, region="lower_back") == expected


# -- a needle site that has "gone" pink has changed, not passed --------------------------------------

@pytest.mark.parametrize("text", ["one of the spots on my shoulder has gone pink",
                                  "I'm on chemo and one of the spots on my shoulder has gone pink",
                                  "the spot has gone red"])
def test_a_site_that_has_gone_red_with_immunosuppression_after_24h_is_u1(text):
    assert level(text, 168, region="shoulder", precautions=["immunosuppressed"]) == "urgent"


@pytest.mark.parametrize("text", ["the redness has gone", "the spot has gone away"])
def test_redness_that_has_gone_is_not_u1(text):
    assert level(text, 168, region="shoulder", precautions=["immunosuppressed"]) != "urgent"


# -- hot yoga is an activity, not a hot needle site --------------------------------------------------

def test_asking_about_hot_yoga_is_a_question_for_a_person_not_a_warm_site():
    assert read_by_rules("is it ok to go to hot yoga tomorrow", 20, region="hip").rules == ("R8",)


def test_a_hot_red_site_after_hot_yoga_is_still_u1():
    assert "U1" in read_by_rules("went to hot yoga and now the spot is hot and red", 30, region="hip").rules


# -- Spanish numbness that keeps coming ("se me siguen durmiendo") ------------------------------------

@pytest.mark.parametrize("text", ["se me siguen durmiendo los dedos, ya es el segundo día",
                                  "se me sigue durmiendo la mano", "se me están durmiendo los dedos"])
def test_fingers_that_keep_going_to_sleep_are_read_as_numbness(text):
    assert "numbness" in read_by_rules(text, 40, region="hand").symptoms
