"""Every text the bot sends (PROTOCOL 3 and 5): in the patient's language, one GSM-7 segment (160
characters, an extension character counting two), and saying what the protocol says it must."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot import messages
from bot.messages import MessageTooLong, TEXTS, render

NY = ZoneInfo("America/New_York")
FIELDS = dict(name="Maria", clinic="Harbor PT", clinic_phone="(212) 555-0100", patient="Maria L.", hours=26,
              level="URGENT", rule="U1", code="K7Q2X", minutes=30, count=3, words="the redness is spreading",
              items="Maria L. R1 (K7Q2X)", region="upper back", date="Nov 17", tip="water")

# What each text must say, in English and in Spanish (PROTOCOL 3's "asks" column and 5's answers).
SAYS = {
    "checkin.C0": (["we'll text", "reply anytime", "Call 911", "STOP to opt out"],
                   ["le escribiremos", "responda cuando", "911", "STOP para salir"]),
    "checkin.C1": (["how sore", "0 to 10"], ["cuanto dolor", "de 0 a 10"]),
    "checkin.C1.lung": (["how sore", "0 to 10", "trouble breathing", "chest pain", "call 911"],
                        ["cuanto dolor", "de 0 a 10", "falta el aire", "duele el pecho", "911"]),
    "checkin.C2": (["a day after", "0 to 10", "Better, same or worse"], ["un dia después", "de 0 a 10", "Mejor, igual o peor"]),
    "checkin.C3": (["two days after", "0 to 10", "Better, same or worse"], ["dos dias después", "de 0 a 10", "Mejor, igual o peor"]),
    "checkin.C4": (["three days after", "0 to 10"], ["tres dias después", "de 0 a 10"]),
    "checkin.C5": (["a week after", "redness, swelling or new symptoms"], ["una semana después", "enrojecimiento, hinchazon"]),
    "checkin.extra": (["again", "0 to 10"], ["otra vez", "de 0 a 10"]),
    "reminder": (["haven't heard back", "0 to 10", "Call 911"], ["no hemos sabido", "de 0 a 10", "911"]),
    "answer.expected": (["expected", "Tip: Drink extra water"], ["lo esperado", "Consejo: Beba mas agua"]),
    "answer.monitor": (["check again in a few hours", "Drink extra water", "call 911"],
                       ["le escribiremos en unas horas", "Beba mas agua", "911"]),
    "answer.routine": (["within 1 business day", "write back if it gets worse", "CALL", "WAIT"],
                       ["en 1 dia habil", "escriba si empeora", "CALL", "WAIT"]),
    "answer.urgent": (["the clinic will call you today", "call 911", "CALL", "WAIT"],
                      ["la clinica le llamara hoy", "911", "CALL", "WAIT"]),
    "answer.emergency": (["call 911 now", "Don't drive yourself", "dry needling of the upper back on Nov 17"],
                         ["llame al 911 ahora", "No maneje", "puncion seca en upper back el Nov 17"]),
    "answer.unclear": (["How sore", "0 (none) to 10 (worst)", "call 911"], ["Cuanto dolor", "de 0 (nada) a 10", "911"]),
    "answer.help": (["(212) 555-0100", "911", "STOP"], ["(212) 555-0100", "911", "STOP"]),
    "answer.stop_question": (["stop all texts from Harbor PT", "Reply STOP"], ["dejar de recibir", "Responda STOP"]),
    "answer.opted_out": (["won't get more texts from Harbor PT", "START", "911"], ["No recibira mas", "START", "911"]),
    "answer.opted_in": (["Harbor PT will text you again", "STOP"], ["Harbor PT le escribira", "STOP"]),
    "answer.call": (["call you today", "911"], ["le llame hoy", "911"]),
    "answer.wait": (["within 1 business day", "911"], ["en 1 dia habil", "911"]),
}


@pytest.mark.parametrize("key", sorted(SAYS))
def test_every_patient_text_says_what_the_protocol_asks_in_english(key):
    text = render(key, "en", **FIELDS)
    assert messages.fits_one_segment(text)
    for words in SAYS[key][0]:
        assert words in text, (key, words, text)


@pytest.mark.parametrize("key", sorted(SAYS))
def test_every_patient_text_says_what_the_protocol_asks_in_spanish(key):
    text = render(key, "es", **FIELDS)
    assert messages.fits_one_segment(text)
    for words in SAYS[key][1]:
        assert words in text, (key, words, text)
    assert text != render(key, "en", **FIELDS)


def test_the_table_covers_every_patient_text():
    assert set(SAYS) == {k for k in TEXTS["en"] if k.startswith(("checkin.", "reminder", "answer."))} - {"answer.unknown"}


@pytest.mark.parametrize("key", ["checkin.C1", "checkin.C2", "answer.expected", "answer.routine", "answer.unclear"])
def test_a_spanish_patients_text_is_spanish_and_an_english_patients_english(key):
    spanish, english = render(key, "es", **FIELDS).lower(), render(key, "en", **FIELDS).lower()
    assert any(word in spanish for word in ("hola", "gracias", "cuanto")) and "how sore" not in spanish
    assert any(word in english for word in ("hi ", "thanks", "how sore")) and "cuanto" not in english


@pytest.mark.parametrize("language, expected", [("es", "es"), ("en", "en"), (None, "en"), ("fr", "en"), ("", "en")])
def test_a_language_without_texts_falls_back_to_english(language, expected):
    assert messages.language_of(language) == expected
    assert render("checkin.C1", language, name="Ana", clinic="Harbor PT").startswith(
        "Harbor PT: Hola Ana" if expected == "es" else "Harbor PT: Hi Ana")


def test_provider_texts_are_english_even_for_a_spanish_clinic_setting():
    assert render("ack.none", "es") == "Aftercare: no open alert to acknowledge."


def test_the_unknown_number_answer_is_in_both_languages_with_911():
    text = render("answer.unknown", "en")
    assert "don't recognize this number" in text and "no reconocemos este numero" in text and "911" in text
    assert render("answer.unknown", "es") == text


# -- One segment: 160 GSM-7 characters --------------------------------------------------------------

def test_a_text_of_exactly_160_characters_is_one_segment_and_161_is_not():
    assert messages.fits_one_segment("x" * 160)
    assert not messages.fits_one_segment("x" * 161)


def test_an_extension_character_counts_two_up_to_the_segment_edge():
    assert messages.gsm7_length("€" * 80) == 160 and messages.fits_one_segment("€" * 80)
    assert messages.gsm7_length("a{b}") == 6
    assert not messages.fits_one_segment("€" * 80 + "x")


def test_a_character_outside_gsm7_is_not_one_gsm7_segment():
    assert not messages.fits_one_segment("ok 😟")
    with pytest.raises(ValueError):
        messages.gsm7_length("ok 😟")


def test_gsm7_text_is_kept_as_it_is():
    text = "Ñandú? ¿Qué? ü à é è ù ì ò Ç Ø Å Δ @£$¥ [x]"
    folded = messages.to_gsm7(text)
    assert folded.startswith("Ñandu? ¿Qué? ü à é è ù ì ò Ç Ø Å Δ @£$¥ [x]"[:5])
    assert set(folded) <= messages.GSM7


@pytest.mark.parametrize("raw, folded", [
    ("canción", "cancion"), ("ç", "c"), ("38.5°", "38.5 deg"), ("it’s", "it's"), ("«sí»", '"si"'),
    ("a\u00a0b\tc", "a b c"), ("wait…", "wait..."), ("one—two", "one-two"), ("😟", ""), ("Ñ ñ", "Ñ ñ"),
])
def test_characters_outside_gsm7_are_folded_as_a_phone_would_show_them(raw, folded):
    assert messages.to_gsm7(raw) == folded


def test_a_long_clinic_name_is_shortened_to_fit_and_never_below_eight_characters():
    text = render("checkin.C1.lung", "es", name="Maria", clinic="Clinica de Fisioterapia del Norte de la Ciudad")
    assert messages.fits_one_segment(text) and len(text) >= 150
    assert text.startswith("Clinica ") and ": Hola Maria, " in text


def test_a_long_patient_name_is_shortened_to_whole_words_where_it_can():
    text = render("checkin.C1.lung", "es", name="Maria de los Angeles Guadalupe Fernandez Villanueva", clinic="Harbor PT")
    assert messages.fits_one_segment(text)
    assert "Hola Maria de los" in text and "Villanueva" not in text and ", ¿cuanto" in text


def test_the_patients_words_in_an_alert_end_with_an_ellipsis_when_cut():
    text = render("alert", "en", level="EMERGENCY", patient="Ana G.", hours=5, rule="E1", code="ABCDE",
                  words="it hurts when i breathe in " * 10)
    assert len(text) == 160 and text.startswith('Aftercare EMERGENCY: Ana G., 5h post-DN, E1: "it hurts when')
    assert text.endswith('..." Reply ACK ABCDE')


def test_words_that_fit_are_quoted_whole():
    text = render("alert", "en", level="URGENT", patient="Ana G.", hours=26, rule="U1", code="ABCDE",
                  words="the   redness\nis spreading")
    assert text == 'Aftercare URGENT: Ana G., 26h post-DN, U1: "the redness is spreading" Reply ACK ABCDE'


def test_a_text_that_cannot_fit_even_shortened_is_refused():
    with pytest.raises(MessageTooLong, match="en:answer.help"):
        render("answer.help", "en", clinic="Harbor PT", clinic_phone="5" * 140)


def test_a_text_just_at_the_segment_edge_is_not_shortened():
    text = render("answer.help", "en", clinic="Harbor PT", clinic_phone="5" * 60)
    assert len(text) <= 160 and "5" * 60 in text and text.startswith("Harbor PT: ")


# -- The parts of texts: names, regions, dates, tips, lists -----------------------------------------

@pytest.mark.parametrize("name, first", [("Maria Lopez", "Maria"), ("  Ana   Gomez ", "Ana"), ("Cher", "Cher"),
                                         ("", "")])
def test_texts_greet_the_patient_by_first_name(name, first):
    assert messages.first_name(name) == first


@pytest.mark.parametrize("regions, english, spanish", [
    (["neck"], "neck", "cuello"),
    (["neck", "upper_back"], "neck and upper back", "cuello y espalda alta"),
    (["neck", "upper_back", "shoulder"], "neck and more", "cuello y otras zonas"),
    ([], "treated area", "zona tratada"),
    (["thoracic"], "mid back", "espalda media"),
    (["big_toe"], "big toe", "big toe"),
])
def test_the_needled_regions_as_a_patient_would_say_them(regions, english, spanish):
    assert messages.region_words(regions, "en") == english
    assert messages.region_words(regions, "es") == spanish


@pytest.mark.parametrize("month, english, spanish", [
    (1, "Jan 15", "15 ene"), (5, "May 15", "15 may"), (8, "Aug 15", "15 ago"), (12, "Dec 15", "15 dic"),
])
def test_the_date_says_the_right_month_in_each_language(month, english, spanish):
    moment = datetime(2026, month, 15, 17, tzinfo=timezone.utc)
    assert messages.short_date(moment, NY, "en") == english
    assert messages.short_date(moment, NY, "es") == spanish


def test_the_emergency_date_is_the_session_day_in_the_patients_zone_not_utc():
    evening = datetime(2026, 11, 18, 2, 30, tzinfo=timezone.utc)  # 21:30 on 17 November in New York
    assert messages.short_date(evening, NY, "en") == "Nov 17"
    assert messages.short_date(evening, ZoneInfo("Europe/Madrid"), "es") == "18 nov"


@pytest.mark.parametrize("turn, tip", [(0, "heat"), (1, "water"), (2, "movement"), (3, "pain_relief"), (4, "heat")])
def test_the_self_care_tips_take_turns(turn, tip):
    assert messages.choose_tip(["soreness"], [], turn) == tip


@pytest.mark.parametrize("turn, tip", [(0, "heat"), (3, "acetaminophen"), (7, "acetaminophen")])
def test_the_anticoagulant_tip_is_only_for_patients_on_blood_thinners(turn, tip):
    assert messages.choose_tip(["soreness"], ["anticoagulant"], turn) == tip
    assert messages.choose_tip(["soreness"], ["diabetes"], 3) == "pain_relief"


def test_an_answer_without_room_for_medicine_rotates_through_the_other_three_tips():
    assert [messages.choose_tip([], [], t, medication=False) for t in range(4)] == ["heat", "water", "movement", "heat"]


@pytest.mark.parametrize("language, tip, words", [
    ("en", "acetaminophen", "acetaminophen (not aspirin/ibuprofen); ask your prescriber"),
    ("es", "acetaminophen", "acetaminofén (no aspirina/ibuprofeno); pregunte a su médico"),
    ("en", "ice", "Ice on a fresh bruise"), ("es", "ice", "hielo en un moreton"),
])
def test_a_tip_is_given_in_the_patients_language(language, tip, words):
    assert words in render("answer.expected", language, name="Ana", tip=tip)


def test_the_digest_lists_whole_entries_then_exactly_how_many_more():
    entries = [f"Patient{i} X. R1 (CODE{i})" for i in range(12)]
    text = messages.render_list("digest", "en", field="items", entries=entries, count=12)
    shown = sum(f"Patient{i} X." in text for i in range(12))
    assert messages.fits_one_segment(text) and 0 < shown < 12
    assert f"; +{12 - shown} more. See dashboard." in text
    assert text.startswith("Aftercare routine, 12 to call within 1 business day: Patient0 X. R1 (CODE0); ")


def test_a_digest_that_fits_lists_everyone_without_more():
    text = messages.render_list("digest", "en", field="items", entries=["Ana G. R1 (ABCDE)", "Tom B. R2 (FGHJK)"],
                                count=2)
    assert text == "Aftercare routine, 2 to call within 1 business day: Ana G. R1 (ABCDE); Tom B. R2 (FGHJK). See dashboard."


def test_a_digest_whose_first_entry_is_too_long_says_how_many_there_are():
    text = messages.render_list("digest", "en", field="items", entries=["x" * 200, "y" * 200], count=2)
    assert "+2 more" in text and messages.fits_one_segment(text)


@pytest.mark.parametrize("name, greeting", [
    ("Ana " + "x" * 120, "Hola Ana, "),                        # cut at a word when that leaves 3 letters or more
    ("Ana Sofia " + "x" * 120, "Hola Ana Sofia, "),
    ("Anabel, " + "x" * 120, "Hola Anabel, "),                 # no stray comma, dot or dash at the cut
    ("Jo " + "x" * 120, "Hola Jo " + "x" * 38 + ", "),        # a word of 2 letters is too little: cut mid-word
    ("Anabel-" + "x" * 120, "Hola Anabel-" + "x" * 34 + ", "),
])
def test_a_name_too_long_for_one_segment_is_cut_where_a_patient_would_still_recognise_it(name, greeting):
    text = render("checkin.C1.lung", "es", name=name, clinic="Harbor PT")
    assert text.startswith("Harbor PT: " + greeting) and messages.fits_one_segment(text)
    assert "..." not in text  # only the patient's quoted words get an ellipsis


def test_a_long_clinic_name_is_cut_at_a_word():
    assert render("checkin.C1.lung", "es", name="Maria", clinic="Clinica de Fisioterapia del Norte de la Ciudad") == (
        "Clinica de Fisioterapia del Norte de la: Hola Maria, ¿cuanto dolor tiene ahora, de 0 a 10? ¿Le falta el aire "
        "o le duele el pecho? Si es asi, llame al 911.")


@pytest.mark.parametrize("lead", range(6))
def test_cut_words_end_in_a_word_and_an_ellipsis_never_a_space(lead):
    text = render("alert", "en", level="URGENT", patient="Ana G.", hours=26, rule="U1", code="ABCDE",
                  words="c" * lead + "ab " * 60)
    assert text.endswith('..." Reply ACK ABCDE') and ' ..."' not in text and len(text) <= 160


@pytest.mark.parametrize("count, shown", [(3, 3), (4, 2), (5, 2)])
def test_the_digest_shows_as_many_whole_entries_as_fit(count, shown):
    entries = [f"Patient{i} Longname. R1 (ABCD{i})" for i in range(count)]
    text = messages.render_list("digest", "en", field="items", entries=entries, count=count)
    assert text == (f"Aftercare routine, {count} to call within 1 business day: " + "; ".join(entries[:shown])
                    + (f"; +{count - shown} more" if count > shown else "") + ". See dashboard.")


def test_a_digest_with_room_for_only_its_first_entry_shows_it():
    entries = ["A" * 60 + " R1 (ABCDE)", "B" * 60 + " R2 (FGHJK)"]
    assert messages.render_list("digest", "en", field="items", entries=entries, count=2) == (
        "Aftercare routine, 2 to call within 1 business day: " + entries[0] + "; +1 more. See dashboard.")


def test_a_text_rendered_without_a_name_greets_without_one():
    assert render("checkin.C1", "en", clinic="Harbor PT") == (
        "Harbor PT: Hi, how sore are you now, 0 to 10? (0 none, 10 worst)")


def test_when_both_are_long_the_patients_name_is_shortened_before_the_clinics():
    text = render("checkin.C0", "es", name="Guadalupe" + "x" * 11, clinic="Northwestern Spine P")
    assert text.startswith("Northwestern Spine P: Hola Guadalupexxxxxxx, le escribiremos")
    assert messages.fits_one_segment(text)
