"""Evaluation functions and the `flask triage` / `flask triage-eval` commands."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from bot.triage import evaluation
from bot.triage.cli import bp

LINES = [
    {"text": "fine", "hours_since_session": 20, "context": {}, "expect": {"level": "expected", "soreness": None}},
    {"text": "3", "hours_since_session": 20, "context": {}, "expect": {"level": "expected", "soreness": 3}},
    {"text": "hurts to breathe", "hours_since_session": 5, "context": {"region": "neck", "precautions": []},
     "expect": {"level": "emergency", "soreness": None, "symptoms": ["shortness_of_breath"]}},
    # deliberately mislabelled, to see the numbers move:
    {"text": "ok", "hours_since_session": 5, "expect": {"level": "routine", "soreness": None}},
    {"text": "6", "hours_since_session": 20, "expect": {"level": "expected", "soreness": 6}},
]


@pytest.fixture
def labelled(tmp_path):
    path = tmp_path / "replies.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES), encoding="utf-8")
    return path


@pytest.fixture
def runner():
    app = Flask("t")
    app.register_blueprint(bp)
    return app.test_cli_runner()


def test_evaluation_counts_levels_and_safety_rates(labelled):
    ev = evaluation.evaluate(evaluation.run(evaluation.load(labelled)))
    assert ev.n == 5
    assert ev.confusion["routine"]["unclear"] == 1
    assert ev.confusion["expected"]["monitor"] == 1          # "6" on day 1 is M2
    assert ev.accuracy == pytest.approx(3 / 5)
    assert ev.soreness_exact == 1.0
    assert ev.under_triage == pytest.approx(1 / 2)           # routine predicted unclear
    assert ev.over_escalation == 0.0                         # monitor is not routine or higher
    assert ev.urgent_or_higher_recall == 1.0
    assert ev.recall["emergency"] == 1.0
    assert ev.precision["monitor"] == 0.0
    assert ev.recall["urgent"] is None                       # no line labelled urgent
    assert [o.example.line for o in ev.misclassified] == [4, 5]


def test_report_names_the_misclassified_lines(labelled):
    text = evaluation.report(evaluation.evaluate(evaluation.run(evaluation.load(labelled))))
    assert "under-triage" in text and "line 4: level routine -> unclear" in text


@pytest.mark.parametrize("bad_line, problem", [
    ("{not json", "not JSON"),
    ('{"text": 3, "hours_since_session": 1, "expect": {"level": "expected"}}', '"text"'),
    ('{"text": "x", "expect": {"level": "expected"}}', "hours_since_session"),
    ('{"text": "x", "hours_since_session": 1, "expect": {"level": "fine"}}', "expect.level"),
    ('{"text": "x", "hours_since_session": 1, "context": {"region": "elbow"}, "expect": {"level": "expected"}}', "region"),
    ('{"text": "x", "hours_since_session": 1, "expect": {"level": "expected", "soreness": 12}}', "soreness"),
])
def test_a_malformed_line_is_reported_with_its_number(tmp_path, bad_line, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(LINES[0]) + "\n" + bad_line + "\n", encoding="utf-8")
    with pytest.raises(evaluation.MalformedLine) as info:
        evaluation.load(path)
    assert info.value.line == 2 and problem in str(info.value)


def test_triage_command_prints_json(runner):
    out = runner.invoke(args=["triage", "it hurts when I breathe in", "--hours", "26", "--region", "shoulder",
                              "--precaution", "anticoagulant", "--previous", "3"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["level"] == "emergency" and data["rules"][0] == "E1"


def test_triage_command_rejects_values_outside_the_vocabulary(runner):
    out = runner.invoke(args=["triage", "sore", "--hours", "2", "--region", "elbow"])
    assert out.exit_code != 0 and "unknown region" in out.output


def test_triage_eval_prints_a_report_and_json(runner, labelled):
    out = runner.invoke(args=["triage-eval", str(labelled)])
    assert out.exit_code == 0 and "confusion" in out.output and "line 4" in out.output
    out = runner.invoke(args=["triage-eval", str(labelled), "--json"])
    assert out.exit_code == 0
    data = json.loads(out.output)
    assert data["n"] == 5 and data["under_triage"] == 0.5 and data["confusion"]["routine"]["unclear"] == 1


def test_triage_eval_fails_clearly_on_a_malformed_file(runner, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(LINES[0]) + "\n{oops\n", encoding="utf-8")
    out = runner.invoke(args=["triage-eval", str(path)])
    assert out.exit_code != 0 and "line 2" in out.output
