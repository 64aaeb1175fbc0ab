"""The clinic admin's integration page in the dashboard: API keys and outgoing webhooks.

Signed-in admins only (a provider gets a 403), and only their clinic's keys and endpoints. A new
key or webhook secret is shown once, on the page that made it, and never again. It reuses the
dashboard's layout (base.html), sign-in (Flask-Login) and CSRF-protected forms.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from .. import clock, outgoing
from ..extensions import db
from ..models import ApiKey, Clinic, WebhookDelivery, WebhookEndpoint
from . import keys

bp = Blueprint("api_admin", __name__, url_prefix="/admin/integrations")


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    @login_required
    def checked(*args: Any, **kwargs: Any) -> Any:
        if current_user.role != "admin":
            abort(403)
        return view(*args, **kwargs)
    return checked


def _actor() -> str:
    return f"provider:{current_user.id}"


def _page(status: int = 200, **shown: Any) -> ResponseReturnValue:
    clinic = db.session.get(Clinic, current_user.clinic_id)
    endpoints = list(db.session.scalars(sa.select(WebhookEndpoint).where(WebhookEndpoint.clinic_id == clinic.id)
                                        .order_by(WebhookEndpoint.active.desc(), WebhookEndpoint.id)))
    recent = list(db.session.scalars(
        sa.select(WebhookDelivery).join(WebhookEndpoint).where(WebhookEndpoint.clinic_id == clinic.id)
        .order_by(WebhookDelivery.id.desc()).limit(25)))
    return render_template("api/admin.html", clinic=clinic, api_keys=keys.for_clinic(clinic.id),
                           endpoints=endpoints, last=outgoing.last_results(e.id for e in endpoints),
                           recent=recent, event_types=outgoing.EVENT_TYPES, **shown), status


@bp.get("")
@admin_required
def index() -> ResponseReturnValue:
    return _page()


@bp.post("/keys")
@admin_required
def create_key() -> ResponseReturnValue:
    clinic = db.session.get(Clinic, current_user.clinic_id)
    try:
        made = keys.create(clinic, request.form.get("name", ""), actor=_actor(), now=clock.now())
    except ValueError as exc:
        return _page(400, key_error=str(exc).split(": ", 1)[-1])
    db.session.commit()
    return _page(201, new_key=made.secret, new_key_name=made.row.name)


@bp.post("/keys/<int:key_id>/revoke")
@admin_required
def revoke_key(key_id: int) -> ResponseReturnValue:
    row = db.session.get(ApiKey, key_id)
    if row is None or row.clinic_id != current_user.clinic_id:
        abort(404)
    if keys.revoke(row, actor=_actor(), now=clock.now()):
        db.session.commit()
        flash(f"Revoked the key “{row.name}”: it is refused from now on.")
    return redirect(url_for("api_admin.index"), code=303)


@bp.post("/webhooks")
@admin_required
def create_webhook() -> ResponseReturnValue:
    try:
        endpoint = outgoing.create_endpoint(current_user.clinic_id, request.form.get("url", ""),
                                            request.form.getlist("events"), request.form.get("description", ""),
                                            actor=_actor(), now=clock.now())
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        return _page(400, webhook_error={field: message}, form=request.form)
    db.session.commit()
    return _page(201, new_secret=endpoint.secret, new_endpoint=endpoint)


@bp.post("/webhooks/<int:endpoint_id>/disable")
@admin_required
def disable_webhook(endpoint_id: int) -> ResponseReturnValue:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.clinic_id != current_user.clinic_id:
        abort(404)
    outgoing.disable_endpoint(endpoint, actor=_actor(), now=clock.now())
    db.session.commit()
    flash("Webhook disabled: nothing more is sent to it.")
    return redirect(url_for("api_admin.index"), code=303)
