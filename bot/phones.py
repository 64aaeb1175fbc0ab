"""Phone numbers: stored and compared in E.164 only, so one person is one number everywhere."""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers


def normalise(raw: str, default_region: str = "US") -> str:
    """E.164 for a number as people write it ("(555) 010-2345", "+1 555..."); ValueError if not a phone."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national(number: str) -> str:
    """How a number is written at home ("(212) 555-0100"), for texts that tell a patient whom to call."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        return number


def try_normalise(raw: str | None, default_region: str = "US") -> str | None:
    try:
        return normalise(raw or "", default_region)
    except ValueError:
        return None


def pseudonym(number: str, secret: str) -> str:
    """A keyed hash of a number: lets us count an unknown sender without storing who they are."""
    return hmac.new(secret.encode(), number.encode(), hashlib.sha256).hexdigest()[:16]
