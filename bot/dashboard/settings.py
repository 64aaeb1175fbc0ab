"""The clinic's settings and its providers, for the clinic's admins (a provider gets 403).

Thin views: the form's strings go through `bot.validation` (the rules every door shares), changes
through `bot.clinic_settings` and `bot.providers`, which audit them. A value at fault shows its
message beside its field with everything typed kept, and nothing is saved.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from .. import clinic_settings, clock, providers, validation
from ..extensions import db
from ..models import Clinic, Provider
from ..protocol import PROTOCOL
from . import _clinic, _own, admin_required, bp
from .forms import ConfirmForm

WEEKDAYS = (("1", "Mon"), ("2", "Tue"), ("3", "Wed"), ("4", "Thu"), ("5", "Fri"), ("6", "Sat"), ("7", "Sun"))
COMMON_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
                "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico", "America/Toronto",
                "America/Mexico_City", "Europe/London", "Europe/Madrid")
LABELS = {
    "name": "clinic name", "sms_name": "name on texts", "phone": "phone", "timezone": "time zone",
    "quiet_start": "quiet hours start", "quiet_end": "quiet hours end", "business_open": "opening time",
    "business_close": "closing time", "business_days": "open days",
    "emergency_realert_minutes": "emergency re-alert", "emergency_backup_minutes": "emergency backup",
    "urgent_backup_minutes": "urgent backup", "session_idle_minutes": "idle sign-out",
}
DUTY_LABELS = {"on_call": "On call (paged first)", "backup": "Backup (paged second)", "off": "Off duty"}


def _actor() -> str:
    return f"provider:{current_user.id}"


def _region() -> str:
    return current_app.config["DEFAULT_PHONE_REGION"]


def _local(moment: Any, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %b %d, %H:%M %Z")


def _settings_form(clinic: Clinic) -> dict[str, Any]:
    values = clinic_settings.current(clinic)
    values["phone"] = validation.phone_display(clinic.phone, region=_region())
    return values


def _render_settings(clinic: Clinic, values: dict[str, Any], errors: dict[str, str], status: int = 200
                     ) -> ResponseReturnValue:
    upcoming = clinic_settings.next_planned(clinic, now=clock.now())
    return render_template("dashboard/settings.html", clinic=clinic, values=values, errors=errors,
                           weekdays=WEEKDAYS, zones=COMMON_ZONES, bounds=PROTOCOL.escalation_bounds,
                           idle_bounds=validation.SESSION_IDLE_MINUTES, upcoming=upcoming,
                           local=_local, form=ConfirmForm()), status


@bp.route("/settings", methods=["GET", "POST"])
@login_required
@admin_required
def settings() -> ResponseReturnValue:
    clinic = _clinic()
    if request.method == "GET":
        return _render_settings(clinic, _settings_form(clinic), {})
    raw: dict[str, Any] = {key: request.form.get(key, "") for key in clinic_settings.current(clinic)}
    raw["business_days"] = request.form.getlist("business_days")
    try:
        clean = validation.clinic_settings(raw, phone_region=_region())
    except validation.ValidationError as error:
        return _render_settings(clinic, {**raw, "business_days": "".join(raw["business_days"])}, error.errors, 400)
    outcome = clinic_settings.apply(clinic, clean, actor=_actor(), now=clock.now())
    db.session.commit()
    if not outcome.changed:
        flash("Nothing changed.")
    else:
        flash(f"Saved: {', '.join(LABELS.get(name, name) for name in outcome.changed)}.")
    if clinic_settings.SCHEDULE_FIELDS.intersection(outcome.changed):
        flash(f"{len(outcome.moved)} planned text{'s' if len(outcome.moved) != 1 else ''} moved to the new hours.")
        nxt = outcome.next_planned
        if nxt is not None:
            was = f" (was {_local(nxt.old, nxt.zone)})" if nxt.old != nxt.new else " (unchanged)"
            flash(f"The next planned text now goes {_local(nxt.new, nxt.zone)}{was}.")
    return redirect(url_for("dashboard.settings"), code=303)


# -- Providers ----------------------------------------------------------------------------------

def _providers(clinic: Clinic) -> list[Provider]:
    return list(db.session.scalars(sa.select(Provider).where(Provider.clinic_id == clinic.id)
                                   .order_by(Provider.active.desc(), Provider.name, Provider.id)))


def _render_providers(clinic: Clinic, *, invite: dict[str, Any] | None = None, invite_errors: dict[str, str] | None
                      = None, edit_id: int | None = None, edit: dict[str, Any] | None = None,
                      edit_errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    people = _providers(clinic)
    on_call = [p for p in people if p.active and p.duty == "on_call" and p.phone]
    backup = [p for p in people if p.active and p.duty == "backup" and p.phone]
    return render_template(
        "dashboard/providers.html", clinic=clinic, providers=people, on_call=on_call, backup=backup,
        invite=invite or {"role": "provider", "duty": "off"}, invite_errors=invite_errors or {},
        edit_id=edit_id, edit=edit or {}, edit_errors=edit_errors or {}, duty_labels=DUTY_LABELS,
        phone_display=lambda number: validation.phone_display(number, region=_region()) if number else "",
        form=ConfirmForm()), status


@bp.get("/settings/providers")
@login_required
@admin_required
def providers_page() -> ResponseReturnValue:
    return _render_providers(_clinic())


def _optional_phone(raw: str) -> str | None:
    return validation.phone(raw, region=_region()) if raw.strip() else None


@bp.post("/settings/providers")
@login_required
@admin_required
def invite_provider() -> ResponseReturnValue:
    clinic = _clinic()
    typed = {key: request.form.get(key, "") for key in ("name", "email", "phone", "role", "duty")}
    check = validation.Checker()
    name = check(validation.person_name, typed["name"])
    email = check(validation.email, typed["email"])
    phone = check(_optional_phone, typed["phone"])
    role = check(validation.role, typed["role"])
    duty = check(validation.duty, typed["duty"])
    try:
        check.done()
        provider = providers.invite(clinic.id, name=name, email=email, phone=phone, role=role, duty=duty,
                                    actor=_actor(), now=clock.now())
    except validation.ValidationError as error:
        db.session.rollback()
        return _render_providers(clinic, invite=typed, invite_errors=error.errors, status=400)
    link = providers.password_link(provider, "invite")
    db.session.commit()
    return render_template("dashboard/provider_link.html", provider=provider, link=link, kind="invite",
                           lifetime=providers.LINK_LIFETIME["invite"].days)


@bp.post("/settings/providers/<int:provider_id>")
@login_required
@admin_required
def update_provider(provider_id: int) -> ResponseReturnValue:
    provider: Provider = _own(Provider, provider_id)  # type: ignore[assignment]
    clinic = _clinic()
    typed = {key: request.form.get(key, "") for key in ("phone", "role", "duty")}
    check = validation.Checker()
    phone = check(_optional_phone, typed["phone"])
    role = check(validation.role, typed["role"])
    duty = check(validation.duty, typed["duty"])
    try:
        check.done()
        changed = providers.update(provider, role=role, duty=duty, phone=phone, actor=_actor(), now=clock.now())
    except validation.ValidationError as error:
        db.session.rollback()
        return _render_providers(clinic, edit_id=provider_id, edit=typed, edit_errors=error.errors, status=400)
    db.session.commit()
    flash(f"{provider.name}: saved." if changed else f"{provider.name}: nothing changed.")
    if provider.id == current_user.id and role != "admin":
        return redirect(url_for("dashboard.index"), code=303)  # the providers page is for admins now
    return redirect(url_for("dashboard.providers_page"), code=303)


@bp.post("/settings/providers/<int:provider_id>/deactivate")
@login_required
@admin_required
def deactivate_provider(provider_id: int) -> ResponseReturnValue:
    provider: Provider = _own(Provider, provider_id)  # type: ignore[assignment]
    try:
        providers.deactivate(provider, actor=_actor(), now=clock.now())
    except validation.ValidationError as error:
        db.session.rollback()
        return _render_providers(_clinic(), edit_id=provider_id, edit_errors=error.errors, status=400)
    db.session.commit()
    flash(f"{provider.name} is deactivated: signed out everywhere, paged no more.")
    if provider.id == current_user.id:
        return redirect(url_for("dashboard.login"), code=303)
    return redirect(url_for("dashboard.providers_page"), code=303)


@bp.post("/settings/providers/<int:provider_id>/reactivate")
@login_required
@admin_required
def reactivate_provider(provider_id: int) -> ResponseReturnValue:
    provider: Provider = _own(Provider, provider_id)  # type: ignore[assignment]
    providers.reactivate(provider, actor=_actor(), now=clock.now())
    db.session.commit()
    flash(f"{provider.name} can sign in again (duty: off).")
    return redirect(url_for("dashboard.providers_page"), code=303)


@bp.post("/settings/providers/<int:provider_id>/reset-password")
@login_required
@admin_required
def reset_provider_password(provider_id: int) -> ResponseReturnValue:
    provider: Provider = _own(Provider, provider_id)  # type: ignore[assignment]
    link = providers.reset_password(provider, actor=_actor(), now=clock.now())
    db.session.commit()
    return render_template("dashboard/provider_link.html", provider=provider, link=link, kind="reset",
                           lifetime=providers.LINK_LIFETIME["reset"].days)
