"""The soreness score a patient states, and the numbers that are not one (PROTOCOL.md section 4).

A score is a number 0-10: digits or words ("six", "seis"), "7/10", "7 out of 10", "a 6". A range
takes its midpoint rounded up ("4-5" -> 5). A number is *not* a score when a unit follows it
("3 needles", "2 days", "9pm", "2 advil"), when a word before it makes it a count, a time or a day
("after 2 days", "at 9", "day 2"), or when it is out of range or not whole ("911", "100.4").
A score said of the past ("was a 7 yesterday", "went from 7 to 4") is kept apart from today's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from bot.triage.lexicon import Lexicon


class Score(NamedTuple):
    value: int
    start: int              # word positions in the clause, for reasons
    end: int
    past: bool              # said of an earlier time: not today's score
    text: str


def _int(word: str, lex: Lexicon) -> int | None:
    """A whole number, a word number, or a decimal 0-10 rounded up ("1.5" -> 2)."""
    if word.isdigit():
        return int(word)
    if word[0].isdigit() and ":" not in word:
        value = float(word.replace(",", "."))
        return math.ceil(value) if value <= 10 else 99
    return lex.number_words.get(word)


def _scale_after(words: list[str], j: int, lex: Lexicon) -> int:
    """Length of a "/10", "out of 10", "de diez" starting at j, or 0."""
    if j + 1 >= len(words) or words[j] not in lex.scale_starts:
        return 0
    if words[j] == "/" and words[j + 1] in lex.scale:
        return 2
    for lead in lex.scale_words:
        k = j + len(lead)
        if tuple(words[j:k]) == lead and k < len(words) and words[k] in lex.scale:
            return len(lead) + 1
    return 0


def scores_in(words: list[str], numbers: list[int], lex: Lexicon, whole_reply: bool) -> list[Score]:
    """Every score stated in one clause's words; `numbers`: where its numbers are (the unit reader
    knows). `whole_reply`: the clause is the entire reply."""
    out: list[Score] = []
    n = len(words)
    i = 0                     # the first word not yet read as part of a score
    for at in numbers:
        if at < i:
            continue
        i = at
        w = words[i]
        value = _int(w, lex)
        if value is None or value > 10:
            continue
        if value <= 1 and _names_the_scale(words, i, lex):
            i += 3            # "on a scale of 1-10", "del 1 al 10": the scale, not a score
            continue
        start, end = i, i + 1
        is_word = not w[0].isdigit()
        half = _half_after(words, end, lex)
        if half:              # "eight and a half", "2 y medio": up to the next whole number
            end += half
            value += 1
            is_word = False   # a word number with a half is a measure, as a digit is
        scaled = _scale_after(words, end, lex)
        high = None
        if scaled:
            end += scaled
        elif end + 1 < n and words[end] == "/" and words[end + 1][0].isdigit():
            i = end + 2       # a date or a fraction that is not of 10 ("3/14"): not a score
            continue
        elif half or (start and words[start - 1] in lex.change_from):
            pass              # "from 2 to 4": a change, read as two scores, not a range
        elif end + 1 < n and words[end] in lex.range_words and not (
                words[end] in _AND and not (start and words[start - 1] in _BETWEEN)):
            high = _int(words[end + 1], lex)
            if high is not None and value < high <= value + lex.range_max_width:
                end += 2
                end += _scale_after(words, end, lex)
                value = math.ceil((value + high) / 2)
            else:
                high = None
        if _is_score(words, start, end, is_word, bool(scaled), whole_reply, lex):
            out.append(Score(value, start, end, _said_of_past(words, start, end, lex), " ".join(words[start:end])))
            i = end
    _changes(words, out)
    return out


def _changes(words: list[str], found: list[Score]) -> None:
    """"de 5 a 4", "de 6 bajó a 4": a score after "de" and before another after "a" is where the
    soreness came from, an earlier one."""
    for k in range(len(found) - 1):
        first, then = found[k], found[k + 1]
        if first.start and words[first.start - 1] in _FROM and then.start - first.end <= 3 \
                and words[then.start - 1] in _TO:
            found[k] = first._replace(past=True)


_FROM = frozenset({"de", "from"})
_TO = frozenset({"a", "to", "al"})


def _names_the_scale(words: list[str], i: int, lex: Lexicon) -> bool:
    """ "0-10", "1 to 10", "del 1 al 10" starting at i: the scale the patient is asked about."""
    return i + 2 < len(words) and words[i + 1] in _SCALE_JOINS and words[i + 2] in lex.scale


_SCALE_JOINS = frozenset({"-", "to", "al", "a", "hasta", "through"})


def _half_after(words: list[str], j: int, lex: Lexicon) -> int:
    """Length of an "and a half", "y medio" starting at j, or 0."""
    if j >= len(words) or words[j] not in lex.half_starts:
        return 0
    for half in lex.halves:
        if tuple(words[j:j + len(half)]) == half:
            return len(half)
    return 0


def _is_score(words: list[str], start: int, end: int, is_word: bool, scaled: bool,
              whole_reply: bool, lex: Lexicon) -> bool:
    if scaled:
        return True        # "8/10", "nine out of ten": a unit after the scale ("8/10 k" for "ok") is no count
    if end < len(words) and words[end] in lex.units_after:
        # "un 10 de dolor": "de"/"of" before a pain word makes it a score, not a count
        return words[end] in ("de", "of") and end + 1 < len(words) and words[end + 1] in lex.of_pain
    before = words[start - 1] if start else None
    if before in lex.not_after:
        # "at 9" is a time, but "pain is at 6" / "sore at a 5" is a score.
        if not (before == "at" and start >= 2 and words[start - 2] in lex.score_lead):
            return False
    if is_word:
        # "seis", "a six", "dos o tres": the clause is the number
        alone = end == len(words) and (start == 0 or (start == 1 and words[0] in lex.score_lead))
        if words[start] in lex.needs_scale:
            # "one" / "uno" is a score alone, or as "a one" / "un uno" at the end of a clause.
            if end == len(words) and before in lex.articles:
                return True
            return alone and (whole_reply or start == 0)
        after = words[end] if end < len(words) else None
        # "eight and 3 tops", "y diez", "diez no puedo más": a word number that opens its
        # clause, or comes before or after "and", is the score too (a unit after it was ruled out above; "zero strength"
        # is none)
        return before in lex.score_lead or alone or after in lex.score_follow or after in _NEW_STATEMENT \
            or before in _NEW_STATEMENT \
            or (start == 0 and words[start] not in lex.needs_scale and lex.number_words.get(words[start], 0) > 0)
    return True


def _said_of_past(words: list[str], start: int, end: int, lex: Lexicon) -> bool:
    if end < len(words) and (words[end] in lex.present_before or words[end:end + 2] == ["right", "now"]):
        return False                  # "from 7 yesterday to 5 today", "an 8 right now": today's
    if not start:
        return end < len(words) and words[end] in lex.past_after
    before = words[max(0, start - 5):start]
    if not lex.same_before.isdisjoint(before):
        return False                  # "same as yesterday: 2", "lo mismo que ayer, 1": today's score
    if lex.past_before.isdisjoint(before):
        return end < len(words) and words[end] in lex.past_after
    for k in range(start - 1, max(-1, start - 5), -1):
        if words[k][0].isdigit() or words[k] in lex.number_words or words[k] in lex.present_before:
            break                     # "from 7 to 4": "from" belongs to the 7, not to the 4
        if words[k] in _NEW_STATEMENT:
            break                     # "me di un masajito y nueve de diez": another statement
        if words[k] in lex.past_before and not (k and words[k - 1] in _THAN):
            return True               # (not "better than yesterday and an 8")
    return end < len(words) and words[end] in lex.past_after


_AND = frozenset({"and", "y"})              # a range only after "between": "entre 4 y 5", not "five and eight"
_BETWEEN = frozenset({"between", "entre"})
_NEW_STATEMENT = frozenset({"and", "y", "but", "pero", "also", "tambien"})
_THAN = frozenset({"than", "que"})


def temperatures_in(words: list[str], lex: Lexicon) -> list[float]:
    """Numbers that read as a body temperature (Fahrenheit or Celsius)."""
    out: list[float] = []
    for w in words:
        if w[0].isdigit() and ":" not in w and len(w) >= 2:
            try:
                t = float(w.replace(",", "."))
            except ValueError:
                continue
            if 95 <= t <= 110 or 35 <= t <= 43:
                out.append(t)
    return out


def is_fever(temperature: float, lex: Lexicon) -> bool:
    if temperature >= 90:
        return temperature >= lex.thresholds["fever_f"]
    return temperature >= lex.thresholds["fever_c"]
