"""Choosing a password from a one-time link (an invitation, or an admin's reset): no sign-in needed.

The link is the credential (bot/providers.py): it works once, for one provider, for a limited
time. The page is never cached and its address is not sent to other sites (Referrer-Policy
same-origin, bot/security.py).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .. import clock, providers, validation
from ..extensions import db, limiter
from . import bp
from .forms import ConfirmForm


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@limiter.limit("20 per 15 minutes", methods=["POST"])
def set_password(token: str) -> ResponseReturnValue:
    try:
        provider = providers.provider_for_link(token)
    except providers.LinkError as error:
        return render_template("dashboard/set_password.html", problem=str(error), errors={}, form=ConfirmForm()), 404
    errors: dict[str, str] = {}
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        password, again = request.form.get("password", ""), request.form.get("confirm", "")
        try:
            validation.password(password)
            if password != again:
                raise validation.ValidationError("confirm", "The two passwords differ: type the same one twice.")
            providers.choose_password(provider, password, via="link", now=clock.now())
        except validation.ValidationError as error:
            errors = error.errors
        else:
            db.session.commit()
            flash("Your password is set. Sign in with it.")
            return redirect(url_for("dashboard.login"), code=303)
    return render_template("dashboard/set_password.html", provider=provider, problem=None, errors=errors,
                           minimum=validation.PASSWORD_MIN, form=ConfirmForm()), 400 if errors else 200
