"""Section 4: symptoms in English and Spanish, negation with a scope, resolved past, doubt."""

from __future__ import annotations

import pytest

from .helpers import level, result


@pytest.mark.parametrize("text, tag", [
    ("big bruise", "bruising"),
    ("brusing on my arm", "bruising"),
    ("bruisng", "bruising"),
    ("moretón", "bruising"),
    ("moreton", "bruising"),
    ("un moretoncito", "bruising"),
    ("cant breath", "shortness_of_breath"),
    ("me cuesta respirar", "shortness_of_breath"),
    ("im so winded", "shortness_of_breath"),
    ("tingly fingers", "tingling"),
    ("hormigueo en la mano", "tingling"),
    ("my hand is numbbb", "numbness"),
    ("swolen", "swelling"),
    ("feaver", "fever"),
    ("🤒", "fever"),
    ("escalofrios", "fever"),
    ("DIZZY", "dizziness"),
    ("mareada", "dizziness"),
    ("🤢", "nausea"),
    ("chest feels tight", "chest_pain"),
    ("opresión en el pecho", "chest_pain"),
])
def test_symptoms_are_read_with_typos_case_accents_and_emoji(text, tag):
    assert tag in result(text, hours=5).symptoms


@pytest.mark.parametrize("text", [
    "got my flu shot",            # "shot" is not "hot"
    "my phone number changed",    # "number" is not "numb"
    "Chester says hi",            # not "chest"
    "the view was breathtaking",
    "took a hot bath, felt great",
    "blood pressure was fine",
])
def test_words_are_matched_whole_never_as_substrings(text):
    r = result(text, hours=5)
    assert not r.symptoms & {"warmth", "numbness", "chest_pain", "shortness_of_breath", "bleeding"}
    assert r.level in ("expected", "unclear")


@pytest.mark.parametrize("text, tag", [
    ("no fever", "fever"),
    ("not short of breath", "shortness_of_breath"),
    ("without any numbness", "numbness"),
    ("no numbness or tingling", "tingling"),
    ("sin fiebre", "fever"),
    ("nada de fiebre", "fever"),
    ("no me falta el aire", "shortness_of_breath"),
    ("no tengo dolor en el pecho", "chest_pain"),
    ("fever: none", "fever"),
    ("dont feel dizzy at all", "dizziness"),
])
def test_denied_findings_are_not_raised(text, tag):
    assert tag not in result(text, hours=5).symptoms


def test_denied_fever_is_not_raised():
    assert level("no fever, sore 2", hours=30) == "expected"


@pytest.mark.parametrize("text", [
    "no fever but the redness is spreading",
    "no fever, redness is spreading",
    "sin fiebre pero lo rojo se está extendiendo",
])
def test_a_negation_covers_its_clause_not_the_whole_reply(text):
    r = result(text, hours=30)
    assert "fever" not in r.symptoms
    assert "redness" in r.symptoms
    assert r.level == "urgent"           # U1: redness spreading


@pytest.mark.parametrize("text, tag", [
    ("felt faint after but fine now", "dizziness"),
    ("was a little dizzy on the way home, it passed", "dizziness"),
    ("me maree un poco al salir pero ya se me paso", "dizziness"),
    ("had some tingling last night, gone now", "tingling"),
])
def test_a_resolved_finding_is_kept_as_resolved(text, tag):
    r = result(text, hours=5)
    assert tag in r.resolved


@pytest.mark.parametrize("text", [
    "maybe a bit short of breath?",
    "not sure if it's hard to breathe",
    "I think maybe my chest is a bit tight?",
    "creo que me falta un poco el aire",
    "no sé si me cuesta respirar",
])
def test_a_doubted_red_flag_is_raised(text):
    assert level(text, hours=5) == "emergency"


@pytest.mark.parametrize("text", [
    "breathing fine, sore 3",
    "no trouble breathing or chest pain",
    "respiro bien, sin dolor de pecho",
    "breathing is normal",
])
def test_a_reply_that_only_denies_breathing_problems_is_expected_not_unclear(text):
    assert level(text, hours=4, region="shoulder") == "expected"


@pytest.mark.parametrize("text", ["ok", "k", "thanks", "gracias", "who is this?", "quién es?", "👍", "😣", "?", "got it", "de nada"])
def test_replies_with_nothing_assessable_are_unclear(text):
    assert level(text) == "unclear"


@pytest.mark.parametrize("text", ["fine", "good", "all good", "all better", "bien", "todo bien"])
def test_fine_and_good_are_assessable_and_expected(text):
    assert level(text) == "expected"


@pytest.mark.parametrize("text", ["my chest", "breathing?", "lungs", "mi pecho"])
def test_a_reply_mentioning_breathing_or_the_chest_is_never_unclear(text):
    assert level(text, hours=5) != "unclear"


@pytest.mark.parametrize("text, improving, worsening", [
    ("better than yesterday", True, False),
    ("easing off", True, False),
    ("mejor que ayer", True, False),
    ("worse", False, True),
    ("more sore than yesterday", False, True),
    ("peor", False, True),
])
def test_trend_words_are_read(text, improving, worsening):
    r = result(text, hours=40)
    assert ("improving" in r.symptoms) == improving
    assert ("worsening" in r.symptoms) == worsening


def test_a_change_of_two_points_is_a_trend_without_words():
    assert "worsening" in result("6", hours=40, previous_soreness=4).symptoms
    assert "improving" in result("3", hours=40, previous_soreness=5).symptoms
    assert not {"improving", "worsening"} & result("4", hours=40, previous_soreness=5).symptoms


def test_a_trend_word_about_a_bruise_is_not_a_soreness_trend():
    r = result("the bruise is getting bigger", hours=40)
    assert "worsening" not in r.symptoms
    assert r.level == "routine"          # R5: a bruise getting bigger


@pytest.mark.parametrize("prefix", ["- ", "... ", "(", ". ", "\n"])
@pytest.mark.parametrize("text", [
    "8/10", "took 2 tylenol at 9pm and it's still an 8", "3 today", "it was a 2 last night and now it's 4",
    "no pain when I breathe in", "felt a bit dizzy earlier but it passed", "siete de diez",
])
def test_punctuation_before_a_reply_changes_nothing(prefix, text):
    plain, marked = result(text, hours=40), result(prefix + text, hours=40)
    assert (marked.level, marked.soreness, marked.symptoms) == (plain.level, plain.soreness, plain.symptoms)


@pytest.mark.parametrize("text, reason", [
    ("short of breath?", "E1: 'short of breath'"),
    ("- chest pain.", "E1: 'chest pain'"),
    ("me duele el pecho!!", "E1: 'me duele el pecho'"),
])
def test_a_reason_quotes_the_patients_words_without_the_punctuation_around_them(text, reason):
    assert result(text, hours=5).reasons == (reason,)
