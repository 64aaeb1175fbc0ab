"""The second reader: a learned model beside the rules that may raise a reply's level, never lower it.

Hand-written reading always meets wordings it lacks. This reader estimates, for one reply, the
calibrated probability that its level is emergency, and that it is urgent or higher, from
the words (character and word n-grams), the context (time window, lung-risk region or not,
precautions, a previous score) and the rule reader's own findings (its level, rule ids, symptoms,
soreness). Where a probability reaches that level's threshold, the rules gave less, and the labelled
reply most like this one was labelled at that level or higher (a raise must be borne out by the
closest known wording: the reader never raises a reply whose nearest labelled reply was judged
lower, such as a look-alike it was taught), the level is raised: rule `L1` comes first in `rules`, and the first reason gives the probability and the
labelled replies nearest to this one in the model's feature space, so a provider sees why. The
rules stay the only source of soreness, symptoms and the other rule ids.

The model (`second_reader.skops`, beside the protocol) and its record (`second_reader.json`:
thresholds chosen by cross-validation, the numbers behind them, hashes of the data it was built
from) are written by `flask triage-train` (`training.py`). They are loaded once per process, on the
first reply, from skops with an explicit list of trusted types (never pickle). Switched off
(`TRIAGE_SECOND_READER=off`), or with the model missing or unreadable, triage runs on the rules
alone, and the log says so once, loudly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from bot.protocol import PROTOCOL

if TYPE_CHECKING:                                    # the package imports this module
    from scipy.sparse import csr_matrix

    from bot.triage import Triage

log = logging.getLogger(__name__)

RULE_ID = "L1"
MODEL_PATH = PROTOCOL.data_dir / "second_reader.skops"
RECORD_PATH = PROTOCOL.data_dir / "second_reader.json"
FORMAT = 1                                            # bumped when the parts stored change shape
RAISABLE = ("emergency", "urgent")                   # the levels it may raise to, highest first
NEIGHBOURS = 3
QUOTE_CHARS = 60

# The types the model file holds beyond those skops trusts by itself (scikit-learn's estimators,
# numpy arrays, builtins): `skops.io.get_untrusted_types` on a freshly trained file. Loading refuses
# anything else, so a model file from elsewhere cannot run code here.
TRUSTED_TYPES = [
    "scipy.sparse._csr.csr_matrix",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.StratifiedKFold",
]

class ModelError(RuntimeError):
    """The model file or its record cannot be used; the message says which and why."""


def context_features(first: Triage, region: str | None, precautions: Iterable[str],
                     previous: int | None) -> dict[str, float]:
    """What the model knows besides the words: the context, and what the rule reader found (its
    symptoms, soreness and question; not its level or rule ids, which it would learn to copy:
    bench/README.md, "The second reader")."""
    f = {f"window={first.window}": 1.0, f"soreness={_band(first.soreness)}": 1.0,
         f"previous={_band(previous)}": 1.0}
    if region is None:
        f["region=unknown"] = 1.0
    else:
        f["region=lung_risk" if region in PROTOCOL.lung_risk_regions else "region=other"] = 1.0
    for p in precautions:
        f[f"precaution={p}"] = 1.0
    for s in first.symptoms:
        f[f"symptom={s}"] = 1.0
    for s in first.resolved:
        f[f"resolved={s}"] = 1.0
    if first.is_question:
        f["question"] = 1.0
    return f


def _band(score: int | None) -> str:
    if score is None:
        return "none"
    return "0" if score == 0 else "1-3" if score <= 3 else "4-5" if score <= 5 else "6-7" if score <= 7 else "8-10"


class SecondReader:
    """A trained model (`parts`, from the skops file) and its thresholds (from the record).

    Fitting and the reference reading go through scikit-learn (`features`, `reference`). Its
    per-call checks cost milliseconds on one reply, so replies are read by `probabilities`, the same
    arithmetic on the fitted numbers: tf-idf of the vectorizers' own analyzers over their
    vocabularies, one dot product per level, the fitted sigmoid calibration
    (tests/triage/test_second_reader.py holds the two equal on every labelled reply).
    """

    def __init__(self, parts: dict[str, Any], thresholds: dict[str, float | None]):
        import numpy as np

        self.parts = parts
        self.char, self.word, self.context = parts["char"], parts["word"], parts["context"]
        self.context_weight = float(parts["context_weight"])
        self.models = parts["models"]                # level -> CalibratedClassifierCV, p(level or higher)
        self.examples = parts["examples"]            # the training rows (unit length), for neighbours
        self.texts: list[str] = list(parts["texts"])
        self.labels: list[str] = list(parts["labels"])
        self.ranks = np.array([PROTOCOL.rank(label) for label in self.labels])
        self.thresholds = {level: thresholds.get(level) for level in RAISABLE}

        self._text_blocks = []
        offset = 0
        for vectorizer in (self.char, self.word):
            self._text_blocks.append((vectorizer.build_analyzer(), vectorizer.vocabulary_,
                                      vectorizer.idf_.astype(np.float64), offset))
            offset += len(vectorizer.vocabulary_)
        self._context_offset, self.width = offset, offset + len(self.context.vocabulary_)
        if self.models:
            pairs = [self.models[level].calibrated_classifiers_ for level in RAISABLE]
            if any(len(p) != 1 or len(p[0].calibrators) != 1 for p in pairs):
                raise ModelError("each level's model must be one classifier with one sigmoid calibration")
            self._weights = np.column_stack([p[0].estimator.coef_.ravel() for p in pairs])
            self._intercepts = np.array([p[0].estimator.intercept_[0] for p in pairs])
            self._slopes = np.array([p[0].calibrators[0].a_ for p in pairs], dtype=np.float64)
            self._offsets = np.array([p[0].calibrators[0].b_ for p in pairs], dtype=np.float64)

    def features(self, texts: Sequence[str], contexts: Sequence[dict[str, float]]) -> csr_matrix:
        """The feature rows, through scikit-learn (for fitting)."""
        from scipy.sparse import hstack

        blocks = [self.char.transform(texts), self.word.transform(texts),
                  self.context.transform(contexts) * self.context_weight]
        return hstack(blocks, format="csr", dtype="float32")

    def reference(self, texts: Sequence[str], contexts: Sequence[dict[str, float]]) -> dict[str, Any]:
        """`probabilities` through scikit-learn's own predict_proba."""
        x = self.features(texts, contexts)
        return {level: model.predict_proba(x)[:, 1] for level, model in self.models.items()}

    def vector(self, text: str, context: dict[str, float]) -> tuple[Any, Any]:
        """One reply's feature row, as (columns, values)."""
        import numpy as np

        columns: list[int] = []
        values: list[Any] = []
        for analyzer, vocabulary, idf, offset in self._text_blocks:
            counts = Counter(analyzer(text))
            found = [(vocabulary[gram], n) for gram, n in counts.items() if gram in vocabulary]
            if found:
                cols = np.fromiter((c for c, _ in found), dtype=np.int64, count=len(found))
                tfidf = (1.0 + np.log(np.fromiter((n for _, n in found), dtype=np.float64, count=len(found)))) * idf[cols]
                columns.append(cols + offset)
                values.append(tfidf / np.sqrt(tfidf @ tfidf))
        known = [self.context.vocabulary_[name] for name in context if name in self.context.vocabulary_]
        if known:
            columns.append(np.array(known, dtype=np.int64) + self._context_offset)
            values.append(np.full(len(known), self.context_weight))
        if not columns:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(columns), np.concatenate(values)

    def probabilities(self, texts: Sequence[str], contexts: Sequence[dict[str, float]]) -> dict[str, Any]:
        """level -> the calibrated probability, per reply, that it is at that level or higher."""
        import numpy as np

        rows = np.array([self._probability_row(*self.vector(t, c)) for t, c in zip(texts, contexts)]).reshape(-1, len(RAISABLE))
        return {level: rows[:, i] for i, level in enumerate(RAISABLE)}

    def _probability_row(self, columns: Any, values: Any) -> Any:
        import numpy as np

        decision = values @ self._weights[columns] + self._intercepts
        return 1.0 / (1.0 + np.exp(self._slopes * decision + self._offsets))

    def raise_to(self, rules_level: str, p: dict[str, float], support: int | None = None) -> str | None:
        """The level to raise to: the highest whose probability reaches its threshold and which the
        nearest labelled reply's rank (`support`, when given) bears out, when that is above what the
        rules gave; else None."""
        for level in RAISABLE:
            threshold = self.thresholds[level]
            if (threshold is not None and p[level] >= threshold
                    and (support is None or support >= PROTOCOL.rank(level))):
                return level if PROTOCOL.rank(level) > PROTOCOL.rank(rules_level) else None
        return None

    def similarity(self, columns: Any, values: Any) -> Any:
        """Cosine similarity of this reply to every training reply, in the model's feature space."""
        from scipy.sparse import csr_matrix

        row = csr_matrix((values, columns, [0, len(columns)]), shape=(1, self.width))
        return (self.examples @ row.T).toarray().ravel()

    def nearest(self, columns: Any, values: Any, level: str, k: int = NEIGHBOURS) -> list[int]:
        """The k training replies labelled `level` or higher most like this one (cosine in the
        model's feature space), most alike first; ties by file order."""
        import numpy as np

        similarity = self.similarity(columns, values)
        similarity[self.ranks < PROTOCOL.rank(level)] = -np.inf
        order = np.lexsort((np.arange(len(similarity)), -similarity))[:k]
        return [int(i) for i in order if similarity[i] > -np.inf]

    def support(self, columns: Any, values: Any) -> int:
        """The rank of the labelled reply most like this one (ties: the first in file order)."""
        import numpy as np

        return int(self.ranks[int(np.argmax(self.similarity(columns, values)))])

    def second_look(self, first: Triage, text: str, region: str | None, precautions: Iterable[str],
                    previous: int | None) -> Triage:
        if first.level == "emergency":
            return first                             # nothing above it
        columns, values = self.vector(text, context_features(first, region, precautions, previous))
        p = dict(zip(RAISABLE, self._probability_row(columns, values).tolist()))
        if self.raise_to(first.level, p) is None:
            return first                             # the common case: no neighbour looked up
        level = self.raise_to(first.level, p, self.support(columns, values))
        if level is None:
            return first
        reason = f"{RULE_ID}: {self.explain(columns, values, level, p[level], first.level)}"
        return dataclasses.replace(first, level=level, reasons=(reason, *first.reasons),
                                   rules=(RULE_ID, *first.rules))

    def explain(self, columns: Any, values: Any, level: str, p: float, rules_level: str) -> str:
        what = "an emergency" if level == "emergency" else f"{level} or higher"
        quotes = ", ".join(f"'{_quote(self.texts[i])}' ({self.labels[i]})"
                           for i in self.nearest(columns, values, level))
        return (f"second reader: reads like {what} (p={p:.2f}), the rules read {rules_level}; "
                f"nearest labelled replies: {quotes}")


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1].rstrip() + "…"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(model_path: Path | None = None, record_path: Path | None = None) -> SecondReader:
    """Read the model and its record. Raises ModelError naming the file and the problem."""
    import skops.io
    import sklearn

    model_path, record_path = model_path or MODEL_PATH, record_path or RECORD_PATH

    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{record_path} is missing") from None
    except ValueError as exc:
        raise ModelError(f"{record_path} is not JSON ({exc})") from None
    if not model_path.exists():
        raise ModelError(f"{model_path} is missing")
    if record.get("format") != FORMAT:
        raise ModelError(f"{record_path} has format {record.get('format')!r}; this code reads {FORMAT}")
    if record.get("model_sha256") != file_sha256(model_path):
        raise ModelError(f"{model_path} is not the file {record_path.name} describes")
    if record.get("sklearn_version") != sklearn.__version__:
        raise ModelError(f"{model_path} was built with scikit-learn {record.get('sklearn_version')}, "
                         f"this process has {sklearn.__version__}")
    try:
        untrusted = set(skops.io.get_untrusted_types(file=model_path)) - set(TRUSTED_TYPES)
        if untrusted:
            raise ModelError(f"{model_path} holds types not on the trusted list: {sorted(untrusted)}")
        return SecondReader(skops.io.load(model_path, trusted=TRUSTED_TYPES), record["thresholds"])
    except ModelError:
        raise
    except Exception as exc:                         # a damaged file: say so, never half-load it
        raise ModelError(f"{model_path} could not be read ({type(exc).__name__}: {exc})") from exc


# One reader per process, loaded on first use; `configure` switches it on or off.
_lock = threading.Lock()
_enabled = True
_loaded = False
_reader: SecondReader | None = None


def configure(*, enabled: bool) -> None:
    """Switch the second reader on or off for this process (the TRIAGE_SECOND_READER setting)."""
    global _enabled
    _enabled = enabled


def reader() -> SecondReader | None:
    """The process's second reader, or None (switched off, or its model cannot be used: logged once)."""
    global _loaded, _reader
    if not _enabled:
        return None
    if not _loaded:
        with _lock:
            if not _loaded:
                try:
                    _reader = load()
                except ModelError as exc:
                    log.error("second reader unavailable, triage runs on the rules alone: %s. "
                              "Rebuild it with `flask triage-train`.", exc)
                _loaded = True
    return _reader


def second_look(first: Triage, text: str, region: str | None, precautions: Iterable[str],
                previous: int | None) -> Triage:
    """The rules' decision, raised where the second reader is confident (`classify`'s last step)."""
    second = reader()
    return first if second is None else second.second_look(first, text, region, precautions, previous)
