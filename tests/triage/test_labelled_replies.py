"""The classifier against the labelled development data: tests/data/replies.jsonl, the spent
held-out sets tests/data/replies_dev.jsonl, replies_dev2.jsonl, replies_dev3.jsonl,
replies_dev4.jsonl and replies_dev5.jsonl (tests/data/README.md), and replies_redflags.jsonl (the many ways patients word
each red flag, and their harmless look-alikes), with the same thresholds.

The current held-out set is not used here: it measures generalisation and is run only from outside.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.triage import evaluation

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module", params=["replies.jsonl", "replies_dev.jsonl", "replies_dev2.jsonl",
                                        "replies_dev3.jsonl", "replies_dev4.jsonl", "replies_dev5.jsonl",
                                        "replies_redflags.jsonl"])
def ev(request) -> evaluation.Evaluation:
    path = DATA / request.param
    if not path.exists():
        pytest.skip(f"tests/data/{request.param} is not there")
    return evaluation.evaluate(evaluation.run(evaluation.load(path)))


def test_every_emergency_is_caught(ev):
    assert ev.recall["emergency"] == 1.0, evaluation.report(ev)


def test_urgent_or_higher_recall_is_at_least_98_percent(ev):
    assert ev.urgent_or_higher_recall >= 0.98, evaluation.report(ev)


def test_under_triage_is_at_most_2_percent(ev):
    assert ev.under_triage <= 0.02, evaluation.report(ev)


def test_over_escalation_is_at_most_5_percent(ev):
    assert ev.over_escalation <= 0.05, evaluation.report(ev)


def test_level_accuracy_is_at_least_92_percent(ev):
    assert ev.accuracy >= 0.92, evaluation.report(ev)


def test_soreness_exact_match_is_at_least_95_percent(ev):
    assert ev.soreness_exact >= 0.95, evaluation.report(ev)
