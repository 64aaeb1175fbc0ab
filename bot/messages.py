"""Every text the bot sends, in English and Spanish, each guaranteed to fit one SMS segment.

One segment is 160 GSM-7 characters. A character outside GSM-7 (a curly quote, an emoji, "a"
with an acute accent) would switch the whole text to UCS-2 and a 70-character segment, so
`render` folds text to GSM-7 and then shortens the variable parts (a long clinic or patient name,
the patient's quoted words) until it fits. Templates are written with proper Spanish accents;
folding turns the ones GSM-7 lacks into plain letters, as carriers' "smart encoding" would, and
spells letters of other scripts in Latin ones ("Дмитрий" is "Dmitriy", "Łukasz" is "Lukasz").
A text whose patient name leaves nothing to greet with greets without one ("Hi, how sore...").
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from anyascii import anyascii

SEGMENT = 160

_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = "^{}\\[~]|€"  # each costs two characters (an escape and the character)
GSM7 = frozenset(_GSM_BASIC) | frozenset(_GSM_EXTENDED)

_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "«": '"', "»": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u00a0": " ", "\t": " ",
    "ç": "c", "°": " deg",
}


# GSM-7's few Greek capitals: kept in a word written in them alone ("ΔΣ"), spelt in Latin letters
# with the rest of a Greek word GSM-7 cannot write whole ("Γιώργος" is "Giorgos", not "Γiorgos").
_GSM_GREEK = frozenset("ΔΦΓΛΩΠΨΣΘΞ")
_WORDS = re.compile(r"\S+|\s+")


def to_gsm7(text: str) -> str:
    """Fold text into the GSM-7 alphabet: keep what it has, strip accents it lacks, spell other
    scripts in Latin letters (anyascii), drop emoji and pictographs."""
    if GSM7.issuperset(text):
        return text  # most texts: no need to look at each character
    return "".join(_fold_word(word) for word in _WORDS.findall(text))


def _fold_word(word: str) -> str:
    if GSM7.issuperset(word):
        return word
    if not _GSM_GREEK.isdisjoint(word):
        word = "".join(anyascii(ch) if ch in _GSM_GREEK else ch for ch in word)
    return "".join(_fold_char(ch) for ch in word)


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch in _REPLACEMENTS:
        return _REPLACEMENTS[ch]
    if ch in GSM7:
        return ch
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if base and GSM7.issuperset(base):
        return base  # an accent GSM-7 lacks: "á" is "a", as carriers' smart encoding does
    if unicodedata.category(ch) == "So":
        return ""  # emoji and pictographs: anyascii would spell them ":smile:"
    return "".join(c for c in anyascii(ch) if c in GSM7)


def gsm7_length(text: str) -> int:
    """Characters a GSM-7 text costs; None-GSM text has no GSM-7 length (ValueError)."""
    if not GSM7.issuperset(text):
        raise ValueError("not GSM-7")
    return len(text) + sum(text.count(ch) for ch in _GSM_EXTENDED)


def fits_one_segment(text: str) -> bool:
    try:
        return gsm7_length(text) <= SEGMENT
    except ValueError:
        return False


class MessageTooLong(ValueError):
    """A template cannot fit one segment even with its variable parts shortened: a template bug."""


# The parts of a text that may be shortened to make it fit, and how short they may get.
_SHRINKABLE = {"name": 3, "clinic": 8, "words": 12, "patient": 4, "items": 20}

TIPS = {
    "en": {
        "water": "Drink extra water for the next day.",
        "heat": "A warm bath or a heat pad can ease the soreness.",
        "ice": "Ice on a fresh bruise helps, 10 minutes at a time.",
        "movement": "Gentle movement and stretching help; stop if it hurts.",
        "pain_relief": "Over-the-counter pain relief can help if you need it.",
        "acetaminophen": "For pain, acetaminophen (not aspirin/ibuprofen); ask your prescriber.",
    },
    "es": {
        "water": "Beba más agua durante el próximo día.",
        "heat": "Un baño tibio o calor local alivian el dolor.",
        "ice": "Ponga hielo en un moretón reciente, 10 min cada vez.",
        "movement": "Muévase y estire suavemente; pare si duele.",
        "pain_relief": "Un analgésico sin receta puede ayudarle.",
        "acetaminophen": "Para el dolor, acetaminofén (no aspirina/ibuprofeno); pregunte a su médico.",
    },
}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        # Check-ins (PROTOCOL 3).
        "checkin.C0": "{clinic}: Hi {name}, we'll text a few times after your dry needling; reply anytime. "
                      "Breathing trouble or chest pain? Call 911. STOP to opt out",
        "checkin.C1": "{clinic}: Hi {name}, how sore are you now, 0 to 10? (0 none, 10 worst)",
        "checkin.C1.lung": "{clinic}: Hi {name}, how sore are you now, 0 to 10? Any trouble breathing "
                           "or chest pain? If so, call 911 now.",
        "checkin.C2": "{clinic}: Hi {name}, a day after your session: how sore are you, 0 to 10? "
                      "Better, same or worse?",
        "checkin.C3": "{clinic}: Hi {name}, two days after your session: how sore are you, 0 to 10? "
                      "Better, same or worse than yesterday?",
        "checkin.C4": "{clinic}: Hi {name}, three days after your session: how sore are you now, 0 to 10?",
        "checkin.C5": "{clinic}: Hi {name}, a week after your session: any redness, swelling or new "
                      "symptoms where you were needled?",
        "checkin.extra": "{clinic}: Hi {name}, checking on you again: how sore are you now, 0 to 10? "
                         "Anything new?",
        "reminder": "{clinic}: Hi {name}, we haven't heard back. How sore are you, 0 to 10? A number is "
                    "enough. Trouble breathing? Call 911.",
        # Answers to a reply (PROTOCOL 5).
        "answer.expected": "Thanks {name}, that's expected and should ease in a day or two. Tip: {tip}",
        "answer.monitor": "Thanks {name}, we'll check again in a few hours. {tip} "
                          "Breathing trouble or chest pain: call 911.",
        "answer.routine": "Thanks {name}. Your PT will contact you within 1 business day; write back if it "
                          "gets worse. Reply CALL for a call today, or WAIT if it can wait.",
        "answer.urgent": "{name}, the clinic will call you today. If it gets worse or breathing gets hard "
                         "or painful, call 911. Reply CALL for a call today, or WAIT if it can wait.",
        "answer.emergency": "{name}, call 911 now. Don't drive yourself. Tell them you had dry needling "
                            "of the {region} on {date}. We are alerting your PT.",
        "answer.unclear": "Thanks {name}. How sore are you now, from 0 (none) to 10 (worst)? "
                          "Trouble breathing or chest pain: call 911.",
        "answer.unknown": "Sorry, we don't recognize this number. / Lo sentimos, no reconocemos este "
                          "número. Emergency / Emergencia: 911",
        "answer.help": "{clinic}: dry needling follow-up texts. Questions: call {clinic_phone}. "
                       "Emergency: 911. Reply STOP to opt out.",
        "answer.stop_question": "Do you want to stop all texts from {clinic}? Reply STOP to stop. If you "
                                "meant something else, tell us.",
        "answer.opted_out": "You won't get more texts from {clinic}. Reply START to get them again. "
                            "Emergency: call 911.",
        "answer.opted_in": "Welcome back. {clinic} will text you again about your recovery. "
                           "Reply STOP to opt out.",
        "answer.call": "Thanks, we've asked the clinic to call you today. If it gets worse, call 911.",
        "answer.wait": "Thanks, noted: the clinic will be in touch within 1 business day. "
                       "If it gets worse, call 911.",
        # To providers: least personal data that works.
        "alert": "Aftercare {level}: {patient}, {hours}h post-DN, {rule}: \"{words}\" Reply ACK {code}",
        "alert.backup": "Aftercare {level}, no ACK in {minutes}m: {patient}, {hours}h post-DN, {rule}: "
                        "\"{words}\" Reply ACK {code}",
        "alert.not_responding": "Aftercare routine: {patient} has not replied to {count} check-ins. "
                                "Code {code}",
        "digest": "Aftercare routine, {count} to call within 1 business day: {items}. See dashboard.",
        "ack.done": "Acknowledged {code} ({patient}, {level}). Re-alerts stopped.",
        "ack.none": "Aftercare: no open alert to acknowledge.",
        "ack.unknown": "Aftercare: no alert {code}. Your open alerts: {codes}",
        "ack.unknown_none": "Aftercare: no alert {code}. You have no open alerts.",
        "ack.already": "Aftercare: {code} is already acknowledged.",
        "ack.which": "Aftercare: {count} open alerts came together. Reply ACK and one code: {codes}",
        "ack.help": "Aftercare: reply ACK <code> to acknowledge an alert, or ACK for your latest one.",
    },
    "es": {
        "checkin.C0": "{clinic}: Hola {name}, le escribiremos tras su punción seca; responda cuando "
                      "quiera. ¿Falta de aire o dolor de pecho? 911. STOP para salir",
        "checkin.C1": "{clinic}: Hola {name}, ¿cuánto dolor tiene ahora, de 0 a 10? (0 nada, 10 el peor)",
        "checkin.C1.lung": "{clinic}: Hola {name}, ¿cuánto dolor tiene ahora, de 0 a 10? ¿Le falta el aire "
                           "o le duele el pecho? Si es así, llame al 911.",
        "checkin.C2": "{clinic}: Hola {name}, un día después de su sesión: ¿cuánto dolor tiene, de 0 a 10? "
                      "¿Mejor, igual o peor?",
        "checkin.C3": "{clinic}: Hola {name}, dos días después de su sesión: ¿cuánto dolor tiene, de 0 a "
                      "10? ¿Mejor, igual o peor que ayer?",
        "checkin.C4": "{clinic}: Hola {name}, tres días después de su sesión: ¿cuánto dolor tiene ahora, "
                      "de 0 a 10?",
        "checkin.C5": "{clinic}: Hola {name}, una semana después de su sesión: ¿enrojecimiento, hinchazón "
                      "o algo nuevo donde le pusieron las agujas?",
        "checkin.extra": "{clinic}: Hola {name}, le escribimos otra vez: ¿cuánto dolor tiene ahora, de 0 a "
                         "10? ¿Algo nuevo?",
        "reminder": "{clinic}: Hola {name}, no hemos sabido de usted. ¿Cuánto dolor tiene, de 0 a 10? "
                    "Basta un número. ¿Le falta el aire? Llame al 911.",
        "answer.expected": "Gracias {name}, es lo esperado y mejorará en uno o dos días. Consejo: {tip}",
        "answer.monitor": "Gracias {name}, le escribiremos en unas horas. {tip} "
                          "¿Falta de aire o dolor de pecho? Llame al 911.",
        "answer.routine": "Gracias {name}. Su fisioterapeuta le contactará en 1 día hábil; escriba si "
                          "empeora. Responda CALL si quiere una llamada hoy, o WAIT si puede esperar.",
        "answer.urgent": "{name}, la clínica le llamará hoy. Si empeora o le cuesta o duele respirar, "
                         "llame al 911. Responda CALL para una llamada hoy, o WAIT si puede esperar.",
        "answer.emergency": "{name}, llame al 911 ahora. No maneje usted. Diga que tuvo punción seca en "
                            "{region} el {date}. Estamos avisando a su fisioterapeuta.",
        "answer.unclear": "Gracias {name}. ¿Cuánto dolor tiene ahora, de 0 (nada) a 10 (el peor)? "
                          "Si le falta el aire o duele el pecho: 911.",
        "answer.unknown": "Sorry, we don't recognize this number. / Lo sentimos, no reconocemos este "
                          "número. Emergency / Emergencia: 911",
        "answer.help": "{clinic}: mensajes de seguimiento tras la punción seca. Preguntas: llame al "
                       "{clinic_phone}. Emergencia: 911. STOP para salir.",
        "answer.stop_question": "¿Quiere dejar de recibir mensajes de {clinic}? Responda STOP para salir. "
                                "Si quiso decir otra cosa, díganos.",
        "answer.opted_out": "No recibirá más mensajes de {clinic}. Responda START para volver a "
                            "recibirlos. Emergencia: llame al 911.",
        "answer.opted_in": "Bienvenido de nuevo. {clinic} le escribirá otra vez sobre su recuperación. "
                           "STOP para salir.",
        "answer.call": "Gracias, pedimos a la clínica que le llame hoy. Si empeora, llame al 911.",
        "answer.wait": "Gracias, anotado: la clínica le contactará en 1 día hábil. Si empeora, "
                       "llame al 911.",
    },
}

REGION_NAMES = {
    "en": {
        "neck": "neck", "upper_trapezius": "upper trapezius", "shoulder": "shoulder",
        "upper_back": "upper back", "thoracic": "mid back", "chest": "chest", "scalenes": "scalenes",
        "lower_back": "lower back", "gluteal": "buttock", "hip": "hip", "thigh": "thigh", "knee": "knee",
        "calf": "calf", "foot": "foot", "arm": "arm", "forearm": "forearm", "hand": "hand", "jaw": "jaw",
        "head": "head",
    },
    "es": {
        "neck": "cuello", "upper_trapezius": "trapecio", "shoulder": "hombro",
        "upper_back": "espalda alta", "thoracic": "espalda media", "chest": "pecho",
        "scalenes": "escalenos", "lower_back": "espalda baja", "gluteal": "glúteo", "hip": "cadera",
        "thigh": "muslo", "knee": "rodilla", "calf": "pantorrilla", "foot": "pie", "arm": "brazo",
        "forearm": "antebrazo", "hand": "mano", "jaw": "mandíbula", "head": "cabeza",
    },
}

_MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "es": ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"],
}
_AND = {"en": " and ", "es": " y "}
_OTHERS = {"en": "{0} and more", "es": "{0} y otras zonas"}
MEDICATION_TIPS = frozenset({"pain_relief", "acetaminophen"})


def language_of(language: str | None) -> str:
    return language if language in TEXTS else "en"


def region_words(regions: Iterable[str], language: str) -> str:
    """The needled regions as a patient would say them: "neck and upper back" (two at most)."""
    lang = language_of(language)
    names = [REGION_NAMES[lang].get(r, r.replace("_", " ")) for r in regions]
    if not names:
        return "treated area" if lang == "en" else "zona tratada"
    if len(names) > 2:
        return _OTHERS[lang].format(names[0])
    return _AND[lang].join(names)


def short_date(moment: datetime, tz: ZoneInfo, language: str) -> str:
    local = moment.astimezone(tz)
    month = _MONTHS[language_of(language)][local.month - 1]
    return f"{month} {local.day}" if language_of(language) == "en" else f"{local.day} {month}"


def first_name(name: str) -> str:
    """The word a text greets the patient with: the first one with a letter in it ("" if none)."""
    return next((word for word in name.split() if any(ch.isalpha() for ch in word)), "")


def choose_tip(symptoms: Iterable[str], precautions: Iterable[str], turn: int = 0, *,
               medication: bool = True) -> str:
    """One self-care tip (PROTOCOL 5), matched to what the patient reported.

    Anticoagulant patients are never told to take aspirin or ibuprofen: the generic pain-relief
    tip becomes acetaminophen and a word with their prescriber. `medication=False` keeps to the
    tips that need no medicine, for answers with no room to say it safely.
    """
    if "bruising" in set(symptoms):
        return "ice"
    rotation = ["heat", "water", "movement"]
    if medication:
        rotation.append("acetaminophen" if "anticoagulant" in set(precautions) else "pain_relief")
    return rotation[turn % len(rotation)]


def _shorten(value: str, by: int, floor: int, ellipsis: bool) -> str:
    target = max(floor, len(value) - by)
    if target >= len(value):
        return value
    if ellipsis and target > 3:
        cut = value[: target - 3].rstrip()
        return cut + "..."
    cut = value[:target]
    if " " in cut and len(cut.rsplit(" ", 1)[0]) >= floor:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.-")


@functools.lru_cache(maxsize=None)
def _folded(template: str) -> tuple[str, frozenset[str]]:
    """A template in GSM-7 and the fields it uses (templates are few and fixed: worked out once)."""
    template = to_gsm7(template)
    return template, frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


@functools.lru_cache(maxsize=None)
def _nameless(template: str) -> tuple[str, frozenset[str]]:
    """A template greeting without the name: "Hi {name}, how" -> "Hi, how"; "{name}, call" -> "Call".

    Templates name the patient in only these two ways; a new way fails loudly here (and in
    tests/test_messages.py) rather than sending "Hi , how sore...".
    """
    text = re.sub(r" \{name\}(?=[,.])", "", template)
    text = re.sub(r"^\{name\}, (\S)", lambda m: m.group(1).upper(), text)
    if "{name}" in text:
        raise ValueError(f"no way to greet without a name in {template!r}")
    return _folded(text)


def render(key: str, language: str = "en", **fields: object) -> str:
    """The text for `key` in `language` (English where a text has no translation), one segment long."""
    lang = language_of(language)
    template = TEXTS[lang].get(key) or TEXTS["en"][key]
    if "tip" in fields:
        fields["tip"] = TIPS[lang][str(fields["tip"])]
    template, used = _folded(template)
    values = {k: to_gsm7(" ".join(str(v).split())) for k, v in fields.items() if k in used}
    if "name" in used and not any(ch.isalpha() for ch in values.get("name", "")):
        template, used = _nameless(template)  # nothing of the name is left to greet with
        values.pop("name", None)
    for _ in range(len(_SHRINKABLE) * 4):
        text = template.format(**values)
        over = gsm7_length(text) - SEGMENT
        if over <= 0:
            return text
        candidates = [k for k in values if k in _SHRINKABLE and len(values[k]) > _SHRINKABLE[k]]
        if not candidates:
            break
        longest = max(candidates, key=lambda k: len(values[k]) - _SHRINKABLE[k])
        values[longest] = _shorten(values[longest], over, _SHRINKABLE[longest], ellipsis=longest == "words")
    raise MessageTooLong(f"{lang}:{key} does not fit one SMS segment")


def render_list(key: str, language: str = "en", *, field: str, entries: list[str], **fields: object) -> str:
    """Render a text listing `entries` in `field`, as many whole entries as fit, then "+N more"."""
    for shown in range(len(entries), 0, -1):
        rest = len(entries) - shown
        joined = "; ".join(entries[:shown]) + (f"; +{rest} more" if rest else "")
        text = render(key, language, **{field: joined}, **fields)
        if to_gsm7(joined) in text:
            return text
    return render(key, language, **{field: f"+{len(entries)} more"}, **fields)
