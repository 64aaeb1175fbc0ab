"""Building the second reader (`learned.py`) from the labelled replies: `flask triage-train`.

1. Read every labelled reply in tests/data/*.jsonl, and the red-flag statements and look-alikes of
   the behavioural banks (tests/data/banks/: each line alone, at its labelled level), and what the
   rule reader makes of each. The look-alikes teach the second reader what a denied or someone
   else's complaint looks like, so it does not raise "no pain when I breathe in".
2. Cross-validate (stratified folds by label, fixed seed): fit the model on all folds but one and
   read the one left out, so every reply gets probabilities from a model that never saw it.
3. Choose the thresholds on those out-of-fold probabilities: the ones that, added to the rules,
   keep over-escalation at or under the budget in every fold (as `evaluation.py` defines it) and
   leave the fewest missed emergencies, then the least under-triage; among equals, the ones that
   give the second reader the widest net of its own (the rules were written from these same
   replies, so their misses here understate their misses on new wording).
4. Fit the model on every reply, and write it (skops) with its record (JSON): thresholds, the
   cross-validated numbers by fold with and without the second reader, hashes of the data and of
   the rule reader's readings of it, library versions.

Everything is seeded: the same data and rule reader give the same bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.protocol import PROTOCOL
from bot.triage import Triage, evaluation, learned, read_by_rules
from bot.triage.learned import RAISABLE, SecondReader

DATA_DIR = Path(__file__).resolve().parents[2] / "tests" / "data"
LOOKALIKES = "lookalikes.jsonl"
BANKS = ("redflags.jsonl", LOOKALIKES)   # in DATA_DIR / "banks"; benign fragments carry no level
SEED = 20261122
FOLDS = 5
OVER_ESCALATION_BUDGET = 0.06
ACCURACY_BUDGET = 0.02        # level accuracy given up at most, against the rules alone
GRID = tuple(round(float(t), 2) for t in np.arange(0.30, 0.951, 0.05))   # never below 0.3: only where confident
C = 1.0                       # inverse regularisation of each logistic regression
CONTEXT_WEIGHT = 0.5          # the context-and-findings block against the two text blocks (norm 1 each)
HARM = (3, 2)                 # the weight of a miss at emergency, urgent (choose_thresholds)
RANK = {level: PROTOCOL.rank(level) for level in (*PROTOCOL.levels, "unclear")}


@dataclass(frozen=True)
class Corpus:
    """The labelled replies and the rule reader's reading of each."""
    files: tuple[Path, ...]
    examples: tuple[evaluation.Example, ...]
    firsts: tuple[Triage, ...]
    sources: tuple[str, ...] = ()      # each example's file name ("lookalikes.jsonl", ...)

    @property
    def lookalikes(self) -> np.ndarray:
        """Which examples are look-alikes of the banks: the second reader must never raise them."""
        return np.array([source == LOOKALIKES for source in self.sources], dtype=bool)

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    @property
    def contexts(self) -> list[dict[str, float]]:
        return [learned.context_features(f, e.region, e.precautions, e.previous)
                for e, f in zip(self.examples, self.firsts)]

    @property
    def ranks(self) -> np.ndarray:
        return np.array([RANK[e.level] for e in self.examples])

    @property
    def rules_ranks(self) -> np.ndarray:
        return np.array([RANK[f.level] for f in self.firsts])


def labelled_files(data_dir: Path = DATA_DIR) -> tuple[Path, ...]:
    banks = tuple(path for name in BANKS if (path := data_dir / "banks" / name).exists())
    return tuple(sorted(data_dir.glob("*.jsonl"))) + banks


def bank_examples(path: Path) -> list[evaluation.Example]:
    """A bank's lines as labelled replies: the statement alone, in its context, at its level."""
    examples = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = json.loads(raw)
        context = line["context"]
        examples.append(evaluation.Example(
            line=number, text=line["text"], hours=float(context["hours_since_session"]),
            region=context.get("region"), precautions=tuple(context.get("precautions", ())),
            previous=context.get("previous_soreness"), level=line["level"], soreness=None, symptoms=None))
    return examples


def load_corpus(data_dir: Path = DATA_DIR) -> Corpus:
    files = labelled_files(data_dir)
    if not files:
        raise FileNotFoundError(f"no labelled replies (*.jsonl) in {data_dir}")
    by_file = [(path.name, bank_examples(path) if path.parent.name == "banks" else evaluation.load(path))
               for path in files]
    examples = tuple(e for _, file_examples in by_file for e in file_examples)
    sources = tuple(name for name, file_examples in by_file for _ in file_examples)
    firsts = tuple(e.classify(read_by_rules) for e in examples)
    return Corpus(files, examples, firsts, sources)


def data_sha256(corpus: Corpus) -> str:
    """The labelled files' names and bytes."""
    h = hashlib.sha256()
    for path in corpus.files:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def readings_sha256(corpus: Corpus) -> str:
    """Everything the model takes from the rule reader, for every labelled reply: when the rules
    read the data differently, the model learned from readings it will no longer see."""
    h = hashlib.sha256()
    for f in corpus.firsts:
        h.update(json.dumps([f.level, f.soreness, sorted(f.symptoms), list(f.rules), sorted(f.resolved),
                             f.is_question, f.window]).encode() + b"\n")
    return h.hexdigest()


def fit(texts: list[str], contexts: list[dict[str, float]], labels: list[str]) -> SecondReader:
    """The second reader fitted on these replies (its thresholds still unset)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import normalize

    text_options = dict(strip_accents="unicode", lowercase=True, sublinear_tf=True, dtype=np.float32)
    parts: dict[str, Any] = {
        "char": TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, **text_options).fit(texts),
        "word": TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b",
                                **text_options).fit(texts),
        "context": DictVectorizer(dtype=np.float32).fit(contexts),
        "context_weight": CONTEXT_WEIGHT,
        "models": {},
        "examples": None,
        "texts": list(texts),
        "labels": list(labels),
    }
    reader = SecondReader(parts, {})
    x = reader.features(texts, contexts)
    for level in RAISABLE:
        y = (reader.ranks >= PROTOCOL.rank(level)).astype(np.int64)
        model = CalibratedClassifierCV(
            LogisticRegression(C=C, solver="liblinear", max_iter=1000, random_state=SEED), method="sigmoid",
            cv=StratifiedKFold(FOLDS, shuffle=True, random_state=SEED), ensemble=False)
        parts["models"][level] = model.fit(x, y)
    parts["examples"] = normalize(x).astype(np.float32)
    return SecondReader(parts, {})


def cross_validate(corpus: Corpus) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Out-of-fold probabilities (level -> one per reply), each reply's fold, and the rank of the
    training reply nearest to each (its support: `SecondReader.support`)."""
    from sklearn.model_selection import StratifiedKFold

    texts, contexts, ranks = corpus.texts, corpus.contexts, corpus.ranks
    labels = [e.level for e in corpus.examples]
    p = {level: np.zeros(len(texts)) for level in RAISABLE}
    folds = np.zeros(len(texts), dtype=np.int64)
    support = np.zeros(len(texts), dtype=np.int64)
    splitter = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    for k, (train, test) in enumerate(splitter.split(texts, ranks)):
        reader = fit([texts[i] for i in train], [contexts[i] for i in train], [labels[i] for i in train])
        test_texts, test_contexts = [texts[i] for i in test], [contexts[i] for i in test]
        for level, probs in reader.probabilities(test_texts, test_contexts).items():
            p[level][test] = probs
        support[test] = [reader.support(*reader.vector(t, c)) for t, c in zip(test_texts, test_contexts)]
        folds[test] = k
    return p, folds, support


def raised_ranks(rules_ranks: np.ndarray, p: dict[str, np.ndarray], thresholds: dict[str, float | None],
                 support: np.ndarray | None = None) -> np.ndarray:
    """The ranks after the second reader (`SecondReader.raise_to`, for many replies at once)."""
    chosen = np.full(len(rules_ranks), -1)
    for level in reversed(RAISABLE):                 # urgent, then emergency: the highest wins
        threshold = thresholds.get(level)
        if threshold is not None:
            reaches = p[level] >= threshold
            if support is not None:
                reaches &= support >= PROTOCOL.rank(level)
            chosen[reaches] = PROTOCOL.rank(level)
    return np.maximum(rules_ranks, chosen)


def counts(labelled: np.ndarray, predicted: np.ndarray) -> dict[str, int]:
    """The counts behind evaluation.py's safety numbers, on ranks (unclear is -1)."""
    low = (labelled == RANK["expected"]) | (labelled == RANK["monitor"])
    high = labelled >= RANK["routine"]
    return {
        "low": int(low.sum()),
        "over_escalated": int((low & (predicted >= RANK["routine"])).sum()),
        "high": int(high.sum()),
        "under_triaged": int((high & (predicted < labelled)).sum()),
        "emergencies": int((labelled == RANK["emergency"]).sum()),
        "missed_emergencies": int(((labelled == RANK["emergency"]) & (predicted < RANK["emergency"])).sum()),
    }


def choose_thresholds(labelled: np.ndarray, rules_ranks: np.ndarray, p: dict[str, np.ndarray],
                      folds: np.ndarray, never_raise: np.ndarray | None = None,
                      support: np.ndarray | None = None) -> dict[str, float | None]:
    """Step 3 of the module's docstring, over every combination of GRID (or off) for each level.

    The budget holds in every fold, not only over all of them: the margin is for the rules' own
    over-escalation on new wording, which these replies (written beside the rules) understate. Level
    accuracy may fall at most ACCURACY_BUDGET below the rules' (over-escalation does not count an
    urgent reply raised to emergency, whose patient is told to call 911).
    Within it: the fewest missed emergencies, then urgent-or-higher replies read lower; then the
    second reader's own recall at each level (the share of replies labelled at or above it whose
    probability reaches its threshold: its net where the rules miss, which these replies cannot
    show), weighted by the harm of a miss (emergency 3, urgent 2); then the least
    under-triage; then the higher thresholds. The replies of `never_raise` (the look-alikes of the
    banks: denied, someone else's, idioms, remedies) have a budget of their own: out of fold, no more
    of them may be raised above their label than the over-escalation budget allows, so that the
    thresholds are not set on the many plain replies while the look-alikes, which tests/triage/
    test_banks.py holds the whole triage to, pay for it."""
    best_key, best = None, {level: None for level in RAISABLE}
    in_fold = [folds == k for k in range(FOLDS)]
    at_least = {level: labelled >= PROTOCOL.rank(level) for level in RAISABLE}
    severe = labelled >= RANK["urgent"]
    floor = (rules_ranks == labelled).mean() - ACCURACY_BUDGET
    for combination in itertools.product((*GRID, None), repeat=len(RAISABLE)):
        thresholds = dict(zip(RAISABLE, combination))
        raised = raised_ranks(rules_ranks, p, thresholds, support)
        if (any(_over_budget(counts(labelled[f], raised[f])) for f in in_fold)
                or (raised == labelled).mean() < floor
                or (never_raise is not None and never_raise.any()
                    and (raised[never_raise] > labelled[never_raise]).mean() > OVER_ESCALATION_BUDGET)):
            continue
        c = counts(labelled, raised)
        own_recall = sum(weight * (p[level][at_least[level]] >= thresholds[level]).mean()
                         for level, weight in zip(RAISABLE, HARM) if thresholds[level] is not None)
        key = (c["missed_emergencies"], int((severe & (raised < labelled)).sum()), -round(own_recall, 9),
               c["under_triaged"], *(-1.0 if t is None else -t for t in combination))
        if best_key is None or key < best_key:
            best_key, best = key, thresholds
    return best


def _over_budget(c: dict[str, int]) -> bool:
    return c["over_escalated"] > OVER_ESCALATION_BUDGET * c["low"]


def measure(corpus: Corpus, ranks: np.ndarray) -> dict[str, Any]:
    """evaluation.py's numbers for these predicted ranks (the rules' decisions, levels replaced)."""
    by_rank = {rank: level for level, rank in RANK.items()}
    outcomes = [evaluation.Outcome(e, f if RANK[f.level] == r else dataclasses.replace(f, level=by_rank[int(r)]))
                for e, f, r in zip(corpus.examples, corpus.firsts, ranks)]
    ev = evaluation.evaluate(outcomes)
    return {"n": ev.n, "over_escalation": ev.over_escalation, "under_triage": ev.under_triage,
            "emergency_recall": ev.recall["emergency"], "urgent_or_higher_recall": ev.urgent_or_higher_recall,
            "accuracy": ev.accuracy}


def cv_results(corpus: Corpus, p: dict[str, np.ndarray], folds: np.ndarray,
               thresholds: dict[str, float | None], support: np.ndarray | None = None) -> dict[str, Any]:
    rules_ranks = corpus.rules_ranks
    both = raised_ranks(rules_ranks, p, thresholds, support)

    def both_ways(index: np.ndarray) -> dict[str, Any]:
        part = Corpus(corpus.files, tuple(corpus.examples[i] for i in index), tuple(corpus.firsts[i] for i in index))
        return {"rules": _rounded(measure(part, rules_ranks[index])),
                "with_second_reader": _rounded(measure(part, both[index])),
                "raised": int((both[index] > rules_ranks[index]).sum())}

    return {"pooled": both_ways(np.arange(len(folds))),
            "by_fold": [both_ways(np.flatnonzero(folds == k)) for k in range(FOLDS)]}


def _rounded(numbers: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in numbers.items()}


def deterministic_dump(parts: dict[str, Any]) -> bytes:
    """skops' zip made reproducible, so the same model gives the same bytes (and no diff in git).

    skops names each object by its `id()` (the `__id__` fields of schema.json, and the .npy
    entries), which differs from run to run. 1. Number those ids in order of first appearance in
    the schema, which follows the object's structure. 2. Rewrite the schema and rename the arrays
    with those numbers. 3. Write the entries in name order with a fixed timestamp.
    """
    import skops.io

    source = zipfile.ZipFile(io.BytesIO(skops.io.dumps(parts)))
    numbers: dict[str, str] = {}

    def renumber(match: re.Match[str]) -> str:
        return numbers.setdefault(match.group(0), str(len(numbers) + 1))

    schema = _OBJECT_ID.sub(renumber, source.read("schema.json").decode("utf-8"))
    entries = {"schema.json": schema.encode("utf-8")}
    for name in source.namelist():
        if name != "schema.json":
            stem, dot, suffix = name.partition(".")
            if stem not in numbers:
                raise RuntimeError(f"skops wrote {name}, which its schema does not name")
            entries[numbers[stem] + dot + suffix] = source.read(name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in sorted(entries):
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, entries[name])
    return out.getvalue()


_OBJECT_ID = re.compile(r'(?<="__id__": )\d+|(?<=")\d+(?=\.np[yz]")')     # an id, or an array's file


def record_of(corpus: Corpus) -> dict[str, Any]:
    """What the record says about the data and libraries (compared by `stale`)."""
    import skops
    import sklearn

    return {"format": learned.FORMAT, "protocol_version": PROTOCOL.version,
            "data_files": [p.name for p in corpus.files], "replies": len(corpus.examples),
            "data_sha256": data_sha256(corpus), "rule_readings_sha256": readings_sha256(corpus),
            "sklearn_version": sklearn.__version__, "skops_version": skops.__version__,
            "numpy_version": np.__version__}


def train(data_dir: Path | None = None, model_path: Path | None = None,
          record_path: Path | None = None) -> dict[str, Any]:
    """Steps 1-4; returns the record written."""
    data_dir, model_path, record_path = (data_dir or DATA_DIR, model_path or learned.MODEL_PATH,
                                         record_path or learned.RECORD_PATH)
    corpus = load_corpus(data_dir)
    p, folds, support = cross_validate(corpus)
    thresholds = choose_thresholds(corpus.ranks, corpus.rules_ranks, p, folds, corpus.lookalikes, support)
    reader = fit(corpus.texts, corpus.contexts, [e.level for e in corpus.examples])
    blob = deterministic_dump(reader.parts)
    record = {**record_of(corpus),
              "model_file": model_path.name, "model_sha256": hashlib.sha256(blob).hexdigest(),
              "seed": SEED, "folds": FOLDS, "over_escalation_budget": OVER_ESCALATION_BUDGET,
              "thresholds": thresholds, "cross_validation": cv_results(corpus, p, folds, thresholds, support)}
    model_path.write_bytes(blob)
    record_path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return record


def stale(data_dir: Path | None = None, model_path: Path | None = None,
          record_path: Path | None = None) -> list[str]:
    """Why the model on disk does not match today's data, rule reader and libraries ([] when current)."""
    data_dir, model_path, record_path = (data_dir or DATA_DIR, model_path or learned.MODEL_PATH,
                                         record_path or learned.RECORD_PATH)
    if not record_path.exists() or not model_path.exists():
        return [f"{path} is missing" for path in (model_path, record_path) if not path.exists()]
    recorded = json.loads(record_path.read_text(encoding="utf-8"))
    today = record_of(load_corpus(data_dir))
    problems = [f"{key}: the model was built with {recorded.get(key)!r}, today it is {value!r}"
                for key, value in today.items() if key != "data_files" and recorded.get(key) != value]
    if recorded.get("model_sha256") != learned.file_sha256(model_path):
        problems.append(f"{model_path.name} is not the file the record describes")
    return problems


def summary(record: dict[str, Any]) -> str:
    """The record's thresholds and cross-validated numbers as a table (printed by the command)."""
    t = record["thresholds"]
    lines = [f"{record['replies']} labelled replies, {record['folds']} folds; thresholds: "
             + ", ".join(f"{level} {'off' if t[level] is None else t[level]}" for level in RAISABLE),
             f"{'':16}{'over-esc':>9}{'under':>8}{'emerg rec':>10}{'urg+ rec':>9}{'accuracy':>9}{'raised':>7}"]
    cv = record["cross_validation"]
    for name, result in (("pooled", cv["pooled"]), *((f"fold {k + 1}", r) for k, r in enumerate(cv["by_fold"]))):
        for who in ("rules", "with_second_reader"):
            m = result[who]
            label = f"{name} {'rules' if who == 'rules' else '+2nd'}"
            lines.append(f"{label:<16}" + "".join(f"{100 * m[key]:>{w}.1f}%"
                                                  for key, w in (("over_escalation", 8), ("under_triage", 7),
                                                                 ("emergency_recall", 9), ("urgent_or_higher_recall", 8),
                                                                 ("accuracy", 8)))
                         + (f"{result['raised']:>7}" if who != "rules" else ""))
    return "\n".join(lines)
