"""The ways patients describe the protocol's findings, beyond any one phrasing.

Each test names a reading mechanism and gives wordings that are in neither labelled file: the
classifier must read the concept, not remember a sentence.
"""

from __future__ import annotations

import pytest

from .helpers import level, result


# -- Breathing and chest: Aftercare never downgrades a breathing or chest complaint (section 1) ----

@pytest.mark.parametrize("text", [
    "feels like my lungs won't fill all the way",
    "bit breathless going up stairs",
    "i feel out of breath",
    "my breath is short",
    "every time i inhale my side pinches",
    "me falta el aliento al caminar",
    "me siento sofocada",
    "no respiro bien desde la mañana",
    "tight feeling across my chest",
    "heaviness in my chest tonight",
    "siento el pecho apretadito",
])
def test_the_many_ways_of_saying_short_of_breath_or_chest_tightness_are_emergency(text):
    assert level(text, hours=30, region="knee") == "emergency"


@pytest.mark.parametrize("text", [
    "no idea why but my chest feels tight",
    "no pain and short of breath",
    "not sore just a bit breathless",
])
def test_a_negation_reaches_a_breathing_complaint_only_when_it_plainly_denies_it(text):
    assert level(text, hours=10, region="neck") == "emergency"


@pytest.mark.parametrize("text", [
    "no issues with my breathing",
    "I dont have any trouble breathing",
    "not short of breath at all, just sore, like a 4",
    "breathing normally, soreness 3",
    "todo bien, respiro sin problema",
    "no tengo ningún problema para respirar",
])
def test_a_plain_denial_of_breathing_problems_is_expected(text):
    assert level(text, hours=5, region="neck") == "expected"


@pytest.mark.parametrize("text", [
    "sat outside in the fresh air, shoulder 3",
    "did chest day at the gym, knee is 2",
    "prendí el aire acondicionado, el cuello en 2",
    "took a deep breath and relaxed, neck a 3",
])
def test_harmless_uses_of_air_breath_and_chest_words_are_not_complaints(text):
    assert level(text, hours=30, region="neck") == "expected"


def test_a_breathing_complaint_that_passed_is_urgent():
    assert result("felt like i couldnt breathe for a minute last night, fine now", hours=30).rules == ("U7",)


# -- Emergency findings in the words patients use -------------------------------------------------

@pytest.mark.parametrize("text", [
    "both my hands went numb",
    "my legs feel weak and numb",
    "my left arm and left leg are tingly and weak",
    "no siento bien ninguna de las dos piernas",
    "one side of my face feels droopy",
    "tengo la boca chueca",
])
def test_weakness_or_numbness_on_both_sides_or_one_whole_side_is_e3(text):
    assert result(text, hours=10, region="neck").rules[0] == "E3"


@pytest.mark.parametrize("text", [
    "calf is swollen and hard and my foot feels numb",
    "arm keeps swelling and my fingers are white and cold",
    "la pierna se está hinchando cada vez más y tengo el pie frío",
])
def test_growing_or_tight_swelling_with_numbness_or_a_cold_limb_is_e5(text):
    assert result(text, hours=20, region="calf").rules[0] == "E5"


@pytest.mark.parametrize("text", [
    "passed out in the shower and cut my chin",
    "me desmayé y me pegué en la cabeza",
    "fainted at home, banged my knee on the table",
])
def test_a_faint_after_leaving_with_an_injury_in_the_fall_is_e2(text):
    assert result(text, hours=6, region="knee").rules[0] == "E2"


@pytest.mark.parametrize("text", [
    "my neck is so stiff i cant bend it and i threw up",
    "tengo el cuello rígido y he vomitado",
])
def test_stiff_neck_with_vomiting_is_e7(text):
    assert result(text, hours=20, region="neck").rules[0] == "E7"


# -- Urgent findings ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "stabbing pain by my shoulder blade, no trouble breathing",
    "me da como un piquete en la paleta, respiro bien",
])
def test_sharp_pain_at_the_shoulder_blade_described_in_other_words_is_u6(text):
    assert result(text, hours=20, region="upper_back").rules[0] == "U6"


@pytest.mark.parametrize("text", [
    "my foot keeps dragging when i walk",
    "cant hold onto my mug, hand is weak",
    "my wrist just hangs, cant lift it",
    "se me cae el pie al caminar",
    "me tropiezo mucho, el pie no se levanta",
])
def test_foot_or_wrist_drop_and_a_weak_grip_are_u2(text):
    assert result(text, hours=20, region="calf").rules[0] == "U2"


@pytest.mark.parametrize("text", [
    "the red spot got bigger since this morning",
    "pink patch near a needle mark is getting wider",
    "theres a red line going up my arm",
    "some yellow stuff coming out of one spot",
    "lo rojo está más grande que ayer",
])
def test_spreading_redness_a_red_streak_or_pus_is_u1(text):
    assert result(text, hours=40, region="forearm").rules[0] == "U1"


def test_a_needle_mark_is_where_the_needle_went_not_a_bruise():
    r = result("tiny pink dot at a needle mark, not spreading", hours=30)
    assert "bruising" not in r.symptoms and r.level == "monitor"


# -- Reading the words themselves -----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "was napping all afternoon, neck 2",
    "having a good day, 2",
    "sleeping well, 1",
    "estaba en el asiento del coche, cuello 2",
])
def test_typo_repair_never_turns_a_real_word_into_a_symptom(text):
    r = result(text, hours=30, region="neck")
    assert r.level == "expected" and r.symptoms <= {"soreness"}


@pytest.mark.parametrize("text", ["brething hurts", "chest hurst", "my cheast is tight"])
def test_misspelt_breathing_and_chest_words_are_still_read(text):
    assert level(text, hours=30) == "emergency"


@pytest.mark.parametrize("text, score", [
    ("same as yesterday, 3", 3),
    ("still sitting at 2, same as before", 2),
    ("igual que ayer, un 4", 4),
    ("stuck at 5", 5),
])
def test_a_number_stated_with_same_is_the_score(text, score):
    assert result(text, hours=50, previous_soreness=score).soreness == score


@pytest.mark.parametrize("text", ["ya casi no siento nada en la pierna", "barely sore now", "mostly gone"])
def test_almost_no_soreness_is_within_the_expected_band_on_day_3(text):
    assert level(text, hours=72) == "expected"


def test_tingling_that_has_passed_is_expected_in_any_tense():
    assert level("my leg zapped a couple times on the drive but it stopped", hours=6) == "expected"


@pytest.mark.parametrize("text", ["who's this?", "quien me manda esto?", "who keeps texting me"])
def test_asking_who_is_writing_is_unclear_not_a_question_for_a_person(text):
    assert level(text, hours=1) == "unclear"


# -- Issue #9: heavy or weak limbs, numbness that spreads, hard needle sites, growing red patches ---

@pytest.mark.parametrize("text", [
    "both my arms feel heavy",
    "mis brazos se sienten pesados",
    "my left arm and my left leg feel heavy",
    "my right hand and right foot went heavy and clumsy",
    "el brazo y la pierna derechos los siento como de plomo",
    "my arm feels heavy and my words come out slurred",
])
def test_heavy_limbs_on_both_sides_or_one_side_or_with_speech_trouble_are_e3(text):
    assert result(text, hours=8, region="neck").rules[0] == "E3"


def test_one_heavy_arm_is_weakness_of_the_treated_limb():
    assert result("my right arm feels heavy since this afternoon", hours=8, region="neck").rules[0] == "U2"


@pytest.mark.parametrize("text", [
    "numb from my neck down",
    "numbness went from my hand up to my face and down my leg",
    "my left arm and my left leg are numb",
    "se me durmió la mano y el pie del mismo lado",
    "the numbness has spread to my other arm",
    "tengo todo el cuerpo entumido",
    "the tingling turned numb and now it's in both hands and my feet",
])
def test_numbness_spreading_over_several_limbs_or_the_whole_body_is_e3(text):
    assert result(text, hours=8, region="neck").rules[0] == "E3"


def test_numbness_in_one_limb_beside_another_limbs_score_is_not_e3():
    assert result("numbness in my hand after the session and my knee is about a 3", hours=8,
                  region="knee").rules[0] == "M7"


@pytest.mark.parametrize("text", [
    "the needle site is inflamed and hard",
    "one spot turned red, swollen and hard",
    "the spot where the needle went in is swollen and hard as a rock",
    "el piquete está inflamado y duro",
    "la zona de la aguja se puso hinchada y dura",
])
def test_a_needle_site_turned_inflamed_and_hard_is_u1(text):
    assert result(text, hours=30, region="calf").rules[0] == "U1"


def test_a_small_hard_knot_at_a_needle_site_is_not_u1():
    assert result("small hard knot where one needle went in, not red, not warm", hours=30,
                  region="calf").rules[0] == "M5"


@pytest.mark.parametrize("text", [
    "the red circle went from a dime to a quarter",
    "there's a red patch on my shoulder. it keeps growing",
    "lo rojo pasó de una moneda a una galleta",
])
def test_a_red_patch_that_keeps_growing_is_u1(text):
    assert result(text, hours=30, region="shoulder").rules[0] == "U1"


# -- Tapback reactions from phones: a reaction to the bot's own text is no finding -----------------

@pytest.mark.parametrize("text", [
    'Liked "How sore are you today on a scale of 0-10?"',
    'Loved “Call 911 if you have trouble breathing or chest pain.”',
    'Emphasized "Any trouble breathing or chest pain?"',
    'Laughed at "Reply STOP to opt out"',
    'Disliked “Any redness, swelling or new symptoms?”',
    'Le gustó «¿Tiene dificultad para respirar o dolor en el pecho?»',
    'Le encantó "¿Cómo está su dolor hoy, del 0 al 10?"',
    'Reacted 👍 to "Any fever or chills?"',
])
def test_a_tapback_reaction_to_the_bots_text_is_nothing_assessable(text):
    assert level(text, hours=20, region="upper_back") == "unclear"


@pytest.mark.parametrize("text, expected", [
    ('Liked "How sore are you today on a scale of 0-10?" about a 2', "expected"),
    ('Le gustó "¿Cómo está su dolor hoy?" pero me falta el aire', "emergency"),
])
def test_the_patients_own_words_beside_a_tapback_are_read(text, expected):
    assert level(text, hours=20, region="upper_back") == expected


# -- Found by the mutation tests (issue 13) -----------------------------------------------------

@pytest.mark.parametrize("text", [
    "me desmayé en el estacionamiento de la clínica",
    "me desmayé en el parqueadero de la clínica, ya estoy bien",
    "me desmayé llegando a mi casa",
])
def test_a_faint_in_the_clinics_parking_lot_is_after_leaving_in_spanish_as_in_english(text):
    """"fainted in the clinic car park" is after leaving (U5; E2 on an anticoagulant), in Spanish too
    (it read as in the clinic, M4)."""
    assert result("fainted in the clinic parking lot", hours=3).rules == ("U5",)
    assert result(text, hours=3).rules == ("U5",)
    assert result(text, hours=3, precautions=("anticoagulant",)).rules[0] == "E2"


@pytest.mark.parametrize("text, english, expected", [
    ("el piquete está rojo", "the needle spot is red", ("monitor", ("M5: 'rojo'",))),
    ("el piquete de la rodilla está morado", "the needle spot on my knee is purple", ("expected", ("expected: 'morado'",))),
])
def test_el_piquete_is_the_needle_spot_not_a_soreness_on_day_2(text, english, expected):
    """"el piquete" is where the needle went, as "the needle spot" is; read as a soreness of 4 it
    fires R1 on day 2 with "soreness 4 ('piquete')", which the patient never said."""
    assert result(english, hours=40).level == expected[0]
    r = result(text, hours=40)
    assert (r.level, r.reasons) == expected


@pytest.mark.parametrize("text", [
    "my face was drooping for a few minutes but it is fine now", "my speech was slurred earlier, fine now",
    "both arms went numb last night but it passed", "tuve la cara caída un rato pero ya se me pasó",
])
def test_a_stroke_like_sign_that_has_passed_is_not_expected(text):
    """E3 names no "current": a face droop, slurred speech or numbness of both arms that passed is
    still one (a passing stroke warning), not the reassurance of `expected` it got. E3 as written:
    emergency (U7's "resolved, urgent" is for breathing and chest symptoms only)."""
    assert result("my face drooped yesterday", hours=20).rules[0] == "E3"      # past, not said to have passed
    assert level(text, hours=20) == "emergency"


@pytest.mark.parametrize("text", [
    "my shoulder blade hurts, it is sharp", "my shoulder blade hurts. sharp pain", "me duele el omóplato, es agudo",
])
def test_a_shoulder_blade_pain_said_to_be_sharp_in_the_next_clause_is_u6(text):
    """U6 in a lung-risk region: "it is sharp" after a comma is still that pain's (only a sharp word
    in the same clause reached it, and these read `expected`). A next clause that names a place of
    its own is about that place."""
    assert "U6" in result("my shoulder blade hurts and it is sharp", hours=20, region="upper_back").rules
    assert "U6" in result(text, hours=20, region="upper_back").rules
    assert "U6" not in result("my shoulder blade hurts, my knee is sharp", hours=20, region="upper_back").rules
    assert "U6" not in result("me duele el omoplato, en la rodilla es agudo", hours=20, region="upper_back").rules
