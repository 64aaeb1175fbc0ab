"""The access log page: who opened which patient's record, for the clinic's admins.

Newest first, 50 a page, filtered by patient and by provider. Pages go back by id ("older than
event N") rather than by page number, so the hundredth page costs what the first does however
long the log grows (the indexes on (clinic, id), (patient, id) and (provider, id) serve it).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required

from ..extensions import db
from ..models import AccessEvent, Patient, Provider
from . import _clinic, _own, admin_required, bp

PAGE_SIZE = 50


def _id_argument(name: str) -> int | None:
    """An id from the query string: None when absent, 400 when not a number."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        abort(400, description=f"{name} must be a number")
    return int(value)


@bp.get("/access-log")
@login_required
@admin_required
def access_log() -> ResponseReturnValue:
    clinic = _clinic()
    patient_id, provider_id, before = (_id_argument(name) for name in ("patient", "provider", "before"))
    patient = _own(Patient, patient_id) if patient_id is not None else None
    provider = _own(Provider, provider_id) if provider_id is not None else None

    query = (sa.select(AccessEvent).where(AccessEvent.clinic_id == clinic.id)
             .options(so.joinedload(AccessEvent.provider), so.joinedload(AccessEvent.patient))
             .order_by(AccessEvent.id.desc()).limit(PAGE_SIZE + 1))
    if patient is not None:
        query = query.where(AccessEvent.patient_id == patient.id)
    if provider is not None:
        query = query.where(AccessEvent.provider_id == provider.id)
    if before is not None:
        query = query.where(AccessEvent.id < before)
    events = db.session.scalars(query).all()
    older = events[PAGE_SIZE - 1].id if len(events) > PAGE_SIZE else None

    providers = db.session.scalars(sa.select(Provider).where(Provider.clinic_id == clinic.id)
                                   .order_by(Provider.name)).all()
    return render_template("dashboard/access_log.html", clinic=clinic, events=events[:PAGE_SIZE],
                           patient=patient, provider=provider, providers=providers, older=older,
                           paged=before is not None)
