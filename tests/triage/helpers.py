"""Shorthand for the triage tests."""

from __future__ import annotations

from bot.triage import Triage, classify


def level(text: str, hours: float = 30.0, **context) -> str:
    return classify(text, hours, **context).level


def result(text: str, hours: float = 30.0, **context) -> Triage:
    return classify(text, hours, **context)
