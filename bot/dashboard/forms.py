"""Dashboard forms: validated server-side, each error shown beside its field."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."),
                                            Email("Enter a valid email address.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=256)])
    remember = BooleanField("Keep me signed in on this device")


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with its CSRF token."""


class ResolveForm(FlaskForm):
    """Resolve a finding: handled (a note is needed) or not actionable. The note is checked by
    `validation.note`, as at every door."""

    note = TextAreaField("Note for the chart")
    resolve = SubmitField("Resolve")
    not_actionable = SubmitField("Not actionable")
