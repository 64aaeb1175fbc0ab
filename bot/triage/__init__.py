"""Triage: one patient reply -> a level of the follow-up protocol, with the reasons behind it.

    from bot.triage import classify
    result = classify("still like a 6, big bruise on my shoulder", hours_since_session=26.0,
                      region="upper_trapezius", precautions=("anticoagulant",), previous_soreness=5)
    result.level      # "urgent"
    result.reasons    # ("U4: 'big bruise' + anticoagulant", "M2: soreness 6 ('like a 6') on day 1", ...)

`classify` is a pure function of its arguments and the protocol files: no database, clock,
network or Flask. Two readers read the reply. The first, `read_by_rules`, reads it (`reading.py`,
with the lexicon in `bot/protocol/v1/triage/`), applies every rule of PROTOCOL.md section 5
(`rules.py`) and takes the highest level that fires; it alone gives the soreness, symptoms and rule
ids. The second (`learned.py`, a model built by `flask triage-train` and kept beside the protocol)
may then raise the level where it is confident, never lower it, and says so in the reasons (rule
`L1`). Rules about earlier replies (R10, a second `monitor` in a row) belong to the conversation
layer.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from numbers import Real
from typing import Any, Iterable

from bot.protocol import PROTOCOL, UNCLEAR
from bot.triage import learned, rules
from bot.triage.reading import HAPPENED, RESOLVED, Reading, read

__all__ = ["Triage", "classify", "read_by_rules"]


@dataclass(frozen=True)
class Triage:
    level: str                      # expected | monitor | routine | urgent | emergency | unclear
    soreness: int | None            # the 0-10 score the patient stated (None for words alone)
    symptoms: frozenset[str]        # protocol symptom tags reported (current, doubted, past or resolved)
    reasons: tuple[str, ...]        # "E1: 'hurts when i breathe in'", highest level first
    rules: tuple[str, ...]          # rule ids that fired, highest level first
    is_question: bool               # the reply asks something
    resolved: frozenset[str]        # symptom tags mentioned as having passed
    window: str                     # early | day1 | day2 | day3 | late
    protocol_version: str

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["symptoms"] = sorted(self.symptoms)
        d["resolved"] = sorted(self.resolved)
        d["reasons"] = list(self.reasons)
        d["rules"] = list(self.rules)
        return d


def classify(
    text: str,
    hours_since_session: float,
    *,
    region: str | None = None,
    precautions: Iterable[str] = (),
    previous_soreness: int | None = None,
) -> Triage:
    """Classify one reply against the protocol: the rules, then the second reader, which may only
    raise. Raises ValueError on a region, precaution or previous score outside the protocol's
    vocabularies."""
    precautions = frozenset(precautions)
    first = read_by_rules(text, hours_since_session, region=region, precautions=precautions,
                          previous_soreness=previous_soreness)
    return learned.second_look(first, text, region, precautions, previous_soreness)


def read_by_rules(
    text: str,
    hours_since_session: float,
    *,
    region: str | None = None,
    precautions: Iterable[str] = (),
    previous_soreness: int | None = None,
) -> Triage:
    """The first reader alone: the rules of PROTOCOL.md section 5 (what the second reader learns
    beside). Raises ValueError as `classify` does."""
    precautions = frozenset(precautions)
    _check(text, hours_since_session, region, precautions, previous_soreness)
    reading = read(text)
    facts = _facts(reading, float(hours_since_session), region, precautions, previous_soreness)
    hits = rules.apply(facts)

    if hits:
        level = hits[0].level
        reasons = tuple(hit.reason for hit in hits)
    elif _assessable(reading, facts):
        level = "expected"
        reasons = (rules.expected_reason(facts),)
    else:
        level = UNCLEAR
        reasons = ("unclear: nothing assessable",)
    symptoms, resolved = _symptoms(reading, facts)
    return Triage(
        level=level,
        soreness=reading.score.value if reading.score else None,
        symptoms=symptoms,
        reasons=reasons,
        rules=tuple(hit.rule for hit in hits),
        is_question=reading.is_question,
        resolved=resolved,
        window=facts.window,
        protocol_version=PROTOCOL.version,
    )


def _check(text: Any, hours: Any, region: str | None, precautions: frozenset[str], previous: Any) -> None:
    if not isinstance(text, str):
        raise ValueError(f"reply text must be a string, not {type(text).__name__}")
    if isinstance(hours, bool) or not isinstance(hours, Real) or not math.isfinite(hours):
        raise ValueError(f"hours_since_session must be a finite number, not {hours!r}")
    PROTOCOL.check_region(region)
    PROTOCOL.check_precautions(precautions)
    if previous is not None and (isinstance(previous, bool) or not isinstance(previous, int) or not 0 <= previous <= 10):
        raise ValueError(f"previous_soreness must be an integer 0-10 or None, not {previous!r}")


def _facts(reading: Reading, hours: float, region: str | None, precautions: frozenset[str],
           previous: int | None) -> rules.Facts:
    soreness, words = _soreness(reading, previous)
    reference = previous if previous is not None else reading.past_score
    improving, worsening = bool(reading.improving), bool(reading.worsening)
    worsening_words = ", ".join(f"'{w}'" for w in reading.worsening) if worsening else ""
    if soreness is not None and reference is not None:
        if soreness >= reference + _TREND_POINTS:
            worsening = True
            worsening_words = first_of(worsening_words, f"{soreness} from {reference}")
        elif soreness <= reference - _TREND_POINTS:
            improving = True
    return rules.Facts(reading, hours, PROTOCOL.window(hours).name, region, precautions, previous, soreness,
                       words, reference, improving, worsening, worsening_words)


_TREND_POINTS = rules.T["trend_points"]
_URGENT_SORENESS = rules.T["urgent_soreness"]


def first_of(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def _soreness(reading: Reading, previous: int | None) -> tuple[int | None, str]:
    """S for the rules: the stated score (unless a severe word says more: "2, and the pain is
    unbearable" is 9, safety first); else an intensity word; else "same" carrying the previous
    score; else plain soreness (4); else soreness denied or "fine" (0)."""
    if reading.score:
        if reading.intensity and reading.intensity[0] >= _URGENT_SORENESS > reading.score.value:
            return reading.intensity[0], f"'{reading.intensity[1]}'"
        return reading.score.value, f"'{reading.score.text}'"
    if reading.intensity:
        value, words = reading.intensity
        if reading.same and previous is not None and previous > value:
            return previous, f"'same' as {previous}"
        return value, f"'{words}'"
    if reading.same and previous is not None:
        return previous, f"'same' as {previous}"
    pains = reading.by_finding.get("soreness")
    if pains:
        # Soreness words in a clause about the usual complaint describe the flare (R4), and pain
        # at the shoulder blade is U6's; neither is today's soreness score. A soreness word in a
        # question ("how long will the soreness last?") asks; it reports no score.
        flares = reading.by_finding.get("flare")
        aside = reading.question_clauses | {m.clause for m in flares} if flares else reading.question_clauses
        if aside:
            pains = [m for m in pains if m.clause not in aside]
        current = [m for m in pains if m.status in ("present", "doubted")]
        if current:
            return 4, f"'{current[0].words}'"
        if pains and all(m.status in ("negated", "resolved") for m in pains):
            return 0, f"no '{pains[0].words}'"
    if reading.wellness and not pains and not reading.having("shoulder_blade_pain", statuses=HAPPENED):
        return 0, f"'{reading.wellness[0]}'"
    return None, ""


def _assessable(reading: Reading, facts: rules.Facts) -> bool:
    return bool(
        reading.mentions or reading.topics or reading.harmless or facts.soreness is not None or reading.improving
        or reading.worsening or reading.wellness or (reading.is_question and not reading.identity_question)
    )


def _symptoms(reading: Reading, facts: rules.Facts) -> tuple[frozenset[str], frozenset[str]]:
    """The symptom tags reported, and those of findings said to have passed. Resolved findings
    keep their tag (tests/data/README.md, convention 28)."""
    tags = {m.tag for m in reading.mentions if m.tag and (m.status in HAPPENED or m.status == RESOLVED)}
    resolved = {m.tag for m in reading.mentions if m.tag and m.status == RESOLVED}
    if facts.soreness == 0 and not reading.having("shoulder_blade_pain", statuses=HAPPENED):
        tags.discard("soreness")         # "no pain", "fine": no soreness reported
    if facts.soreness:
        tags.add("soreness")
    if facts.improving:
        tags.add("improving")
    if facts.worsening:
        tags.add("worsening")
    return frozenset(tags), frozenset(resolved)
