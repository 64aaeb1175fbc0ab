"""The classify interface other code relies on."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from bot.protocol import PROTOCOL
from bot.triage import Triage, classify

LEVELS = (*PROTOCOL.levels, "unclear")
TRIAGE_DIR = Path(__file__).resolve().parents[2] / "bot" / "triage"


def test_the_result_has_the_documented_fields():
    r = classify("still like a 6, big bruise on my shoulder", hours_since_session=26.0,
                 region="upper_trapezius", precautions=("anticoagulant",), previous_soreness=5)
    assert isinstance(r, Triage)
    assert r.level == "urgent"                       # U4: a large bruise on an anticoagulant
    assert r.soreness == 6
    assert r.symptoms == frozenset({"bruising", "soreness"})
    assert r.rules == ("U4", "M2")
    assert all(reason.split(":")[0] in r.rules for reason in r.reasons)
    assert r.window == "day1"
    assert r.protocol_version == PROTOCOL.version
    assert r.is_question is False
    assert r.resolved == frozenset()


def test_the_result_is_frozen():
    r = classify("fine", 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.level = "emergency"  # type: ignore[misc]


def test_rules_come_highest_level_first():
    r = classify("both arms numb and 8/10 and a bit dizzy", 5)
    ranks = [PROTOCOL.rank({"E": "emergency", "U": "urgent", "R": "routine", "M": "monitor"}[x[0]]) for x in r.rules]
    assert ranks == sorted(ranks, reverse=True)


@pytest.mark.parametrize("kwargs", [
    {"region": "elbow"},
    {"region": "Neck"},
    {"precautions": ("smoker",)},
    {"precautions": ["anticoagulant", "warfarin"]},
    {"previous_soreness": 11},
    {"previous_soreness": -1},
    {"previous_soreness": 4.5},
    {"previous_soreness": True},
])
def test_values_outside_the_protocol_vocabularies_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        classify("sore 3", 10, **kwargs)


@pytest.mark.parametrize("hours", [float("nan"), float("inf"), "10", None])
def test_hours_must_be_a_finite_number(hours):
    with pytest.raises(ValueError):
        classify("sore 3", hours)


def test_context_is_keyword_only():
    with pytest.raises(TypeError):
        classify("sore 3", 10, "neck")  # type: ignore[misc]


CORE = ["__init__.py", "lexicon.py", "reading.py", "scores.py", "rules.py", "evaluation.py"]


@pytest.mark.parametrize("module", CORE)
def test_the_triage_core_imports_no_flask_database_clock_or_network(module):
    """Only cli.py, the door, may import Flask (checked on the source: the `bot` package itself
    is the app factory and imports Flask)."""
    tree = ast.parse((TRIAGE_DIR / module).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"flask", "click", "sqlalchemy", "requests", "twilio", "socket", "datetime", "time", "random"}


def test_classify_is_pure():
    args = ("still sore 5, maybe short of breath?", 30.0)
    assert classify(*args) == classify(*args)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.floats(min_value=0, max_value=1000), st.none() | st.integers(0, 10))
def test_any_text_gives_a_level_and_never_raises(text, hours, previous):
    r = classify(text, hours, previous_soreness=previous)
    assert r.level in LEVELS
    assert r.soreness is None or 0 <= r.soreness <= 10
    assert r.symptoms <= PROTOCOL.symptoms


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["ok", "thanks", "k", "who is this", "👍", "gracias", "", "lol"]),
    st.sampled_from(["breathing", "my chest", "chest", "breath", "respirar", "pecho", "lungs"]),
)
def test_a_reply_with_a_breathing_or_chest_word_is_never_unclear(filler, word):
    assert classify(f"{filler} {word}", 5).level != "unclear"
