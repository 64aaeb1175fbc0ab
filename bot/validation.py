"""What valid input is, said once: every door (CLI, dashboard, API) cleans what people type here.

Each function takes raw input (a form's string, a JSON value, a command-line option) and returns
the clean value to store, or raises `ValidationError` naming the field at fault and saying in
plain words what is wrong. A field name is stable (`name`, `phone`, `ended_at`, ...): a form
shows the message beside the field of that name, the API's 422 lists it, the CLI prints
`Error: <field>: <message>`. Every function takes `field=` for a door whose field is called
otherwise. Messages never repeat a phone number, name or email that was typed: that is patient
data, and error messages end up in logs.

One field:

    phone = validation.phone(request.form["phone"], region="US")          # "+12125550143"

Several, reporting every field at fault at once (forms, the API's 422):

    check = validation.Checker()
    name = check(validation.person_name, data.get("name"))
    email = check(validation.email, data.get("email"))
    check.done()                     # raises one ValidationError whose .errors lists them all

A whole enrolment (the form at /patients/new, the API, `flask enroll`):

    try:
        clean = validation.enrolment(data, clinic_zone=clinic.timezone, now=now, phone_region="US")
    except validation.ValidationError as exc:
        exc.errors                   # {"phone": "Write the number in digits: ...", "ended_at": "..."}

Values already clean pass through unchanged, so a service may check what a door has cleaned.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, TypeVar, cast

import email_validator
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType, ValidationResult

from . import messages
from .protocol import PROTOCOL

T = TypeVar("T")

NAME_MAX = 120  # the name columns' width
SMS_NAME_MAX = 20  # GSM-7 characters; tests/test_messages.py renders every text with a name this long
PASSWORD_MIN, PASSWORD_MAX = 10, 256
QUIET_HOURS_MAX = timedelta(hours=12)  # longer, and a lung-risk C1 (+4 h) could wait too long
LAST_CHECKIN = timedelta(hours=max(spec.offset_hours for spec in PROTOCOL.checkins))


class ValidationError(ValueError):
    """Input that cannot be kept. `errors` maps each field at fault to what is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.errors: dict[str, str] = {field: message}

    @classmethod
    def of(cls, errors: Mapping[str, str]) -> ValidationError:
        """One error listing several fields (at least one)."""
        field, message = next(iter(errors.items()))
        error = cls(field, message)
        error.errors = dict(errors)
        error.args = ("; ".join(f"{f}: {m}" for f, m in errors.items()),)
        return error

    @property
    def field(self) -> str:
        return next(iter(self.errors))

    @property
    def message(self) -> str:
        return self.errors[self.field]


class Checker:
    """Runs several field checks and keeps every error, so all fields at fault are reported at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def __call__(self, check: Callable[..., T], raw: Any, /, **options: Any) -> T | None:
        """`check(raw, **options)`'s clean value, or None with its error kept for `done()`."""
        try:
            return check(raw, **options)
        except ValidationError as error:
            for field, message in error.errors.items():
                self.errors.setdefault(field, message)
            return None

    def done(self) -> None:
        if self.errors:
            raise ValidationError.of(self.errors)


# Text --------------------------------------------------------------------------------------------

_CONTROL = "Remove the control characters (line breaks, tabs or invisible characters)."
# Joiners some scripts need inside a word (Persian, the Indic scripts); every other format
# character (bidirectional overrides, zero-width spaces) can only disguise what a name says.
_JOINERS = frozenset("\u200c\u200d")
_NAME_PUNCTUATION = frozenset("'\u2019\u02bc-\u2010\u2011.")  # O'Brien, O’Brien, Jean-Luc, J. Jr.


def _text(raw: object, field: str, *, missing: str, what: str = "the name") -> str:
    """A line of text: NFC, trimmed, single spaces; refused when blank or with control characters."""
    if raw is None:
        raise ValidationError(field, missing)
    if not isinstance(raw, str):
        raise ValidationError(field, f"Enter {what} as text.")
    text = unicodedata.normalize("NFC", raw).strip()
    if not text:
        raise ValidationError(field, missing)
    for ch in text:
        category = unicodedata.category(ch)
        if (category[0] == "C" or category in ("Zl", "Zp")) and ch not in _JOINERS:
            raise ValidationError(field, _CONTROL)
    return " ".join(text.split())  # any run of spaces (no-break, em...) is one space


def _at_most(text: str, field: str, limit: int = NAME_MAX) -> str:
    if len(text) > limit:
        raise ValidationError(field, f"Use at most {limit} characters (this one has {len(text)}).")
    return text


def person_name(raw: object, *, field: str = "name") -> str:
    """A patient's or provider's name, first name first: the first word greets them in texts."""
    name = _at_most(_text(raw, field, missing="Enter a name."), field)
    if "," in name:
        raise ValidationError(field, "Write the first name first, without a comma (Maria Lopez, not Lopez, Maria).")
    for ch in name:
        if not (ch == " " or ch in _NAME_PUNCTUATION or unicodedata.category(ch)[0] in "LMN" or ch in _JOINERS):
            raise ValidationError(field, "Use letters, spaces, hyphens, apostrophes and periods only.")
    if not any(ch.isalpha() for ch in name):
        raise ValidationError(field, "A name needs at least one letter.")
    return name


def clinic_name(raw: object, *, field: str = "name") -> str:
    """A clinic's full name, as the dashboard shows it ("Harbor PT & Spine 360")."""
    name = _at_most(_text(raw, field, missing="Enter a name."), field)
    if not any(ch.isalpha() for ch in name):
        raise ValidationError(field, "A name needs at least one letter.")
    return name


def sms_name(raw: object, *, field: str = "sms_name") -> str:
    """How texts are signed ("Harbor PT"). Every text starts with it, so it is short in GSM-7."""
    name = _text(raw, field, missing="Enter the name texts are signed with.")
    sent = messages.to_gsm7(name)  # what patients will see: accents folded, other scripts spelt out
    if not any(ch.isalnum() for ch in sent):
        raise ValidationError(field, "Use letters or digits that a text message can carry.")
    cost = messages.gsm7_length(sent)
    if cost > SMS_NAME_MAX or len(name) > SMS_NAME_MAX:
        raise ValidationError(field, f"Use at most {SMS_NAME_MAX} characters, so every text fits one SMS "
                                     f"(this one takes {max(cost, len(name))}).")
    return name


# Phone numbers -----------------------------------------------------------------------------------

_PHONE_CHARACTERS = frozenset("0123456789 +()-./\u00a0")
# Types no text message reaches. Where a country's numbers do not tell a landline from a mobile
# (the US, Canada, Mexico) the type is FIXED_LINE_OR_MOBILE and the number is accepted; the
# carrier's answer (Twilio error 21614) flags it later.
_NO_TEXTS = frozenset({PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE,
                       PhoneNumberType.SHARED_COST, PhoneNumberType.UAN, PhoneNumberType.VOICEMAIL,
                       PhoneNumberType.PAGER})
_TOO_SHORT = "This number is too short: include the area code."
_TOO_LONG = "This number is too long."
_NO_COUNTRY = "No country has the calling code at the start of this number."
_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: _NO_COUNTRY,
    NumberParseException.TOO_SHORT_AFTER_IDD: _TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: _TOO_SHORT,
    NumberParseException.TOO_LONG: _TOO_LONG,
}
_POSSIBLE_ERRORS = {
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: _TOO_SHORT,
    ValidationResult.TOO_SHORT: _TOO_SHORT,
    ValidationResult.TOO_LONG: _TOO_LONG,
    ValidationResult.INVALID_COUNTRY_CODE: _NO_COUNTRY,
}


def phone(raw: object, *, region: str | None = None, mobile: bool = True, field: str = "phone") -> str:
    """A phone number in E.164 ("+12125550143"), the only form stored and compared.

    `region` reads numbers written without a country code (the clinic's DEFAULT_PHONE_REGION);
    without it the country code is required. Letters are refused, not turned into digits as
    phone keypads do ("212-555-CALL"). `mobile` (the default) also refuses numbers no text
    reaches; a clinic's own number, which patients call, passes `mobile=False`.
    """
    text = _text(raw, field, missing="Enter a phone number.", what="the phone number")
    if any(ch.isalpha() for ch in text):
        raise ValidationError(field, "Write the number in digits: letters are not read as digits.")
    if not _PHONE_CHARACTERS.issuperset(text):
        raise ValidationError(field, "This is not a phone number.")
    if region is None and not text.startswith("+"):
        raise ValidationError(field, "Include the country code (+1 for the US and Canada).")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise ValidationError(field, _PARSE_ERRORS.get(exc.error_type, "This is not a phone number.")) from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != ValidationResult.IS_POSSIBLE:
        raise ValidationError(field, _POSSIBLE_ERRORS.get(possible, "This number has the wrong number of digits."))
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(field, "No phone line has this number: check the area code and the digits.")
    if mobile and phonenumbers.number_type(number) in _NO_TEXTS:
        raise ValidationError(field, "This number cannot take text messages (a landline, toll-free or "
                                     "premium-rate number): enter a mobile number.")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def phone_display(number: str, *, region: str) -> str:
    """A stored number as people write it: "(212) 555-0143" at home, "+44 7911 123456" from abroad."""
    try:
        parsed = phonenumbers.parse(number)
    except NumberParseException:
        return number
    home = phonenumbers.region_code_for_number(parsed) == region.upper()
    return phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL if home else PhoneNumberFormat.INTERNATIONAL)


# A provider's note and a search -------------------------------------------------------------------

NOTE_MAX = 1000  # a few sentences for the chart; a longer story belongs in the practice system's note
SEARCH_MAX = NAME_MAX


def note(raw: object, *, required: bool, field: str = "note") -> str:
    """A provider's free-text note (line breaks kept), or "" when it may be left out."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise ValidationError(field, "Write a short note: what was done, for the chart.")
        return ""
    if not isinstance(raw, str):
        raise ValidationError(field, "Enter the note as text.")
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").strip()
    for ch in text:
        if ch not in "\n\t" and unicodedata.category(ch)[0] == "C" and ch not in _JOINERS:
            raise ValidationError(field, "Remove the invisible control characters from the note.")
    if len(text) > NOTE_MAX:
        raise ValidationError(field, f"Use at most {NOTE_MAX} characters (this note has {len(text)}).")
    return text


def search(raw: object, *, field: str = "q") -> str:
    """What a provider typed to find a patient (a name or part of a phone number); "" for none."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ""
    return _at_most(_text(raw, field, missing="", what="the search"), field, SEARCH_MAX)


# Email and password ------------------------------------------------------------------------------

def email(raw: object, *, field: str = "email") -> str:
    """A provider's email address (email-validator's syntax rules, no DNS), lower-cased: it is their login."""
    text = _text(raw, field, missing="Enter an email address.", what="the email address")
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValidationError(field, str(exc)) from None
    return result.normalized.lower()


def password(raw: object, *, field: str = "password") -> str:
    """A new password, kept exactly as typed (spaces included): long enough to resist guessing."""
    if raw is None or raw == "":
        raise ValidationError(field, "Enter a password.")
    if not isinstance(raw, str):
        raise ValidationError(field, "Enter the password as text.")
    if len(raw) < PASSWORD_MIN:
        raise ValidationError(field, f"Use at least {PASSWORD_MIN} characters.")
    if len(raw) > PASSWORD_MAX:
        raise ValidationError(field, f"Use at most {PASSWORD_MAX} characters.")
    if len(raw.strip()) < PASSWORD_MIN:
        raise ValidationError(field, f"Use at least {PASSWORD_MIN} characters that are not spaces.")
    return raw


# Time zone, language, the protocol's vocabularies ------------------------------------------------

@functools.cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones() if name not in ("Factory", "localtime")}


def time_zone(raw: object, *, field: str = "timezone") -> str:
    """An IANA time zone name ("America/Chicago"), spelt as the database of zones spells it."""
    text = _text(raw, field, missing="Enter a time zone, such as America/New_York.", what="the time zone")
    zone = _zones().get(text.lower())
    if zone is None:
        raise ValidationError(field, f"{text!r} is not an IANA time zone such as America/New_York.")
    return zone


def language(raw: object, *, field: str = "language") -> str:
    """The language the patient's texts are written in ("en" or "es")."""
    choices = " or ".join(PROTOCOL.languages)
    text = _text(raw, field, missing=f"Choose a language: {choices}.", what="the language").lower()
    if text not in PROTOCOL.languages:
        raise ValidationError(field, f"{text!r} is not a language the texts are written in: choose {choices}.")
    return text


def _terms(raw: object, field: str, vocabulary: frozenset[str], noun: str, what: str) -> list[str]:
    """Words from a vocabulary, each once, in the order given: a list, or one comma-separated string."""
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else list(raw) if isinstance(raw, Iterable) else [raw]
    terms: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValidationError(field, f"Name each {noun} as text.")
        term = "_".join(item.strip().lower().replace("-", " ").split())
        if not term:
            continue
        if term not in vocabulary:
            choices = ", ".join(sorted(vocabulary))
            raise ValidationError(field, f"{item.strip()!r} is not {what}: choose from {choices}.")
        if term not in terms:
            terms.append(term)
    return terms


def regions(raw: object, *, field: str = "regions") -> list[str]:
    """The needled regions (PROTOCOL 2), at least one: they decide the lung-risk check-ins."""
    chosen = _terms(raw, field, PROTOCOL.regions, "region", "a region")
    if not chosen:
        raise ValidationError(field, "Choose at least one needled region.")
    return chosen


def precautions(raw: object, *, field: str = "precautions") -> list[str]:
    """The patient's precautions (PROTOCOL 2), possibly none, sorted."""
    return sorted(_terms(raw, field, PROTOCOL.precautions, "precaution", "a precaution"))


# Times -------------------------------------------------------------------------------------------

_EXAMPLE = "2026-11-21 15:30"


def moment(raw: object, *, zone: str | tzinfo, field: str = "now", what: str = "a date and time") -> datetime:
    """A point in time from ISO 8601; one written without a UTC offset is read on `zone`'s clock.

    A wall-clock time that did not happen there (clocks going forward) or happened twice (going
    back) is refused rather than guessed.
    """
    tz = zoneinfo.ZoneInfo(zone) if isinstance(zone, str) else zone
    if isinstance(raw, datetime):
        value = raw
    else:
        text = _text(raw, field, missing=f"Enter {what}, such as {_EXAMPLE}.", what=what)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(field, f"Write a date and time such as {_EXAMPLE} "
                                         f"(or 2026-11-21T15:30-05:00).") from None
        if re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", text):
            raise ValidationError(field, f"Add the time of day, such as {date.fromisoformat(text)} 15:30.")
    if value.tzinfo is not None:
        return value
    local = value.replace(tzinfo=tz)
    wall = f"{value:%H:%M} on {value:%Y-%m-%d}"
    if local.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != value:
        raise ValidationError(field, f"{wall} did not happen in {tz} (the clocks went forward): check the time.")
    if local.utcoffset() != local.replace(fold=1).utcoffset():
        offset = local.strftime("%z")
        raise ValidationError(field, f"{wall} happened twice in {tz} (the clocks went back): add the UTC offset, "
                                     f"such as {value:%Y-%m-%dT%H:%M}{offset[:3]}:{offset[3:]}.")
    return local


def session_end(raw: object, *, zone: str | tzinfo, now: datetime, field: str = "ended_at") -> datetime:
    """When a session ended: not in the future, and not so long ago that the protocol is over.

    Without a UTC offset the time is read on `zone`'s clock: the patient's, or the clinic's.
    """
    ended = moment(raw, zone=zone, field=field, what="when the session ended")
    if ended > now:
        raise ValidationError(field, "This is in the future: enter when the session ended.")
    if now - ended > LAST_CHECKIN:
        days = LAST_CHECKIN / timedelta(days=1)
        raise ValidationError(field, f"This is more than {days:g} days ago: the protocol's last check-in "
                                     f"(day {days:g}) has passed.")
    return ended


def clock_time(raw: object, *, field: str) -> time:
    """A time of day, "HH:MM" on the 24-hour clock."""
    if isinstance(raw, time):
        return raw.replace(second=0, microsecond=0)
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw.strip()) if isinstance(raw, str) else None
    if match is None:
        raise ValidationError(field, "Write a time of day as HH:MM, such as 21:00.")
    return time(int(match[1]), int(match[2]))


def _two_times(first: object, second: object, fields: tuple[str, str]) -> tuple[time, time]:
    check = Checker()
    times = check(clock_time, first, field=fields[0]), check(clock_time, second, field=fields[1])
    check.done()
    return cast(tuple[time, time], times)


def _span(start: time, end: time) -> timedelta:
    minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return timedelta(minutes=minutes % (24 * 60))


def quiet_hours(start: object, end: object, *, fields: tuple[str, str] = ("quiet_start", "quiet_end")
                ) -> tuple[time, time]:
    """When no check-in goes out, patient-local; may span midnight (21:00 to 08:00)."""
    begins, ends = _two_times(start, end, fields)
    if begins == ends:
        raise ValidationError(fields[1], "Quiet hours must end at a different time than they start.")
    if _span(begins, ends) > QUIET_HOURS_MAX:
        raise ValidationError(fields[1], f"Quiet hours can last at most {QUIET_HOURS_MAX.seconds // 3600} hours, "
                                         f"so check-ins still have the day to go out.")
    return begins, ends


def business_hours(opens: object, close: object, *,
                   fields: tuple[str, str] = ("business_open", "business_close")) -> tuple[time, time]:
    """When the clinic answers its phone, on its own clock: opening before closing, the same day."""
    begins, ends = _two_times(opens, close, fields)
    if ends <= begins:
        raise ValidationError(fields[1], "The clinic must close after it opens, on the same day.")
    return begins, ends


def business_days(raw: object, *, field: str = "business_days") -> str:
    """The ISO weekdays the clinic is open, as stored ("12345", Monday to Friday)."""
    items = [str(d) for d in raw] if isinstance(raw, (list, tuple, set, frozenset)) else [*str(raw or "").strip()]
    if not items or any(item not in "1234567" or len(item) != 1 for item in items):
        raise ValidationError(field, "Give the days the clinic is open as ISO weekdays, 1 (Monday) to 7 "
                                     "(Sunday), such as 12345.")
    return "".join(sorted(set(items)))


# Clinic settings and providers -------------------------------------------------------------------

# How long a dashboard session may sit idle (clinics.session_idle_minutes): at least 15 minutes, so
# a provider between two patients is not signed out, at most a 12-hour shift, so a phone left
# signed in overnight is not.
SESSION_IDLE_MINUTES = (15, 12 * 60)
ROLES = ("provider", "admin")
DUTIES = ("on_call", "backup", "off")


def whole_number(raw: object, *, field: str, low: int, high: int, unit: str = "minutes") -> int:
    """A whole number between `low` and `high` inclusive (a form's "15" or a JSON 15)."""
    if isinstance(raw, bool):
        raise ValidationError(field, f"Enter a whole number of {unit}.")
    if isinstance(raw, int):
        value = raw
    else:
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            raise ValidationError(field, f"Enter a whole number of {unit}, from {low} to {high}.")
        if not text.isdigit():
            raise ValidationError(field, f"Enter a whole number of {unit}, from {low} to {high}.")
        value = int(text)
    if not low <= value <= high:
        raise ValidationError(field, f"Use {low} to {high} {unit}: outside that range is not safe.")
    return value


def escalation_timings(raw: Mapping[str, Any], *, bounds: Mapping[str, tuple[int, int]] | None = None
                       ) -> dict[str, int]:
    """The clinic's alert timings in minutes, each within the protocol's safe range
    (PROTOCOL.escalation_bounds); an emergency's backup is not paged before its first re-alert."""
    bounds = PROTOCOL.escalation_bounds if bounds is None else bounds
    check = Checker()
    values = {name: check(whole_number, raw.get(name), field=name, low=low, high=high)
              for name, (low, high) in bounds.items()}
    check.done()
    realert, backup = values.get("emergency_realert_minutes"), values.get("emergency_backup_minutes")
    if realert is not None and backup is not None and backup < realert:
        raise ValidationError("emergency_backup_minutes", "Page the backup no sooner than the first re-alert "
                                                          f"({realert} minutes), or the re-alert does nothing.")
    return cast(dict[str, int], values)


def session_idle_minutes(raw: object, *, field: str = "session_idle_minutes") -> int:
    low, high = SESSION_IDLE_MINUTES
    return whole_number(raw, field=field, low=low, high=high)


def role(raw: object, *, field: str = "role") -> str:
    text = raw.strip().lower() if isinstance(raw, str) else raw
    if text not in ROLES:
        raise ValidationError(field, "Choose provider or admin.")
    return cast(str, text)


def duty(raw: object, *, field: str = "duty") -> str:
    """Who is paged first (on_call), second (backup), or not at all (off): bot/escalation.py reads it."""
    text = raw.strip().lower().replace("-", "_").replace(" ", "_") if isinstance(raw, str) else raw
    if text not in DUTIES:
        raise ValidationError(field, "Choose on call, backup or off duty.")
    return cast(str, text)


@dataclass(frozen=True)
class ClinicSettings:
    """A clinic's settings, clean: the fields of `clinics` an admin may change."""

    name: str
    sms_name: str
    phone: str
    timezone: str
    quiet_start: time
    quiet_end: time
    business_open: time
    business_close: time
    business_days: str
    emergency_realert_minutes: int
    emergency_backup_minutes: int
    urgent_backup_minutes: int
    session_idle_minutes: int


def clinic_settings(raw: Mapping[str, Any], *, phone_region: str | None = None) -> ClinicSettings:
    """Clean every clinic setting at once (the settings page, and any other door), or refuse them
    with every field at fault named."""
    check = Checker()
    quiet = check(lambda start: quiet_hours(start, raw.get("quiet_end")), raw.get("quiet_start")) or (None, None)
    hours = check(lambda opens: business_hours(opens, raw.get("business_close")), raw.get("business_open")) \
        or (None, None)
    timings = check(escalation_timings, raw) or {}
    values = dict(
        name=check(clinic_name, raw.get("name")),
        sms_name=check(sms_name, raw.get("sms_name")),
        phone=check(phone, raw.get("phone"), region=phone_region, mobile=False),
        timezone=check(time_zone, raw.get("timezone")),
        quiet_start=quiet[0], quiet_end=quiet[1], business_open=hours[0], business_close=hours[1],
        business_days=check(business_days, raw.get("business_days")),
        session_idle_minutes=check(session_idle_minutes, raw.get("session_idle_minutes")),
        **{name: timings.get(name) for name in PROTOCOL.escalation_bounds},
    )
    check.done()
    return ClinicSettings(**values)  # type: ignore[arg-type]  # done(): none is None


# A whole enrolment -------------------------------------------------------------------------------

@dataclass(frozen=True)
class OnFile:
    """What the record holds for the patient a phone number belongs to (at one clinic)."""

    id: int
    name: str
    language: str
    precautions: list[str]
    timezone: str | None = None  # None: the clinic's


# How each door says the explicit choices a number on file needs; `{id}` is the patient's id.
# The rules are the same at every door; only the words for "say so" differ (an option, a field).
CHOICES = {"new_session_for": "choose a new session for patient {id}",
           "rename": "rename them on purpose", "change_precautions": "change them on purpose",
           "change_language": "change it on purpose", "change_timezone": "change it on purpose"}


class PatientOnFile(ValidationError):
    """The phone number is on file for a patient and no new session for them was chosen.

    `errors["phone"]` names the patient by id (never by name or number) and says how to record a
    new session; `patient_id` lets a door show that patient or answer 409 naming them.
    """

    def __init__(self, patient_id: int, errors: Mapping[str, str]) -> None:
        super().__init__("phone", errors["phone"])
        self.errors = dict(errors)
        self.args = ("; ".join(f"{f}: {m}" for f, m in errors.items()),)
        self.patient_id = patient_id


@dataclass(frozen=True)
class Enrolment:
    """An enrolment's fields, clean. `timezone` None: the patient keeps their zone (or the clinic's).

    `name`, `precautions` and `language` are what to record on the patient: for a new session
    (`new_session_for`), what is on file unless `rename` / `change_precautions` / `language` said
    otherwise on purpose.
    """

    name: str
    phone: str
    ended_at: datetime
    regions: list[str]
    precautions: list[str]
    language: str
    timezone: str | None
    new_session_for: int | None = None
    rename: str | None = None
    change_precautions: list[str] | None = None


def _given(raw: Mapping[str, Any], key: str) -> bool:
    return raw.get(key) is not None and raw.get(key) != ""


def patient_id(raw: object, *, field: str) -> int:
    """A patient's id as typed or sent (a positive whole number)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValidationError(field, "Give the patient's id (a whole number).")
    text = str(raw).strip()
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise ValidationError(field, "Give the patient's id (a whole number).")
    return int(text)


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def enrolment(raw: Mapping[str, Any], *, clinic_zone: str, now: datetime, phone_region: str | None = None,
              on_file: Callable[[str], OnFile | None] | None = None,
              choices: Mapping[str, str] = CHOICES, sent_on_purpose: bool = True) -> Enrolment:
    """Clean the fields of an enrolment after a session, or refuse them with every error at once.

    `raw` has name, phone, ended_at, regions, and optionally precautions, language (default en)
    and timezone (default: the clinic's, and `ended_at` without an offset is read on that clock).

    A number already on file is never taken over silently. `on_file(phone)` says whose it is
    (None: nobody's; leave `on_file` out when the door cannot look, and the service checks again):
    1. Without `new_session_for`, a number on file is refused (`PatientOnFile`, field `phone`).
    2. `new_session_for` must be the id of that number's patient (field `new_session_for`).
    3. For a new session, `name` and `precautions` may be left out (None keeps what is on file) or
       given as on file; different ones are refused, so a form's stale copy never overwrites the
       record. `rename` and `change_precautions` change them on purpose. `language` and `timezone`
       given are changes made on purpose (a command's option, an API field), except from a door
       that always sends them (a form's select: `sent_on_purpose=False`), where a different one
       needs `change_language` / `change_timezone` too.
    4. `rename` and `change_precautions` are refused for a new patient: there is nothing to change.
    `choices` words the explicit choices the way the door offers them (see CHOICES).
    """
    how = {**CHOICES, **choices}
    check = Checker()

    def refuse(field: str, message: str) -> None:
        check.errors.setdefault(field, message)

    zone = check(time_zone, raw["timezone"]) if _given(raw, "timezone") else None
    number = check(phone, raw.get("phone"), region=phone_region)
    session_for = check(patient_id, raw["new_session_for"], field="new_session_for") \
        if _given(raw, "new_session_for") else None
    owner = on_file(number) if on_file is not None and number is not None else None
    their_zone = owner.timezone if owner is not None and owner.id == session_for else None
    values = dict(  # a time without an offset is on the patient's clock: as given, as on file, or the clinic's
        ended_at=check(session_end, raw.get("ended_at"), zone=zone or their_zone or clinic_zone, now=now),
        regions=check(regions, raw.get("regions")),
    )
    given_name = check(person_name, raw["name"]) if _given(raw, "name") else None
    given_precautions = check(precautions, raw["precautions"]) if raw.get("precautions") is not None else None
    given_language = check(language, raw["language"]) if _given(raw, "language") else None
    rename = check(person_name, raw["rename"], field="rename") if _given(raw, "rename") else None
    change = check(precautions, raw["change_precautions"], field="change_precautions") \
        if raw.get("change_precautions") is not None else None

    asked = _given(raw, "new_session_for")  # even an id that cannot be read: no new-patient errors then
    if owner is not None and not asked:
        check.errors = {"phone": f"This number is on file for patient {owner.id}. To record a new session for "
                                 f"them, {how['new_session_for'].format(id=owner.id)} (their name, language and "
                                 f"precautions are kept).", **check.errors}
    elif session_for is not None and number is not None and on_file is not None:
        if owner is None:
            refuse("new_session_for", f"Patient {session_for} is not on file with this number: "
                                      f"check the number, or enrol a new patient.")
        elif owner.id != session_for:
            refuse("new_session_for", f"This number is on file for patient {owner.id}, "
                                      f"not patient {session_for}.")
    known = owner if owner is not None and owner.id == session_for else None

    if not asked:  # a new patient (or a number on file, refused above)
        if given_name is None and not _given(raw, "name"):
            check(person_name, raw.get("name"))  # "Enter a name."
        for field in ("rename", "change_precautions"):
            if raw.get(field) not in (None, ""):  # an empty list of precautions is a change too
                refuse(field, "Only for a new session for a patient on file: there is nothing to change.")
        name, kept_precautions, kept_language = given_name, given_precautions or [], given_language or "en"
    elif known is not None:
        if given_name is not None and not _same_name(given_name, known.name) and rename is None:
            refuse("name", f"Patient {known.id} is on file under another name: leave the name out to "
                           f"keep it, or {how['rename']}.")
        if given_precautions is not None and sorted(given_precautions) != sorted(known.precautions) \
                and change is None:
            refuse("precautions", f"Patient {known.id} has other precautions on file: leave them out "
                                  f"to keep them, or {how['change_precautions']}.")
        if not sent_on_purpose:
            if given_language is not None and given_language != known.language and not raw.get("change_language"):
                refuse("language", f"Patient {known.id}'s texts are in {known.language} on file: choose "
                                   f"{known.language} to keep it, or {how['change_language']}.")
            their = known.timezone or clinic_zone
            if zone is not None and zone != their and not raw.get("change_timezone"):
                refuse("timezone", f"Patient {known.id} is on {their} on file: enter {their} to keep it, "
                                   f"or {how['change_timezone']}.")
        name = rename or known.name
        kept_precautions = sorted(change) if change is not None else sorted(known.precautions)
        kept_language = given_language or known.language
    else:  # the service will look the number up; until then, what was given
        name, kept_language = rename or given_name, given_language or "en"
        kept_precautions = change if change is not None else given_precautions or []

    order = ["timezone", "name", "phone", "ended_at", "regions", "precautions", "language", "new_session_for",
             "rename", "change_precautions"]
    check.errors = dict(sorted(check.errors.items(), key=lambda item: order.index(item[0])
                               if item[0] in order else len(order)))
    if check.errors and owner is not None and not asked:
        raise PatientOnFile(owner.id, check.errors)
    check.done()
    return Enrolment(name=name or "", phone=number, precautions=kept_precautions,  # type: ignore[arg-type]
                     language=kept_language, timezone=zone, new_session_for=session_for, rename=rename,
                     change_precautions=change, **values)  # type: ignore[arg-type]  # done(): none is None

