"""The triage lexicon: `triage.toml` compiled once into a normaliser, a unit reader and concept frames.

Reading a reply happens on words, never on substrings ("shot" is not "hot", "number" is not
"numb"). This module knows nothing of rules or levels; `reading.py` decides what the words mean.
It compiles three things:

1. The normaliser (`words`): raw text -> normalised words and punctuation. The text is cut at
   spaces and each piece ("shoulder,", "can't") is normalised once and remembered (`_pieces`),
   and each distinct token once (`_forms`), both bounded, so a reply costs one dictionary lookup a
   piece; typo repair, Spanish diminutives and superlatives run once per new token, and only on
   words the lexicon does not know.
2. The unit reader (`clauses`): normalised words -> units, each carrying the word classes that
   list it, cut into clauses. One pass over the words: a word is looked up once in a trie whose
   first level is a plain dict (word -> classes, multi-word continuations), and the longest entry
   wins ("short of breath" is one unit of class `sob`, not "short" + "of" + "breath"). In an entry
   of several words, "my", "I", "me", "mi" also stand for the other persons ("catch her breath").
3. Concept frames (`Frame`): the classes a finding needs in one clause, with their window and
   order (see the comment at the top of triage.toml).

Each distinct set of classes also gets flag bits (`flags_of`, SMALL, NEG, ... below), and what
concept frames need of it (`kind_of`: the classes they look up, as bits too), worked out once and
kept in the trie: the reader tests bits, not sets. Each distinct set of frame classes in a clause
gets the findings it can hold and their possible frames (`plan_of`), worked out once too.

Measured history (CPU time a reply over tests/data/replies.jsonl, `bench/triage_bench.py`, on the
2-core development machine; kept so nobody repeats it):
- A single compiled regular expression over the whole reply, with the phrase lists expanded, had
  ~57,000 alternatives and took ~475 µs a reply (Python's `re` tries branches one by one).
- The phrase trie with `..N` gap edges, matched clause by clause, with clause-wide cues: ~96 µs a
  reply in all (10,400 a second); it could only find phrases in the order they were written.
- Units read once over the whole reply + concept frames + attached negation: ~105 µs at first
  (sets looked up per unit per step). Flag bits per distinct class set, steps skipped by bits,
  single-class findings without the frame search, one clause without slicing, rules chosen as bits
  by need and window: ~60 µs (16,500 a second). What is left is spread thin (normalising ~12 %,
  units ~8 %, frames ~12 %, rules ~13 %, clause cues ~7 %): each step is a few dozen bytecodes a
  unit, so the next factor needs fewer steps, not cheaper ones.
- Tried and dropped: tokenising with `str.translate` + `split` instead of the regular expression
  (slower); letters first in the token regex is ~10 % faster than digits first.
- 2026-11-22, after the breadth of replies_redflags.jsonl (more classes, frames and cross-clause
  steps: ~68 µs, 14,700 a second): units cut into clauses in the same pass, with each clause's
  frame index, class and finding bits and number positions (frames test bits, scores look only
  at numbers), soreness rules chosen by the value of S, cross-clause steps only with a verdict
  or resolution cue: ~61 µs (16,200 a second). Measured and not worth it: freezing or disabling
  the garbage collector (~2 %). Where it goes now (µs a reply): normalising 5, units and clauses
  7, clause objects and cues 5, scores and frames 11, the rest of reading 12, rules and the
  result 12.
- 2026-11-22, after replies_dev3.jsonl's families (more classes and steps): the bench read
  15,460-15,990 before that work and 13,760-14,900 after it (best of 5; the machine was shared,
  its load between 0.1 and 7). Then, with every prediction on every data file unchanged (checked
  line by line, under two hash seeds): the text cut at spaces and each piece normalised once
  (normalising 7 -> 2.3 µs: no regular expression over the whole reply); names searched for
  only when a name's word is there; the reader's own clause objects made by the unit reader (one
  object a clause, not two); the frozen result filled without its field-by-field __init__
  (~1 µs); the findings a clause can hold and their possible frames remembered per set of frame
  classes (`plan_of`: no frame tried whose classes are missing; ~7 were a reply); flag bits
  tested on every unit kept below 2**30, so `&` stays on CPython's one-digit path, and those most
  often set below 2**9, so a true test gives a cached small int; question topics as flag bits;
  temperatures looked for only when a word is a number of two characters or more (a set lookup,
  not a regular expression); rules that defer to a higher one ask it only when their own finding
  is there; status cues worked out in full only in clauses with a finding; helpers and
  comprehensions skipped on empty input. Result, load under 1: 21,100-21,400 a second best of 5
  (median 20,800-21,200); under load the same code reads 18,300-20,600 beside 13,800-15,100 for
  the code before: ~1.35x, and ~300,000 -> ~192,000 CPU instructions a reply (valgrind, which
  the load does not move). Issue #3's 20,000 holds on a quiet machine, short of 22,000.
  Where it goes now (share of time, py-spy): the unit reader 20 % (a trie walk of ~10 words:
  dictionary lookups and list appends, near its floor in Python), the rest of `read` 11 %,
  normalising 7 %, frames 7 %, `classify` itself 7 % (mostly freeing the reply's objects), rules
  9 % with their helpers, scores 3 %. Measured and not worth it: slots on the clause objects, a
  dictionary comprehension for the clause index, bound `append` methods, interning the words,
  `functools.reduce` for a clause's bits. A further factor needs fewer objects a reply (~170 are
  made: the clause objects and their lists, mentions, reasons), not cheaper steps; remembering
  whole clauses or replies would only flatter this bench, which repeats them.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from bot.protocol import PROTOCOL
from bot.triage import real_words

_CLASS_SECTIONS = ("words", "cue", "modifier", "intensity", "trend", "statement", "question")

_TOKEN = re.compile(r"[a-z]+|\d+(?:[.,:]\d+)?|[?!.,;:/\-+\n()\[\]]")   # letters first: most tokens
_APOSTROPHES = re.compile(r"['’`´ʼ]")
_APOSTROPHE_S = re.compile(r"\b([a-z]+)['’`´ʼ]s\b")
# "it's", "that's" stay one word ("its", "thats": the lexicon's spelling); after any other word
# "'s" is "is" or a possessive, and is dropped: "arm's weak" -> "arm weak".
_S_CONTRACTIONS = frozenset({"it", "that", "what", "there", "here", "he", "she", "who", "let", "where", "how"})


def _apostrophe_s(m: re.Match) -> str:
    word = m.group(1)
    return word + "s" if word in _S_CONTRACTIONS else word


_NAME = "somebody"   # what a name that is also a lexicon word becomes (see `Lexicon._unname`)
_HYPHEN_IN_WORD = re.compile(r"(?<=[a-z])-(?=[a-z])")
# "knife-y", "pink-ish": a suffix after a hyphen belongs to its word ("knifey", "pinkish").
_HYPHEN_SUFFIX = re.compile(r"(?<=[a-z])-(?=(?:y|ish)\b)")
_RUN_OF_3 = re.compile(r"([a-z])\1{2,}")
_RUN_OF_2 = re.compile(r"([a-z])\1+")
_DEGREES = re.compile(r"°\s*([fc])?\b")
_MAX_FORMS = 50_000

# Units of these classes name breathing or the chest without being a bare mention of it: a
# harmless phrase ("took a deep breath") or a word dictation puts for it ("breeding", "chess").
NOT_BARE = frozenset({"calm", "misheard"})
NUMBER = "#"   # in an entry: any number, in digits or words ("# minutes")
NO_CLASSES: frozenset[str] = frozenset()

# What a unit's classes make it, as bits, worked out once per distinct set of classes
# (`Lexicon.flags_of`): the reader then tests a bit instead of looking through sets.
# Bits 0-29 for what is tested on every unit or clause: a Python int below 2**30 is one digit,
# and `&` on two such ints takes the interpreter's fast path; bits 0-8 for the tests that most
# often come out true, whose result (at most 256) is then a cached small int, not a new object.
# Bits from 30 on are for what is rare and tested once a reply.
SPLIT = 1 << 0           # ends a clause: punctuation, "but", "pero"
FRAMED = 1 << 1          # a class that concept frames (or topics) look up
NUMERIC = 1 << 2         # a number, in digits or words: maybe a score
SMALL = 1 << 3           # a small word with no concept: negations and verdicts reach across it
DENIABLE = 1 << 4        # a concept a negation can deny
TRIGGER = 1 << 5         # starts a concept frame, or is a topic
NEG = 1 << 6
PRESENT = 1 << 7
MODIFIER = 1 << 8
NORMAL = 1 << 9          # a verdict: "fine", "100%"
FLIP = 1 << 10           # a negation turns it into its opposite ([flips])
UNABLE = 1 << 11
JUDGED = 1 << 12         # a bare concept a verdict can judge: breathing, chest, temperature
RED_FLAG = 1 << 13       # a word of a breathing or chest frame
LIST_AND = 1 << 14
DOUBT = 1 << 15
UNSURE = 1 << 16
PAST = 1 << 17
RESOLVED = 1 << 18
RESOLVED_NEG = 1 << 19
HYPOTHETICAL = 1 << 20
INTENSITY = 1 << 21
TREND = 1 << 22
QUESTION = 1 << 23       # a question form, or a word that says who is writing
WELL = 1 << 24           # "fine", or a difficulty word that may be denied ("no problems")
REACH = 1 << 25
SOFT_NEG = 1 << 26
STILL = 1 << 27          # "still", "sigo": what follows a resolution in its clause is current
Q_ANSWERABLE = 1 << 28   # a topic the bot can answer ("normal", "ice")
Q_PERSON = 1 << 29       # a topic for a person ("meds", "work")
BECAME = 1 << 30
PRESSURE = 1 << 31
INTENSITY_ALONE = 1 << 32   # an intensity word that stands for a score on its own ("severe")
SOMEONE_ELSE = 1 << 33   # "my son has ...": a finding of someone else's may follow
Q_ANYWHERE = 1 << 34     # a question form anywhere in its clause ("bad idea")
_FLAG_CLASSES = {
    "neg": NEG, "soft_neg": SOFT_NEG, "normal": NORMAL, "unable": UNABLE, "list_and": LIST_AND,
    "doubt": DOUBT, "unsure": UNSURE | DOUBT, "past": PAST, "present": PRESENT, "resolved": RESOLVED,
    "became": BECAME, "resolved_negation": RESOLVED_NEG, "hypothetical": HYPOTHETICAL,
    "q_form": QUESTION, "q_identity": QUESTION, "q_modal": QUESTION, "wellness": WELL,
    "difficulty": WELL, "pressure": PRESSURE, "reach": REACH, "number": NUMERIC, "someone_else": SOMEONE_ELSE, "still": STILL,
    "q_anywhere": QUESTION | Q_ANYWHERE, "q_answerable": Q_ANSWERABLE, "q_person": Q_PERSON,
}


def _fold_table() -> dict[int, str]:
    """Latin letters with accents -> the plain letter (NFKD without the marks), and the other
    apostrophes -> "'"; everything else is left for the slower path."""
    table = {ord(c): "'" for c in "’`´ʼ"}
    for code in range(0xC0, 0x250):
        plain = "".join(c for c in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(c))
        if plain.isascii() and plain.isalpha():
            table[code] = plain.lower()
    return table


_FOLD = _fold_table()


class Frame(NamedTuple):
    """Classes that must meet in one clause for a finding: `classes[0]` is the anchor; with
    `ordered`, it comes before the others. `window`: the most units between anchor and partner."""

    classes: tuple[str, ...]
    window: int
    ordered: bool
    excludes: tuple[str, ...]
    text: str
    needs: frozenset[str]             # the classes, as a set: `needs <= clause classes`
    mask: int = 0                     # the classes as bits (`Lexicon.class_bits`): a clause has
    exclude_mask: int = 0             # them all when `mask & clause.cmask == mask`


class Finding(NamedTuple):
    id: str
    tag: str | None
    red_flag: bool
    frames: tuple[Frame, ...]
    order: int
    single: tuple[str, ...] | None    # all frames one class, no exclusions: just these classes
    checks: tuple[tuple[int, int, Frame], ...] = ()   # (mask, exclude_mask, frame) of each frame


class Modifier(NamedTuple):
    id: str
    classes: tuple[str, ...]          # the word classes it is read from (its own, and `class = ...`)
    applies_to: frozenset[str]
    clause_wide: bool
    next_clause: bool                 # with no finding before it, it may qualify one in the next clause


class Intensity(NamedTuple):
    id: str
    value: int
    standalone: bool
    with_pain: bool = False           # stands for a score only in a clause that names the pain


class Lexicon:
    """Normaliser, word classes, unit reader and concept frames of one protocol version."""

    def __init__(self, raw: dict[str, Any], version: str):
        self.version = version
        self.raw = raw
        self.thresholds: dict[str, float] = dict(raw["thresholds"])
        scope = raw["scope"]
        self.frame_window: int = scope["frame_window"]
        self.negation_window: int = scope["negation_window"]
        self.verdict_window: int = scope["verdict_window"]
        self.clause_breakers = frozenset(scope["clause_breakers"])
        # Every token that ends a clause: punctuation, "-" and "/" (unless between two numbers:
        # see reading._clauses) and the clause-breaking words.
        self.clause_splitters = self.clause_breakers | frozenset(".,;!?\n()[]-/")
        self.topics = frozenset(scope["topics"])
        self.topic_order = tuple(scope["topics"])      # for reasons that read the same in every process
        self.joins = frozenset(scope["joins"])
        self.shared = frozenset(scope["shared"])
        self.flips: dict[str, str] = dict(raw["flips"])

        self._load_normaliser(raw["normalise"])
        self._load_numbers(raw["numbers"])

        # -- word classes ----------------------------------------------------------------------
        self.classes: dict[str, list[str]] = {}          # class -> its entries, as written
        for section in _CLASS_SECTIONS:
            for name, spec in raw.get(section, {}).items():
                if "en" not in spec and "es" not in spec:
                    continue                             # read from other classes only
                if name in self.classes:
                    raise ValueError(f"class {name!r} is defined twice ([{section}.{name}])")
                self.classes[name] = [e for lang in PROTOCOL.languages for e in spec.get(lang, ())]
        self.modifiers = {name: Modifier(name, _modifier_classes(name, spec), frozenset(spec["applies_to"]),
                                         bool(spec.get("clause_wide")), bool(spec.get("next_clause")))
                          for name, spec in raw["modifier"].items()}
        self._modifiers_by_class: dict[str, list[Modifier]] = {}
        for mod in self.modifiers.values():
            for c in mod.classes:
                self._modifiers_by_class.setdefault(c, []).append(mod)
        self.modifier_classes = frozenset(self._modifiers_by_class)
        self.modified_findings = frozenset(f for m in self.modifiers.values() for f in m.applies_to)
        self.intensities = {name: Intensity(name, spec["value"], bool(spec.get("standalone", True)),
                                            bool(spec.get("with_pain", False)))
                            for name, spec in raw["intensity"].items()}
        self.intensity_classes = frozenset(self.intensities)
        self.trends = frozenset(raw["trend"])
        self.findings = tuple(
            self._finding(i, name, spec) for i, name, spec in
            ((i, n, s) for i, (n, s) in enumerate(raw["finding"].items()))
        )
        self.finding_by_id = {f.id: f for f in self.findings}
        for f in self.findings:
            for frame in f.frames:
                for c in (*frame.classes, *frame.excludes):
                    if c not in self.classes:
                        raise ValueError(f"finding {f.id}: frame {frame.text!r} names no class {c!r}")
        for c in (*self.topics, *self.shared, *self.flips, *self.flips.values(), *self.modifier_classes):
            if c not in self.classes:
                raise ValueError(f"[scope] or [flips] names no class {c!r}")

        # Classes a negation can deny: those of findings, modifiers, intensities and trends.
        self.deniable = frozenset(
            {c for f in self.findings for fr in f.frames for c in fr.classes}
            | self.modifier_classes | self.intensity_classes | self.trends | self.topics
        ) - {"transparent"}
        red_flag_classes = {c for f in self.findings if f.red_flag for fr in f.frames for c in fr.classes}
        self.red_flag_classes = frozenset(red_flag_classes | self.topics) - self.shared
        # Which findings a class can start: frames are tried only for findings whose anchor is there.
        triggers: dict[str, set[int]] = {}
        for f in self.findings:
            for frame in f.frames:
                triggers.setdefault(frame.classes[0], set()).add(f.order)
        self.triggers = {c: tuple(sorted(v)) for c, v in triggers.items()}
        for c in self.topics:
            self.triggers.setdefault(c, ())
        self._flags: dict[frozenset[str], int] = {}
        self._framed: dict[frozenset[str], tuple[str, ...]] = {}
        self.frame_classes = frozenset({c for f in self.findings for fr in f.frames for c in (*fr.classes, *fr.excludes)}
                                       | self.topics | NOT_BARE)
        # Frames test a clause's classes as bits: a bit per frame class, and per finding.
        self.class_bits = {c: 1 << i for i, c in enumerate(sorted(self.frame_classes))}
        bit = self.class_bits
        self.findings = tuple(f._replace(frames=tuple(
            fr._replace(mask=sum(bit[c] for c in fr.needs), exclude_mask=sum(bit[c] for c in set(fr.excludes)))
            for fr in f.frames)) for f in self.findings)
        self.findings = tuple(f._replace(checks=tuple((fr.mask, fr.exclude_mask, fr) for fr in f.frames))
                              for f in self.findings)
        self.finding_by_id = {f.id: f for f in self.findings}
        self._kinds: dict[frozenset[str], tuple[tuple[str, ...], int]] = {}
        self._plans: dict[int, tuple[tuple[Finding, tuple[Frame, ...] | None], ...]] = {}
        self._modifiers_of: dict[frozenset[str], tuple[Modifier, ...]] = {}
        self._intensities_of: dict[frozenset[str], tuple[Intensity, ...]] = {}

        # -- units --------------------------------------------------------------------------------
        self._root: dict[str, list] = {}
        self.vocabulary: set[str] = set(self.number_words)
        # An intensity or modifier unit still names the finding inside it: "terrible pain in my
        # chest" is chest pain, "bleeding again" is bleeding. Such a unit also carries the classes
        # that start a finding (or are a topic) of each of its words.
        anchors = {f.frames[i].classes[0] for f in self.findings for i in range(len(f.frames))} | self.topics
        single: dict[str, set[str]] = {}
        for name, entries in self.classes.items():
            for entry in entries:
                if " " not in entry and "<" not in entry and "|" not in entry and name in anchors:
                    single.setdefault(entry, set()).add(name)
        qualifiers = self.intensity_classes | {m.id for m in self.modifiers.values() if m.id in m.classes}
        for name, entries in self.classes.items():
            for entry in entries:
                named = self._named(entry, single) if name in qualifiers else set()
                self._add(entry, {name} | named)
        for word in self.clause_splitters:             # punctuation and "but": one word each
            self._root.setdefault(word, [{}, set()])[1].add("split")
        for word in self.number_words:                 # "six", "seis": maybe a score
            self._root.setdefault(word, [{}, set()])[1].add("number")
        self._root_frozen = _freeze(self._root, self.flags_of, self.kind_of)
        # A number no entry names ("7", "38.5"): maybe a score.
        self._number_node = self._root_frozen.get(NUMBER) or (None, NO_CLASSES, 0, ((), 0, 0))
        self._number_node = (self._number_node[0], self._number_node[1], self._number_node[2] | NUMERIC,
                             self._number_node[3])

        # Typo repair aims at concept words only, not at the small words concepts share with
        # everyday speech ("puedo", "still").
        # (Harmless phrases, `calm`, name concept words on purpose: "took a deep breath" leaves
        # "breath" a target for "brething".)
        function_classes = {"transparent", "filler", "list_or", "list_and", "neg", "soft_neg", "normal",
                            "unsure", "doubt", "resolved", "became", "resolved_negation", "go_away",
                            "elapsed", "past", "present", "hypothetical", "able", "unable", "det", "both",
                            "side", "ack", "wellness", *self.trends, *self.intensities,
                            *(c for c in self.classes if c.startswith("q_"))}
        concept_words = {w for c in self.deniable - function_classes for e in self.classes[c] for w in e.split()
                         if w.isalpha() and "|" not in w}
        other_words = {w for c in function_classes for e in self.classes[c] for w in e.split()}
        self._finding_words = frozenset(concept_words - other_words)
        self._squashed: dict[str, str | None] = {}
        for word in self.vocabulary:
            key = _RUN_OF_2.sub(r"\1", word)
            self._squashed[key] = word if self._squashed.get(key, word) == word else None
        self._deletions: dict[str, set[str]] = {}
        for word in self._finding_words:
            if len(word) >= self.fuzzy_min_length:
                for variant in _deletions(word):
                    self._deletions.setdefault(variant, set()).add(word)
        # Words typo repair leaves alone: the lexicon's own, including those that only tell a score
        # from another number ("3 miles" is not "3 mil").
        self.known = frozenset(self.vocabulary | self.not_typos | set(self.number_words) | self.clause_breakers
                               | self.joins | self.units_after
                               | self.not_after | self.score_lead | self.present_before | self.past_before
                               | self.score_follow | self.past_after | self.same_before | self.temperature_lead)
        self._word_cache: dict[str, tuple[str, ...]] = {}
        self._digit_words_set = frozenset(self.digit_words)
        # Tokens whose normal form is fixed: punctuation that joins or is dropped.
        self._fixed_forms = {":": "", "+": ""}
        self._forms: dict[str, str] = dict(self._fixed_forms)
        self._split_forms: set[str] = set(self._fixed_forms)
        self._pieces: dict[str, tuple[str, ...]] = {}   # space-free pieces of text -> their words
        self._long_numbers: set[str] = set()            # tokens of 2+ characters that start with a digit
        self._watched = self._name_tokens | self._digit_words_set   # words `words` looks at again

    def flags_of(self, classes: frozenset[str]) -> int:
        """The flag bits of a unit with these classes (remembered: there are few distinct sets)."""
        flags = self._flags.get(classes)
        if flags is None:
            flags = 0
            for c in classes:
                flags |= _FLAG_CLASSES.get(c, 0)
            if classes & self.deniable:
                flags |= DENIABLE
            elif "transparent" in classes and classes.isdisjoint(self.flips):
                flags |= SMALL
            if not classes.isdisjoint(self.flips):
                flags |= FLIP
            if not classes.isdisjoint(_JUDGED):
                flags |= JUDGED
            if classes & self.red_flag_classes:
                flags |= RED_FLAG
            if classes & self.modifier_classes:
                flags |= MODIFIER
            if classes & self.intensity_classes:
                flags |= INTENSITY
                if any(self.intensities[c].standalone for c in classes & self.intensity_classes):
                    flags |= INTENSITY_ALONE
            if classes & self.trends:
                flags |= TREND
            if any(c in self.triggers for c in classes):
                flags |= TRIGGER
            if "split" in classes:
                flags |= SPLIT
            if not classes.isdisjoint(self.frame_classes):
                flags |= FRAMED
            self._flags[classes] = flags
        return flags

    def framed_of(self, classes: frozenset[str]) -> tuple[str, ...]:
        """The classes of a unit that concept frames (or topics) look up."""
        found = self._framed.get(classes)
        if found is None:
            found = self._framed[classes] = tuple(c for c in classes if c in self.frame_classes)
        return found

    def kind_of(self, classes: frozenset[str]) -> tuple[tuple[str, ...], int]:
        """What concept frames need of a unit with these classes: the classes they look up, and
        those as bits."""
        found = self._kinds.get(classes)
        if found is None:
            framed = self.framed_of(classes)
            found = self._kinds[classes] = (framed, sum(self.class_bits[c] for c in framed))
        return found

    def plan_of(self, present: int) -> tuple[tuple[Finding, tuple[Frame, ...] | None], ...]:
        """The findings a clause can hold, in the lexicon's order, given the classes concept frames
        look up there (`present`, as bits): those its units can start, each with the frames whose
        classes are all there and none excluded (None for a finding of single classes).
        Remembered: few distinct sets of classes recur."""
        plan = self._plans.get(present)
        if plan is None:
            candidates = 0                            # the findings whose frames can start here
            for c, bit in self.class_bits.items():
                if present & bit:
                    for order in self.triggers.get(c, ()):
                        candidates |= 1 << order
            plan = []
            while candidates:                         # lowest bit first: the lexicon's order
                low = candidates & -candidates
                candidates ^= low
                finding = self.findings[low.bit_length() - 1]
                if finding.single:
                    plan.append((finding, None))
                    continue
                frames = tuple(frame for mask, exclude, frame in finding.checks
                               if mask & present == mask and not exclude & present)
                if frames:
                    plan.append((finding, frames))
            if len(self._plans) > _MAX_FORMS:
                self._plans.clear()
            plan = self._plans[present] = tuple(plan)
        return plan

    def modifiers_of(self, classes: frozenset[str]) -> tuple[Modifier, ...]:
        """The modifiers a unit with these classes is read as (remembered, like `flags_of`)."""
        found = self._modifiers_of.get(classes)
        if found is None:
            found = self._modifiers_of[classes] = tuple(
                m for c in classes if c in self._modifiers_by_class for m in self._modifiers_by_class[c])
        return found

    def intensities_of(self, classes: frozenset[str]) -> tuple[Intensity, ...]:
        """The intensity words a unit with these classes is (remembered)."""
        found = self._intensities_of.get(classes)
        if found is None:
            found = self._intensities_of[classes] = tuple(self.intensities[c] for c in classes if c in self.intensities)
        return found

    # -- building ---------------------------------------------------------------------------

    def _load_normaliser(self, norm: dict[str, Any]) -> None:
        self.spelling: dict[str, tuple[str, ...]] = {k: tuple(v.split()) for k, v in norm["spelling"].items()}
        self.not_typos = frozenset(norm["not_typos"])
        self.real_words = real_words.load()          # dictionary words one letter from a symptom word
        self.fuzzy_min_length: int = norm["fuzzy_min_length"]
        # Digits used as words in texting ("hurts 2 breathe"): read as the word before a verb.
        self.digit_words: dict[str, str] = dict(norm["digit_words"])
        self.digit_word_before = frozenset(norm["digit_word_before"])
        names = sorted(norm["names"], key=len, reverse=True)
        self._names = re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b")
        self._name_tokens = frozenset(n.lower() for n in names)
        self._accented_words = {k: f" {v} " for k, v in norm["accented"].items()}
        self._accented = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(self._accented_words, key=len, reverse=True)))
                                    + r")(?!\w)")
        emoji = dict(norm["emoji"])
        self._emoji = re.compile("|".join(re.escape(e) for e in sorted(emoji, key=len, reverse=True)))
        self._emoji_words = {e: f" {w} " for e, w in emoji.items()}

    def _load_numbers(self, numbers: dict[str, Any]) -> None:
        self.number_words: dict[str, int] = dict(numbers["words"])
        self.needs_scale = frozenset(numbers["needs_scale"])
        self.scale_words = tuple(tuple(s.split()) for s in numbers["scale_words"])
        self.scale_starts = frozenset({"/"} | {lead[0] for lead in self.scale_words})
        self.scale = frozenset(str(s) for s in numbers["scale"])
        self.range_words = frozenset(numbers["range_words"])
        self.range_max_width: int = numbers["range_max_width"]
        self.change_from = frozenset(numbers["change_from"])
        self.halves = tuple(tuple(h.split()) for h in numbers["halves"])
        self.half_starts = frozenset(h[0] for h in self.halves)
        self.articles = _ARTICLES
        self.temperature_lead = frozenset(numbers["temperature_lead"])
        self.units_after = frozenset(numbers["units"])
        self.not_after = frozenset(numbers["not_after"])
        self.score_lead = frozenset(numbers["score_lead"])
        self.past_before = frozenset(numbers["past_before"])
        self.past_after = frozenset(numbers["past_after"])
        self.present_before = frozenset(numbers["present_before"])
        self.score_follow = frozenset(numbers["score_follow"])
        self.same_before = frozenset(numbers["same_before"])

    def _finding(self, order: int, name: str, spec: dict[str, Any]) -> Finding:
        tag = spec.get("tag")
        if tag is not None and tag not in PROTOCOL.symptoms:
            raise ValueError(f"finding {name}: {tag!r} is not a protocol symptom tag")
        frames = tuple(self._frame(text) for text in spec["frames"])
        single = tuple(f.classes[0] for f in frames) \
            if all(len(f.classes) == 1 and not f.excludes for f in frames) else None
        return Finding(name, tag, bool(spec.get("red_flag", False)), frames, order, single)

    def _frame(self, text: str) -> Frame:
        """ "a + b ~4 !c" -> Frame(("a", "b"), 4, False, ("c",)); "a > b": a comes first."""
        window, excludes, parts = self.frame_window, [], []
        ordered = ">" in text
        for token in text.replace(">", "+").split():
            if token.startswith("~"):
                window = int(token[1:])
            elif token.startswith("!"):
                excludes.append(token[1:])
            elif token != "+":
                parts.append(token)
        if not parts or (ordered and len(parts) != 2):
            raise ValueError(f"frame {text!r}: expected 'a', 'a + b ...' or 'a > b'")
        return Frame(tuple(parts), window, ordered, tuple(excludes), text, frozenset(parts))

    def _named(self, entry: str, single: dict[str, set[str]]) -> set[str]:
        """The finding-starting classes an entry's words name: "terrible pain in my chest" names
        `pain` and `chest`. A "<class>" part names what every one of its words names ("<leg>":
        `limb`; "<small_thing>": nothing, though "grano" alone is a lump)."""
        named: set[str] = set()
        for part in entry.split():
            words = self._element(part)
            if part.startswith("<"):
                named |= set.intersection(*(single.get(w, set()) for w in words)) if words else set()
            else:
                named.update(c for w in words for c in single.get(w, ()))
        return named

    def _element(self, text: str) -> list[str]:
        if text == NUMBER:
            return [NUMBER]
        if text.startswith("<") and text.endswith(">"):
            words = [e for e in self.classes[text[1:-1]] if " " not in e and "<" not in e and "|" not in e]
        else:
            words = text.split("|")
        return [self.spelling.get(w, (w,))[0] if len(self.spelling.get(w, (w,))) == 1 else w for w in words]

    def _add(self, entry: str, class_names: set[str]) -> None:
        """Insert one entry of a class into the unit trie."""
        elements: list[list[str]] = []
        parts = entry.split()
        for part in parts:
            fixed = self.spelling.get(part)
            if fixed and len(fixed) > 1:       # a spelling fix that expands ("alot" -> "a lot")
                elements.extend([w] for w in fixed)
            elif len(parts) > 1 and part in _PERSONS:
                elements.append(list(_PERSONS[part]))   # "catch my breath" is also "catch her breath"
            else:
                elements.append(self._element(part))
        if not elements:
            raise ValueError(f"class {class_names}: empty entry")
        nodes = [self._root]
        for depth, element in enumerate(elements):
            self.vocabulary.update(element)
            following = []
            for parent in nodes:
                for word in element:
                    node = parent.setdefault(word, [{}, set()])
                    following.append(node)
            if depth < len(elements) - 1:
                nodes = [n[0] for n in following]
            else:
                for node in following:
                    node[1].update(class_names)

    # -- normalising ----------------------------------------------------------------------------

    def words(self, text: str) -> list[str]:
        """Raw text -> normalised words and punctuation marks, in order. ":" and "+" are dropped
        ("fever: none" reads as "fever none").

        The text is cut at spaces, and each piece ("shoulder,", "can't", "3/10") is normalised once
        and remembered (`_pieces`, bounded): a reply is then one lookup a piece. Nothing in
        normalising reaches across a space, except a degree sign apart from its unit ("101 ° F"),
        so a text with one is normalised whole."""
        lowered = text.lower()
        if "°" in lowered:
            words = self._normalised(self._tokens(lowered))
        else:
            pieces = self._pieces
            words = []
            for piece in lowered.split(" "):
                found = pieces.get(piece)
                if found is None:
                    found = self._piece(piece)
                words += found
        if self._watched.isdisjoint(words):
            return words
        # A name that is also a lexicon word ("Rosa"): only then is the raw text searched.
        if not self._name_tokens.isdisjoint(words) and self._names.search(text):
            words = self._normalised(self._tokens(self._unname(text).lower()))
        if not self._digit_words_set.isdisjoint(words):
            self._digits_as_words(words)
        return words

    def _piece(self, piece: str) -> tuple[str, ...]:
        """One space-free piece of lower-case text -> its normalised words (remembered)."""
        if len(self._pieces) > _MAX_FORMS:               # a flood of new pieces: start afresh
            self._pieces = {}
        found = self._pieces[piece] = tuple(self._normalised(self._tokens(piece)))
        return found

    def _normalised(self, tokens: list[str]) -> list[str]:
        """Tokens -> the lexicon's words. Each distinct token is normalised once and remembered
        (`_forms`). A form may be several words ("alot" -> "a lot") or none ("lol"): `_split_forms`
        names those tokens."""
        forms = self._forms
        try:
            words = [forms[t] for t in tokens]
        except KeyError:
            if len(forms) > _MAX_FORMS:                  # a flood of new tokens: start afresh
                self._forms = forms = dict(self._fixed_forms)
                self._split_forms = set(self._fixed_forms)
                self._long_numbers = set()
            for token in set(tokens).difference(forms):
                self._learn(token)
            words = [forms[t] for t in tokens]
        if not self._split_forms.isdisjoint(tokens):
            words = " ".join(words).split()
        return words

    def _tokens(self, text: str) -> list[str]:
        """Lower-case text -> its tokens, before spelling and typo repair."""
        if not text.isascii():
            text = self._fold(text)
        if "/" in text or "%" in text:
            text = text.replace("w/o", " without ").replace("w/", " with ").replace("%", " percent ")
        if "'" in text or "`" in text:
            text = _APOSTROPHE_S.sub(_apostrophe_s, text)   # "breathing's fine" -> "breathing fine"
            text = _APOSTROPHES.sub("", text)
        if "-" in text:
            text = _HYPHEN_IN_WORD.sub(" ", _HYPHEN_SUFFIX.sub("", text))
        return _TOKEN.findall(text)

    def _unname(self, text: str) -> str:
        """A name from `[normalise] names`, capitalised inside a sentence, becomes a word the lexicon
        does not know: "this is Rosa's son" is no redness. At a sentence's start it stays."""
        def unname(m: re.Match) -> str:
            before = text[:m.start()].rstrip()
            return m.group() if not before or before[-1] in ".!?\n¿¡" else _NAME
        return self._names.sub(unname, text)

    def _fold(self, text: str) -> str:
        """Accents off, emoji that mean something into words, the rest of emoji and symbols dropped."""
        if self._accented.search(text):                     # "sí" -> "yes", not "si" (if)
            text = self._accented.sub(lambda m: self._accented_words[m.group()], text)
        text = text.translate(_FOLD)                        # á -> a, ñ -> n, ’ -> '
        if not text.isascii():
            text = self._emoji.sub(lambda m: self._emoji_words[m.group()], text)
            text = _DEGREES.sub(lambda m: f" {m.group(1) or 'degrees'} ", text)
            text = unicodedata.normalize("NFKD", text)
            text = "".join(c for c in text if not unicodedata.combining(c))
        return text

    def _learn(self, token: str) -> None:
        if token[0].isalpha():
            form = self._forms[token] = " ".join(self.word(token))
            if not form or " " in form:
                self._split_forms.add(token)
        else:
            self._forms[token] = token
            if len(token) > 1 and token[0].isdigit():
                self._long_numbers.add(token)

    def has_long_number(self, words: list[str]) -> bool:
        """Whether a word is a number of two characters or more ("38", "101.2", "1.5"): only then
        can a reply give a temperature or a pulse rate."""
        return not self._long_numbers.isdisjoint(words)

    def _digits_as_words(self, words: list[str]) -> None:
        """Texting "2" and "4" for "to" and "for" before a verb: "hurts 2 breathe" (not after an
        article: "up to a 4 this afternoon" is a score)."""
        last = len(words) - 1
        for i, w in enumerate(words):
            if w in self.digit_words and 0 < i < last and words[i - 1].isalpha() \
                    and words[i + 1] in self.digit_word_before and words[i - 1] not in _ARTICLES:
                words[i] = self.digit_words[w]

    def word(self, token: str) -> tuple[str, ...]:
        """One lower-case token -> the lexicon's word(s) for it (cached: a webhook sees few new words)."""
        cached = self._word_cache.get(token)
        if cached is not None:
            return cached
        result = self._fix(token)
        if len(self._word_cache) < 50_000:
            self._word_cache[token] = result
        return result

    def _fix(self, token: str) -> tuple[str, ...]:
        token = _RUN_OF_3.sub(r"\1\1", token)           # "sooooo" -> "soo", "feeeel" -> "feel"
        if token in self.spelling:
            return self.spelling[token]
        if token in self.known or token in self.real_words:
            return (token,)                               # only unknown words are repaired
        if token.endswith("ish") and token[:-3] in self.number_words:
            return (token[:-3], "ish")                    # "threeish" -> "three ish"
        return self.repair(token)

    def repair(self, token: str) -> tuple[str, ...]:
        """An unknown word -> the lexicon word it misspells or inflects, or itself when none is certain."""
        squashed = self._squashed.get(_RUN_OF_2.sub(r"\1", token))  # "soo" -> "so", "numbb" -> "numb"
        if squashed:
            return (squashed,)
        base = self._without_suffix(token)                  # "bultito" -> "bulto", "durisimo" -> "duro"
        if base:
            return (base,)
        if "x" in token:                                    # texting "x" for "ch": "pexo", "muxo"
            spelled = token.replace("x", "ch")
            if spelled in self.vocabulary:
                return (spelled,)
        if len(token) >= self.fuzzy_min_length:
            guess = self._one_typo_away(token)
            if guess:
                return (guess,)
        return (token,)

    def _without_suffix(self, token: str) -> str | None:
        """Spanish diminutives and superlatives ("puntito" -> "punto", "durisimo" -> "duro"), and
        plain inflections of a lexicon word ("tilts" -> "tilt", "swellings" -> "swelling")."""
        for suffix, endings in _SUFFIXES:
            if token.endswith(suffix) and len(token) > len(suffix) + 2:
                stem = token[: -len(suffix)]
                for ending in endings:
                    if stem + ending in self.vocabulary:
                        return stem + ending
        return None

    def _one_typo_away(self, token: str) -> str | None:
        """A concept word one deletion, insertion, substitution or swap away, if exactly one is."""
        candidates: set[str] = set()
        if token in self._deletions:                     # a letter missing: "brusing"
            candidates |= self._deletions[token]
        for variant in _deletions(token):
            if variant in self._finding_words:           # a letter too many: "bruisinng"
                candidates.add(variant)
            candidates |= self._deletions.get(variant, set())  # a letter wrong or swapped
        # Typos rarely hit the first letter, and real words that differ from a symptom word only
        # there are common ("napping" / "zapping"): no correction is better than a wrong one.
        candidates = {c for c in candidates if c[0] == token[0] and _one_edit(c, token)}
        return candidates.pop() if len(candidates) == 1 else None

    # -- units ----------------------------------------------------------------------------------

    def clauses(self, words: list[str], make: type[Clause] | None = None) -> list[Clause]:
        """Words -> units, cut into clauses, in one pass. Longest entry first; a word no entry
        names is a unit with no classes. A unit of punctuation or "but" (`SPLIT`) ends a clause
        (never inside a unit: "a lo hecho, pecho" is one idiom), except "-" and "/" between two
        numbers ("4-5", "7/10"). Each clause gets, besides its units, the bits of all of them, the
        units of each class that concept frames look up (`at`), and where its numbers are.
        `make`: the class of the clauses (the reader's own, so that no second object is made)."""
        make = make or Clause
        root = self._root_frozen.get
        number = self._number_node
        out: list[Clause] = []
        starts: list[int] = []
        classes: list[frozenset[str]] = []
        flags: list[int] = []
        at: dict[str, list[int]] | None = None
        numbers: list[int] | None = None
        bits = cmask = 0
        first = 0                                  # the clause's first word
        n = len(words)
        i = 0
        while i < n:
            w = words[i]
            node = root(w)
            if node is None:
                if not w[0].isdigit():
                    starts.append(i - first)
                    classes.append(NO_CLASSES)
                    flags.append(0)
                    i += 1
                    continue
                node = number
            following, found, f, kind = node
            end = i + 1
            if following:                          # the longest entry that starts here
                j = end
                while j < n:
                    node = following.get(words[j])
                    if node is None:
                        if not words[j][0].isdigit():
                            break
                        node = following.get(NUMBER)
                        if node is None:
                            break
                    j += 1
                    if node[1]:
                        _, found, f, kind = node
                        end = j
                    following = node[0]
                    if not following:
                        break
            if f & _SPECIAL:
                if f & SPLIT and not (w in _NUMERIC_JOINERS and starts and end < n
                                      and self.is_number(words[i - 1]) and self.is_number(words[end])):
                    if starts:
                        clause = make(len(out), words[first:i], starts, classes, flags, bits, at, cmask, numbers)
                        if w == "?":
                            clause.asked = True
                        out.append(clause)
                        starts, classes, flags, at, numbers, bits, cmask = [], [], [], None, None, 0, 0
                    elif w == "?" and out:
                        out[-1].asked = True
                    first = i = end
                    continue
                if f & FRAMED:
                    framed, more = kind
                    cmask |= more
                    k = len(starts)
                    if at is None:
                        at = {}
                    for c in framed:
                        units = at.get(c)
                        if units is None:
                            at[c] = [k]
                        else:
                            units.append(k)
                if f & NUMERIC:
                    if numbers is None:
                        numbers = [i - first]
                    else:
                        numbers.append(i - first)
            starts.append(i - first)
            classes.append(found)
            flags.append(f)
            bits |= f
            i = end
        if starts:
            out.append(make(len(out), words if first == 0 else words[first:], starts, classes, flags, bits, at,
                            cmask, numbers))
        if len(out) == 1:
            out[0].words = words           # the only clause: the whole reply, its punctuation too
        return out

    def is_number(self, word: str) -> bool:
        return word[0].isdigit() or word in self.number_words


class Clause:
    """One clause as the unit reader cuts it: its words, and its units."""

    asked = False                      # it ends in "?"
    at: dict[str, list[int]] = {}      # (never changed in place: a clause with new units gets its own)

    def __init__(self, index: int, words: list[str], starts: list[int], classes: list[frozenset[str]],
                 flags: list[int], bits: int, at: dict[str, list[int]] | None, cmask: int,
                 numbers: list[int] | None):
        self.index = index             # its place in the reply
        self.words = words
        self.starts = starts           # each unit's first word
        self.classes = classes
        self.flags = flags
        self.all = bits                # the flag bits of all its units together
        if at is not None:
            self.at = at               # class -> its units, for the classes concept frames look up
        self.cmask = cmask             # those classes as bits (`Lexicon.class_bits`)
        self.numbers = numbers         # word positions of its numbers, in digits or words


_NUMERIC_JOINERS = frozenset({"-", "/"})
_SPECIAL = SPLIT | FRAMED | NUMERIC     # what a unit needs more than its place, classes and bits
_JUDGED = frozenset({"breath", "chest", "air", "temp"})   # what a verdict ("fine") can judge

# Third-person reports ("my wife can't catch her breath", "a mi papá se le traba la lengua"): in
# an entry of several words, a first-person word also stands for the other persons.
_ARTICLES = frozenset({"a", "an", "the", "un", "una", "el", "la"})
_PERSONS = {
    "my": ("my", "his", "her", "their", "your"), "i": ("i", "he", "she", "they"),
    "im": ("im", "hes", "shes", "theyre"), "me": ("me", "him", "her", "them", "le", "te"),
    "myself": ("myself", "himself", "herself", "themselves"),
    "mi": ("mi", "su", "tu"), "mis": ("mis", "sus", "tus"),
}

_SUFFIXES = (   # suffix, endings that may replace it; longer suffixes first
    ("isimos", ("os",)), ("isimas", ("as",)), ("isimo", ("o",)), ("isima", ("a",)),
    ("guita", ("ga",)), ("guito", ("go",)), ("quita", ("ca",)), ("quito", ("co",)),
    ("citos", ("", "es")), ("citas", ("", "es")), ("cito", ("", "e")), ("cita", ("", "e")),
    ("itos", ("os", "o", "")), ("itas", ("as", "a", "")), ("ito", ("o", "")), ("ita", ("a", "")),
    ("illos", ("os", "o")), ("illas", ("as", "a")), ("illo", ("o",)), ("illa", ("a",)),   # "mareillo"
    ("ing", ("", "e")), ("ed", ("", "e")), ("es", ("",)), ("s", ("",)),
)


def _modifier_classes(name: str, spec: dict[str, Any]) -> tuple[str, ...]:
    """A modifier is read from its own words (`en`, `es`) and from the classes `class` names."""
    own = (name,) if "en" in spec or "es" in spec else ()
    other = spec.get("class", ())
    return own + ((other,) if isinstance(other, str) else tuple(other))


def _one_edit(a: str, b: str) -> bool:
    """True when b is a (Damerau) edit of a: one letter added, missing, changed, or two swapped."""
    if a == b:
        return True
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    if abs(len(a) - len(b)) != 1:
        return False
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _freeze(level: dict[str, list], flags_of, kind_of) -> dict[str, tuple]:
    """The trie as nested tuples (following words, classes ending here, their flag bits, what
    concept frames need of them: `Lexicon.kind_of`), for fast walking. Equal sets of classes are
    one object, so `flags_of` and `kind_of` remember few of them."""
    out = {}
    for w, node in level.items():
        classes = _interned(frozenset(node[1])) if node[1] else NO_CLASSES
        out[w] = (_freeze(node[0], flags_of, kind_of) if node[0] else None, classes, flags_of(classes),
                  kind_of(classes))
    return out


_INTERNED: dict[frozenset[str], frozenset[str]] = {}


def _interned(classes: frozenset[str]) -> frozenset[str]:
    return _INTERNED.setdefault(classes, classes)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


@cache
def load(version: str | None = None) -> Lexicon:
    """The lexicon of a protocol version (default: the loaded protocol's), compiled once."""
    version = version or PROTOCOL.version
    path = Path(PROTOCOL.data_dir).parent / f"v{version}" / "triage.toml"
    with open(path, "rb") as fh:
        return Lexicon(tomllib.load(fh), version)


LEXICON = load()
