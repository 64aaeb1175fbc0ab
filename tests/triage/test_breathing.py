"""The breathing net has no holes (issue #9, part 3; lexicon: bot/protocol/v1/triage/breathing.toml).

Any breathing or chest word that its own clause does not clearly deny or call normal keeps E1 in
doubt. A negation denies; a condition ("unless", "can't ... without", "except when") does not. A
harmless phrase ("took a deep breath") is harmless only in a clause with no complaint in it.
Every wording here is in none of the labelled files.
"""

from __future__ import annotations

import pytest

from .helpers import level, result


# -- Minimal pairs: every negation form the reader supports, beside the condition it can look like -

@pytest.mark.parametrize("text, expected", [
    # a plain denial of pain on breathing
    ("no pain when I breathe in", "expected"),
    ("no me duele cuando respiro", "expected"),
    # "can't X without Y": Y comes with X
    ("can't breathe in without pain", "emergency"),
    ("can't breathe in without it hurting", "emergency"),
    ("cannot inhale without pain", "emergency"),
    ("no puedo respirar hondo sin que me duela", "emergency"),
    ("no logro inhalar sin dolor", "emergency"),
    # "no X unless Y": X comes with Y
    ("no pain unless I breathe in", "emergency"),
    ("no pain unless I breathe in deeply", "emergency"),
    ("no me duele a menos que respire hondo", "emergency"),
    ("no me duele a no ser que tome aire profundo", "emergency"),
    # "X without Y", able to: Y does not come with X
    ("I can breathe without pain now", "expected"),
    ("breathing in without any pain today", "expected"),
    ("ya puedo respirar sin dolor", "expected"),
    ("respiro hondo sin ninguna molestia", "expected"),
])
def test_minimal_pairs_of_denial_and_condition_on_breathing(text, expected):
    assert level(text, hours=20, region="upper_back") == expected


@pytest.mark.parametrize("text", [
    "can't lie flat without getting short of breath",
    "I can't climb the stairs without getting winded",
    "no shortness of breath except when I climb stairs",
    "breathing is fine unless I lie flat",
    "no trouble breathing unless I walk up the hill",
    "no me puedo acostar sin que me falte el aire",
    "respiro bien salvo cuando subo escaleras",
    "no me falta el aire excepto cuando me acuesto",
])
def test_a_condition_on_breathing_lying_flat_or_climbing_stairs_is_a_complaint(text):
    assert result(text, hours=30, region="thoracic").rules[0] == "E1"


@pytest.mark.parametrize("text", [
    "walked up the hill without getting winded, neck 2",
    "subí las escaleras sin que me faltara el aire, el cuello en 2",
    "no shortness of breath, not even on the stairs. shoulder 3",
])
def test_exertion_without_breathlessness_is_no_complaint(text):
    assert level(text, hours=30, region="thoracic") == "expected"


# -- Harmless phrases are harmless only in a clause with no complaint --------------------------------

@pytest.mark.parametrize("text", [
    "it gets worse when I take a deep breath",
    "taking a deep breath is uncomfortable",
    "took a deep breath and felt a catch under my ribs",
    "soreness is getting worse, and worse still when I take a deep breath",
    "tomé aire hondo y me costó",
])
def test_a_harmless_breathing_phrase_with_pain_difficulty_or_worse_in_its_clause_is_e1(text):
    assert result(text, hours=30, region="upper_trapezius").rules[0] == "E1"


@pytest.mark.parametrize("text", [
    "took a deep breath and relaxed, neck a 3",
    "took a deep breath before the needles, no pain now, 2",
    "sat out in the fresh air, no problems, shoulder a 2",
])
def test_a_harmless_breathing_phrase_without_a_complaint_stays_harmless(text):
    assert level(text, hours=30, region="upper_trapezius") == "expected"


def test_a_breathing_complaint_sharing_a_reply_with_worse_soreness_is_still_e1():
    r = result("the soreness is getting worse and it gets worse when I take a deep breath", hours=30,
               region="upper_trapezius")
    assert r.rules[0] == "E1" and "M2" in r.rules


# -- Words dictation puts for "breathe", read where a breathing word would be -----------------------

@pytest.mark.parametrize("text", [
    "it hurts to breed in",
    "hard to breed when I lie down",
    "can't take a deep bread",
    "it pinches when I take a deep breast",
])
def test_dictation_slips_of_breathe_are_breathing_words_in_a_complaint(text):
    assert result(text, hours=20, region="upper_back").rules[0] == "E1"


@pytest.mark.parametrize("text", [
    "we breed dogs, the puppies kept me busy, neck 2",
    "made bread this morning, shoulder is a 2",
])
def test_those_words_in_their_own_sense_are_no_complaint(text):
    assert level(text, hours=20, region="upper_back") == "expected"


# -- Breathlessness on exertion or lying down, in everyday and regional idioms ----------------------

@pytest.mark.parametrize("text", [
    "blowing hard after one flight of stairs",
    "I lose my wind halfway up the stairs",
    "can't get my wind back after walking to the car",
    "ando echando el bofe con cualquier cosa",
    "acezando al subir la cuesta",
    "resoplando nomás de caminar a la tienda",
    "have to sleep propped up on pillows or I can't get enough air",
    "lying down I get a smothery feeling",
])
def test_idioms_of_breathlessness_on_exertion_or_lying_down_are_e1(text):
    assert result(text, hours=30, region="thoracic").rules[0] == "E1"


# -- A verdict after a complaint's circumstance is no verdict on breathing -------------------------
# "it hurts when I breathe in ok": the "ok" (or a 👍, or "thanks ok") closes the message; it does
# not call the breathing fine, because the breathing word is when or where it hurts, or what
# hurts, not what is judged. Found by a conversation test: a patient who texts "ok" after their own
# E1 complaint was read as expected (tests/triage/test_banks.py holds it over every red flag). The
# same verdict after a breathing word that is a subject still clears it.

@pytest.mark.parametrize("text", [
    "it hurts when I breathe in ok",
    "it hurts when I breathe in 👍",
    "hurts to breathe ok",
    "hurts to breathe ok thanks",
    "pain when breathing in good",
    "it hurts a lot when I take a deep breath ok",
    "it stings if I breathe in deep fine",
    "me duele al respirar ok",
    "me duele cuando respiro hondo bien",
    "siento dolor al inhalar ok gracias",
    "me duele el pecho ok",
    "no me entra el aire ok",
    "there is a weight on my chest ok thanks",
    "can't get a proper deep breath ok",
    "no pain unless I take a big breath ok",
    "it hurts every time I breathe in 👍",
])
def test_a_verdict_after_when_or_al_breathing_leaves_the_complaint_standing(text):
    assert level(text, hours=5, region="upper_back") == "emergency"


@pytest.mark.parametrize("text", [
    "my back hurts and breathing is ok",
    "sore back and breathing fine",
    "back hurts but breathing ok",
    "hurts a bit, breathing fine",
    "me duele la espalda y respiro bien",
    "me duele la espalda pero respiro bien",
    "hurts when i press on it, breathing normal",
    "sore when I lift my arm, breathing is fine",
    # the C1 check-in near the lungs asks for soreness and breathing: answers run them together
    "sore breathing fine",
    "a bit sore breathing ok",
    "sore 5 breathing ok",
    "achy breathing normal",
    "dolor leve respiro bien",
])
def test_a_verdict_on_breathing_as_the_subject_beside_soreness_still_clears_it(text):
    assert level(text, hours=5, region="upper_back") == "expected"
