"""Reading a reply: text -> what the patient says (PROTOCOL.md section 4). No rules, no levels.

1. Normalise and split into words (`lexicon.words`): lower case, accents folded, spelling fixed,
   typos one letter off a symptom word repaired, emoji turned into words or dropped.
2. Split into clauses at punctuation and at "but"/"pero"-like words. A cue never reaches past its
   clause: "no fever but the redness is spreading" keeps the redness.
3. Find the lexicon's phrases in each clause; a phrase inside a longer one is dropped.
4. Give every finding a status from the cues around it, in this order:
   negated ("no fever", "fever: none") > resolved ("felt faint after but fine now") >
   hypothetical ("what if I get a fever?") > doubted ("maybe short of breath?") >
   past ("felt dizzy on the way home") > present.
5. Bind modifiers ("huge", "spreading", "won't stop"), intensity words ("very", "mild") and
   trend words ("better", "worse") to the finding they qualify.
6. Read the score (`scores.py`), "same", "fine", and whether the reply asks something.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from bot.triage import scores
from bot.triage.lexicon import (
    CUE, FINDING, INTENSITY, LEXICON, MODIFIER, QUESTION, STATEMENT, TOPIC, TREND, Lexicon, Match,
)

PRESENT = "present"
DOUBTED = "doubted"
PAST = "past"
RESOLVED = "resolved"
NEGATED = "negated"
HYPOTHETICAL = "hypothetical"

CURRENT = frozenset({PRESENT, DOUBTED})
HAPPENED = frozenset({PRESENT, DOUBTED, PAST})

_NONE: list = []
_NO_CLAUSES: frozenset[int] = frozenset()
_NUMERIC_JOINERS = frozenset({"-", "/"})
# Findings that are pain, for the binding of intensity and trend words to soreness.
PAIN_FINDINGS = frozenset({"soreness", "shoulder_blade_pain"})
# Findings the bot can answer "is this normal?" about (section 4).
ANSWERABLE_FINDINGS = frozenset({"soreness", "bruise", "fatigue"})


class Mention(NamedTuple):
    """One finding in the reply, with its status and what qualifies it. (A named tuple: immutable,
    and cheap to make, which matters at webhook speed.)"""

    finding: str
    tag: str | None
    red_flag: bool
    status: str
    clause: int
    start: int
    end: int
    words: str
    modifiers: frozenset[str] = frozenset()


_NO_MODIFIERS: frozenset[str] = frozenset()
_mention = tuple.__new__   # _mention(Mention, (...all fields...)): no Python-level __new__ call


@dataclass(slots=True)
class Reading:
    """What the reply says. (Treated as read-only once `read` returns it; a slotted class rather
    than a frozen one because `classify` makes one per reply.)"""

    text: str
    words: tuple[str, ...]
    mentions: tuple[Mention, ...]
    topics: tuple[Mention, ...]          # bare breathing or chest words
    score: scores.Score | None           # today's stated score
    past_score: int | None               # an earlier score the patient quotes ("was a 7")
    intensity: tuple[int, str] | None    # stand-in score and its words
    same: bool
    improving: tuple[str, ...]           # trend words about soreness
    worsening: tuple[str, ...]
    wellness: tuple[str, ...]            # "fine", "good", "all better"
    is_question: bool
    question_answerable: bool
    question_words: str
    identity_question: bool
    question_clauses: frozenset[int]     # clauses that ask ("how long will the soreness last?")
    by_finding: dict[str, list[Mention]] = field(default_factory=dict)   # mentions by finding id

    def having(self, *findings: str, statuses: frozenset[str] = CURRENT) -> tuple[Mention, ...]:
        by = self.by_finding
        if len(findings) == 1:
            found = by.get(findings[0])
            return tuple(m for m in found if m.status in statuses) if found else ()
        return tuple(m for f in findings if f in by for m in by[f] if m.status in statuses)

    def with_modifier(self, finding: str, *modifiers: str,
                      statuses: frozenset[str] = CURRENT) -> tuple[Mention, ...]:
        return tuple(m for m in self.having(finding, statuses=statuses) if not m.modifiers.isdisjoint(modifiers))

    @property
    def mentions_breathing_or_chest(self) -> bool:
        return bool(self.topics) or any(m.red_flag for m in self.mentions)


class _Clause:
    """One clause of the reply: its words, the lexicon's matches in it, and what `_status` asks
    of every finding, worked out once."""

    __slots__ = ("index", "words", "question_mark", "matches", "_kinds", "_ids", "scores",
                 "negations", "presents", "hypotheticals", "resolved_by_negation", "resolved",
                 "doubted", "past", "finding_starts", "finding_ends")

    def __init__(self, index: int, words: list[str], question_mark: bool):
        self.index = index
        self.words = words
        self.question_mark = question_mark
        self.scores: list[scores.Score] = _NONE

    def set_matches(self, matches: list[Match]) -> None:
        self.matches = matches
        kinds: dict[str, list[Match]] = {}
        cues: dict[str, list[Match]] = {}
        starts: dict[int, int] = {}
        for m in matches:
            kind = m.entry.kind
            if kind in kinds:
                kinds[kind].append(m)
            else:
                kinds[kind] = [m]
            if kind is CUE:
                cues.setdefault(m.entry.id, []).append(m)
            elif kind is FINDING or kind is TOPIC:
                starts[m.start] = m.end
        self._kinds = kinds
        self._ids = {CUE: cues}
        self.negations = cues.get("negation", _NONE)
        self.presents = cues.get("present", _NONE)
        self.hypotheticals = cues.get("hypothetical", _NONE)
        self.resolved_by_negation = "resolved_negation" in cues
        self.resolved = "resolved" in cues
        self.doubted = self.question_mark or "doubt" in cues
        self.past = "past" in cues and "present" not in cues
        self.finding_starts = starts.keys()
        self.finding_ends = starts

    def of(self, kind: str, *ids: str) -> list[Match]:
        """This clause's matches of one kind, optionally of some ids only."""
        found = self._kinds.get(kind, _NONE)
        if not ids or not found:
            return found
        if kind in self._ids:
            by_id = self._ids[kind]
        else:
            by_id = self._ids[kind] = {}
            for m in found:
                by_id.setdefault(m.entry.id, []).append(m)
        if len(ids) == 1:
            return by_id.get(ids[0], _NONE)
        return [m for i in ids for m in by_id.get(i, _NONE)]


def read(text: str, lex: Lexicon = LEXICON) -> Reading:
    words = lex.words(text)
    clauses = _clauses(words, lex)
    # Each step below is skipped when the reply has nothing it works on: the webhook calls
    # `classify` inline, and most replies are a few words.
    digits = any(w[0].isdigit() for w in words)
    number_words = lex.number_words.keys()
    kinds: set[str] = set()          # which kinds of lexicon entries the reply has at all
    mentions: list[Mention] = []
    topics: list[Mention] = []
    for clause in clauses:
        clause.set_matches(lex.matches(clause.words, numbers=digits))
        if (digits and any(w[0].isdigit() for w in clause.words)) or not number_words.isdisjoint(clause.words):
            clause.scores = scores.scores_in(clause.words, lex, whole_reply=len(clauses) == 1)
        found = clause._kinds
        if found:
            kinds.update(found)
            if FINDING in found:
                mentions.extend(_findings(clause, lex))
            if TOPIC in found:
                topics.extend(_topics(clause, lex))

    if mentions and len(clauses) > 1:
        mentions = _resolve_backwards(clauses, mentions)
    if mentions and MODIFIER in kinds:
        mentions = _bind_modifiers(clauses, mentions)
    if digits:
        mentions = _fevers_from_temperatures(clauses, mentions, lex)

    current = past = None
    for clause in clauses:
        for s in clause.scores:
            if s.past:
                past = s
            else:
                current = s

    by_clause = _mentions_by_clause(mentions) if mentions else {}
    intensity = _intensity(clauses, by_clause) if INTENSITY in kinds else None
    improving, worsening, same = _trend(clauses, by_clause) if TREND in kinds else ((), (), False)
    if QUESTION in kinds or any(c.question_mark for c in clauses):
        is_question, answerable, asked, identity = _questions(clauses, mentions)
    else:
        is_question, answerable, asked, identity = False, False, _NONE, False
    wellness = tuple(
        " ".join(c.words[m.start:m.end])
        for c in clauses if all(c is not a for a in asked) for m in c.of(STATEMENT, "wellness")
        if not _negated_before(c, m, lex, max_gap=1)
    ) if STATEMENT in kinds else ()

    by_finding: dict[str, list[Mention]] = {}
    for m in mentions:
        if m.finding in by_finding:
            by_finding[m.finding].append(m)
        else:
            by_finding[m.finding] = [m]
    return Reading(
        text,
        tuple(words),
        tuple(mentions),
        tuple(topics),
        current,
        past.value if past else None,
        intensity,
        same,
        improving,
        worsening,
        wellness,
        is_question,
        answerable,
        " / ".join(" ".join(c.words) for c in asked) if asked else "",
        identity,
        frozenset(c.index for c in asked) if asked else _NO_CLAUSES,
        by_finding,
    )


# -- 2. clauses ------------------------------------------------------------------------------------

def _clauses(words: list[str], lex: Lexicon) -> list[_Clause]:
    """Split at punctuation and at clause-breaking words ("but", "pero"); "-" and "/" between two
    numbers stay ("4-5", "7/10"); a clause ending in "?" is marked as asked."""
    clauses: list[_Clause] = []
    current: list[str] = []
    splits = lex.clause_splitters
    last = len(words) - 1
    for i, w in enumerate(words):
        if w not in splits:
            current.append(w)
        elif w in _NUMERIC_JOINERS and 0 < i < last and _numeric(words[i - 1]) and _numeric(words[i + 1]):
            current.append(w)
        elif current:
            clauses.append(_Clause(len(clauses), current, w == "?"))
            current = []
        elif w == "?" and clauses:
            clauses[-1].question_mark = True
    if current:
        clauses.append(_Clause(len(clauses), current, False))
    return clauses


def _numeric(word: str) -> bool:
    return word[0].isdigit() or word in LEXICON.number_words


# -- 4. findings and their status -----------------------------------------------------------------

def _findings(clause: _Clause, lex: Lexicon) -> list[Mention]:
    out = []
    limbs = lex.classes["limb"]
    for m in clause.of(FINDING):
        status = _status(clause, m, lex)
        words = " ".join(clause.words[m.start:m.end])
        finding, tag = m.entry.id, m.entry.tag
        if words in lex.weak_words and not limbs.isdisjoint(clause.words):
            finding, tag = "weakness", "weakness"      # "arm and leg are tingly and weak"
        out.append(_mention(Mention, (finding, tag, m.entry.red_flag, status, clause.index, m.start, m.end,
                                      words, _NO_MODIFIERS)))
    return out


def _topics(clause: _Clause, lex: Lexicon) -> list[Mention]:
    out = []
    for m in clause.of(TOPIC):
        status = _status(clause, m, lex)
        if status not in (NEGATED, RESOLVED, HYPOTHETICAL) and _said_to_be_normal(clause, m, lex):
            status = NEGATED
        if status in CURRENT or status == PAST:
            # a bare word is not a complaint of its own: it stays "in doubt"
            status = DOUBTED
        out.append(_mention(Mention, (m.entry.id, None, True, status, clause.index, m.start, m.end,
                                      " ".join(clause.words[m.start:m.end]), _NO_MODIFIERS)))
    return out


def _said_to_be_normal(clause: _Clause, m: Match, lex: Lexicon) -> bool:
    """"breathing fine", "respiro bien", "chest feels ok": a normal word just after a bare breathing
    or chest word, with no negation between ("breathing is not fine" is a complaint)."""
    for cue in clause.of(CUE, "normal_after"):
        if m.end <= cue.start <= m.end + lex.post_cue_window and not any(
            m.end <= n.start < cue.start for n in clause.negations
        ) and not any(m.end <= s < cue.start for s in clause.finding_starts):
            return True
    return False


def _status(clause: _Clause, m: Match, lex: Lexicon) -> str:
    strict = m.entry.red_flag or m.entry.kind == TOPIC
    negated = _negated_before(clause, m, lex, strict=strict) or _post_cue(clause, m, "negation_after", lex)
    if negated and not clause.resolved_by_negation:
        return NEGATED
    if clause.resolved_by_negation or clause.resolved:
        return RESOLVED
    if any(c.end <= m.start for c in clause.hypotheticals):
        return HYPOTHETICAL
    if clause.doubted:
        return DOUBTED
    if clause.past:
        return PAST
    return PRESENT


def _negated_before(clause: _Clause, m: Match, lex: Lexicon, max_gap: int | None = None,
                    strict: bool = False) -> bool:
    """A negation cue before `m` whose scope reaches it (its clause, a few words, a list).
    `strict` (breathing and chest findings): only through the words of
    [scope].red_flag_negation_passes and lists joined by "or"."""
    if not clause.negations:
        return False
    window = lex.negation_window if max_gap is None else max_gap
    starts = clause.finding_starts
    presents = clause.presents
    for cue in clause.negations:
        if cue.end > m.start or m.start - cue.end > window:
            continue
        if strict:
            if _transparent(clause, cue.end, m.start, lex):
                return True
            continue
        broken = any(
            clause.words[k] in lex.coordinators and (k + 1) not in starts
            for k in range(cue.end, m.start)
        ) or any(cue.end <= p.start < m.start for p in presents)
        if not broken:
            return True
    return False


def _transparent(clause: _Clause, start: int, end: int, lex: Lexicon) -> bool:
    """Whether a negation ending at `start` reaches a breathing or chest finding at `end`: only
    small words between, or other findings joined by "or" ("no cough or chest pain")."""
    k = start
    words = clause.words
    while k < end:
        if k in clause.finding_ends:
            k = clause.finding_ends[k]
            if k < end and words[k] not in lex.red_flag_negation_passes:
                return False
            continue
        if words[k] not in lex.red_flag_negation_passes:
            return False
        k += 1
    return True


def _post_cue(clause: _Clause, m: Match, cue_id: str, lex: Lexicon, strict: bool = True) -> bool:
    """A cue just after `m`: "fever: none", "breathing fine". `strict`: only when no finding
    follows it, since "no" before a finding negates that one instead ("dizzy no fever")."""
    later = [o.start for o in clause.matches if o.entry.kind in (FINDING, TOPIC) and o.start >= m.end]
    for cue in clause.of(CUE, cue_id):
        if cue.start < m.end or cue.start - m.end > lex.post_cue_window:
            continue
        if any(s < cue.start for s in later) or (strict and later):
            continue
        return True
    return False


def _resolve_backwards(clauses: list[_Clause], mentions: list[Mention]) -> list[Mention]:
    """"Felt faint after, but fine now": a resolution cue in a clause with no finding of its own
    resolves the findings of the nearest clause before it that has some."""
    by_clause = _mentions_by_clause(mentions)
    out = list(mentions)
    for clause in clauses:
        if by_clause.get(clause.index) or not clause.of(CUE, "resolved"):
            continue
        for k in range(clause.index - 1, -1, -1):
            if by_clause.get(k):
                target = k
                break
        else:
            continue
        out = [
            _replace(m, status=RESOLVED) if m.clause == target and m.status in HAPPENED else m
            for m in out
        ]
    return out


# -- 5. binding ------------------------------------------------------------------------------------

def _bind_modifiers(clauses: list[_Clause], mentions: list[Mention]) -> list[Mention]:
    """Each modifier qualifies the nearest finding it applies to in its clause; in a clause with
    none ("it's getting bigger"), the last such finding of an earlier clause."""
    extra: dict[int, set[str]] = {}
    for clause in clauses:
        for mod in clause.of(MODIFIER):
            if _negated_before(clause, mod, LEXICON, max_gap=2):
                continue   # "not spreading", "no está creciendo"
            fits = [
                (i, m) for i, m in enumerate(mentions)
                if m.clause == clause.index and m.finding in mod.entry.applies_to
            ]
            if fits:
                if not mod.entry.clause_wide:
                    fits = [min(fits, key=lambda im: _distance(im[1], mod))]
                for i, _ in fits:
                    extra.setdefault(i, set()).add(mod.entry.id)
                continue
            earlier = [
                (i, m) for i, m in enumerate(mentions)
                if m.clause < clause.index and m.finding in mod.entry.applies_to
            ]
            if earlier:
                i, _ = max(earlier, key=lambda im: (im[1].clause, im[1].start))
                extra.setdefault(i, set()).add(mod.entry.id)
    return [
        _replace(m, modifiers=m.modifiers | frozenset(extra[i])) if i in extra else m
        for i, m in enumerate(mentions)
    ]


def _distance(m: Mention, o: Match) -> int:
    if o.end <= m.start:
        return m.start - o.end
    if m.end <= o.start:
        return o.start - m.end
    return 0


def _fevers_from_temperatures(clauses: list[_Clause], mentions: list[Mention], lex: Lexicon) -> list[Mention]:
    """"Temp 101" is a fever, "temp is 98.6" is not; a reading like "100.8" alone is one."""
    out = list(mentions)
    for clause in clauses:
        temps = scores.temperatures_in(clause.words, lex)
        if not temps:
            continue
        feverish = any(scores.is_fever(t, lex) for t in temps)
        fevers = [i for i, m in enumerate(out) if m.clause == clause.index and m.finding == "fever"]
        for i in fevers:
            if out[i].status != NEGATED and not feverish:
                out[i] = _replace(out[i], status=NEGATED)
        decimal_reading = any("." in w or "," in w for w in clause.words if w[0].isdigit())
        if feverish and not fevers and (decimal_reading or {"degrees", "f", "c"} & set(clause.words)):
            t = max(temps)
            out.append(Mention("fever", "fever", False, PRESENT, clause.index, 0, len(clause.words), f"{t:g}"))
    return out


def _mentions_by_clause(mentions: list[Mention]) -> dict[int, list[Mention]]:
    by: dict[int, list[Mention]] = {}
    for m in mentions:
        by.setdefault(m.clause, []).append(m)
    return by


def _nearest(clause_mentions: list[Mention], o: Match, max_gap: int) -> Mention | None:
    near = [m for m in clause_mentions if _distance(m, o) <= max_gap]
    return min(near, key=lambda m: _distance(m, o)) if near else None


def _intensity(clauses: list[_Clause], by_clause: dict[int, list[Mention]]) -> tuple[int, str] | None:
    """Intensity words about soreness; the strongest wins (safety first)."""
    found: list[tuple[int, str]] = []
    for clause in clauses:
        here = [m for m in by_clause.get(clause.index, []) if m.status != NEGATED]
        if any(m.finding == "flare" for m in here):
            continue   # "my usual pain is really bad": the flare, not today's soreness
        pains = [m for m in here if m.finding in PAIN_FINDINGS]
        for o in clause.of(INTENSITY):
            words = " ".join(clause.words[o.start:o.end])
            if _negated_before(clause, o, LEXICON, max_gap=1):
                continue
            if not o.entry.standalone:
                if _nearest(pains, o, max_gap=1):
                    found.append((o.entry.value, words))
                continue
            nearest = _nearest(here, o, max_gap=1)
            if nearest is not None and nearest.finding not in PAIN_FINDINGS:
                continue   # "severe headache", "bad bruise": not about soreness
            if pains or not here:
                found.append((o.entry.value, words))
    return max(found, key=lambda f: f[0]) if found else None


def _trend(clauses: list[_Clause], by_clause: dict[int, list[Mention]]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """Trend words about soreness: not those right beside another finding ("bruise is bigger")."""
    improving: list[str] = []
    worsening: list[str] = []
    same = False
    for clause in clauses:
        here = by_clause.get(clause.index, [])
        flare = any(m.finding == "flare" for m in here)
        for o in clause.of(TREND):
            nearest = _nearest(here, o, max_gap=2)
            if flare or (nearest is not None and nearest.finding not in PAIN_FINDINGS):
                continue   # about a bruise, or the usual complaint (a flare), not the soreness
            if _negated_before(clause, o, LEXICON, max_gap=1):
                continue   # "not worse", "no better" is a phrase of its own
            words = " ".join(clause.words[o.start:o.end])
            if o.entry.id == "improving":
                improving.append(words)
            elif o.entry.id == "worsening":
                worsening.append(words)
            else:
                same = True
    return tuple(improving), tuple(worsening), same


# -- 6. questions ----------------------------------------------------------------------------------

def _questions(clauses: list[_Clause], mentions: list[Mention]) -> tuple[bool, bool, list[_Clause], bool]:
    """Whether the reply asks something, whether the bot can answer it, and whether it only asks
    who is writing ("who is this": `unclear`)."""
    asked: list[_Clause] = []
    identity = False
    for clause in clauses:
        if clause.of(QUESTION, "identity"):
            identity = True
            continue
        opener = 1 if clause.of(QUESTION, "openers") and clause.of(QUESTION, "openers")[0].start == 0 else 0
        form = any(m.start <= opener for m in clause.of(QUESTION, "form"))
        if not form and not clause.question_mark:
            continue
        topic = bool(clause.of(QUESTION, "answerable", "person"))
        content = any(m.clause == clause.index for m in mentions) or bool(clause.scores)
        if form or (clause.question_mark and (topic or (len(clause.words) >= 3 and not content))):
            asked.append(clause)
    if not asked:
        return False, False, asked, identity
    if any(c.of(QUESTION, "person") for c in asked):
        return True, False, asked, identity
    about = {m.finding for m in mentions if m.status in CURRENT | {PAST}}
    small_bruise = not any(
        m.modifiers & {"large", "growing", "fast_growing"} for m in mentions if m.finding == "bruise"
    )
    answerable = (
        all(c.of(QUESTION, "answerable") for c in asked)
        and about <= ANSWERABLE_FINDINGS
        and small_bruise
    )
    return True, answerable, asked, identity


def _replace(m: Mention, **changes) -> Mention:
    return m._replace(**changes)
