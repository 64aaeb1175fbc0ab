"""Shorthand for the triage tests.

The reading and rule tests exercise the first reader, `read_by_rules`: they say how the rules
read a wording. The second reader, which may only raise a level, is tested in
test_second_reader.py, and `classify` with both readers on the labelled files
(test_labelled_replies.py).
"""

from __future__ import annotations

from bot.triage import Triage, read_by_rules


def level(text: str, hours: float = 30.0, **context) -> str:
    return read_by_rules(text, hours, **context).level


def result(text: str, hours: float = 30.0, **context) -> Triage:
    return read_by_rules(text, hours, **context)
