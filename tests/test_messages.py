"""Every text the bot sends fits one SMS segment: 160 GSM-7 characters, in English and Spanish."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot import messages
from bot.messages import GSM7, MEDICATION_TIPS, TEXTS, TIPS, fits_one_segment, render

# Long but realistic: the longest first names and clinic short names a clinic is likely to have.
LONG = {
    "name": "Maximiliano",
    "clinic": "Northwestern Spine P",  # 20 characters, the most `sms_name` allows
    "clinic_phone": "(212) 555-0100",
    "patient": "Maximiliano V.",
    "words": "it hurts when I breathe in and my chest feels tight since this morning, also my shoulder blade "
             "is on fire and I am honestly worried 😟 what should I do",
    "hours": 167, "level": "EMERGENCY", "rule": "M-again", "code": "K7Q2X", "minutes": 15, "count": 12,
    "items": "Maximiliano V. M-again (K7Q2X); Guadalupe R. R10 (ABCDE)",
    "codes": "K7Q2X; ABCDE; FGHJK",
}


def fields_for(key: str, language: str, tip: str) -> dict:
    fields = dict(LONG, tip=tip, region=messages.region_words(["upper_trapezius", "upper_back"], language),
                  date=messages.short_date(datetime(2026, 9, 30, 18, tzinfo=timezone.utc), ZoneInfo("America/New_York"),
                                           language))
    return fields


def tips_for(key: str, language: str) -> list[str]:
    if "{tip}" not in TEXTS[language].get(key, ""):
        return ["water"]
    return [t for t in TIPS[language] if key == "answer.expected" or t not in MEDICATION_TIPS]


CASES = [(lang, key, tip) for lang in TEXTS for key in TEXTS[lang] for tip in tips_for(key, lang)]


@pytest.mark.parametrize("language, key, tip", CASES)
def test_every_text_fits_one_gsm7_segment_with_long_names(language, key, tip):
    text = render(key, language, **fields_for(key, language, tip))
    assert fits_one_segment(text), (len(text), text)
    assert set(text) <= GSM7
    if "{name}" in TEXTS[language][key]:
        assert "Maximiliano" in text  # long names are not cut
    if "{clinic}" in TEXTS[language][key]:
        assert "Northwestern Spine P" in text


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_english_text_has_a_spanish_one(language):
    patient_facing = {k for k in TEXTS["en"] if not k.startswith(("alert", "digest", "ack"))}
    assert patient_facing <= set(TEXTS["es"])


def test_spanish_accents_outside_gsm7_become_plain_letters():
    assert messages.to_gsm7("¿Cuánto dolor? Sí, más aquí; moretón, después") == "¿Cuanto dolor? Si, mas aqui; moreton, después"


def test_curly_quotes_dashes_and_emoji_are_folded_away():
    assert messages.to_gsm7("“It’s sore” – a lot… 😣") == "\"It's sore\" - a lot... "


def test_the_patients_quoted_words_are_cut_to_fit_with_an_ellipsis():
    text = render("alert", "en", level="URGENT", patient="Ana G.", hours=26, rule="U3", code="ABCDE",
                  words="x" * 400)
    assert len(text) == 160 and '..." Reply ACK ABCDE' in text


def test_an_extension_character_costs_two():
    assert messages.gsm7_length("[x]") == 5
    assert not fits_one_segment("€" * 81)


def test_a_digest_lists_whole_entries_then_how_many_more():
    entries = [f"Patient{i} X. R{i % 9 + 1} (CODE{i})" for i in range(20)]
    text = messages.render_list("digest", "en", field="items", entries=entries, count=20)
    assert fits_one_segment(text)
    assert "Patient0 X. R1 (CODE0)" in text and "more. See dashboard." in text


def test_anticoagulant_patients_are_never_told_to_take_aspirin_or_ibuprofen():
    tips = {messages.choose_tip([], ["anticoagulant"], turn) for turn in range(8)}
    assert "pain_relief" not in tips and "acetaminophen" in tips
    for language in TIPS:
        assert "aspirin" not in TIPS[language]["pain_relief"].lower()


def test_a_bruise_gets_the_ice_tip():
    assert messages.choose_tip(["soreness", "bruising"], [], 0) == "ice"


def test_answers_without_room_for_a_medicine_warning_get_no_medicine_tip():
    assert {messages.choose_tip([], ["anticoagulant"], t, medication=False) for t in range(8)} & MEDICATION_TIPS == set()


# Names GSM-7 has no letters for (PROTOCOL 3: every text one segment, so no UCS-2): spelt in Latin
# letters rather than dropped, and a greeting without a name when nothing of it is left.

@pytest.mark.parametrize("language, greeting", [("en", "Hi"), ("es", "Hola")])
@pytest.mark.parametrize("full_name, spelt", [
    ("Łukasz Nowak", "Lukasz"),
    ("Дмитрий Иванов", "Dmitriy"),
    ("Γιώργος Παπαδόπουλος", "Giorgos"),  # not "Γiorgos": GSM-7's few Greek capitals are not mixed in
    ("ΣΟΦΙΑ Κ.", "SOFIA"),
    ("Nguyễn Văn An", "Nguyen"),
    ("Zoë Hart", "Zoe"),
])
def test_a_name_gsm7_lacks_letters_for_is_spelt_in_latin_letters(language, greeting, full_name, spelt):
    text = render("checkin.C1", language, clinic="Harbor PT", name=messages.first_name(full_name))
    assert text.startswith(f"Harbor PT: {greeting} {spelt}, ")
    assert fits_one_segment(text)


def test_letters_gsm7_has_are_kept_as_written():
    assert messages.to_gsm7("José Müller Ødegaard Ñúñez") == "José Müller Ødegaard Ñuñez"


def test_a_provider_alert_spells_a_cyrillic_patient_in_latin_letters():
    text = render("alert", "en", level="URGENT", patient="Дмитрий И.", hours=26, rule="U3", code="ABCDE",
                  words="очень больно")
    assert "Dmitriy I., 26h" in text and '"ochen\' bol\'no"' in text


NAMELESS = {  # one example of each way a text greets, in both languages, with no name left to greet
    ("en", "checkin.C1"): "Harbor PT: Hi, how sore are you now, 0 to 10? (0 none, 10 worst)",
    ("es", "checkin.C1"): "Harbor PT: Hola, ¿cuanto dolor tiene ahora, de 0 a 10? (0 nada, 10 el peor)",
    ("en", "answer.routine"): "Thanks. Your PT will contact you within 1 business day; write back if it gets "
                              "worse. Reply CALL for a call today, or WAIT if it can wait.",
    ("es", "answer.unclear"): "Gracias. ¿Cuanto dolor tiene ahora, de 0 (nada) a 10 (el peor)? "
                              "Si le falta el aire o duele el pecho: 911.",
    ("en", "answer.urgent"): "The clinic will call you today. If it gets worse or breathing gets hard or painful, "
                             "call 911. Reply CALL for a call today, or WAIT if it can wait.",
    ("es", "answer.urgent"): "La clinica le llamara hoy. Si empeora o le cuesta o duele respirar, llame al 911. "
                             "Responda CALL para una llamada hoy, o WAIT si puede esperar.",
}


@pytest.mark.parametrize("language, key", sorted(NAMELESS))
@pytest.mark.parametrize("name", ["", "🙂", "  "])
def test_a_text_greets_without_a_name_when_nothing_of_it_is_left(language, key, name):
    assert render(key, language, clinic="Harbor PT", name=name) == NAMELESS[language, key]


GREETING = [(lang, key) for lang in TEXTS for key in TEXTS[lang] if "{name}" in TEXTS[lang][key]]


@pytest.mark.parametrize("language, key", GREETING)
def test_every_text_that_greets_reads_well_without_a_name(language, key):
    fields = fields_for(key, language, "water")
    text = render(key, language, **dict(fields, name=""))
    assert fits_one_segment(text) and set(text) <= GSM7
    assert " ," not in text and " ." not in text and "  " not in text
    assert text[0].isupper() or text[0].isdigit() or text.startswith(fields["clinic"])
    with_name = render(key, language, **dict(fields, name="Ana"))
    assert len(text) < len(with_name)
