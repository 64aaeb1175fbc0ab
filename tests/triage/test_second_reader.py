"""The second reader (bot/triage/learned.py): a learned model beside the rules that may raise a
reply's level where it is confident, never lower it, and says why."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import skops.io
from hypothesis import given, settings, strategies as st

from bot import create_app
from bot.protocol import PROTOCOL
from bot.triage import classify, evaluation, learned, read_by_rules, training
from tests.conftest import app_config

DATA = Path(__file__).resolve().parent.parent / "data"
rank = PROTOCOL.rank


@pytest.fixture(scope="module")
def corpus() -> training.Corpus:
    return training.load_corpus(DATA)


@pytest.fixture(scope="module")
def reader() -> learned.SecondReader:
    second = learned.reader()
    assert second is not None, "the second reader did not load; run `flask triage-train`"
    return second


def forget_the_loaded_reader(monkeypatch) -> None:
    """For the rest of one test, as in a new process: the next reply loads the reader again."""
    monkeypatch.setattr(learned, "_loaded", False)
    monkeypatch.setattr(learned, "_reader", None)
    monkeypatch.setattr(learned, "_enabled", True)


def _classified(corpus, fn):
    return [e.classify(fn) for e in corpus.examples]


# Wordings in no labelled file, each an emergency under PROTOCOL.md (E6, E5, E2) that the rules
# read lower. The reader raises a labelled reply only where its rules reading falls short of the
# nearest labelled wording, so in-sample it raises almost nothing: raises are shown on these.
UNSEEN_EMERGENCIES = (
    ("still bleeding through the bandaid after 20 min", 5.0, "upper_trapezius"),
    ("the needle spot is swollen and rock hard and hurts like crazy", 30.0, "gluteal"),
    ("passed out for a sec in the shower and now my chest feels funny", 5.0, "upper_trapezius"),
    ("sigue sangrando el punto despues de media hora apretando", 5.0, "lumbar"),
)


class Unseen:
    """One unseen wording with its context, read as a labelled example is."""

    def __init__(self, text: str, hours: float, region: str):
        self.text, self.hours, self.region, self.precautions, self.previous = text, hours, region, (), None

    def classify(self, fn):
        return fn(self.text, self.hours, region=self.region, precautions=self.precautions,
                  previous_soreness=self.previous)


def _a_raised_reply(reader):
    for text, hours, region in UNSEEN_EMERGENCIES:
        e = Unseen(text, hours, region)
        first, result = e.classify(read_by_rules), e.classify(classify)
        if result.rules[:1] == (learned.RULE_ID,) and result.level == "emergency" and first.level != "emergency":
            return e, first, result
    pytest.fail("the second reader raises none of the unseen emergencies the rules read lower")


# -- it may only raise ---------------------------------------------------------------------------

def test_it_never_lowers_a_level_nor_touches_the_rules_findings_on_any_labelled_reply(corpus):
    for e, first in zip(corpus.examples, corpus.firsts):
        both = e.classify(classify)
        assert rank(both.level) >= rank(first.level), e.text
        assert (both.soreness, both.symptoms, both.resolved, both.window, both.is_question,
                both.protocol_version) == (first.soreness, first.symptoms, first.resolved, first.window,
                                           first.is_question, first.protocol_version)
        if both.level == first.level:
            assert both == first, e.text
        else:
            assert both.rules == (learned.RULE_ID, *first.rules)
            assert both.reasons[1:] == first.reasons


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=160), st.floats(min_value=0, max_value=500),
       st.sampled_from([None, *sorted(PROTOCOL.regions)]),
       st.lists(st.sampled_from(sorted(PROTOCOL.precautions)), max_size=2, unique=True),
       st.none() | st.integers(0, 10))
def test_any_reply_is_never_read_lower_than_the_rules_read_it(text, hours, region, precautions, previous):
    context = dict(region=region, precautions=precautions, previous_soreness=previous)
    first, both = read_by_rules(text, hours, **context), classify(text, hours, **context)
    assert rank(both.level) >= rank(first.level)
    assert both.symptoms == first.symptoms and both.soreness == first.soreness


# -- only where it is confident --------------------------------------------------------------------

def test_it_raises_exactly_where_a_probability_reaches_its_threshold(corpus, reader):
    p = reader.probabilities(corpus.texts, corpus.contexts)
    support = np.array([reader.support(*reader.vector(t, c)) for t, c in zip(corpus.texts, corpus.contexts)])
    expected = training.raised_ranks(corpus.rules_ranks, p, reader.thresholds, support)
    got = np.array([rank(r.level) for r in _classified(corpus, classify)])
    assert (got == expected).all()


def test_it_raises_an_unseen_emergency_the_rules_read_lower(reader):
    e, first, result = _a_raised_reply(reader)
    assert rank(first.level) < rank("emergency") and result.level == "emergency"


def test_it_never_raises_a_reply_beyond_the_label_of_the_labelled_reply_most_like_it(corpus, reader):
    """A look-alike it was taught ("my coworker has a nasty cough", expected) stays where it was
    labelled even when the words score high: the nearest wording's label bears a raise out or not."""
    everything = {level: 0.0 for level in learned.RAISABLE}
    eager = learned.SecondReader(reader.parts, everything)
    for e, first in list(zip(corpus.examples, corpus.firsts))[::3]:
        support = reader.support(*reader.vector(e.text, learned.context_features(first, e.region, e.precautions,
                                                                                  e.previous)))
        result = eager.second_look(first, e.text, e.region, e.precautions, e.previous)
        assert rank(result.level) <= max(rank(first.level), support), e.text


def test_a_probability_just_below_the_threshold_does_not_raise_and_one_at_it_does(corpus, reader):
    e, first, _ = _a_raised_reply(reader)
    context = learned.context_features(first, e.region, e.precautions, e.previous)
    p = float(reader.probabilities([e.text], [context])["emergency"][0])
    at = learned.SecondReader(reader.parts, {"emergency": p})
    above = learned.SecondReader(reader.parts, {"emergency": np.nextafter(p, 1.0)})
    assert at.second_look(first, e.text, e.region, e.precautions, e.previous).level == "emergency"
    assert above.second_look(first, e.text, e.region, e.precautions, e.previous) == first


def test_a_threshold_switched_off_never_raises_to_its_level(corpus, reader):
    off = learned.SecondReader(reader.parts, {"emergency": None, "urgent": None, "routine": None})
    for e, first in list(zip(corpus.examples, corpus.firsts))[::7]:
        assert off.second_look(first, e.text, e.region, e.precautions, e.previous) == first


def test_the_fast_reading_gives_scikit_learns_probabilities_on_every_labelled_reply(corpus, reader):
    fast, reference = reader.probabilities(corpus.texts, corpus.contexts), reader.reference(corpus.texts, corpus.contexts)
    for level in learned.RAISABLE:
        assert np.allclose(fast[level], reference[level], atol=1e-6), level


# -- it says why -----------------------------------------------------------------------------------

def test_a_raise_says_second_reader_with_its_probability_and_names_the_nearest_labelled_replies(corpus, reader):
    e, first, result = _a_raised_reply(reader)
    reason = result.reasons[0]
    assert reason.startswith("L1: second reader: reads like an emergency (p=")
    assert f"the rules read {first.level}" in reason
    quoted = reason.split("nearest labelled replies: ", 1)[1]
    named = [t for t, label in zip(reader.texts, reader.labels)
             if f"'{learned._quote(t)}' ({label})" in quoted]
    assert 2 <= len(named) <= learned.NEIGHBOURS
    assert all(label == "emergency" for t, label in zip(reader.texts, reader.labels) if t in named)
    assert result.protocol_version == PROTOCOL.version


def test_the_nearest_replies_are_the_most_alike_first(reader):
    text = "cant catch my breath since the session"
    first = read_by_rules(text, 5.0, region="upper_trapezius")
    columns, values = reader.vector(text, learned.context_features(first, "upper_trapezius", (), None))
    nearest = reader.nearest(columns, values, "emergency")
    x = reader.features([text], [learned.context_features(first, "upper_trapezius", (), None)])
    similarity = (reader.examples @ x.T).toarray().ravel()
    assert [similarity[i] for i in nearest] == sorted((similarity[i] for i in nearest), reverse=True)
    assert similarity[nearest[0]] == max(s for s, lv in zip(similarity, reader.labels) if lv == "emergency")


def test_an_urgent_raise_reads_as_urgent_or_higher(reader):
    urgent_only = learned.SecondReader(reader.parts, {"urgent": 0.0})
    text, hours, region = UNSEEN_EMERGENCIES[0]
    first = read_by_rules(text, hours, region=region)
    assert first.level not in ("urgent", "emergency")
    result = urgent_only.second_look(first, text, region, (), None)
    assert result.level == "urgent" and result.rules == ("L1", *first.rules)
    assert result.reasons[0].startswith("L1: second reader: reads like urgent or higher (p=")


# -- the model file --------------------------------------------------------------------------------

def test_the_model_file_holds_no_type_beyond_the_trusted_list():
    assert set(skops.io.get_untrusted_types(file=learned.MODEL_PATH)) <= set(learned.TRUSTED_TYPES)


def test_a_model_file_with_an_untrusted_type_is_refused(tmp_path):
    model, record = tmp_path / "second_reader.skops", tmp_path / "second_reader.json"
    skops.io.dump({"hook": learned.context_features}, model)
    meta = json.loads(learned.RECORD_PATH.read_text())
    record.write_text(json.dumps({**meta, "model_sha256": learned.file_sha256(model)}))
    with pytest.raises(learned.ModelError, match="not on the trusted list"):
        learned.load(model, record)


def test_a_model_file_that_is_not_the_one_recorded_is_refused(tmp_path):
    model, record = tmp_path / "second_reader.skops", tmp_path / "second_reader.json"
    shutil.copy(learned.MODEL_PATH, model)
    model.write_bytes(model.read_bytes() + b"\0")
    shutil.copy(learned.RECORD_PATH, record)
    with pytest.raises(learned.ModelError, match="is not the file"):
        learned.load(model, record)


def test_the_model_is_current_with_the_labelled_data_and_the_rule_reader():
    problems = training.stale()
    assert not problems, "the second reader is stale; run `flask triage-train` and commit its files:\n" + "\n".join(problems)


def test_the_record_keeps_thresholds_within_the_budget_and_the_cross_validated_numbers():
    record = json.loads(learned.RECORD_PATH.read_text())
    cv = record["cross_validation"]
    assert set(record["thresholds"]) == set(learned.RAISABLE)
    assert len(cv["by_fold"]) == record["folds"]
    for result in (cv["pooled"], *cv["by_fold"]):
        assert result["with_second_reader"]["over_escalation"] <= record["over_escalation_budget"]
        assert result["with_second_reader"]["under_triage"] <= result["rules"]["under_triage"]


def test_the_threshold_search_counts_over_escalation_and_under_triage_as_the_evaluation_does(corpus):
    predicted = np.random.default_rng(0).integers(-1, 5, size=len(corpus.examples))
    c, ev = training.counts(corpus.ranks, predicted), training.measure(corpus, predicted)
    assert c["over_escalated"] / c["low"] == pytest.approx(ev["over_escalation"])
    assert c["under_triaged"] / c["high"] == pytest.approx(ev["under_triage"])
    assert 1 - c["missed_emergencies"] / c["emergencies"] == pytest.approx(ev["emergency_recall"])


# -- switched off, or missing ------------------------------------------------------------------------

def test_switched_off_the_rules_alone_decide(corpus, reader, monkeypatch, tmp_path):
    e, first, _ = _a_raised_reply(reader)
    forget_the_loaded_reader(monkeypatch)
    create_app(app_config("sqlite://", tmp_path, TRIAGE_SECOND_READER="off"))
    assert e.classify(classify) == first
    create_app(app_config("sqlite://", tmp_path, TRIAGE_SECOND_READER="on"))
    assert e.classify(classify).rules[0] == "L1"


def test_an_unknown_switch_value_is_refused_naming_the_setting(tmp_path):
    import config

    with pytest.raises(config.ConfigError, match="TRIAGE_SECOND_READER"):
        create_app(app_config("sqlite://", tmp_path, TRIAGE_SECOND_READER="maybe"))


def test_without_its_model_file_triage_runs_on_the_rules_and_says_so_once(corpus, reader, monkeypatch,
                                                                         tmp_path, caplog):
    e, first, _ = _a_raised_reply(reader)
    forget_the_loaded_reader(monkeypatch)
    monkeypatch.setattr(learned, "MODEL_PATH", tmp_path / "gone.skops")
    with caplog.at_level(logging.ERROR, logger="bot.triage.learned"):
        assert e.classify(classify) == first
        assert e.classify(classify) == first
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "rules alone" in errors[0].getMessage() and "flask triage-train" in errors[0].getMessage()


# -- flask triage-train ----------------------------------------------------------------------------

@pytest.fixture
def small_data(tmp_path, monkeypatch):
    """A few hundred labelled replies of every level, and model files of their own."""
    data = tmp_path / "data"
    data.mkdir()
    lines = [line for name in ("replies.jsonl", "replies_redflags.jsonl")
             for line in (DATA / name).read_text(encoding="utf-8").splitlines()[::5]]
    (data / "replies.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(training, "DATA_DIR", data)
    monkeypatch.setattr(learned, "MODEL_PATH", tmp_path / "second_reader.skops")
    monkeypatch.setattr(learned, "RECORD_PATH", tmp_path / "second_reader.json")
    return data


def test_triage_train_writes_the_same_bytes_twice_and_check_then_says_current(small_data, app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["triage-train"])
    assert first.exit_code == 0, first.output
    assert "thresholds: emergency" in first.output and "pooled +2nd" in first.output
    model_bytes, record_bytes = learned.MODEL_PATH.read_bytes(), learned.RECORD_PATH.read_bytes()
    assert runner.invoke(args=["triage-train"]).exit_code == 0
    assert learned.MODEL_PATH.read_bytes() == model_bytes and learned.RECORD_PATH.read_bytes() == record_bytes
    check = runner.invoke(args=["triage-train", "--check"])
    assert check.exit_code == 0 and "is current" in check.output
    assert learned.load() is not None


def test_triage_train_check_says_stale_when_a_labelled_reply_is_added_and_writes_nothing(small_data, app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["triage-train"]).exit_code == 0
    written = learned.MODEL_PATH.read_bytes()
    with open(small_data / "replies.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"text": "cant breathe right", "hours_since_session": 5, "context": {},
                             "expect": {"level": "emergency", "soreness": None,
                                        "symptoms": ["shortness_of_breath"], "rules": ["E1"]}}) + "\n")
    check = runner.invoke(args=["triage-train", "--check"])
    assert check.exit_code == 1
    assert "run `flask triage-train`" in check.output and "data_sha256" in check.output
    assert learned.MODEL_PATH.read_bytes() == written


def test_a_change_in_how_the_rules_read_the_data_makes_the_model_stale(small_data, app, monkeypatch):
    assert app.test_cli_runner().invoke(args=["triage-train"]).exit_code == 0
    monkeypatch.setattr(training, "read_by_rules", lambda *a, **k: read_by_rules("fine", 30.0))
    assert any("rule_readings_sha256" in p for p in training.stale())


def test_labelled_files_are_read_through_the_evaluation_format(tmp_path, monkeypatch):
    (tmp_path / "bad.jsonl").write_text('{"text": 3}\n', encoding="utf-8")
    with pytest.raises(evaluation.MalformedLine, match="bad.jsonl, line 1"):
        training.load_corpus(tmp_path)


@pytest.mark.parametrize("module", ["learned.py", "training.py"])
def test_the_second_reader_imports_no_flask_database_clock_or_network(module):
    import ast

    tree = ast.parse((Path(learned.__file__).parent / module).read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"flask", "click", "sqlalchemy", "requests", "twilio", "socket", "datetime", "time",
                           "random", "pickle", "joblib"}
