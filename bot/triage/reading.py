"""Reading a reply: text -> what the patient says (PROTOCOL.md section 4). No rules, no levels.

1. Normalise and split into words (`lexicon.words`): lower case, accents folded, spelling fixed,
   typos one letter off a concept word repaired, emoji turned into words or dropped, a tapback
   reaction's quoted text left out.
2. Cut the words into units that carry word classes (`lexicon.units`; the longest entry wins), and
   the units into clauses at punctuation and at "but", "also", "pero", "también"-like words (never
   inside a unit: "a lo hecho, pecho" is one idiom). No cue reaches past its clause, and within
   one, "and"/"y" separates statements for most of them.
3. Scope negation by attachment: a negation denies the concept it is attached to (the next one,
   across small words, the rest of its phrase, and a list joined by "or"/"ni": "no fever or
   chills"), or, at the end of a clause, the one just before it ("fever: none"). It stops at a
   second complaint or another finding ("no tightness in my chest hard to breathe"). Some words it
   turns into their opposite instead ("not right" is odd, "zero strength" is weakness: `[flips]`).
   A condition is not a denial: "no pain unless I breathe in", "can't breathe in without pain",
   "fine except when I climb stairs" leave the finding current. A verdict ("fine", "100%",
   "respiro perfecto") judges the bare breathing or chest word it follows; negated or after
   "can't", it is a complaint ("no respiro bien").
4. Find findings as concept frames (classes that meet in a clause), in the lexicon's order; a
   finding's words are not read again by a later one ("chest pain" is not also soreness), and a
   frame never joins a complaint nothing denies to a denied word, nor two statements across "and".
   A breathing or chest word that no frame reads and nothing denies stays a possible E1, unless it
   is said harmlessly (an idiom, breathing practice, a remedy on the chest) in a clause with no
   complaint about it.
5. Give every finding a status: negated > resolved ("felt faint after but fine now") >
   hypothetical ("what if I get a fever?") > doubted ("maybe short of breath?") > past ("felt
   dizzy on the way home": a word of an earlier time near it) > present. Across clauses: a clause
   of verdicts judges a question or a short list before it ("trouble breathing - nope"), and one
   of now says it has passed ("coughed yesterday, nothing today"); a short clause that says
   something has passed ("ya no la tengo") resolves the clause before it, unless it names a body
   part the clause before does not ("coughed blood. back fine now") or its own finding; a
   breathing or chest complaint, and anything beside "all better", passes only when said of the
   past. A finding said to be "still" there stays. What follows another person as subject ("my
   husband is short of breath") is theirs up to the writer's own words, when the writer also
   speaks of themselves or it is explained by the other's own illness; not when the writer texts
   for the patient ("this is her daughter").
6. Bind modifiers ("huge", "spreading", "won't stop"), intensity words ("very", "mild") and trend
   words ("better", "worse") to what they qualify; some modifiers also reach the next clause
   ("hard as a rock, swollen"); numbness or weakness with an arm and a leg listed is bilateral.
7. Read the score (`scores.py`: the highest said of now), "same", "fine", and whether the reply
   asks something.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from bot.triage import scores
from bot.triage.lexicon import LEXICON, NOT_BARE, Lexicon, Trait
from bot.triage.scores import scores_in

PRESENT = "present"
DOUBTED = "doubted"
PAST = "past"
RESOLVED = "resolved"
NEGATED = "negated"
HYPOTHETICAL = "hypothetical"
SOMEONE_ELSES = "someone_else"      # "my son has a cough": not the patient's

CURRENT = frozenset({PRESENT, DOUBTED})
HAPPENED = frozenset({PRESENT, DOUBTED, PAST})

# Findings that are pain, for the binding of intensity and trend words to soreness.
PAIN_FINDINGS = frozenset({"soreness", "shoulder_blade_pain"})
# Findings the bot can answer "is this normal?" about (section 4).
ANSWERABLE_FINDINGS = frozenset({"soreness", "bruise", "fatigue"})
# Denials: by a plain negation, or by "I don't think", which only doubts a red flag.
_HARD, _SOFT = 1, 2
# Acknowledgement words that read as "fine" only when nothing says they acknowledge the message.
_THAN = frozenset({"than", "que"})
_ACK_LIKE = frozenset({"perfecto", "perfecta", "perfect", "genial", "excelente", "great", "awesome"})

# Sets of traits the steps below look for.
_NEGATIONS = frozenset({Trait.NEG, Trait.SOFT_NEG})
_SMALL_OR_NEG = frozenset({Trait.SMALL, Trait.NEG})
_SMALL_OR_REACH = frozenset({Trait.SMALL, Trait.REACH})
_LIST_OF_JUDGED = frozenset({Trait.LIST_AND, Trait.JUDGED, Trait.SMALL})
_NOT_A_LIST_ITEM = frozenset({Trait.NEG, Trait.SOFT_NEG, Trait.UNABLE})
_WELL_OR_TREND = frozenset({Trait.WELL, Trait.TREND})
_WELL_OR_NORMAL = frozenset({Trait.WELL, Trait.NORMAL})
_TRIGGER_OR_QUESTION = frozenset({Trait.TRIGGER, Trait.QUESTION})
_NEG_OR_NORMAL = frozenset({Trait.NEG, Trait.NORMAL})
_TIME = frozenset({Trait.PRESENT, Trait.PAST})
_NEG_OR_TIME = frozenset({Trait.NEG, Trait.PRESENT, Trait.PAST})   # "ayer me costaba respirar hoy respiro normal"
# What may judge another clause (`_across_clauses`).
_ACROSS = frozenset({Trait.NEG, Trait.NORMAL, Trait.WELL, Trait.RESOLVED, Trait.RESOLVED_NEG})


class Mention(NamedTuple):
    """One finding in the reply, with its status and what qualifies it. `start`/`end`: the units
    of its clause it spans."""

    finding: str
    tag: str | None
    red_flag: bool
    status: str
    clause: int
    start: int
    end: int
    words: str
    modifiers: frozenset[str] = frozenset()


@dataclass
class Reading:
    """What the reply says (read-only once `read` returns it)."""

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
    pressure_minutes: float | None = None  # firm pressure on a bleeding point, and for how long (-1: not said)
    by_finding: dict[str, list[Mention]] = field(default_factory=dict)   # mentions by finding id
    harmless: tuple[str, ...] = ()       # breathing or chest words said harmlessly ("took my breath away")

    def having(self, *findings: str, statuses: frozenset[str] = CURRENT) -> tuple[Mention, ...]:
        return tuple(m for f in findings for m in self.by_finding.get(f, ()) if m.status in statuses)

    def with_modifier(self, finding: str, *modifiers: str,
                      statuses: frozenset[str] = CURRENT) -> tuple[Mention, ...]:
        return tuple(m for m in self.having(finding, statuses=statuses) if not m.modifiers.isdisjoint(modifiers))

    @property
    def mentions_breathing_or_chest(self) -> bool:
        return bool(self.topics) or any(m.red_flag for m in self.mentions)


@dataclass(eq=False)
class Clause:
    """One clause of the reply: its words and units, and what the cues in it say (`_cues`)."""

    index: int                                       # its place in the reply
    words: list[str]
    starts: list[int]                                # each unit's first word, in `words`
    classes: list[frozenset[str]]                    # each unit's word classes
    traits: list[frozenset[Trait]]                   # what each unit is (`Lexicon.traits_of`)
    asked: bool = False                              # it ends in "?"
    every: frozenset[Trait] = frozenset()            # the traits of all its units
    at: dict[str, list[int]] = field(default_factory=dict)   # class -> its units, for the classes frames look up
    numbers: list[int] = field(default_factory=list)         # word positions of its numbers
    scores: list[scores.Score] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    denied: dict[int, int] = field(default_factory=dict)     # unit -> _HARD or _SOFT
    direct: set[int] = field(default_factory=set)            # units a negation names first ("no respiro")
    fine: set[int] = field(default_factory=set)              # bare concepts said to be fine
    doubted: bool = False
    past: bool = False
    resolved: bool = False
    resolved_negation: bool = False
    hypothetical_before: int | None = None
    still_from: int | None = None                    # a "still" after the clause's resolution
    base: str = PRESENT                              # the status of a finding nothing qualifies
    flipped: bool = False                            # a negation or a verdict changed a unit's classes
    harmless: list[str] = field(default_factory=list)  # breathing or chest words said harmlessly
    past_at: list[int] = field(default_factory=list)    # its words of an earlier time
    resolvers: list[int] = field(default_factory=list)  # units that say something has passed
    briefly: list[int] = field(default_factory=list)    # units that say how long something lasted

    def index_units(self, lex: Lexicon) -> None:
        """Work out `every`, `at` and `numbers` from the units (again after a flip)."""
        self.every = frozenset().union(*self.traits)
        self.at = {}
        for k, cs in enumerate(self.classes):
            for c in lex.framed_of(cs):
                self.at.setdefault(c, []).append(k)
        self.numbers = [self.starts[k] for k, t in enumerate(self.traits) if Trait.NUMBER in t]

    def text(self, start: int, end: int) -> str:
        """The words of units start..end-1."""
        first = self.starts[start]
        stop = self.starts[end] if end < len(self.starts) else len(self.words)
        return " ".join(self.words[first:stop])

    def word(self, k: int) -> str:
        """The first word of unit k."""
        return self.words[self.starts[k]]


def read(text: str, lex: Lexicon = LEXICON) -> Reading:
    words = lex.words(text)
    clauses = _clauses(words, lex)
    for clause in clauses:
        _cues(clause, lex)
        clause.scores = scores_in(clause.words, clause.numbers, lex, len(clauses) == 1)
    for i, clause in enumerate(clauses):
        after = clauses[i + 1] if i + 1 < len(clauses) else None
        clause.mentions = _findings(clause, lex, after is not None and _refers_back(after) and any(
            not cs.isdisjoint(_PAIN_OR_DIFFICULTY) and k not in after.denied for k, cs in enumerate(after.classes)))
        clause.harmless = _harmless(clause, lex)
    _across_clauses(clauses, lex)
    _someone_elses(clauses, lex)
    every = frozenset().union(*(c.every for c in clauses))

    topics = [m for c in clauses for m in c.mentions if m.finding in lex.topics]
    mentions = [m for c in clauses for m in c.mentions if m.finding not in lex.topics]
    named = {m.finding for m in mentions}
    mentions = _bind_modifiers(clauses, mentions, lex)
    mentions = _sharp_said_after(clauses, mentions, lex)
    mentions = _arm_and_leg(clauses, mentions, lex)
    mentions = _fevers_from_temperatures(clauses, mentions, lex)
    mentions = _racing_pulses(clauses, mentions, lex)

    # Today's score: the highest said of now ("neck 3, shoulder 8": safety first); one the
    # patient quotes from earlier ("was a 7", "de 5 a 4") is the last said of the past.
    current = past = None
    for clause in clauses:
        for s in clause.scores:
            if s.past:
                past = s
            elif current is None or s.value > current.value:
                current = s

    # An adverb ("very", "a bit") qualifies a soreness word; alone it says nothing.
    intensity = _intensity(clauses, mentions, lex) if Trait.INTENSITY_ALONE in every or (
        Trait.INTENSITY in every and not PAIN_FINDINGS.isdisjoint(named)) else None
    improving, worsening, same = _trend(clauses, mentions)
    is_question, answerable, asked, identity = _questions(clauses, mentions)
    asked_words = " / ".join(" ".join(c.words) for c in asked)
    asked_clauses = frozenset(c.index for c in asked)
    wellness = _wellness(clauses, asked)
    pressure = _pressure_minutes(clauses) if Trait.PRESSURE in every else None

    by_finding: dict[str, list[Mention]] = {}
    for m in mentions:
        by_finding.setdefault(m.finding, []).append(m)
    harmless = tuple(h for c in clauses for h in c.harmless)
    return Reading(text, tuple(words), tuple(mentions), tuple(topics), current, past.value if past else None,
                   intensity, same, improving, worsening, wellness, is_question, answerable, asked_words,
                   identity, asked_clauses, pressure, by_finding, harmless)


# -- 2. clauses ----------------------------------------------------------------------------------

def _clauses(words: list[str], lex: Lexicon) -> list[Clause]:
    """The units cut into clauses. A unit of punctuation or "but" (`Trait.SPLIT`) ends a clause and
    belongs to none, except "-" and "/" between two numbers ("4-5", "7/10"); a "?" marks the
    clause it ends as asked."""
    clauses: list[Clause] = []
    units: list = []
    first = 0                                    # the current clause's first word
    for unit in lex.units(words):
        w = words[unit.start]
        traits = lex.traits_of(unit.classes)
        between_numbers = (w in _NUMERIC_JOINERS and units and unit.end < len(words)
                           and lex.is_number(words[unit.start - 1]) and lex.is_number(words[unit.end]))
        if Trait.SPLIT in traits and not between_numbers:
            if units:
                clauses.append(_clause(len(clauses), words[first:unit.start], first, units, lex))
                units = []
                if w == "?":
                    clauses[-1].asked = True
            elif w == "?" and clauses:
                clauses[-1].asked = True
            first = unit.end
            continue
        units.append(unit)
    if units:
        clauses.append(_clause(len(clauses), words[first:], first, units, lex))
    return clauses


_NUMERIC_JOINERS = frozenset({"-", "/"})


def _clause(index: int, words: list[str], first: int, units: list, lex: Lexicon) -> Clause:
    clause = Clause(index, words, [u.start - first for u in units], [u.classes for u in units],
                    [lex.traits_of(u.classes) for u in units])
    clause.index_units(lex)
    return clause


def _cues(clause: Clause, lex: Lexicon) -> None:
    """Negation and verdicts (step 3), which may change a unit's classes (and then the index
    class -> units that concept frames look up is made again); then the clause-wide cues."""
    _negate(clause, lex)
    _verdicts(clause, lex)
    _conditions(clause)
    if clause.flipped:
        clause.index_units(lex)
    every, traits = clause.every, clause.traits
    clause.doubted = clause.asked or (Trait.DOUBT in every and _doubts_a_finding(clause, lex))
    # "más cargada que anoche": a time after "than" is what today is compared with, not when.
    clause.past_at = [k for k, t in enumerate(traits) if Trait.PAST in t and not (k and clause.word(k - 1) in _THAN)]
    clause.past = Trait.PAST in every and Trait.PRESENT not in every and bool(clause.past_at)
    clause.resolved_negation = Trait.RESOLVED_NEG in every
    resolving = clause.resolvers = _resolving(clause)
    clause.briefly = [k for k, t in enumerate(traits) if Trait.BRIEF in t]
    clause.resolved = bool(resolving)
    if resolving:
        # "blacked out for a sec and the room is still spinning": after a "still" that follows
        # the resolution, findings are current again.
        clause.still_from = next((k for k in range(resolving[-1] + 1, len(traits)) if Trait.STILL in traits[k]), None)
    # "not sure if my chest is tight": the "if" of a doubt asks nothing. "if I breathe in all the
    # way I get a pinch": a bare "if" put before breathing says when the pain comes, as "when"
    # does; only a question makes it a finding asked about.
    clause.hypothetical_before = next(
        (k for k, t in enumerate(traits)
         if Trait.HYPOTHETICAL in t and not (k and Trait.UNSURE in traits[k - 1])
         and not _conditions_breathing(clause, k)), None)
    # The status of a finding nothing in particular qualifies (see `_status`).
    clause.base = RESOLVED if clause.resolved else DOUBTED if clause.doubted else PAST if clause.past else PRESENT


_BARE_IF = frozenset({"if", "si"})
# A plan for later ("if my breathing gets worse I'll call") keeps its "if" hypothetical.
_PLANNED = frozenset({"will", "ill", "gonna", "would", "should", "shall", "llamare", "ire", "voy", "iria",
                      "llamaria", "avisare", "avisaria"})


def _conditions_breathing(clause: Clause, k: int) -> bool:
    """A bare "if" ("si") in a statement of the present whose next few units name breathing."""
    return (not clause.asked and clause.word(k) in _BARE_IF and _PLANNED.isdisjoint(clause.words)
            and any("breath" in clause.classes[j] for j in range(k + 1, min(k + 4, len(clause.classes)))))


def _resolving(clause: Clause) -> list[int]:
    """The units that say something has passed. "gone numb", "went cold": a change into the
    finding, not its passing. "a faded bruise": after an article, a word of passing describes.
    "all better" (`well_again`) says so of a complaint of the past, or with "now"."""
    traits = clause.traits
    def said_now(k: int) -> bool:             # "back to normal now", "all better today"
        return any(traits[j] & _TIME for j in (k - 1, k + 1) if 0 <= j < len(traits))
    return [k for k, t in enumerate(traits)
            if (Trait.RESOLVED in t or (Trait.WELL_AGAIN in t and said_now(k)))
            and not (Trait.BECAME in t and _next_concept(traits, k + 1))
            and not (k and clause.word(k - 1) in _DETERMINERS)]


def _doubts_a_finding(clause: Clause, lex: Lexicon) -> bool:
    """Whether a doubt word hedges what the patient feels, not a number: "couldn't get a proper
    breath for maybe 20 min" is sure of the breath; "maybe a 4" only rounds the score."""
    n = len(clause.traits)
    for k, t in enumerate(clause.traits):
        if Trait.DOUBT not in t:
            continue
        j = k + 1
        if j < n and clause.word(j) in _ARTICLES:
            j += 1
        if not (j < n and lex.is_number(clause.word(j))):
            return True
    return False


_ARTICLES = frozenset({"a", "an", "un", "una", "like", "about", "around", "unos", "unas"})
_DETERMINERS = frozenset({"a", "an", "the", "un", "una", "el", "la"})


def _next_concept(traits: list[frozenset[Trait]], k: int) -> bool:
    """Whether the first unit from k on that is not a small word names a concept ("gone a
    purplish colour")."""
    while k < len(traits) and Trait.SMALL in traits[k]:
        k += 1
    return k < len(traits) and Trait.DENIABLE in traits[k]


# -- 3. negation and verdicts --------------------------------------------------------------------

def _flip(clause: Clause, k: int, classes: frozenset[str], lex: Lexicon) -> None:
    clause.classes[k] = classes
    clause.traits[k] = lex.traits_of(classes)
    clause.flipped = True


def _negate(clause: Clause, lex: Lexicon) -> None:
    """Each negation denies the concept it is attached to, or turns it into its opposite."""
    classes, traits, denied, direct = clause.classes, clause.traits, clause.denied, clause.direct
    n = len(traits)
    for k in range(n):
        cue = traits[k]
        if not cue & _NEGATIONS:
            continue
        if k > 0 and Trait.UNABLE in traits[k - 1]:
            continue                                   # "no me puedo ni mover": "ni" only stresses
        if Trait.WITHOUT in cue and any(Trait.UNABLE in t for t in traits[:k]):
            continue                                   # "can't breathe in without pain": a condition
        strength = _SOFT if Trait.SOFT_NEG in cue else _HARD
        j = k + 1
        limit = min(n, k + 1 + lex.negation_window)
        while j < limit and traits[j] & _SMALL_OR_NEG:   # "no siento nada dormido": one denial
            j += 1
        if j == n:
            if not _echoes_a_negation(clause, k):
                _deny_before(clause, k, strength, lex)     # "fever: none", "chest pain nope"
            continue
        if j == limit:
            continue
        target = traits[j]
        if Trait.FLIP in target:
            # "not right", "zero strength", "no para"
            _flip(clause, j, frozenset(lex.flips[c] for c in classes[j] if c in lex.flips), lex)
            continue
        if Trait.DENIABLE not in target:
            continue                                   # "no idea why ...": about something else
        denied[j] = max(denied.get(j, 0), strength)
        direct.add(j)
        item = [j]                                     # the units of the list item being denied
        listed = False                                 # a list word came just before
        j += 1
        while j < n:                                   # the rest of its phrase or list
            t = traits[j]
            if Trait.DENIABLE in t and not t & _NOT_A_LIST_ITEM:
                if listed:
                    item = []                          # "no fever or chills": a new item
                elif not _same_phrase(clause, item, j, lex):
                    break                              # "no tightness in my chest hard to breathe"
                denied[j] = max(denied.get(j, 0), strength)
                item.append(j)
                listed = False
            elif clause.text(j, j + 1) not in lex.joins:
                break
            else:
                listed = listed or "list_or" in classes[j]   # "no fever or chills", "sin tos ni fiebre"
            j += 1


def _same_phrase(clause: Clause, item: list[int], j: int, lex: Lexicon) -> bool:
    """Whether unit j goes on the phrase a negation denies without a list word: a qualifier
    ("no huge bruise"), another word of the same finding ("no chest pain", "no sharp stabbing
    pain"), but not a new complaint ("no tightness in my chest hard to breathe") or another
    finding ("sin dolor de pecho arrastro el pie")."""
    cs, t = clause.classes[j], clause.traits[j]
    before = [clause.classes[u] for u in item]
    if any(not cs.isdisjoint(b) for b in before[-1:]):
        return True                                    # "sharp stabbing pain": one pain
    if Trait.COMPLAINT in t and any(Trait.COMPLAINT in clause.traits[u] for u in item):
        return False                                   # a second complaint: a new statement
    if t & _QUALIFIERS or any(clause.traits[u] & _QUALIFIERS for u in item[-1:]):
        return True                                    # "no huge bruise", "no bruise getting bigger"
    return any(lex.in_one_frame(c, d) for c in cs for b in before for d in b)


_QUALIFIERS = frozenset({Trait.MODIFIER, Trait.INTENSITY, Trait.TREND})


def _echoes_a_negation(clause: Clause, k: int) -> bool:
    """"sin fuerza pa' agarrar nada", "no puedo mover nada": a clause-final "nada" after a negation
    or an inability in its clause repeats it (Spanish negative concord); it denies nothing more."""
    return clause.word(k) in _CONCORD and any(
        t & _NEGATIONS or Trait.UNABLE in t or clause.word(j) in _NEGATION_WORDS
        for j, t in enumerate(clause.traits[:k]))


_CONCORD = frozenset({"nada", "nadie", "ninguno", "ninguna"})
_NEGATION_WORDS = frozenset({"no", "sin", "ni", "nunca"})


def _deny_before(clause: Clause, k: int, strength: int, lex: Lexicon) -> None:
    """A negation that ends its clause denies the concept(s) just before it: "fever: none"."""
    traits = clause.traits
    j = k - 1
    while j >= 0 and Trait.SMALL in traits[j]:
        j -= 1
    while j >= 0 and k - j <= lex.verdict_window + 2:
        if Trait.DENIABLE in traits[j]:
            clause.denied[j] = max(clause.denied.get(j, 0), strength)
        elif clause.text(j, j + 1) not in lex.joins:
            break
        j -= 1


def _verdicts(clause: Clause, lex: Lexicon) -> None:
    """"breathing 100%", "lungs are fine", "respiro perfecto", "normal temp": a verdict right
    after (or right before) a bare breathing, chest or temperature word says it is fine. Negated,
    or after "can't", the same verdict is a complaint: "no respiro bien", "can't breathe properly".
    A verdict in doubt ("not sure if my breathing is ok") or asked ("breathing ok?") clears nothing."""
    traits = clause.traits
    n = len(traits)
    in_doubt = clause.asked or Trait.UNSURE in clause.every     # (no flip makes or unmakes doubt)
    window = lex.verdict_window
    for v in range(n):
        if Trait.NORMAL not in traits[v]:
            continue
        j = v - 1
        while j >= 0 and v - j <= window and traits[j] & _SMALL_OR_REACH and Trait.DENIABLE not in traits[j]:
            j -= 1
        if j >= 0 and v - j <= window and Trait.JUDGED in traits[j]:
            targets = [j]
            k = j - 1                                  # "chest and breathing are both fine"
            while k >= 0 and traits[k] & _LIST_OF_JUDGED and not traits[k] & _NEG_OR_TIME:
                if Trait.JUDGED in traits[k]:
                    if any(Trait.COMPLAINT in traits[u] for u in range(max(0, k - 8), k)):
                        break                  # "it pinches when I breathe in and breathing is fine"
                    targets.append(k)
                k -= 1
        elif v + 1 < n and Trait.JUDGED in traits[v + 1] and all(Trait.SMALL in traits[u] for u in range(v)):
            targets = [v + 1]                          # "normal temp", "normal breathing" (not "a good breath")
        else:
            continue
        target = targets[0]
        if _a_complaint_is_about(clause, target, lex):
            continue                                   # "it hurts when I breathe in ok"
        if target in clause.direct or any(Trait.UNABLE in traits[u]
                                          for u in range(max(0, target - lex.frame_window), target)):
            clause.denied.pop(target, None)
            clause.denied.pop(v, None)
            _flip(clause, v, _ODD, lex)                # "no respiro bien": a complaint
        elif not in_doubt:
            clause.fine.update(targets)


def _a_complaint_is_about(clause: Clause, j: int, lex: Lexicon) -> bool:
    """A breathing or chest word that a complaint is about is not what a verdict after it judges:
    "it hurts when I breathe in ok", "a weight on my chest 👍", "me duele el pecho ok". About it: the
    object of a complaint verb (`complaint_verbs`), or after "when", "on"... (`circumstances`) with
    a complaint (or a breathing or chest frame's word) in the frame window before, with no
    negation, "and" or score between. "no pain when breathing ok", "sore 5 breathing ok" and "sore
    breathing fine" are verdicts: a breathing word right after soreness is a subject. (After
    "can't" the verdict itself becomes a complaint: `_verdicts`.)"""
    traits = clause.traits
    c, connected, linking = j - 1, False, lex.joins | lex.circumstances
    while c >= 0 and ((word := clause.text(c, c + 1)) in linking or not traits[c] - _MODIFYING):
        connected = connected or word in lex.circumstances       # "when I take a big", "un poquito el"
        c -= 1
    if c >= 0 and (clause.text(c, c + 1) in lex.complaint_verbs or traits[c] & _COMPLAINT_OR_RED_FLAG
                   and clause.text(c, c + 1).split()[-1] in lex.circumstances):
        return True                                    # "me duele el pecho", "a weight on my chest"
    if not connected:
        return False
    for u in range(c, max(-1, c - lex.frame_window), -1):
        if traits[u] & _NEG_AND_OR_NUMBER:
            return False
        if traits[u] & _COMPLAINT_OR_RED_FLAG and Trait.JUDGED not in traits[u]:
            return True
    return False


_MODIFYING = frozenset({Trait.SMALL, Trait.INTENSITY, Trait.DENIABLE})
_COMPLAINT_OR_RED_FLAG = frozenset({Trait.COMPLAINT, Trait.RED_FLAG})
_NEG_AND_OR_NUMBER = frozenset({Trait.NEG, Trait.LIST_AND, Trait.NUMBER})
_ODD = frozenset({"odd"})


def _conditions(clause: Clause) -> None:
    """"no pain unless I breathe in", "breathing is fine unless I lie flat": what a negation denied,
    or a verdict called fine, just before a condition is not denied or fine: it comes under the
    condition. The condition reaches back to the negation or to the list word before it ("no fever
    or pain unless I press on it" still denies the fever)."""
    traits = clause.traits
    for c, t in enumerate(traits):
        if Trait.CONDITION not in t:
            continue
        for j in range(c - 1, -1, -1):
            if traits[j] & _NEGATIONS or "list_or" in clause.classes[j] or Trait.LIST_AND in traits[j]:
                break
            clause.denied.pop(j, None)
            clause.direct.discard(j)
            clause.fine.discard(j)


# -- 4. findings -----------------------------------------------------------------------------------

def _findings(clause: Clause, lex: Lexicon, complains_after: bool) -> list[Mention]:
    """The clause's findings (concept frames, in the lexicon's order), then its bare breathing or
    chest words that no frame read. A bare word is harmless, and no mention, when its clause (or a
    short clause after it: "took a deep breath, it hurt") has no complaint and it is a harmless
    phrase ("took a deep breath", a word dictation put for one) or said among soothing words
    ("did some deep breathing to relax", "heat pad on my chest, so cozy")."""
    at, classes, denied = clause.at, clause.classes, clause.denied
    used: set[int] = set()
    out: list[Mention] = []
    shared = lex.shared
    last = len(classes) - 1
    for finding, frames in lex.plan_of(frozenset(at)):
        if frames is None:                            # words that are the finding on their own
            for c in finding.single:
                for a in at.get(c, ()):
                    if a in used:
                        continue
                    if (a > 0 and c in classes[a - 1]) or (a < last and c in classes[a + 1]):
                        units = [a, *_next_to(a, c, classes, used)]   # "sharp stabbing pain": one pain
                    else:
                        units = [a]
                    out.append(_mention_of(clause, finding.id, finding.tag, finding.red_flag, units))
                    if c not in shared:
                        used.update(units)
            continue
        made: list[tuple[list[int], tuple[str, ...]]] = []
        anchored: set[int] = set()
        for frame in frames:                          # those whose classes are all in the clause
            wanted = frame.classes
            for a in at[wanted[0]]:
                if a in used or a in anchored:
                    continue
                units = [a]
                for c in wanted[1:]:
                    best, best_key = -1, (2, 2, 99)
                    for b in at[c]:
                        if b in used or b in units or _denial_splits(clause, a, b) or _statements_apart(clause, a, b):
                            continue
                        d = b - a
                        if d < 0:
                            if frame.ordered:
                                continue
                            d = -d
                        if d > frame.window:
                            continue
                        # a complaint before a denial, one of the same phrase before one after "and"
                        key = (1 if b in denied else 0, 1 if _listed_between(clause, a, b) else 0, d)
                        if key < best_key:
                            best, best_key = b, key
                    if best < 0:
                        break
                    units.append(best)
                else:
                    anchored.add(a)
                    made.append((units, wanted))
        for units, wanted in made:
            own = [u for u, c in zip(units, wanted) if c not in shared]
            for u, c in zip(units, wanted):
                if c not in shared and ((u > 0 and c in classes[u - 1]) or (u + 1 < len(classes) and c in classes[u + 1])):
                    own.extend(_next_to(u, c, classes, used))   # "sharp stabbing pain": one pain
            out.append(_mention_of(clause, finding.id, finding.tag, finding.red_flag, units + own))
            used.update(own)
    for c in lex.topic_order:
        for u in at.get(c, ()):
            bare = complains_after or _complains_of(clause, u) or (
                classes[u].isdisjoint(NOT_BARE) and not _soothed(clause, u, lex))
            if u not in used and bare:
                used.add(u)
                out.append(_mention_of(clause, c, None, True, [u], topic=True))
    return out


def _passed(clause: Clause, units: list[int]) -> bool:
    """Whether the clause says these units' finding has passed: a word of passing after it ("felt
    dizzy after but fine now") or just before it ("ya se me pasó el mareo"), or a duration right
    beside it ("dizzy for a bit", "un ratito se me durmió el pie"; not "iced it for a bit and my
    arm went numb")."""
    first, last = min(units), max(units)
    return any(r > last or 0 < first - r <= _NEAR for r in clause.resolvers) or any(
        0 < b - last <= _NEAR or first - b == 1 for b in clause.briefly)


_NEAR = 3


def _said_then(clause: Clause, units: list[int]) -> bool:
    """Whether a word of an earlier time in the clause is said of these units: near them, with no
    "and" between ("felt dizzy on the way home", "coughed a bit yesterday"; not "my PT was
    awesome and it hurts when I breathe")."""
    first, last = min(units), max(units)
    return any(first - _PAST_REACH <= k <= last + _PAST_REACH
               and not _listed_between(clause, k, first if k < first else last)
               for k in clause.past_at)


_PAST_REACH = 8


def _complains_of(clause: Clause, u: int) -> bool:
    """Whether the clause complains of unit u: a complaint word (pain, difficulty, "can't",
    worse...) not denied, after it or in its part of the clause ("took a deep breath and it
    hurt"; not "ya casi no molesta y respiraciones lentas"), and not the subject of a score
    ("soreness is a 3": the score's own statement)."""
    return any(Trait.COMPLAINT in t and k not in clause.denied and not _place_of_a_score(clause, k)
               and (k > u or not _listed_between(clause, k, u))
               for k, t in enumerate(clause.traits))


def _refers_back(clause: Clause) -> bool:
    """A short clause that names nothing of its own ("it hurt", "y me dolió"): no body part,
    breathing or chest word, score, intensity or trend ("soreness is a 3", "easing off")."""
    return len(clause.classes) <= 4 and not clause.scores and not clause.every & _OWN_STATEMENT \
        and all(cs.isdisjoint(_NAMED_PLACES) for cs in clause.classes)


_OWN_STATEMENT = frozenset({Trait.INTENSITY, Trait.TREND})
# What a short clause after a harmless phrase says of it ("took a deep breath, it hurt"): pain or
# difficulty, not a vaguer word ("..., easing off").
_PAIN_OR_DIFFICULTY = frozenset({"pain", "difficulty", "tight", "unable", "lack"})


_NAMED_PLACES = frozenset({"body_part", "limb", "neck", "head", "upper_back", "chest", "breath", "air", "face"})


def _soothed(clause: Clause, u: int, lex: Lexicon) -> bool:
    """Whether a unit near it, in the same phrase, soothes: a remedy or a word of ease, alone or in
    a harmless phrase ("heat pad on my chest", "a warm towel on my chest"; not "a rock on my chest
    and heat pack on my neck")."""
    soothing = lex.single_words("heat_therapy") | lex.single_words("soothing")
    def soothes(k: int) -> bool:
        cs = clause.classes[k]
        if "soothing" in cs:
            return True                               # "took a deep breath and relaxed"
        remedy = "heat_therapy" in cs or ("calm" in cs and not soothing.isdisjoint(clause.text(k, k + 1).split()))
        return remedy and not _listed_between(clause, k, u)
    return any(soothes(k) for k in range(len(clause.classes)) if k != u and abs(k - u) <= _SOOTHING_REACH)


_SOOTHING_REACH = 4




def _harmless(clause: Clause, lex: Lexicon) -> list[str]:
    """The breathing or chest words of the clause that no mention took: harmless phrases and words
    among soothing ones. (A reply that names breathing or the chest is never `unclear`.)"""
    taken = {u for m in clause.mentions for u in range(m.start, m.end)}
    words, prefixes = lex.breathing_words()
    def names_breathing(text: str) -> bool:      # "took my breath away", "breathtaking", "a todo pulmón"
        return any(w in words or w.startswith(prefixes) for w in text.split())
    return [clause.text(k, k + 1) for k, cs in enumerate(clause.classes)
            if k not in taken and (not cs.isdisjoint(lex.topics) or (
                not cs.isdisjoint(NOT_BARE) and names_breathing(clause.text(k, k + 1))))]


def _statements_apart(clause: Clause, a: int, b: int) -> bool:
    """Whether two units on either side of "and" belong to two statements: a scored soreness
    ("deep breathing before bed and soreness is a 3"), a harmless breathing phrase after the
    complaint ("ya casi no molesta y respiraciones lentas"), or another person between ("off and
    my son has a chest cold")."""
    if not _listed_between(clause, a, b):
        return False
    first, last = min(a, b), max(a, b)
    return (_place_of_a_score(clause, a) or _place_of_a_score(clause, b)
            or not clause.classes[last].isdisjoint(NOT_BARE)
            or any("relative" in cs for cs in clause.classes[first + 1:last]))


def _denial_splits(clause: Clause, a: int, b: int) -> bool:
    """Whether a denial keeps two units apart: a complaint word nothing denies never joins a
    denied word ("no chest tightness, also new stabbing pain": the stabbing pain is not denied),
    nor do two words on either side of "and"/"or" of which one is denied ("harder to breathe y no
    siento opresión en el pecho"); "my chest doesn't hurt" joins, as the complaint is denied."""
    a_denied, b_denied = a in clause.denied or a in clause.fine, b in clause.denied or b in clause.fine
    if a_denied == b_denied:
        return False
    undenied = b if a_denied else a
    between = clause.classes[min(a, b) + 1:max(a, b)]
    return Trait.COMPLAINT in clause.traits[undenied] or any("list_and" in cs or "list_or" in cs for cs in between)


def _next_to(u: int, cls: str, classes: list[frozenset[str]], used: set[int]) -> list[int]:
    """Units of the same class right beside u, not yet read: "sharp stabbing pain"."""
    out = []
    for step in (-1, 1):
        k = u + step
        while 0 <= k < len(classes) and cls in classes[k] and k not in used:
            out.append(k)
            k += step
    return out


def _mention_of(clause: Clause, finding: str, tag: str | None, red_flag: bool, units: list[int],
                topic: bool = False) -> Mention:
    start, end = min(units), max(units) + 1
    return Mention(finding, tag, red_flag, _status(clause, units, start, red_flag, topic), clause.index,
                   start, end, clause.text(start, end))


def _status(clause: Clause, units: list[int], start: int, red_flag: bool, topic: bool) -> str:
    strength = max(clause.denied.get(u, 0) for u in units)
    if strength:
        if clause.resolved_negation:
            return RESOLVED                            # "not dizzy anymore"
        return DOUBTED if strength == _SOFT and red_flag else NEGATED
    if not clause.fine.isdisjoint(units):
        return NEGATED                                 # "breathing is fine"
    if _passed(clause, units) and (clause.still_from is None or max(units) < clause.still_from):
        return RESOLVED
    if clause.hypothetical_before is not None and clause.hypothetical_before < start:
        return HYPOTHETICAL
    if clause.doubted or topic:
        return DOUBTED                                 # a bare breathing or chest word stays in doubt
    if clause.past and _said_then(clause, units):
        return PAST
    return PRESENT


# -- 5. across clauses ---------------------------------------------------------------------------

def _across_clauses(clauses: list[Clause], lex: Lexicon) -> None:
    """Verdict clauses ("trouble breathing - nope"), and resolutions said in the next clause
    ("felt faint after, but fine now"; "couldn't breathe deeply yesterday, today I breathe fine")."""
    for k in range(1, len(clauses)):
        clause = clauses[k]
        if clause.every.isdisjoint(_ACROSS):
            continue
        before = clauses[k - 1]
        if not clause.mentions and clause.every & _NEG_OR_NORMAL and _verdict_only(clause) \
                and (before.asked or len(before.classes) <= _SHORT or Trait.PRESENT in clause.every):
            negative = Trait.NEG in clause.every
            # "coughed yesterday, nothing today", "tight chest, not now": a denial of now says the
            # complaint has passed (U7 for a breathing one), not that it never was.
            now = Trait.PRESENT in clause.every or Trait.RESOLVED_NEG in clause.every   # "..., ya no"
            # A bare verdict judges a question or a short list of concepts ("trouble breathing -
            # nope", "fever: none", "chest - fine"), or with a word of now the clause before ("tight
            # chest, not now"); not a statement ("half breaths and tired today, but ok"). "zero"
            # after a statement is a score ("leg feels cold, zero").
            if negative and not now and not before.asked and Trait.NUMBER in clause.every:
                continue
            before.mentions = [
                m._replace(status=RESOLVED if now else NEGATED)
                if m.status not in (NEGATED, RESOLVED) and (negative or m.finding in lex.topics) else m
                for m in before.mentions
            ]
            if negative:
                continue
            # "couldn't get a proper breath last night, totally normal since": a verdict of now
            # also says a complaint of the past has passed (below).
        if any(m.status in HAPPENED for m in clause.mentions):
            continue
        own = [m for m in clause.mentions if m.status == RESOLVED and m.finding not in lex.topics]
        if own:
            # "my sciatica is still acting up, the needle soreness has gone away": a clause that
            # says its own finding has passed is about that finding, said earlier too (not a
            # breathing or chest one: safety first), not about the findings before it.
            gone = {m.finding for m in own if not m.red_flag}
            for earlier in clauses[:k]:
                earlier.mentions = [m._replace(status=RESOLVED) if m.finding in gone and m.status in HAPPENED
                                    else m for m in earlier.mentions]
            continue
        # "felt dizzy after, but fine now", "tuve una puntada, ya no la tengo": what the clause
        # before said has passed.
        passed = ((clause.resolved or (clause.resolved_negation and not clause.mentions)) and _says_little_else(clause)
                  or (bool(clause.briefly) and _says_little_else(clause, 0)))   # "only a few seconds"
        # "all better" alone says a complaint of the past has passed, not one said now.
        well_again = Trait.WELL_AGAIN in clause.every and not passed
        # "couldn't breathe deeply last night, but today I breathe fine", "... totally normal this
        # morning": a breathing or chest complaint said to be past, fine now. (One not said to be
        # past stays: safety first.)
        if not (passed or well_again or clause.fine or _fine_now(clause)):
            continue
        for j in range(k - 1, -1, -1):
            if not any(m.status in HAPPENED for m in clauses[j].mentions):
                continue
            if _another_part(clause, clauses[j]):
                break      # "coughed up blood-streaked phlegm. lower back fine now": the back is fine
            # (A finding said to be "still" there keeps its status: "still got that bruise, faded a
            # lot but still there".)
            # A breathing or chest complaint passes only when it was said in the past ("felt
            # short of breath for a minute, all better now"); one said now stays (safety first).
            clauses[j].mentions = [
                m._replace(status=RESOLVED) if m.status in HAPPENED and (
                    ((m.red_flag or well_again) and (m.status == PAST or (
                        clauses[j].past and _said_then(clauses[j], [m.start, m.end - 1]))))
                    or (passed and not m.red_flag))
                and not _said_still(clauses[j], m) else m for m in clauses[j].mentions
            ]
            if passed:
                # "siento la cabeza ligera, me mareé en el carro, pero ya se pasó": the same
                # finding said earlier has passed too (not a breathing or chest one: safety first).
                gone = {m.finding for m in clauses[j].mentions if m.status == RESOLVED and not m.red_flag}
                for earlier in clauses[:j]:
                    if any(m.finding in gone for m in earlier.mentions):
                        earlier.mentions = [m._replace(status=RESOLVED) if m.finding in gone and m.status in HAPPENED
                                            else m for m in earlier.mentions]
            break


def _says_little_else(clause: Clause, most: int = 2) -> bool:
    """A clause of passing says little else ("but fine now", "only a few seconds", "ice fixed
    it"); one with more to say is about that ("went for an easy walk, all better"; "iced it for
    a bit" is about the ice)."""
    return sum(1 for k, cs in enumerate(clause.classes)
               if Trait.SMALL not in clause.traits[k] and cs.isdisjoint(_PASSING_WORDS)) <= most


_SHORT = 3
_PASSING_WORDS = frozenset({"filler", "resolved", "brief", "present", "past", "still", "list_and", "list_or",
                            "q_opener", "resolved_negation", "neg", "normal", "wellness", "ack"})


def _said_still(clause: Clause, m: Mention) -> bool:
    """Whether a "still" ("still", "sigue", "todavía") comes before the mention in its clause."""
    return any(Trait.STILL in clause.traits[k] for k in range(m.start))


def _another_part(clause: Clause, before: Clause) -> bool:
    """Whether a clause names a body part the clause before does not: what it says (fine, gone)
    is about that part, not about the findings before it."""
    parts = {clause.text(k, k + 1) for k, cs in enumerate(clause.classes) if not cs.isdisjoint(_PARTS)}
    if not parts:
        return False
    named = {before.text(k, k + 1) for k, cs in enumerate(before.classes) if not cs.isdisjoint(_PARTS)}
    return not parts <= named


_PARTS = frozenset({"body_part", "limb", "neck", "head"})


def _fine_now(clause: Clause) -> bool:
    """A clause that only says the patient is fine ("totally normal this morning", "ya estaba
    normal"): a verdict with small, time and number words, naming no concept or body part."""
    if clause.every.isdisjoint(_WELL_OR_NORMAL) or clause.every & _TRIGGER_OR_QUESTION or clause.asked:
        return False
    return any(t & _WELL_OR_NORMAL and k not in clause.denied for k, t in enumerate(clause.traits)) \
        and all(cs.isdisjoint(_BODY) for cs in clause.classes)


_BODY = frozenset({"body_part"})


def _someone_elses(clauses: list[Clause], lex: Lexicon) -> None:
    """"my husband is short of breath, I'm fine": a clause whose subject is someone else ("my/mi
    <relative>" before any word of its own, after openers like "and", "also", "y") tells of their
    findings, up to the writer's own words ("... and now I have chills too", "my chest hurts"); a
    clause after it that begins with "he", "she", "ella" goes on with it. Those findings are
    someone else's only when the writer also speaks of themselves: a first-person word or a score
    of their own outside them ("I'm fine", "yo bien", "neck a 2"), or when the clause explains them
    by the other's own illness or habit ("from his asthma", `their_condition`) or is about a pet.
    Otherwise the writer may be texting for the patient ("my mom is short of breath"), and the
    findings stay the patient's, as they do when the writer says so ("this is her daughter",
    `proxy`). A mention that reaches the writer's own words ("... and it hurts when I breathe")
    is the writer's."""
    if any("proxy" in cs for clause in clauses for cs in clause.classes):
        return                                       # "this is her daughter": all is the patient's
    spans: list[tuple[Clause, int, int]] = []        # (clause, first unit, end unit) of someone else's
    sure: list[tuple[Clause, int, int]] = []         # ... theirs in any case (below)
    going_on = was_sure = False
    for clause in clauses:
        if not going_on and lex.relatives.isdisjoint(clause.words) \
                and not any("relative" in cs for cs in clause.classes):
            continue                                   # no other person named here ("my 2 yr old")
        start = _someone_else_subject(clause, going_on, lex)
        continues = going_on
        going_on = False
        if start is None:
            continue
        end = next((k for k in range(start + 1, len(clause.starts))
                    if _writers_own(clause, k, lex) or _reports_on_another(clause, k)
                    or _changes_subject(clause, start, k)), len(clause.starts))
        spans.append((clause, start, end))
        # Theirs in any case: a pet's, or what their own illness or habit explains ("my wife's COPD
        # is acting up, she's wheezy"), and the clause that goes on with it.
        was_sure = (continues and was_sure) or "pet" in clause.classes[start] or any(
            "their_condition" in cs for cs in clause.classes[start:end])
        if was_sure:
            sure.append(spans[-1])
        going_on = end == len(clause.starts)
    if not spans:
        return
    theirs = spans if _writer_speaks_of_themselves(clauses, spans, lex) else sure
    for clause, start, end in theirs:
        clause.mentions = [m._replace(status=SOMEONE_ELSES) if start <= m.start and m.end <= end else m
                           for m in clause.mentions]


def _someone_else_subject(clause: Clause, going_on: bool, lex: Lexicon) -> int | None:
    """The unit where someone else's part of a clause begins, or None: a relative before any word
    of the clause's own, or of a part after "and" ("soreness is a 3 and my husband is short of
    breath"); going on from the clause before, a third-person pronoun."""
    fresh = opening = True                             # at the start of the clause (or of a part)
    for k, cs in enumerate(clause.classes):
        if "list_and" in cs:
            fresh = True
            continue
        if fresh and _names_someone(clause, k, lex) and _as_a_person(clause, k):
            return k
        if opening and going_on and clause.word(k) in _THIRD_PERSON_SUBJECTS:
            return k
        if not (Trait.SMALL in clause.traits[k] or cs & _OPENERS):
            opening = False
        if not (Trait.SMALL in clause.traits[k] or cs & _OPENERS or _age_of_someone(clause, k, lex)) \
                or _writers_own(clause, k, lex):
            fresh = False
    return None


def _age_of_someone(clause: Clause, k: int, lex: Lexicon) -> bool:
    """Unit k is an age before a person: "my 2 yr old", "my 5 year old"."""
    return Trait.NUMBER in clause.traits[k] and k + 1 < len(clause.classes) and _names_someone(clause, k + 1, lex)


def _as_a_person(clause: Clause, k: int) -> bool:
    """A relative word used of a person: after "my", "the", "mi", "su"..., in the plural ("kids are
    at school"), or one said bare ("mom has a cold"); not "kid of tired" (a typo of "kind")."""
    unit = clause.text(k, k + 1)
    if " " in unit:
        return True                                    # "my husband"
    if k and ("det" in clause.classes[k - 1] or clause.word(k - 1) in _POSSESSIVES):
        return True
    return unit.endswith("s") or unit in _BARE_KIN


_POSSESSIVES = frozenset({"my", "our", "the", "mi", "mis", "su", "sus", "nuestro", "nuestra", "a"})
_BARE_KIN = frozenset({"mom", "mum", "dad", "mama", "papa", "grandma", "grandpa", "abuela", "abuelo", "mommy", "daddy"})


def _names_someone(clause: Clause, k: int, lex: Lexicon) -> bool:
    """Whether unit k names another person ("wife", or a unit with one in it: "my wife")."""
    return "relative" in clause.classes[k] or not lex.relatives.isdisjoint(clause.text(k, k + 1).split())


def _writers_own(clause: Clause, k: int, lex: Lexicon) -> bool:
    """Whether unit k is the writer speaking of themselves: "I", "me", "yo", or "my"/"mi" before
    anything but another person ("my chest", not "my wife")."""
    word = clause.word(k)
    if word in _FIRST_PERSON:
        return True
    next_is_someone = k + 1 < len(clause.classes) and (_names_someone(clause, k + 1, lex)
                                                       or _age_of_someone(clause, k + 1, lex))
    return word in _MY and not _names_someone(clause, k, lex) and not next_is_someone


def _changes_subject(clause: Clause, start: int, k: int) -> bool:
    """"kids are at school and fever 101": an "and" after what someone else does, before any
    finding of theirs, starts the writer's own statement ("my son has a cough and a fever" is all
    his)."""
    return "list_and" in clause.classes[k] and not any(start <= m.start < k for m in clause.mentions) \
        and not any("their_condition" in cs for cs in clause.classes[start:k])   # "tiene asma y ..."


def _reports_on_another(clause: Clause, k: int) -> bool:
    """"my partner says the bruise is bigger", "mi esposa dice que ...": what someone else saw or
    says is not theirs, unless they say it of themselves ("my husband says he can't breathe")."""
    if clause.word(k) not in _REPORTING:
        return False
    after = [clause.word(j) for j in range(k + 1, min(k + 3, len(clause.starts)))]
    return _THIRD_PERSON_SUBJECTS.isdisjoint(after)


def _writer_speaks_of_themselves(clauses: list[Clause], spans: list[tuple[Clause, int, int]], lex: Lexicon) -> bool:
    """Whether the writer also speaks of themselves: a first-person word, or a score or a finding
    they have ("ya casi no molesta"), outside someone else's part and not said of a third person
    ("she says the knee is a 4")."""
    for clause in clauses:
        inside = [(start, end) for c, start, end in spans if c is clause]
        outside = [k for k in range(len(clause.starts)) if not any(s <= k < e for s, e in inside)]
        if any(_writers_own(clause, k, lex) for k in outside):
            return True
        if not _THIRD_PERSON.isdisjoint(clause.words):
            continue
        unit_at = {start: u for u, start in enumerate(clause.starts)}
        if any(unit_at.get(s.start) in outside for s in clause.scores) or any(
                m.start in outside and m.status in HAPPENED for m in clause.mentions):
            return True
    return False


_OPENERS = frozenset({"q_opener", "list_and", "filler", "ack", "det"})
_REPORTING = frozenset({"says", "said", "say", "thinks", "thought", "noticed", "notices", "saw", "sees", "told",
                        "tells", "dice", "dijo", "piensa", "nota", "noto", "vio", "ve", "cree"})
_MY = frozenset({"my", "mi", "mis"})
_THIRD_PERSON_SUBJECTS = frozenset({"he", "she", "they", "hes", "shes", "theyre", "ella", "ellos", "ellas"})
_THIRD_PERSON = frozenset({"she", "he", "her", "his", "shes", "hes", "they", "their", "theyre", "says", "said",
                           "dice", "dijo", "su", "sus", "ella", "ellos"})
_FIRST_PERSON = frozenset({"i", "im", "ive", "id", "me", "myself", "yo", "tengo", "estoy", "siento", "tuve"})


def _verdict_only(clause: Clause) -> bool:
    """A clause of verdicts and small words only: "nope", "none at all", "fine", "zero issues",
    "ningún problema"."""
    # With a word of now ("nothing at all today", "desde el lunes nada"), small words may stand between.
    small = _TIME | {Trait.SMALL} if Trait.PRESENT in clause.every else _TIME
    return len(clause.classes) <= 5 and all(
        not cs.isdisjoint(_VERDICT_WORDS) or ("difficulty" in cs and k in clause.denied)
        or (clause.traits[k] & small and Trait.DENIABLE not in clause.traits[k])
        for k, cs in enumerate(clause.classes))


_VERDICT_WORDS = frozenset({"neg", "normal", "filler", "odd"})


# -- 6. binding ------------------------------------------------------------------------------------

def _bind_modifiers(clauses: list[Clause], mentions: list[Mention], lex: Lexicon) -> list[Mention]:
    """Each modifier qualifies the nearest finding it applies to in its clause; in a clause with
    none ("it's getting bigger"), the last such finding of an earlier clause, or for some
    (`next_clause`) the first of the next clause ("hard as a rock, swollen")."""
    extra: dict[int, set[str]] = {}
    for clause in clauses:
        if Trait.MODIFIER not in clause.every:
            continue
        index = clause.index
        for k, t in enumerate(clause.traits):
            if Trait.MODIFIER not in t or k in clause.denied:
                continue                               # "not spreading", "no está creciendo"
            for mod in lex.modifiers_of(clause.classes[k]):
                applies = mod.applies_to
                here = [i for i, m in enumerate(mentions) if m.clause == index and m.finding in applies]
                if here:
                    if not mod.clause_wide and len(here) > 1:
                        # the nearest finding; for a word said of what came before ("spreading",
                        # "won't stop": `next_clause`), the nearest before it ("the redness is
                        # spreading and a small bruise")
                        before = [i for i in here if mentions[i].start <= k] if mod.next_clause else []
                        here = [min(before or here, key=lambda i: _distance(mentions[i], k))]
                    for i in here:
                        extra.setdefault(i, set()).add(mod.id)
                    continue
                # "it's getting bigger": the last such finding before; but a place ("both legs",
                # "at home") in a clause about something of its own is that clause's ("a numb
                # patch on my forearm. legs like a 2").
                own = mod.clause_wide and (_about_its_own(clause, k) or not _only_the_place(clause, k))
                earlier = [] if own else [i for i, m in enumerate(mentions)
                                          if m.clause < index and m.finding in applies]
                if earlier:
                    extra.setdefault(earlier[-1], set()).add(mod.id)
                elif mod.next_clause:      # "la pantorrilla como piedra, hinchada"
                    later = [i for i, m in enumerate(mentions) if m.clause == index + 1 and m.finding in applies]
                    if later:
                        extra.setdefault(later[0], set()).add(mod.id)
    if not extra:
        return mentions
    return [
        m._replace(modifiers=m.modifiers | frozenset(extra[i])) if i in extra else m
        for i, m in enumerate(mentions)
    ]


def _arm_and_leg(clauses: list[Clause], mentions: list[Mention], lex: Lexicon) -> list[Mention]:
    """"my left arm and my left leg are numb", "numbness went from my hand up to my face and down my
    leg": numbness or weakness in a clause that names an arm and a leg, and nothing else it could
    be about (no other finding, neither limb the place of a score: "numb hand, and my knee is a 3"),
    is on both sides or on one side of the body (E3), like [modifier.bilateral]."""
    out = list(mentions)
    for clause in clauses:
        here = [i for i, m in enumerate(out) if m.clause == clause.index and m.status != NEGATED]
        if not any(out[i].finding in ("numbness", "weakness") for i in here) or not _arm_and_leg_listed(clause, lex):
            continue
        limbs = [k for k in range(len(clause.classes))
                 if _names_limb(clause, k, "arm", lex) or _names_limb(clause, k, "leg", lex)]
        if not here or any(out[i].finding not in _LIMB_FINDINGS and _about_the_limbs(clause, out[i], limbs)
                           for i in here):
            continue
        for i in here:
            if out[i].finding in ("numbness", "weakness"):
                out[i] = out[i]._replace(modifiers=out[i].modifiers | {"bilateral"})
    return out


def _sharp_said_after(clauses: list[Clause], mentions: list[Mention], lex: Lexicon) -> list[Mention]:
    """"my shoulder blade hurts, it is sharp", "me duele el omóplato, es agudo": a clause that says
    only that a pain is sharp (no place of its own) describes the pain of the clause before it."""
    sharp = lex.modifiers["sharp"]
    out = list(mentions)
    for clause in clauses[1:]:
        if not any("sharp" in cs for cs in clause.classes) or not all(cs <= _ONLY_SHARP for cs in clause.classes):
            continue
        for i, m in enumerate(out):
            if m.clause == clause.index - 1 and m.finding in sharp.applies_to and m.status != NEGATED:
                out[i] = m._replace(modifiers=m.modifiers | {"sharp"})
    return out


_ONLY_SHARP = frozenset({"transparent", "det", "present", "pain", "sharp", "intensity"})


def _names_limb(clause: Clause, k: int, limb: str, lex: Lexicon) -> bool:
    """Whether unit k is, or has in it, a word of class `limb` ("no siento el brazo": an arm)."""
    return limb in clause.classes[k] or not lex.single_words(limb).isdisjoint(clause.text(k, k + 1).split())


def _arm_and_leg_listed(clause: Clause, lex: Lexicon) -> bool:
    """An arm word and a leg word with "and", "or", "y", "o" between them ("my hand and my foot",
    "la mano y el pie"; not "el dedo gordo del pie", a toe), neither of them the place of a score
    ("my knee is about a 3")."""
    scored = {k for k in range(len(clause.classes)) if _place_of_a_score(clause, k)}
    arms = [k for k in range(len(clause.classes)) if _names_limb(clause, k, "arm", lex) and k not in scored]
    legs = [k for k in range(len(clause.classes)) if _names_limb(clause, k, "leg", lex) and k not in scored]
    return any(any("list_or" in cs or "list_and" in cs for cs in clause.classes[min(a, b) + 1:max(a, b)])
               for a in arms for b in legs)


_LIMB_FINDINGS = frozenset({"numbness", "weakness", "tingling"})


def _about_the_limbs(clause: Clause, m: Mention, limbs: list[int]) -> bool:
    """Whether a finding is said of the limbs named: among them, or right after one with no "and"
    between ("my hand is numb and my knee hurts"; not "... ni la pierna y la molestia está en 2")."""
    return any(m.start <= k < m.end or (0 < m.start - k <= 3 and not _listed_between(clause, k, m.start))
               for k in limbs) or (limbs and min(limbs) <= m.start <= max(limbs))


def _place_of_a_score(clause: Clause, k: int) -> bool:
    """Whether unit k names where a score is: "my knee is about a 3", "legs like a 2"; not "la
    pierna derecha and four" (a list word between)."""
    unit_of = {start: u for u, start in enumerate(clause.starts)}
    return any(0 < s.start - clause.starts[k] <= 5 and not _listed_between(clause, k, unit_of.get(s.start, k))
               for s in clause.scores)


def _about_its_own(clause: Clause, k: int) -> bool:
    """Whether a place (unit k) is that of something of its clause's own: a score or a finding
    right after it or around it ("legs like a 2", "legs ache"), not one after "and"."""
    return _place_of_a_score(clause, k) or any(
        m.start <= k < m.end or (0 < m.start - k <= 3 and not _listed_between(clause, k, m.start))
        for m in clause.mentions)


def _only_the_place(clause: Clause, k: int) -> bool:
    """A clause (or its part between "and"s) that says only where ("passed out. at home"; "weakness
    down my left side, arm and leg and ..."), not one about something else ("..., but had 3
    needles in total")."""
    lists = [u for u, cs in enumerate(clause.classes) if "list_and" in cs or "list_or" in cs]
    first = max((u for u in lists if u < k), default=-1) + 1
    last = min((u for u in lists if u > k), default=len(clause.classes))
    return all(u == k or Trait.SMALL in clause.traits[u] or not clause.classes[u].isdisjoint(_PASSING_WORDS)
               for u in range(first, last))


def _listed_between(clause: Clause, a: int, b: int) -> bool:
    return any("list_and" in cs or "list_or" in cs for cs in clause.classes[min(a, b) + 1:max(a, b)])


def _distance(m: Mention, k: int) -> int:
    if k < m.start:
        return m.start - k
    if k >= m.end:
        return k - m.end + 1
    return 0


def _fevers_from_temperatures(clauses: list[Clause], mentions: list[Mention], lex: Lexicon) -> list[Mention]:
    """"Temp 101" is a fever, "temp is 98.6" is not; a reading like "100.8" alone is one. A bare
    temperature word is judged by a reading in another clause too ("took my temp to be safe, 99.1")."""
    out = list(mentions)
    readings = [t for clause in clauses for t in scores.temperatures_in(clause.words, lex)]
    if readings and not any(scores.is_fever(t, lex) for t in readings):
        out = [m._replace(status=NEGATED) if m.finding == "fever" and m.status != NEGATED
               and "temp" in clauses[m.clause].classes[m.start] else m for m in out]
    for clause in clauses:
        temps = scores.temperatures_in(clause.words, lex)
        if not temps:
            continue
        feverish = any(scores.is_fever(t, lex) for t in temps)
        fevers = [i for i, m in enumerate(out) if m.clause == clause.index and m.finding == "fever"]
        for i in fevers:
            if out[i].status != NEGATED and not feverish:
                out[i] = out[i]._replace(status=NEGATED)
        words = clause.words
        decimal_reading = any("." in w or "," in w for w in words if w[0].isdigit())
        # "tengo 38", "running 101": a whole number read as a temperature after a verb of having.
        led = any(w[0].isdigit() and i and words[i - 1] in lex.temperature_lead
                  and (i + 1 == len(words) or words[i + 1] not in lex.units_after)
                  for i, w in enumerate(words))
        if feverish and not fevers and (decimal_reading or led or {"degrees", "f", "c"} & set(words)):
            t = max(temps)
            out.append(Mention("fever", "fever", False, PRESENT, clause.index, 0, len(clause.classes), f"{t:g}"))
    return out


def _racing_pulses(clauses: list[Clause], mentions: list[Mention], lex: Lexicon) -> list[Mention]:
    """"my pulse is 120", "heart rate 115": a heart word with a rate at or above the threshold."""
    out = mentions
    limit = lex.thresholds["racing_pulse"]
    for clause in clauses:
        if "pulse" not in clause.at or Trait.NUMBER not in clause.every:
            continue
        rates = [w for w in clause.words if w.isdigit() and limit <= int(w) <= 250]
        if rates and not any(m.finding == "racing_heart" and m.clause == clause.index for m in out):
            u = clause.at["pulse"][0]
            status = NEGATED if u in clause.denied else clause.base
            out = [*out, Mention("racing_heart", None, False, status, clause.index, u, u + 1,
                                 f"{clause.text(u, u + 1)} {rates[0]}")]
    return out


def _intensity(clauses: list[Clause], mentions: list[Mention], lex: Lexicon) -> tuple[int, str] | None:
    """Intensity words about soreness; the strongest wins (safety first)."""
    found: list[tuple[int, str]] = []
    other = any(m.status != NEGATED for m in mentions)
    severe = lex.thresholds["urgent_soreness"]          # a stand-in from which U3 fires
    for clause in clauses:
        if Trait.INTENSITY not in clause.every:
            continue
        here = [m for m in mentions if m.clause == clause.index and m.status != NEGATED]
        if any(m.finding == "flare" for m in here):
            continue   # "my usual pain is really bad": the flare, not today's soreness
        pains = [m for m in here if m.finding in PAIN_FINDINGS]
        pain_units = [u for m in pains for u in range(m.start, m.end) if "pain" in clause.classes[u]]
        for k, cs in enumerate(clause.classes):
            if Trait.INTENSITY not in clause.traits[k] or k in clause.denied:
                continue
            for spec in lex.intensities_of(cs):
                if not spec.standalone:
                    if any(-1 <= k - u <= 1 for u in pain_units):
                        found.append((spec.value, clause.text(k, k + 1)))
                    continue
                if spec.with_pain and not pains:
                    continue   # "up all night with the baby": no pain kept them up
                near = [m for m in here if _distance(m, k) <= 1]
                if near and all(m.finding not in PAIN_FINDINGS for m in near):
                    continue   # "severe headache", "bad bruise": not about soreness
                if pains:
                    found.append((spec.value, clause.text(k, k + 1)))
                elif spec.value >= severe or (not here and (not other or any(m.finding in PAIN_FINDINGS
                                                                             for m in mentions))):
                    # A clause of its own ("pretty bad today") is about the soreness, unless the
                    # reply names only something else ("bruise is turning yellow, no biggie");
                    # a severe word not right beside another finding stays the soreness's, even
                    # in a clause about it ("swelling keeps getting bigger and it's excruciating"):
                    # safety first.
                    found.append((spec.value, clause.text(k, k + 1)))
    return max(found, key=lambda f: f[0]) if found else None


def _trend(clauses: list[Clause], mentions: list[Mention]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """Trend words about soreness: not those right beside another finding ("bruise is bigger")."""
    improving: list[str] = []
    worsening: list[str] = []
    same = False
    for clause in clauses:
        if Trait.TREND not in clause.every:
            continue
        here = [m for m in mentions if m.clause == clause.index]
        if any(m.finding == "flare" for m in here):
            continue   # about the usual complaint (a flare), not the soreness
        for k, cs in enumerate(clause.classes):
            if Trait.TREND not in clause.traits[k] or k in clause.denied:
                continue
            near = [m for m in here if _distance(m, k) <= 2]
            if near and min(near, key=lambda m: _distance(m, k)).finding not in PAIN_FINDINGS:
                continue   # about a bruise or a redness, not the soreness
            if _compared(clause, k):
                continue   # "sorer than where you needled": a comparison, not a change
            words = clause.text(k, k + 1)
            if "improving" in cs:
                improving.append(words)
            elif "worsening" in cs:
                worsening.append(words)
            else:
                same = True
    return tuple(improving), tuple(worsening), same


# -- 7. questions and statements -------------------------------------------------------------------

def _questions(clauses: list[Clause], mentions: list[Mention]) -> tuple[bool, bool, list[Clause], bool]:
    """Whether the reply asks something, whether the bot can answer it, and whether it only asks
    who is writing ("who is this": `unclear`)."""
    asked: list[Clause] = []
    identity = False
    for clause in clauses:
        classes = clause.classes
        opener = 1 if "q_opener" in classes[0] and len(classes) > 1 else 0
        if "q_identity" in classes[opener] and (len(classes) - opener <= 2 or " " in clause.text(opener, opener + 1)):
            identity = True
            continue
        topic = _topic(clause)
        # "puedo mover los dedos normal": "can" with a verdict states an ability, asks nothing.
        modal_topic = any(not cs.isdisjoint(_TOPICS) and "normal" not in cs for cs in classes)
        form = "q_form" in classes[opener] or Trait.Q_ANYWHERE in clause.every or (
            "q_modal" in classes[opener] and modal_topic)
        if not form and not clause.asked:
            continue
        content = bool(clause.mentions) or bool(clause.scores)
        if form or (clause.asked and (topic or (len(clause.words) >= 3 and not content))):
            asked.append(clause)
        elif clause.asked and not content and clause.index and _topic(clauses[clause.index - 1]):
            # "me voy a echar unas chelas, hay problema?": it asks about the clause before.
            asked += (clauses[clause.index - 1], clause)
    if not asked:
        return False, False, asked, identity
    if any(Trait.Q_PERSON in c.every for c in asked):
        return True, False, asked, identity
    about = {m.finding for m in mentions if m.status in HAPPENED}
    small_bruise = not any(
        m.modifiers & {"large", "growing", "fast_growing"} for m in mentions if m.finding == "bruise"
    )
    answerable = (
        all(Trait.Q_ANSWERABLE in c.every for c in asked)
        and about <= ANSWERABLE_FINDINGS
        and small_bruise
    )
    return True, answerable, asked, identity


_TOPICS = frozenset({"q_answerable", "q_person"})


def _topic(clause: Clause) -> bool:
    return Trait.Q_ANSWERABLE in clause.every or Trait.Q_PERSON in clause.every


def _wellness(clauses: list[Clause], asked: list[Clause]) -> tuple[str, ...]:
    """"fine", "all good", "no problems", "sin problemas": said of the patient, not asked."""
    out = []
    for c in clauses:
        if c.every.isdisjoint(_WELL_OR_TREND) or any(c is a for a in asked):
            continue
        for k, cs in enumerate(c.classes):
            if c.traits[k].isdisjoint(_WELL_OR_TREND):
                continue
            if ("wellness" in cs and k not in c.denied) or ("difficulty" in cs and c.denied.get(k) == _HARD) \
                    or ("improving" in cs and k not in c.denied and _compared(c, k)):
                out.append(c.text(k, k + 1))
    if out and all(w in _ACK_LIKE for w in out) and any("ack" in cs for c in clauses for cs in c.classes):
        return ()                                      # "perfecto, quedo atento": an acknowledgement
    return tuple(out)


def _compared(clause: Clause, k: int) -> bool:
    """A trend word in a comparison with no earlier time: "sorer than where you needled" is no
    change, and "feel better than I have in years" says the patient is well; "better than
    yesterday", "stiffer than it was this morning" are trends."""
    return k + 2 < len(clause.classes) and clause.words[clause.starts[k + 1]] in _THAN \
        and not any("past" in cs for cs in clause.classes[k + 2:k + 5])


def _pressure_minutes(clauses: list[Clause]) -> float:
    """How long the patient pressed on a bleeding point, in minutes; -1 when they do not say."""
    best = -1.0
    for c in clauses:
        words = c.words
        for i, w in enumerate(words):
            after = words[i + 1] if i + 1 < len(words) else ""
            minutes = _DURATIONS.get((w, after))
            if minutes is None and w[0].isdigit() and after in _UNIT_MINUTES:
                try:
                    minutes = float(w.replace(",", ".")) * _UNIT_MINUTES[after]
                except ValueError:
                    continue
            if minutes is not None and minutes > best:
                best = minutes
    return best


_UNIT_MINUTES = {"minutes": 1, "minute": 1, "mins": 1, "min": 1, "minutos": 1, "minuto": 1,
                 "hour": 60, "hours": 60, "hora": 60, "horas": 60}
_DURATIONS = {("cuarto", "de"): 15.0, ("quarter", "of"): 15.0, ("quarter", "hour"): 15.0,
              ("media", "hora"): 30.0, ("half", "an"): 30.0, ("half", "hour"): 30.0,
              ("an", "hour"): 60.0, ("una", "hora"): 60.0, ("ten", "minutes"): 10.0,
              ("fifteen", "minutes"): 15.0, ("twenty", "minutes"): 20.0, ("diez", "minutos"): 10.0,
              ("quince", "minutos"): 15.0, ("veinte", "minutos"): 20.0, ("couple", "minutes"): 2.0,
              ("couple", "of"): 2.0, ("few", "minutes"): 3.0, ("par", "de"): 2.0, ("unos", "minutos"): 3.0}
