"""The API's endpoints. Thin: check the clinic owns the ids, call the same services as every other
door (`episodes`, `escalation`), and say what happened. Every POST goes through `idempotent`,
which also commits; reads of a patient's record are audited under the key that made them.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Response, current_app, g, url_for
from marshmallow import RAISE

from .. import clock, episodes, escalation, fhir, records, validation
from ..extensions import db
from ..models import (AuditEvent, CheckIn, Escalation, Patient, Provider, TreatmentSession, audit)
from . import bp, schemas
from .idempotency import HEADER, idempotent
from .problems import Problem, invalid, not_found

T = TypeVar("T")

IDEMPOTENCY_PARAMETER = {
    "in": "header", "name": HEADER, "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "A unique string (a UUID) per logical request: a retry with the same key returns the "
                   "first answer and changes nothing. Reusing it for another request is a 409.",
}
WRITE_ERRORS = ("UNAUTHORIZED", "NOT_FOUND", "CONFLICT", "UNPROCESSABLE_ENTITY", "TOO_MANY_REQUESTS", "BAD_REQUEST")
READ_ERRORS = ("UNAUTHORIZED", "NOT_FOUND", "UNPROCESSABLE_ENTITY", "TOO_MANY_REQUESTS")


def _errors(*names: str) -> Any:
    """Document the problem responses an endpoint can give."""
    def decorate(view: Any) -> Any:
        for name in names:
            status = {"BAD_REQUEST": 400, "UNAUTHORIZED": 401, "NOT_FOUND": 404, "CONFLICT": 409,
                      "UNPROCESSABLE_ENTITY": 422, "TOO_MANY_REQUESTS": 429}[name]
            view = bp.alt_response(status, response=name)(view)
        return view
    return decorate


def _actor() -> str:
    return f"apikey:{g.api_key.id}"


def _clinic_id() -> int:
    return int(g.api_key.clinic_id)


def _own(model: type[T], row_id: int, what: str) -> T:
    """A row of the key's clinic, or 404: another clinic's id looks exactly like a missing one."""
    row = db.session.get(model, row_id) if row_id <= schemas.MAX_ID else None
    if row is None:
        raise not_found(what)
    clinic_id = row.patient.clinic_id if isinstance(row, TreatmentSession) else getattr(row, "clinic_id", None)
    if clinic_id != _clinic_id():
        raise not_found(what)
    return row


def _provider(provider_id: int | None, field: str = "provider_id") -> Provider | None:
    if provider_id is None:
        return None
    provider = db.session.get(Provider, provider_id)
    if provider is None or provider.clinic_id != _clinic_id():
        raise invalid(field, "no provider with this id at your clinic")
    return provider


def _url(endpoint: str, **values: Any) -> str:
    return url_for(f"api.{endpoint}", **values)


# -- what the API says about things -----------------------------------------------------------------

def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(timezone.utc) if moment else None


def checkin_out(c: CheckIn, zone_name: str) -> dict[str, Any]:
    zone = ZoneInfo(zone_name)
    return dict(id=c.id, protocol_id=c.protocol_id, status=c.status, due_at=_utc(c.due_at),
                local_due_at=_local(c.due_at, zone), time_zone=zone_name, status_reason=c.status_reason)


def episode_out(s: TreatmentSession) -> dict[str, Any]:
    zone_name = s.patient.tz_name
    return dict(id=s.id, patient_id=s.patient_id, status=s.status, session_ended_at=_utc(s.ended_at),
                local_session_ended_at=_local(s.ended_at, ZoneInfo(zone_name)), time_zone=zone_name,
                regions=list(s.regions), provider_id=s.provider_id, closed_at=_utc(s.closed_at),
                created_at=_utc(s.created_at),
                checkins=[checkin_out(c, zone_name) for c in s.checkins],
                links=dict(self=_url("get_episode", episode_id=s.id), fhir=_url("episode_fhir", episode_id=s.id),
                           csv=_url("episode_csv", episode_id=s.id),
                           patient=_url("get_patient", patient_id=s.patient_id)))


def patient_out(p: Patient) -> dict[str, Any]:
    return dict(id=p.id, name=p.name, phone=p.phone, language=p.language, time_zone=p.tz_name,
                precautions=list(p.precautions), opted_out=p.opted_out_at is not None,
                opted_out_at=_utc(p.opted_out_at),
                phone_problem_code=p.phone_problem_code, created_at=_utc(p.created_at),
                links=dict(self=_url("get_patient", patient_id=p.id)))


def finding_out(e: Escalation) -> dict[str, Any]:
    return dict(id=e.id, code=e.code, level=e.level, rule=e.rule,
                reasons=list(e.assessment.reasons) if e.assessment else [], status=e.status,
                patient_id=e.patient_id, episode_id=e.session_id, opened_at=_utc(e.created_at),
                backup_alerted_at=_utc(e.backup_alerted_at), acknowledged_at=_utc(e.acknowledged_at),
                acknowledged_by_provider_id=e.acknowledged_by_id, resolved_at=_utc(e.resolved_at),
                resolved_by_provider_id=e.resolved_by_id, patient_choice=e.patient_choice,
                links=dict(self=_url("get_finding", finding_id=e.id),
                           patient=_url("get_patient", patient_id=e.patient_id)))


# -- enrolment and episodes ---------------------------------------------------------------------

@bp.route("/episodes", methods=["POST"])
@idempotent
@bp.doc(parameters=[IDEMPOTENCY_PARAMETER], summary="Enrol a patient after a session",
        description="Starts an episode of follow-up: the session, its planned check-ins (returned with local "
                    "times and the zone named) and, for a number not on file, the patient. A number on file "
                    "is refused (409 `patient-on-file`, naming the patient) unless `new_session_for` says this "
                    "is a new session for them; their name, language and precautions are then kept unless "
                    "`replace_name`, `language` or `replace_precautions` change them. A patient's open episode "
                    "is superseded by the new one.")
@bp.arguments(schemas.EnrolmentIn)
@bp.response(201, schemas.EnrolmentOut)
@_errors(*WRITE_ERRORS)
def enrol(data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    clinic = g.api_key.clinic
    now = clock.now()
    chosen_field = "patient_id" if data.get("patient_id") is not None else "new_session_for"
    if None not in (data.get("patient_id"), data.get("new_session_for")) \
            and data["patient_id"] != data["new_session_for"]:
        raise invalid("patient_id", "patient_id is the former name of new_session_for: send one of them")
    session_for = data.get("new_session_for") or data.get("patient_id")
    if session_for is not None and not _owned(Patient, session_for):
        raise invalid(chosen_field, "no patient with this id at your clinic")
    if data["replace_name"] and not data.get("name"):
        raise invalid("name", "replace_name needs the new name")
    # The API's words for the explicit choices (the rules are validation.enrolment's, as at every door).
    fields = {"new_session_for": chosen_field, "rename": "replace_name", "change_precautions": "replace_precautions"}
    choices = {"new_session_for": "send new_session_for: {id}", "rename": "set replace_name with the new name",
               "change_precautions": "set replace_precautions"}
    try:
        clean = validation.enrolment(
            dict(phone=data["phone"], ended_at=data["ended_at"], regions=data["regions"],
                 name=None if data["replace_name"] else data.get("name"),
                 rename=data.get("name") if data["replace_name"] else None,
                 precautions=None if data["replace_precautions"] else data.get("precautions"),
                 change_precautions=(data.get("precautions") or []) if data["replace_precautions"] else None,
                 language=data.get("language"), timezone=data.get("timezone"), new_session_for=session_for),
            clinic_zone=clinic.timezone, now=now, on_file=episodes.on_file(clinic), choices=choices)
        enrolment = episodes.enroll(
            clinic=clinic, phone=clean.phone, name=None if session_for else clean.name, ended_at=clean.ended_at,
            regions=clean.regions, precautions=None if session_for else clean.precautions,
            language=clean.language, timezone_name=clean.timezone, provider=_provider(data.get("provider_id")),
            now=now, actor=_actor(), new_session_for=clean.new_session_for, rename=clean.rename,
            change_precautions=clean.change_precautions)
    except validation.PatientOnFile as exc:  # on file when checked, or enrolled by another request since
        db.session.rollback()
        found = db.session.get(Patient, exc.patient_id)
        raise Problem(409, "patient-on-file", "Patient on file", exc.errors["phone"],
                      errors=_field_errors(exc, fields),
                      existing_patient={"id": found.id, "short_name": found.short_name}) from None
    except validation.ValidationError as exc:
        raise Problem(422, "invalid-fields", "Invalid fields", "; ".join(
            f"{fields.get(f, f)}: {m}" for f, m in exc.errors.items()), errors=_field_errors(exc, fields)) from None
    body = dict(patient=patient_out(enrolment.patient), episode=episode_out(enrolment.session),
                patient_created=session_for is None)
    return body, 201, {"Location": _url("get_episode", episode_id=enrolment.session.id)}


def _owned(model: type, row_id: int) -> bool:
    row = db.session.get(model, row_id) if row_id <= schemas.MAX_ID else None
    return row is not None and getattr(row, "clinic_id", None) == _clinic_id()


def _field_errors(error: validation.ValidationError, names: dict[str, str]) -> list[dict[str, str]]:
    """validation's field names as this API calls them."""
    return [{"field": names.get(field, field), "message": message} for field, message in error.errors.items()]


@bp.route("/episodes/<int:episode_id>", methods=["GET"])
@bp.doc(summary="An episode and its check-ins")
@bp.response(200, schemas.EpisodeOut)
@_errors(*READ_ERRORS)
def get_episode(episode_id: int) -> dict[str, Any]:
    return episode_out(_own(TreatmentSession, episode_id, "episode"))


@bp.route("/episodes/<int:episode_id>/correct-time", methods=["POST"])
@idempotent
@bp.doc(parameters=[IDEMPOTENCY_PARAMETER], summary="Correct when the session ended",
        description="The session time was entered wrong: the check-ins still to come are re-planned from the "
                    "right time; the episode comes back with them.")
@bp.arguments(schemas.CorrectTimeIn)
@bp.response(200, schemas.EpisodeOut)
@_errors(*WRITE_ERRORS)
def correct_time(data: dict[str, Any], episode_id: int) -> dict[str, Any]:
    session = _own(TreatmentSession, episode_id, "episode")
    if session.status != "open":
        raise Problem(409, "conflict", "Episode not open", f"This episode is {session.status}; only an open "
                                                           "episode's times can be corrected.")
    now = clock.now()
    try:
        ended_at = validation.session_end(data["ended_at"], zone=session.patient.tz_name, now=now)
    except validation.ValidationError as exc:
        raise invalid(exc.field, exc.message) from None
    episodes.correct_session_time(session, ended_at, actor=_actor(), now=now)
    db.session.flush()
    return episode_out(session)


@bp.route("/episodes/<int:episode_id>/close", methods=["POST"])
@idempotent
@bp.doc(parameters=[IDEMPOTENCY_PARAMETER], summary="Close an episode",
        description="Its remaining check-ins are cancelled. Closing a closed episode changes nothing.")
@bp.response(200, schemas.EpisodeOut)
@_errors(*WRITE_ERRORS)
def close_episode(episode_id: int) -> dict[str, Any]:
    session = _own(TreatmentSession, episode_id, "episode")
    episodes.close_episode(session, actor=_actor(), now=clock.now())
    db.session.flush()
    db.session.expire(session, ["checkins"])
    return episode_out(session)


@bp.route("/episodes/<int:episode_id>/fhir", methods=["GET"])
@bp.doc(summary="An episode's record as a FHIR R4 Bundle",
        description="A `collection` Bundle (FHIR 4.0.1): Organization (the clinic), Patient, a "
                    "QuestionnaireResponse per answered check-in, an Observation per soreness score (LOINC "
                    "72514-3, 0-10), a Communication per text in and out, and each finding as a Communication "
                    "to the care team (category alert).")
@bp.response(200, schemas.FhirBundleOut, content_type=fhir.MEDIA_TYPE)
@_errors(*READ_ERRORS)
def episode_fhir(episode_id: int) -> Response:
    session = _own(TreatmentSession, episode_id, "episode")
    now = clock.now()
    document = fhir.bundle(records.load(session), base_url=current_app.config["PUBLIC_BASE_URL"], now=now)
    _audit_read(session, "fhir", now)
    return Response(document, content_type=fhir.CONTENT_TYPE)


@bp.route("/episodes/<int:episode_id>/csv", methods=["GET"])
@bp.doc(summary="An episode's record as CSV",
        description="One row per check-in, text, assessment and finding, in time order; times in UTC and on the "
                    "patient's clock. Columns: " + ", ".join(records.CSV_COLUMNS) + ".")
@bp.response(200, {"type": "string"}, content_type="text/csv")
@_errors(*READ_ERRORS)
def episode_csv(episode_id: int) -> Response:
    session = _own(TreatmentSession, episode_id, "episode")
    now = clock.now()
    body = records.to_csv(records.load(session))
    _audit_read(session, "csv", now)
    return Response(body, content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="aftercare-episode-{session.id}.csv"'})


def _audit_read(session: TreatmentSession, form: str, now: datetime) -> None:
    audit("episode.record_exported", actor=_actor(), clinic_id=session.patient.clinic_id,
          subject=f"session:{session.id}", at=now, patient_id=session.patient_id, format=form)
    db.session.commit()


# -- patients -------------------------------------------------------------------------------------

@bp.route("/patients", methods=["GET"])
@bp.doc(summary="Find a patient by phone number",
        description="The patient at your clinic with this number (0 or 1 items), to learn the `patient_id` "
                    "for enrolling a new session.")
@bp.arguments(schemas.PatientQuery, location="query", unknown=RAISE)
@bp.response(200, schemas.PatientListOut)
@_errors("UNAUTHORIZED", "UNPROCESSABLE_ENTITY", "TOO_MANY_REQUESTS")
def find_patients(query: dict[str, Any]) -> dict[str, Any]:
    patient = db.session.scalar(sa.select(Patient).where(Patient.clinic_id == _clinic_id(),
                                                         Patient.phone == query["phone"]))
    return {"items": [patient_out(patient)] if patient else []}


@bp.route("/patients/<int:patient_id>", methods=["GET"])
@bp.doc(summary="A patient and their episodes")
@bp.response(200, schemas.PatientWithEpisodesOut)
@_errors(*READ_ERRORS)
def get_patient(patient_id: int) -> dict[str, Any]:
    patient = _own(Patient, patient_id, "patient")
    audit("patient.viewed", actor=_actor(), clinic_id=patient.clinic_id, subject=f"patient:{patient.id}",
          at=clock.now(), via="api")
    db.session.commit()
    return dict(patient_out(patient), episodes=[episode_out(s) for s in reversed(patient.sessions)])


@bp.route("/patients/<int:patient_id>/opt-out", methods=["POST"])
@idempotent
@bp.doc(parameters=[IDEMPOTENCY_PARAMETER], summary="Opt a patient out",
        description="Nothing more is texted to the patient; their planned check-ins are cancelled.")
@bp.response(200, schemas.PatientOut)
@_errors(*WRITE_ERRORS)
def opt_out(patient_id: int) -> dict[str, Any]:
    patient = _own(Patient, patient_id, "patient")
    if patient.opted_out_at is None:
        episodes.opt_out(patient, now=clock.now(), source="api")
    return patient_out(patient)


@bp.route("/patients/<int:patient_id>/opt-in", methods=["POST"])
@idempotent
@bp.doc(parameters=[IDEMPOTENCY_PARAMETER], summary="Opt a patient back in",
        description="Texts resume, and check-ins cancelled by the opt-out that are still ahead are re-planned. "
                    "A patient who texted STOP (or whose carrier reports it) can only opt back in themselves, "
                    "by texting START: that is a 409.")
@bp.response(200, schemas.PatientOut)
@_errors(*WRITE_ERRORS)
def opt_in(patient_id: int) -> dict[str, Any]:
    patient = _own(Patient, patient_id, "patient")
    if patient.opted_out_at is None:
        return patient_out(patient)
    source = db.session.scalar(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "patient.opted_out",
                                           AuditEvent.subject == f"patient:{patient.id}")
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(1)) or {}
    if source.get("source") != "api":
        raise Problem(409, "conflict", "Only the patient can opt back in",
                      "The patient opted out by text (STOP); they opt back in by texting START.")
    episodes.opt_in(patient, now=clock.now())
    return patient_out(patient)


# -- findings ----------------------------------------------------------------------------------------

def _cursor(after_id: int) -> str:
    return base64.urlsafe_b64encode(f"f:{after_id}".encode()).decode().rstrip("=")


def _after(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind == "f" and number.isdigit() and int(number) <= schemas.MAX_ID:
            return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise invalid("cursor", "not a cursor this API gave; start again without it")


@bp.route("/findings", methods=["GET"])
@bp.doc(summary="List findings, newest first",
        description="Filter by status, level and when they were opened; page with `cursor` (`next_cursor` of "
                    "the previous page, null on the last).")
@bp.arguments(schemas.FindingQuery, location="query", unknown=RAISE)
@bp.response(200, schemas.FindingPageOut)
@_errors("UNAUTHORIZED", "UNPROCESSABLE_ENTITY", "TOO_MANY_REQUESTS")
def list_findings(query: dict[str, Any]) -> dict[str, Any]:
    where = [Escalation.clinic_id == _clinic_id()]
    if query.get("status"):
        where.append(Escalation.status.in_(query["status"]))
    if query.get("level"):
        where.append(Escalation.level.in_(query["level"]))
    if query.get("opened_after"):
        where.append(Escalation.created_at >= query["opened_after"])
    if query.get("opened_before"):
        where.append(Escalation.created_at < query["opened_before"])
    if query.get("cursor"):
        where.append(Escalation.id < _after(query["cursor"]))
    limit = query["limit"]
    rows = list(db.session.scalars(sa.select(Escalation).where(*where).order_by(Escalation.id.desc())
                                   .limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [finding_out(e) for e in rows], "next_cursor": _cursor(rows[-1].id) if more else None}


@bp.route("/findings/<int:finding_id>", methods=["GET"])
@bp.doc(summary="A finding")
@bp.response(200, schemas.FindingOut)
@_errors(*READ_ERRORS)
def get_finding(finding_id: int) -> dict[str, Any]:
    return finding_out(_own(Escalation, finding_id, "finding"))


@bp.route("/findings/<int:finding_id>/acknowledge", methods=["POST"])
@idempotent
@bp.doc(parameters=[IDEMPOTENCY_PARAMETER], summary="Acknowledge a finding",
        description="Someone has it in hand: alerts stop. A finding already acknowledged or resolved is returned "
                    "as it is.")
@bp.arguments(schemas.ActorIn, required=False)
@bp.response(200, schemas.FindingOut)
@_errors(*WRITE_ERRORS)
def acknowledge_finding(data: dict[str, Any], finding_id: int) -> dict[str, Any]:
    finding = _own(Escalation, finding_id, "finding")
    escalation.acknowledge(finding, _provider(data.get("provider_id")), clock.now(), via="api", actor=_actor())
    return finding_out(finding)


@bp.route("/findings/<int:finding_id>/resolve", methods=["POST"])
@idempotent
@bp.doc(parameters=[IDEMPOTENCY_PARAMETER], summary="Resolve a finding",
        description="The care team has dealt with it: it is closed (and counts as acknowledged if it was not). "
                    "A resolved finding is returned as it is.")
@bp.arguments(schemas.ActorIn, required=False)
@bp.response(200, schemas.FindingOut)
@_errors(*WRITE_ERRORS)
def resolve_finding(data: dict[str, Any], finding_id: int) -> dict[str, Any]:
    finding = _own(Escalation, finding_id, "finding")
    escalation.resolve(finding, _provider(data.get("provider_id")), clock.now(), via="api", actor=_actor())
    return finding_out(finding)
