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
