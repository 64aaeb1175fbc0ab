"""The patients list: find a patient by name or phone, narrow to those who need a look, page through.

Each page is one SQL statement whatever the clinic's size (the page's rows, the count of all that
match, and each patient's latest episode, soreness, open finding and missed check-ins as
subqueries), never one query per patient. The indexes it leans on are in migration 0009.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from .. import clock, validation
from ..extensions import db
from ..models import Assessment, CheckIn, Escalation, Patient, TreatmentSession
from ..protocol import PROTOCOL
from . import _clinic, bp
from .queue import LEVELS, ago

PAGE_SIZE = 50
MAX_PAGE = 1_000_000  # a longer number in the address is taken as the last page, not a database error
FILTERS = {
    "open": "Open episode",
    "missed": "Missed a check-in (open episode)",
    "opted_out": "Opted out",
    "cannot_text": "Number cannot take texts",
}
_DIGITS_ONLY = re.compile(r"^[\d\s()+\-./]+$")


@dataclass(frozen=True)
class PatientRow:
    patient: Patient
    session: TreatmentSession | None
    soreness: int | None
    soreness_at: datetime | None
    open_level: str | None
    missed: int


@dataclass(frozen=True)
class PatientPage:
    rows: list[PatientRow]
    total: int
    page: int
    pages: int


def search_condition(query: str) -> sa.ColumnElement[bool] | None:
    """Digits (three or more, as people write a number) search phones; anything else, names. Pure."""
    if not query:
        return None
    digits = re.sub(r"\D", "", query)
    if _DIGITS_ONLY.match(query) and len(digits) >= 3:
        return Patient.phone.contains(digits, autoescape=True)
    # lower() LIKE rather than ILIKE: PostgreSQL's ILIKE under a locale is several times slower.
    return sa.func.lower(Patient.name).like(f"%{_escape_like(query.lower())}%", escape="\\")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def patient_page(clinic_id: int, *, query: str = "", filters: frozenset[str] = frozenset(),
                 page: int = 1, per_page: int = PAGE_SIZE) -> PatientPage:
    """One page of a clinic's patients, by name, with what the list shows of each: one statement
    (three for a page past the end)."""
    conditions: list[sa.ColumnElement[bool]] = [Patient.clinic_id == clinic_id]
    found = search_condition(query)
    if found is not None:
        conditions.append(found)
    # The filters are semi-joins driven from the small sets they select (open episodes, missed
    # check-ins by their status index), not a probe of every patient's latest episode.
    open_episodes = sa.select(TreatmentSession.patient_id).where(TreatmentSession.status == "open")
    if "open" in filters:
        conditions.append(Patient.id.in_(open_episodes))
    if "missed" in filters:
        conditions.append(Patient.id.in_(open_episodes.join(CheckIn, CheckIn.session_id == TreatmentSession.id)
                                         .where(CheckIn.status == "missed")))
    if "opted_out" in filters:
        conditions.append(Patient.opted_out_at.is_not(None))
    if "cannot_text" in filters:
        conditions.append(Patient.phone_problem_code.is_not(None))

    page = max(page, 1)
    rows = _page_rows(conditions, page, per_page)
    if not rows and page > 1:  # past the end (an old link): the last page instead
        total = db.session.scalar(sa.select(sa.func.count(Patient.id)).where(*conditions)) or 0
        page = max(1, -(-total // per_page))
        rows = _page_rows(conditions, page, per_page)
    total = rows[0].total if rows else 0
    by_rank = {PROTOCOL.rank(level): level for level in LEVELS}
    return PatientPage([PatientRow(p, s, sore, sore_at, by_rank.get(r or 0), m or 0)
                        for p, s, sore, sore_at, r, m, _ in rows], total, page, max(1, -(-total // per_page)))


def _page_rows(conditions: list[sa.ColumnElement[bool]], page: int, per_page: int) -> list[Any]:
    """One statement: the page's ids picked first (with the count of all matches, read in the same
    scan), then what the list shows of those patients alone."""
    latest = so.aliased(TreatmentSession, name="latest")
    latest_id = (sa.select(TreatmentSession.id).where(TreatmentSession.patient_id == Patient.id)
                 .order_by(TreatmentSession.ended_at.desc(), TreatmentSession.id.desc()).limit(1)
                 .correlate(Patient).scalar_subquery())
    on_page = (sa.select(Patient.id, sa.func.count().over().label("total")).where(*conditions)
               .order_by(Patient.name, Patient.id).limit(per_page).offset((page - 1) * per_page).subquery())
    base = (sa.select(Patient).join(on_page, on_page.c.id == Patient.id)
            .outerjoin(latest, latest.id == latest_id))

    def latest_reply(column: Any) -> sa.ScalarSelect[Any]:
        return (sa.select(column).where(Assessment.patient_id == Patient.id, Assessment.soreness.is_not(None))
                .order_by(Assessment.created_at.desc(), Assessment.id.desc()).limit(1)
                .correlate(Patient).scalar_subquery())

    rank = sa.case({level: PROTOCOL.rank(level) for level in LEVELS}, value=Escalation.level, else_=0)
    open_rank = (sa.select(sa.func.max(rank)).where(Escalation.patient_id == Patient.id, Escalation.status == "open")
                 .correlate(Patient).scalar_subquery())
    missed = (sa.select(sa.func.count()).where(CheckIn.session_id == latest.id, CheckIn.status == "missed")
              .correlate(latest).scalar_subquery())
    return db.session.execute(
        base.add_columns(latest, latest_reply(Assessment.soreness).label("soreness"),
                         latest_reply(Assessment.created_at).label("soreness_at"),
                         open_rank.label("open_rank"), missed.label("missed"), on_page.c.total)
        .order_by(Patient.name, Patient.id)
    ).all()


@bp.get("/patients")
@login_required
def patients() -> ResponseReturnValue:
    clinic = _clinic()
    errors: dict[str, str] = {}
    try:
        query = validation.search(request.args.get("q"))
    except validation.ValidationError as error:
        errors, query = error.errors, ""
    filters = frozenset(f for f in request.args.getlist("show") if f in FILTERS)
    page_number = request.args.get("page", "1")
    page = patient_page(current_user.clinic_id, query=query, filters=filters,
                        page=min(int(page_number), MAX_PAGE) if page_number.isdigit() else 1)
    return render_template("dashboard/patients.html", clinic=clinic, result=page, query=request.args.get("q", ""),
                           filters=filters, filter_names=FILTERS, errors=errors, now=clock.now(),
                           ago=ago), 400 if errors else 200
