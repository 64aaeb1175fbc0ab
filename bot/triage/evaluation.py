"""Measuring triage against labelled replies (the JSON Lines format of PROTOCOL.md section 6).

Pure functions: `load` reads and checks a file, `run` classifies every line, `evaluate` computes
the numbers, `report` and `as_json` present them. The safety numbers come first:

- under-triage: among lines labelled routine or higher, the share predicted lower, or unclear;
- urgent-or-higher recall: among lines labelled urgent or emergency, the share predicted so;
- over-escalation: among lines labelled expected or monitor, the share predicted routine or higher.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from bot.protocol import PROTOCOL, UNCLEAR
from bot.triage import Triage, classify

LEVELS: tuple[str, ...] = (*PROTOCOL.levels, UNCLEAR)
ROUTINE = PROTOCOL.rank("routine")
URGENT = PROTOCOL.rank("urgent")


class MalformedLine(ValueError):
    """A line of a labelled file that is not in the section-6 format."""

    def __init__(self, path: str, line: int, problem: str):
        super().__init__(f"{path}, line {line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class Example:
    line: int
    text: str
    hours: float
    region: str | None
    precautions: tuple[str, ...]
    previous: int | None
    level: str
    soreness: int | None
    symptoms: frozenset[str] | None

    def classify(self, fn: Callable[..., Triage] = classify) -> Triage:
        return fn(self.text, self.hours, region=self.region, precautions=self.precautions,
                  previous_soreness=self.previous)


@dataclass(frozen=True)
class Outcome:
    example: Example
    result: Triage

    @property
    def correct(self) -> bool:
        return self.result.level == self.example.level


@dataclass(frozen=True)
class Evaluation:
    n: int
    confusion: dict[str, dict[str, int]]      # confusion[labelled][predicted]
    recall: dict[str, float | None]
    precision: dict[str, float | None]
    accuracy: float
    soreness_exact: float
    over_escalation: float | None
    under_triage: float | None
    urgent_or_higher_recall: float | None
    misclassified: tuple[Outcome, ...]        # wrong level
    soreness_mismatched: tuple[Outcome, ...]  # right level, wrong soreness score


def load(path: str | Path) -> list[Example]:
    """Read a labelled JSONL file; raises MalformedLine naming the first bad line."""
    examples = []
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if raw.strip():
                examples.append(parse_line(raw, number, str(path)))
    return examples


def parse_line(raw: str, number: int, path: str = "<input>") -> Example:
    def bad(problem: str) -> MalformedLine:
        return MalformedLine(path, number, problem)

    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise bad(f"not JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise bad("not a JSON object")
    text = obj.get("text")
    if not isinstance(text, str):
        raise bad('"text" must be a string')
    hours = obj.get("hours_since_session")
    if isinstance(hours, bool) or not isinstance(hours, (int, float)):
        raise bad('"hours_since_session" must be a number')
    context = obj.get("context") or {}
    expect = obj.get("expect")
    if not isinstance(context, dict):
        raise bad('"context" must be an object')
    if not isinstance(expect, dict):
        raise bad('"expect" must be an object')
    region = context.get("region")
    precautions = context.get("precautions") or []
    previous = context.get("previous_soreness")
    if not isinstance(precautions, list):
        raise bad('"context.precautions" must be a list')
    try:
        PROTOCOL.check_region(region)
        PROTOCOL.check_precautions(precautions)
    except ValueError as exc:
        raise bad(str(exc)) from None
    if previous is not None and (isinstance(previous, bool) or not isinstance(previous, int) or not 0 <= previous <= 10):
        raise bad('"context.previous_soreness" must be an integer 0-10 or null')
    level = expect.get("level")
    if level not in LEVELS:
        raise bad(f'"expect.level" must be one of {list(LEVELS)}, not {level!r}')
    soreness = expect.get("soreness")
    if soreness is not None and (isinstance(soreness, bool) or not isinstance(soreness, int) or not 0 <= soreness <= 10):
        raise bad('"expect.soreness" must be an integer 0-10 or null')
    symptoms = expect.get("symptoms")
    if symptoms is not None:
        if not isinstance(symptoms, list) or not set(symptoms) <= PROTOCOL.symptoms:
            raise bad(f'"expect.symptoms" must be a list of protocol symptom tags, not {symptoms!r}')
        symptoms = frozenset(symptoms)
    return Example(number, text, float(hours), region, tuple(precautions), previous, level, soreness, symptoms)


def run(examples: Iterable[Example], fn: Callable[..., Triage] = classify) -> list[Outcome]:
    return [Outcome(e, e.classify(fn)) for e in examples]


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def evaluate(outcomes: list[Outcome]) -> Evaluation:
    confusion = {want: {got: 0 for got in LEVELS} for want in LEVELS}
    for o in outcomes:
        confusion[o.example.level][o.result.level] += 1
    labelled = {lv: sum(confusion[lv].values()) for lv in LEVELS}
    predicted = {lv: sum(confusion[w][lv] for w in LEVELS) for lv in LEVELS}
    rank = PROTOCOL.rank

    low = [o for o in outcomes if o.example.level in ("expected", "monitor")]
    high = [o for o in outcomes if rank(o.example.level) >= ROUTINE]
    severe = [o for o in outcomes if rank(o.example.level) >= URGENT]
    n = len(outcomes)
    return Evaluation(
        n=n,
        confusion=confusion,
        recall={lv: _share(confusion[lv][lv], labelled[lv]) for lv in LEVELS},
        precision={lv: _share(confusion[lv][lv], predicted[lv]) for lv in LEVELS},
        accuracy=_share(sum(o.correct for o in outcomes), n) or 0.0,
        soreness_exact=_share(sum(o.result.soreness == o.example.soreness for o in outcomes), n) or 0.0,
        over_escalation=_share(sum(rank(o.result.level) >= ROUTINE for o in low), len(low)),
        under_triage=_share(sum(rank(o.result.level) < rank(o.example.level) for o in high), len(high)),
        urgent_or_higher_recall=_share(sum(rank(o.result.level) >= URGENT for o in severe), len(severe)),
        misclassified=tuple(o for o in outcomes if not o.correct),
        soreness_mismatched=tuple(
            o for o in outcomes if o.correct and o.result.soreness != o.example.soreness
        ),
    )


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def report(ev: Evaluation, misclassified: bool = True) -> str:
    """A plain-text report: safety numbers, confusion matrix, recall and precision by level."""
    lines = [
        f"replies: {ev.n}",
        f"level accuracy:          {_pct(ev.accuracy)}",
        f"soreness exact-match:    {_pct(ev.soreness_exact)}",
        f"under-triage:            {_pct(ev.under_triage)}   (labelled routine+, predicted lower or unclear)",
        f"over-escalation:         {_pct(ev.over_escalation)}   (labelled expected/monitor, predicted routine+)",
        f"urgent-or-higher recall: {_pct(ev.urgent_or_higher_recall)}",
        f"emergency recall:        {_pct(ev.recall['emergency'])}",
        "",
        "confusion (rows: labelled, columns: predicted)",
        " " * 10 + "".join(f"{lv[:9]:>10}" for lv in LEVELS),
    ]
    for want in LEVELS:
        lines.append(f"{want[:9]:<10}" + "".join(f"{ev.confusion[want][got]:>10}" for got in LEVELS))
    lines += ["", f"{'level':<10}{'recall':>10}{'precision':>11}"]
    for lv in LEVELS:
        lines.append(f"{lv:<10}{_pct(ev.recall[lv]):>10}{_pct(ev.precision[lv]):>11}")
    if misclassified:
        for title, outcomes in (("misclassified", ev.misclassified),
                                ("right level, wrong soreness", ev.soreness_mismatched)):
            if outcomes:
                lines += ["", f"{title} ({len(outcomes)}):"]
                lines += [line for o in outcomes for line in _describe(o)]
    return "\n".join(lines)


def _describe(o: Outcome) -> list[str]:
    e, r = o.example, o.result
    what = f"level {e.level} -> {r.level}"
    if r.soreness != e.soreness:
        what += f", soreness {e.soreness} -> {r.soreness}"
    return [
        f"  line {e.line}: {what}: {e.text!r} (h={e.hours:g}, region={e.region}, "
        f"precautions={list(e.precautions)}, previous={e.previous})",
        f"      {'; '.join(r.reasons)}",
    ]


def as_json(ev: Evaluation) -> dict[str, Any]:
    return {
        "n": ev.n,
        "accuracy": ev.accuracy,
        "soreness_exact": ev.soreness_exact,
        "under_triage": ev.under_triage,
        "over_escalation": ev.over_escalation,
        "urgent_or_higher_recall": ev.urgent_or_higher_recall,
        "recall": ev.recall,
        "precision": ev.precision,
        "confusion": ev.confusion,
        "misclassified": [
            {
                "line": o.example.line, "text": o.example.text,
                "expected": {"level": o.example.level, "soreness": o.example.soreness},
                "got": {"level": o.result.level, "soreness": o.result.soreness},
                "reasons": list(o.result.reasons),
            }
            for o in (*ev.misclassified, *ev.soreness_mismatched)
        ],
    }
