"""An episode's record as a FHIR R4 (4.0.1) Bundle, validated by the `fhir.resources` R4 models.

What Epic's R4 interface accepts decides the shape (issue 12): the clinic (Organization), the
Patient, a QuestionnaireResponse per answered check-in, an Observation per soreness score (LOINC
72514-3, pain severity 0-10), a Communication per text in and out, and each finding as a
Communication to the care team (Flag is read-only there). Entries are linked by `urn:uuid`
full URLs made from our ids, so exporting the same episode twice gives the same identifiers.

fhir.resources 6.4.0 is pinned: it is the last release whose models are R4 (4.0.1); later ones
default to R4B and then R5.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fhir.resources import __fhir_version__ as FHIR_VERSION
from fhir.resources.bundle import Bundle

from .models import Assessment, CheckIn, Escalation, Message
from .records import EpisodeRecord

MEDIA_TYPE = "application/fhir+json"
CONTENT_TYPE = f"{MEDIA_TYPE}; fhirVersion={FHIR_VERSION.rsplit('.', 1)[0]}"  # "4.0", as FHIR names R4
LOINC_PAIN_SEVERITY = "72514-3"
PRIORITY = {"emergency": "stat", "urgent": "urgent", "routine": "routine"}
CATEGORY = {"checkin": "reminder", "reminder": "reminder", "answer": "instruction", "notice": "notification"}
COMMUNICATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/communication-category"
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
DELIVERED = ("queued", "accepted", "sending", "sent", "delivered", "read", "twiml", "received")


class Ids:
    """Stable identifiers: `urn:uuid` full URLs derived from the service's address and our row ids."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, self.base)

    def full_url(self, kind: str, row_id: int) -> str:
        return f"urn:uuid:{uuid.uuid5(self.namespace, f'{kind}/{row_id}')}"

    def system(self, kind: str) -> str:
        return f"{self.base}/fhir/identifiers/{kind}"


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _entry(ids: Ids, kind: str, row_id: int, resource: dict[str, Any]) -> dict[str, Any]:
    resource.setdefault("id", f"{kind.lower()}-{row_id}")
    return {"fullUrl": ids.full_url(kind, row_id), "resource": resource}


def _organization(record: EpisodeRecord, ids: Ids) -> dict[str, Any]:
    clinic = record.clinic
    return _entry(ids, "Organization", clinic.id, {
        "resourceType": "Organization",
        "identifier": [{"system": ids.system("clinic"), "value": str(clinic.id)}],
        "name": clinic.name,
        "telecom": [{"system": "phone", "value": clinic.phone, "use": "work"}],
    })


def _patient(record: EpisodeRecord, ids: Ids, org: str) -> dict[str, Any]:
    p = record.patient
    parts = p.name.split()
    name: dict[str, Any] = {"text": p.name}
    if len(parts) > 1:
        name.update(given=parts[:-1], family=parts[-1])
    return _entry(ids, "Patient", p.id, {
        "resourceType": "Patient",
        "identifier": [{"system": ids.system("patient"), "value": str(p.id)}],
        "name": [name],
        "telecom": [{"system": "sms", "value": p.phone, "use": "mobile"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": p.language}]},
                           "preferred": True}],
        "managingOrganization": {"reference": org},
    })


def _questionnaire_response(record: EpisodeRecord, ids: Ids, checkin: CheckIn, answer: Assessment,
                            patient: str, reply: str | None) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"linkId": "reply", "text": "The patient's reply",
                                    "answer": [{"valueString": answer.text}]}]
    if answer.soreness is not None:
        items.append({"linkId": "soreness", "text": "Soreness, 0 (none) to 10 (worst)",
                      "answer": [{"valueInteger": answer.soreness}]})
    if answer.symptoms:
        items.append({"linkId": "symptoms", "text": "Symptoms read in the reply",
                      "answer": [{"valueString": s} for s in answer.symptoms]})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": ids.system("checkin"), "value": str(checkin.id)},
        "questionnaire": f"{ids.base}/fhir/Questionnaire/aftercare-checkin-{checkin.protocol_id}",
        "status": "completed",
        "subject": {"reference": patient},
        "authored": _time(answer.created_at),
        "source": {"reference": patient},
        "item": items,
    }
    if reply:
        resource["extension"] = [{"url": f"{ids.base}/fhir/StructureDefinition/reply-message",
                                  "valueReference": {"reference": reply}}]
    return _entry(ids, "QuestionnaireResponse", checkin.id, resource)


def _observation(ids: Ids, answer: Assessment, patient: str, response: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "survey", "display": "Survey"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": LOINC_PAIN_SEVERITY,
                             "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported"}],
                 "text": "Soreness after dry needling, 0-10"},
        "subject": {"reference": patient},
        "effectiveDateTime": _time(answer.created_at),
        "issued": _time(answer.created_at),
        "performer": [{"reference": patient}],
        "valueInteger": answer.soreness,
    }
    if response:
        resource["derivedFrom"] = [{"reference": response}]
    return _entry(ids, "Observation", answer.id, resource)


def _communication(ids: Ids, message: Message, patient: str, org: str) -> dict[str, Any]:
    inbound = message.direction == "in"
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "identifier": [{"system": ids.system("message"), "value": str(message.id)}],
        "status": "completed" if inbound or message.status in DELIVERED else
                  "entered-in-error" if message.status == "cancelled" else
                  "not-done" if message.status in ("failed", "undelivered", "held") else "in-progress",
        "medium": [{"coding": [{"system": PARTICIPATION_MODE, "code": "SMSWRIT", "display": "SMS written"}]}],
        "subject": {"reference": patient},
        "sent": _time(message.sent_at or message.created_at),
        "sender": {"reference": patient if inbound else org},
        "recipient": [{"reference": org if inbound else patient}],
        "payload": [{"contentString": message.body}],
    }
    if not inbound and message.purpose in CATEGORY:
        resource["category"] = [{"coding": [{"system": COMMUNICATION_CATEGORY, "code": CATEGORY[message.purpose]}]}]
    if inbound:
        resource["received"] = _time(message.created_at)
    return _entry(ids, "Communication", message.id, resource)


def _finding(ids: Ids, finding: Escalation, patient: str, org: str, reply: str | None) -> dict[str, Any]:
    reasons = finding.assessment.reasons if finding.assessment else []
    wrote = f' The patient wrote: "{finding.assessment.text}"' if finding.assessment else ""
    text = (f"{finding.level.upper()} finding (rule {finding.rule}, code {finding.code}): "
            f"{'; '.join(reasons) or 'no reply to the check-ins'}.{wrote}")
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "identifier": [{"system": ids.system("finding"), "value": str(finding.id)}],
        "status": "completed",
        "category": [{"coding": [{"system": COMMUNICATION_CATEGORY, "code": "alert", "display": "Alert"}]}],
        "priority": PRIORITY.get(finding.level, "routine"),
        "subject": {"reference": patient},
        "topic": {"text": f"Aftercare finding {finding.code} ({finding.status})"},
        "sent": _time(finding.created_at),
        "sender": {"reference": org, "display": "Aftercare"},
        "recipient": [{"reference": org, "display": "Care team"}],
        "payload": [{"contentString": text}],
    }
    if reply:
        resource["inResponseTo"] = [{"reference": reply}]
    return _entry(ids, "Communication", 10**12 + finding.id, resource)  # findings apart from texts


def bundle(record: EpisodeRecord, *, base_url: str, now: datetime) -> str:
    """The episode as a FHIR R4 collection Bundle (JSON), validated by the R4 models (ValueError if not)."""
    ids = Ids(base_url)
    org_entry = _organization(record, ids)
    patient_entry = _patient(record, ids, org_entry["fullUrl"])
    org, patient = org_entry["fullUrl"], patient_entry["fullUrl"]
    entries = [org_entry, patient_entry]
    message_urls = {m.id: ids.full_url("Communication", m.id) for m in record.messages}
    responses: dict[int, str] = {}
    answered = {c.id: c for c in record.checkins if c.status == "replied"}
    texts_read = [a for a in record.assessments if a.kind == "text"]  # a group's reading repeats its texts'
    for answer in texts_read:  # the first reply attributed to a check-in answers it
        checkin = answered.get(answer.checkin_id) if answer.checkin_id else None
        if checkin is not None and checkin.id not in responses:
            entry = _questionnaire_response(record, ids, checkin, answer, patient, message_urls.get(answer.message_id))
            responses[checkin.id] = entry["fullUrl"]
            entries.append(entry)
    for answer in texts_read:
        if answer.soreness is not None:
            entries.append(_observation(ids, answer, patient, responses.get(answer.checkin_id or 0)))
    entries.extend(_communication(ids, m, patient, org) for m in record.messages)
    for finding in record.findings:
        reply = message_urls.get(finding.assessment.message_id) if finding.assessment else None
        entries.append(_finding(ids, finding, patient, org, reply))
    document = {
        "resourceType": "Bundle",
        "id": f"episode-{record.session.id}",
        "meta": {"lastUpdated": _time(now)},
        "identifier": {"system": ids.system("episode"), "value": str(record.session.id)},
        "type": "collection",
        "timestamp": _time(now),
        "entry": entries,
    }
    return validated(document)


def validated(document: dict[str, Any]) -> str:
    """The document as the R4 models write it back; pydantic's ValidationError (a ValueError) if invalid."""
    return Bundle.parse_obj(document).json()
