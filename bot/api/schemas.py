"""The API's request and response bodies, as marshmallow schemas.

These schemas both validate requests (through flask-smorest and webargs) and generate the OpenAPI
document, so the document cannot drift from what the API accepts. Field rules are not written
here: each field calls `bot.validation`, the one place that says what a valid phone number, name,
region or session time is, for the CLI, the dashboard and this API alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import current_app

from .. import validation
from ..protocol import PROTOCOL


class Checked(ma.fields.Field):
    """A field cleaned by a `bot.validation` function; its message becomes the field's error."""

    def __init__(self, clean: Callable[..., Any], *, json_schema: dict[str, Any], **kwargs: Any) -> None:
        metadata = {**json_schema, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)
        self.clean = clean

    def options(self) -> dict[str, Any]:
        return {}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return self.clean(value, **self.options())
        except validation.ValidationError as exc:
            raise ma.ValidationError(exc.message) from None


class Phone(Checked):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validation.phone, json_schema={
            "type": "string", "maxLength": 32, "example": "+12125550143",
            "description": "A mobile number; E.164 (+1...) or, without a country code, as written in the "
                           "clinic's country (DEFAULT_PHONE_REGION). Stored and returned in E.164."}, **kwargs)

    def options(self) -> dict[str, Any]:
        return {"region": current_app.config["DEFAULT_PHONE_REGION"]}


def _name(**kwargs: Any) -> Checked:
    return Checked(validation.person_name, json_schema={
        "type": "string", "minLength": 1, "maxLength": validation.NAME_MAX, "example": "Maria Lopez",
        "description": "First name first: the first word greets the patient in texts."}, **kwargs)


def _zone(**kwargs: Any) -> Checked:
    return Checked(validation.time_zone, json_schema={
        "type": "string", "example": "America/New_York", "description": "An IANA time zone name."}, **kwargs)


def _language(**kwargs: Any) -> Checked:
    return Checked(validation.language, json_schema={"type": "string", "enum": list(PROTOCOL.languages)}, **kwargs)


def _regions(**kwargs: Any) -> Checked:
    return Checked(validation.regions, json_schema={
        "type": "array", "minItems": 1, "items": {"type": "string", "enum": sorted(PROTOCOL.regions)},
        "description": "The needled regions (they decide the lung-risk check-ins)."}, **kwargs)


def _precautions(**kwargs: Any) -> Checked:
    return Checked(validation.precautions, json_schema={
        "type": "array", "items": {"type": "string", "enum": sorted(PROTOCOL.precautions)}}, **kwargs)


class SessionTime(ma.fields.Field):
    """When the session ended, as sent: the view reads it with `validation.session_end`, which needs
    the patient's zone (a time without an offset is on their clock) and the request's `now`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={
            "type": "string", "format": "date-time", "example": "2026-11-21T15:00:00-05:00",
            "description": "When the session ended: ISO 8601, not in the future, at most the protocol's length "
                           "ago. Without a UTC offset it is read on the patient's clock."}, **kwargs)


MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database: a larger one names no row


def _id(**kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# -- requests --------------------------------------------------------------------------------------

class EnrolmentIn(Strict):
    phone = Phone(required=True)
    ended_at = SessionTime(required=True)
    regions = _regions(required=True)
    name = _name(allow_none=True, metadata={"description": "Required for a new patient. For a new session "
                                                           "(`new_session_for`), leave it out to keep the name on "
                                                           "file, or send it with `replace_name: true` to change it."})
    precautions = _precautions(allow_none=True, metadata={"description": "For a new patient (default none). For a new "
                                                                         "session, left out they are kept; other "
                                                                         "ones need `replace_precautions: true`."})
    language = _language(allow_none=True, metadata={"description": "Language of the texts; a new patient's default "
                                                                   "is en, a new session keeps the one on file."})
    timezone = _zone(allow_none=True, metadata={"description": "The patient's zone, when not the clinic's."})
    provider_id = _id(metadata={"description": "The treating provider (alerts and digests)."})
    new_session_for = _id(allow_none=True, metadata={
        "description": "The number is on file for this patient: record a new session for them. Without it, "
                       "a number on file is refused (409 `patient-on-file`, naming the patient)."})
    patient_id = _id(allow_none=True, metadata={"deprecated": True,
                                                "description": "The former name of `new_session_for`."})
    replace_name = ma.fields.Boolean(load_default=False)
    replace_precautions = ma.fields.Boolean(load_default=False)


class CorrectTimeIn(Strict):
    ended_at = SessionTime(required=True)


class ActorIn(Strict):
    provider_id = _id(allow_none=True, metadata={
        "description": "The provider at your clinic who did it, if the practice system knows."})


class FindingQuery(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    status = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(("open", "acknowledged", "resolved"))),
                            metadata={"description": "Only findings in these states (repeat the parameter)."})
    level = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(("routine", "urgent", "emergency"))),
                           metadata={"description": "Only findings at these levels (repeat the parameter)."})
    opened_after = ma.fields.AwareDateTime(format="iso", metadata={"description": "Opened at or after (ISO 8601 "
                                                                                  "with offset)."})
    opened_before = ma.fields.AwareDateTime(format="iso", metadata={"description": "Opened before."})
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))
    cursor = ma.fields.String(validate=ma.validate.Length(min=1, max=64),
                              metadata={"description": "`next_cursor` from the previous page."})


class PatientQuery(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    phone = Phone(required=True)


# -- responses -------------------------------------------------------------------------------------

def _dt(**kwargs: Any) -> ma.fields.DateTime:
    return ma.fields.DateTime(format="iso", **kwargs)


class CheckInOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    protocol_id = ma.fields.String(required=True, metadata={"description": "C0 (welcome) to C5, or extra"})
    status = ma.fields.String(required=True, metadata={
        "description": "planned, sent, replied, missed, skipped, cancelled or failed"})
    due_at = _dt(required=True, metadata={"description": "When it is (or was) due, UTC"})
    local_due_at = _dt(required=True, metadata={"description": "The same moment on the patient's clock"})
    time_zone = ma.fields.String(required=True, metadata={"example": "America/New_York"})
    status_reason = ma.fields.String(allow_none=True)


class Links(ma.Schema):
    self = ma.fields.String(required=True)
    fhir = ma.fields.String()
    csv = ma.fields.String()
    patient = ma.fields.String()


class EpisodeOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    patient_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"description": "open, closed or superseded"})
    session_ended_at = _dt(required=True)
    local_session_ended_at = _dt(required=True)
    time_zone = ma.fields.String(required=True)
    regions = ma.fields.List(ma.fields.String(), required=True)
    provider_id = ma.fields.Integer(allow_none=True)
    closed_at = _dt(allow_none=True)
    created_at = _dt(required=True)
    checkins = ma.fields.List(ma.fields.Nested(CheckInOut), required=True)
    links = ma.fields.Nested(Links, required=True)


class PatientOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    phone = ma.fields.String(required=True, metadata={"description": "E.164"})
    language = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True, metadata={"description": "The patient's, or the clinic's"})
    precautions = ma.fields.List(ma.fields.String(), required=True)
    opted_out = ma.fields.Boolean(required=True)
    opted_out_at = _dt(allow_none=True)
    phone_problem_code = ma.fields.Integer(allow_none=True, metadata={
        "description": "The carrier's error code when the number cannot take texts"})
    created_at = _dt(required=True)
    links = ma.fields.Nested(Links, required=True)


class PatientWithEpisodesOut(PatientOut):
    episodes = ma.fields.List(ma.fields.Nested(EpisodeOut), required=True)


class PatientListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PatientOut), required=True)


class EnrolmentOut(ma.Schema):
    patient = ma.fields.Nested(PatientOut, required=True)
    episode = ma.fields.Nested(EpisodeOut, required=True)
    patient_created = ma.fields.Boolean(required=True)


class FindingOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, metadata={"description": "What providers text back: ACK <code>"})
    level = ma.fields.String(required=True, metadata={"description": "routine, urgent or emergency"})
    rule = ma.fields.String(required=True, metadata={"description": "The protocol rule that set the level"})
    reasons = ma.fields.List(ma.fields.String(), required=True)
    status = ma.fields.String(required=True, metadata={"description": "open, acknowledged or resolved"})
    patient_id = ma.fields.Integer(required=True)
    episode_id = ma.fields.Integer(allow_none=True)
    opened_at = _dt(required=True)
    backup_alerted_at = _dt(allow_none=True)
    acknowledged_at = _dt(allow_none=True)
    acknowledged_by_provider_id = ma.fields.Integer(allow_none=True)
    resolved_at = _dt(allow_none=True)
    resolved_by_provider_id = ma.fields.Integer(allow_none=True)
    patient_choice = ma.fields.String(allow_none=True, metadata={"description": "call or wait, if the patient said"})
    links = ma.fields.Nested(Links, required=True)


class FindingPageOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(FindingOut), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True,
                                   metadata={"description": "Pass as `cursor` for the next page; null at the end"})


class FhirBundleOut(ma.Schema):
    """A FHIR R4 (4.0.1) Bundle of type collection; see the FHIR specification for its resources."""

    class Meta:
        unknown = ma.INCLUDE

    resourceType = ma.fields.String(required=True, metadata={"enum": ["Bundle"]})
    type = ma.fields.String(required=True, metadata={"enum": ["collection"]})
    entry = ma.fields.List(ma.fields.Dict(), required=True)

