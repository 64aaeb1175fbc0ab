"""The triage lexicon: the protocol's word lists compiled once into a normaliser, a unit reader and
concept frames.

Reading a reply happens on words, never on substrings ("shot" is not "hot", "number" is not
"numb"). This module knows nothing of rules or levels; `reading.py` decides what the words mean.
It compiles three things from the lexicon files (`bot/protocol/v1/triage/`):

1. The normaliser (`words`): raw text -> normalised words and punctuation: lower case, accents
   folded, emoji that mean something turned into words, spelling fixed, and typos one letter away
   from a concept word repaired (each distinct word once: `word` remembers it).
2. The unit reader (`units`): normalised words -> units, each carrying the word classes that list
   it. A word is looked up in a trie of the entries, and the longest entry wins ("short of breath"
   is one unit of class `sob`, not "short" + "of" + "breath"). In an entry of several words, "my",
   "I", "me", "mi" also stand for the other persons ("catch her breath").
3. Concept frames (`Frame`): the classes a finding needs in one clause, with their window and
   order (see `bot/protocol/v1/triage/README.md`).

What a set of classes makes a unit for the reader (a negation, a concept a negation can deny, a
word of a breathing frame, ...) is a set of `Trait`s, worked out once per distinct set of classes
(`traits_of`).
"""

from __future__ import annotations

import enum
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

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
# Units of these classes name breathing or the chest without being a bare mention of it: a
# harmless phrase ("took a deep breath") or a word dictation puts for it ("breeding", "chess").
NOT_BARE = frozenset({"calm", "misheard"})
NUMBER = "#"   # in an entry: any number, in digits or words ("# minutes")
NO_CLASSES: frozenset[str] = frozenset()


class Trait(enum.StrEnum):
    """What a unit is for the reader, worked out from its word classes (`Lexicon.traits_of`)."""

    SPLIT = "split"                  # ends a clause: punctuation, "but", "pero"
    FRAMED = "framed"                # a class that concept frames (or topics) look up
    NUMBER = "number"                # a number, in digits or words: maybe a score
    SMALL = "small"                  # a small word with no concept: negations and verdicts reach across it
    DENIABLE = "deniable"            # a concept a negation can deny
    TRIGGER = "trigger"              # starts a concept frame, or is a topic
    NEG = "neg"                      # "no", "not", "sin"
    SOFT_NEG = "soft_neg"            # "I don't think": doubts a red flag rather than denying it
    PRESENT = "present"              # a word of now ("today", "ahora")
    MODIFIER = "modifier"            # "huge", "spreading", "won't stop"
    NORMAL = "normal"                # a verdict: "fine", "100%"
    FLIP = "flip"                    # a negation turns it into its opposite ([flips])
    UNABLE = "unable"                # "can't", "no puedo"
    JUDGED = "judged"                # a bare concept a verdict can judge: breathing, chest, temperature
    RED_FLAG = "red_flag"            # a word of a breathing or chest frame
    LIST_AND = "list_and"            # "and", "y"
    DOUBT = "doubt"                  # "maybe", "creo que"
    UNSURE = "unsure"                # "not sure if"
    PAST = "past"                    # a word of an earlier time ("yesterday")
    RESOLVED = "resolved"            # something has passed ("gone", "ya se quitó")
    BRIEF = "brief"                  # how long a finding lasted ("for a bit"): right after it, it passed
    WELL_AGAIN = "well_again"        # "all better": a complaint of the past has passed
    RESOLVED_NEG = "resolved_negation"   # "anymore", "ya no"
    BECAME = "became"                # "gone" as in "gone numb": a change into, not a passing
    HYPOTHETICAL = "hypothetical"    # "what if", "si me da"
    INTENSITY = "intensity"          # "very", "mild"
    INTENSITY_ALONE = "intensity_alone"  # an intensity word that stands for a score on its own ("severe")
    TREND = "trend"                  # "better", "worse", "same"
    QUESTION = "question"            # a question form, or a word that says who is writing
    Q_ANYWHERE = "q_anywhere"        # a question form anywhere in its clause ("bad idea")
    Q_ANSWERABLE = "q_answerable"    # a topic the bot can answer ("normal", "ice")
    Q_PERSON = "q_person"            # a topic for a person ("meds", "work")
    WELL = "well"                    # "fine", or a difficulty word that may be denied ("no problems")
    REACH = "reach"                  # negated, a lack of air ("doesn't fill")
    STILL = "still"                  # "still", "sigo": what follows a resolution in its clause is current
    PRESSURE = "pressure"            # firm pressure on a bleeding point
    WITHOUT = "without"              # "without", "sin": a negation, or after "can't" a condition
    CONDITION = "condition"          # "unless", "a menos que": what comes before it is conditional, not denied
    COMPLAINT = "complaint"          # pain, difficulty, "can't", worse...: a harmless phrase beside it is not


# The traits a class gives by itself (the others are worked out in `Lexicon.traits_of`).
_CLASS_TRAITS: dict[str, frozenset[Trait]] = {
    "neg": frozenset({Trait.NEG}), "soft_neg": frozenset({Trait.SOFT_NEG}),
    "normal": frozenset({Trait.NORMAL}), "unable": frozenset({Trait.UNABLE}),
    "list_and": frozenset({Trait.LIST_AND}), "doubt": frozenset({Trait.DOUBT}),
    "unsure": frozenset({Trait.UNSURE, Trait.DOUBT}), "past": frozenset({Trait.PAST}),
    "present": frozenset({Trait.PRESENT}), "resolved": frozenset({Trait.RESOLVED}),
    "brief": frozenset({Trait.BRIEF}), "well_again": frozenset({Trait.WELL_AGAIN}),
    "became": frozenset({Trait.BECAME}), "resolved_negation": frozenset({Trait.RESOLVED_NEG}),
    "hypothetical": frozenset({Trait.HYPOTHETICAL}), "q_form": frozenset({Trait.QUESTION}),
    "q_identity": frozenset({Trait.QUESTION}), "q_modal": frozenset({Trait.QUESTION}),
    "q_anywhere": frozenset({Trait.QUESTION, Trait.Q_ANYWHERE}),
    "q_answerable": frozenset({Trait.Q_ANSWERABLE}), "q_person": frozenset({Trait.Q_PERSON}),
    "wellness": frozenset({Trait.WELL}), "difficulty": frozenset({Trait.WELL}),
    "pressure": frozenset({Trait.PRESSURE}), "reach": frozenset({Trait.REACH}),
    "number": frozenset({Trait.NUMBER}),
    "still": frozenset({Trait.STILL}), "without": frozenset({Trait.WITHOUT}),
    "condition": frozenset({Trait.CONDITION}),
}
_JUDGED = frozenset({"breath", "chest", "air", "temp"})   # what a verdict ("fine") can judge


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

@dataclass(frozen=True)
class Frame:
    """Classes that must meet in one clause for a finding: `classes[0]` is the anchor; with
    `ordered`, it comes before the others. `window`: the most units between anchor and partner."""

    classes: tuple[str, ...]
    window: int
    ordered: bool
    excludes: tuple[str, ...]          # not when the clause has a unit of one of these
    text: str                          # as written in the lexicon

    @property
    def needs(self) -> frozenset[str]:
        return frozenset(self.classes)


@dataclass(frozen=True)
class Finding:
    id: str
    tag: str | None
    red_flag: bool
    frames: tuple[Frame, ...]
    order: int
    single: tuple[str, ...] | None    # all frames one class, no exclusions: just these classes


@dataclass(frozen=True)
class Modifier:
    id: str
    classes: tuple[str, ...]          # the word classes it is read from (its own, and `class = ...`)
    applies_to: frozenset[str]
    clause_wide: bool
    next_clause: bool                 # with no finding before it, it may qualify one in the next clause


@dataclass(frozen=True)
class Intensity:
    id: str
    value: int
    standalone: bool
    with_pain: bool = False           # stands for a score only in a clause that names the pain


@dataclass(eq=False)
class TrieNode:
    """Entries of the unit trie: `classes` of the entry that ends at this word (none when only
    longer entries go on from it), `next` the words that continue an entry."""

    classes: frozenset[str] = NO_CLASSES
    next: dict[str, "TrieNode"] = field(default_factory=dict)


@dataclass(frozen=True)
class Unit:
    """Words read together as one entry of the lexicon (or one word no entry names)."""

    start: int                        # its first word, in the reply's words
    end: int                          # one past its last word
    classes: frozenset[str]


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
        self.circumstances = frozenset(scope["circumstances"])
        self.complaint_verbs = frozenset(scope["complaint_verbs"])
        self.shared = frozenset(scope["shared"])
        self.complaints = frozenset(scope["complaints"])
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
        # Other people a patient writes about ("wife", "hija"): see reading._someone_elses.
        self.relatives = frozenset(e for e in self.classes.get("relative", ()) if " " not in e)
        self.modifiers = {name: Modifier(name, _modifier_classes(name, spec), frozenset(spec["applies_to"]),
                                         bool(spec.get("clause_wide")), bool(spec.get("next_clause")))
                          for name, spec in raw["modifier"].items()}
        self.modifier_classes = frozenset(c for m in self.modifiers.values() for c in m.classes)
        self.modified_findings = frozenset(f for m in self.modifiers.values() for f in m.applies_to)
        self.intensities = {name: Intensity(name, spec["value"], bool(spec.get("standalone", True)),
                                            bool(spec.get("with_pain", False)))
                            for name, spec in raw["intensity"].items()}
        self.intensity_classes = frozenset(self.intensities)
        self.trends = frozenset(raw["trend"])
        self.findings = tuple(self._finding(order, name, spec)
                              for order, (name, spec) in enumerate(raw["finding"].items()))
        self.finding_by_id = {f.id: f for f in self.findings}
        for f in self.findings:
            for frame in f.frames:
                for c in (*frame.classes, *frame.excludes):
                    if c not in self.classes:
                        raise ValueError(f"finding {f.id}: frame {frame.text!r} names no class {c!r}")
        for c in (*self.topics, *self.shared, *self.flips, *self.flips.values(), *self.modifier_classes,
                  *self.complaints):
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
        self.frame_classes = frozenset({c for f in self.findings for fr in f.frames for c in (*fr.classes, *fr.excludes)}
                                       | self.topics | NOT_BARE)
        # Worked out once per distinct set of classes (there are few): see the methods below.
        self._traits: dict[frozenset[str], frozenset[Trait]] = {}
        self._framed: dict[frozenset[str], tuple[str, ...]] = {}
        self._plans: dict[frozenset[str], tuple[tuple[Finding, tuple[Frame, ...] | None], ...]] = {}
        self._single_words: dict[str, frozenset[str]] = {}
        self._breathing: tuple[frozenset[str], tuple[str, ...]] | None = None
        self._partners: dict[str, set[str]] = {}
        for f in self.findings:
            for frame in f.frames:
                for c in frame.classes:
                    self._partners.setdefault(c, set()).update(frame.classes)

        # -- units --------------------------------------------------------------------------------
        self.root: dict[str, TrieNode] = {}
        self.vocabulary: set[str] = set(self.number_words)
        # An intensity or modifier unit still names the finding inside it: "terrible pain in my
        # chest" is chest pain, "bleeding again" is bleeding. Such a unit also carries the classes
        # that start a finding (or are a topic) of each of its words.
        anchors = {frame.classes[0] for f in self.findings for frame in f.frames} | self.topics
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
            self._node(word).classes |= {"split"}
        for word in self.number_words:                 # "six", "seis": maybe a score
            self._node(word).classes |= {"number"}
        # A number no entry starts with ("7", "38.5"): maybe a score, and maybe the start of an
        # entry with "#" ("10 minutes").
        numbers = self.root.get(NUMBER, TrieNode())
        self.number_node = TrieNode(numbers.classes | {"number"}, numbers.next)

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

    # -- what a unit's classes make it ----------------------------------------------------------

    def traits_of(self, classes: frozenset[str]) -> frozenset[Trait]:
        """What a unit with these classes is for the reader (remembered: there are few distinct sets)."""
        if classes not in self._traits:
            traits = set()
            for c in classes:
                traits |= _CLASS_TRAITS.get(c, frozenset())
            if classes & self.deniable:
                traits.add(Trait.DENIABLE)
            elif "transparent" in classes and classes.isdisjoint(self.flips):
                traits.add(Trait.SMALL)
            if not classes.isdisjoint(self.flips):
                traits.add(Trait.FLIP)
            if not classes.isdisjoint(_JUDGED):
                traits.add(Trait.JUDGED)
            if classes & self.red_flag_classes:
                traits.add(Trait.RED_FLAG)
            if classes & self.modifier_classes:
                traits.add(Trait.MODIFIER)
            if classes & self.intensity_classes:
                traits.add(Trait.INTENSITY)
                if any(self.intensities[c].standalone for c in classes & self.intensity_classes):
                    traits.add(Trait.INTENSITY_ALONE)
            if classes & self.trends:
                traits.add(Trait.TREND)
            if any(c in self.triggers for c in classes):
                traits.add(Trait.TRIGGER)
            if "split" in classes:
                traits.add(Trait.SPLIT)
            if not classes.isdisjoint(self.complaints):
                traits.add(Trait.COMPLAINT)
            if not classes.isdisjoint(self.frame_classes):
                traits.add(Trait.FRAMED)
            self._traits[classes] = frozenset(traits)
        return self._traits[classes]

    def framed_of(self, classes: frozenset[str]) -> tuple[str, ...]:
        """The classes of a unit that concept frames (or topics) look up."""
        if classes not in self._framed:
            self._framed[classes] = tuple(c for c in classes if c in self.frame_classes)
        return self._framed[classes]

    def plan_of(self, present: frozenset[str]) -> tuple[tuple[Finding, tuple[Frame, ...] | None], ...]:
        """The findings a clause can hold, in the lexicon's order, given the classes concept frames
        look up there (`present`): those its units can start, each with the frames whose classes
        are all there and none excluded (None for a finding of single classes). Remembered: few
        distinct sets of classes recur."""
        if present not in self._plans:
            orders = sorted({order for c in present for order in self.triggers.get(c, ())})
            plan = []
            for order in orders:
                finding = self.findings[order]
                if finding.single:
                    plan.append((finding, None))
                    continue
                frames = tuple(frame for frame in finding.frames
                               if frame.needs <= present and present.isdisjoint(frame.excludes))
                if frames:
                    plan.append((finding, frames))
            if len(self._plans) > _MAX_PLANS:
                self._plans.clear()
            self._plans[present] = tuple(plan)
        return self._plans[present]

    def in_one_frame(self, a: str, b: str) -> bool:
        """Whether two classes meet in some concept frame ("chest" and "pain" in chest pain)."""
        return b in self._partners.get(a, ())

    def breathing_words(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """The one-word breathing and chest words, and those of five letters or more as prefixes
        ("breathtaking"): a harmless phrase with one still names breathing."""
        if self._breathing is None:
            words = frozenset().union(*(self.single_words(c) for c in ("breath", "chest", "sob", "air")))
            self._breathing = (words, tuple(sorted(w for w in words if len(w) >= 5)))
        return self._breathing

    def single_words(self, cls: str) -> frozenset[str]:
        """The one-word entries of a class ("arm": arm, hand, brazo, ...)."""
        if cls not in self._single_words:
            self._single_words[cls] = frozenset(e for e in self.classes.get(cls, ()) if " " not in e)
        return self._single_words[cls]

    def modifiers_of(self, classes: frozenset[str]) -> list[Modifier]:
        """The modifiers a unit with these classes is read as."""
        return [m for m in self.modifiers.values() if not classes.isdisjoint(m.classes)]

    def intensities_of(self, classes: frozenset[str]) -> list[Intensity]:
        """The intensity words a unit with these classes is."""
        return [self.intensities[c] for c in classes if c in self.intensities]

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
        self._accented_words = {k: f" {v} " for k, v in norm["accented"].items()}
        self._accented = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(self._accented_words, key=len, reverse=True)))
                                    + r")(?!\w)")
        self._tapback = _tapback_pattern(norm["tapbacks"])
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
        self.of_pain = frozenset(numbers["of_pain"])
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
        return Frame(tuple(parts), window, ordered, tuple(excludes), text)

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
        level = [self.root]
        for depth, element in enumerate(elements):
            self.vocabulary.update(element)
            nodes = [children.setdefault(word, TrieNode()) for children in level for word in element]
            if depth < len(elements) - 1:
                level = [node.next for node in nodes]
            else:
                for node in nodes:
                    node.classes |= class_names

    def _node(self, word: str) -> TrieNode:
        return self.root.setdefault(word, TrieNode())

    # -- normalising ----------------------------------------------------------------------------
    # -- normalising ----------------------------------------------------------------------------

    def words(self, text: str) -> list[str]:
        """Raw text -> normalised words and punctuation marks, in order. ":" and "+" are dropped
        ("fever: none" reads as "fever none"). A tapback reaction's quoted text is not read."""
        text = self._tapback.sub(" ", text, count=1)
        if self._names.search(text):
            text = self._unname(text)
        words = self._normalised(self._tokens(text.lower()))
        self._digits_as_words(words)
        return words

    def _normalised(self, tokens: list[str]) -> list[str]:
        """Tokens -> the lexicon's words: a word may become several ("alot" -> "a lot") or none ("lol")."""
        words: list[str] = []
        for token in tokens:
            if token in _DROPPED:
                continue
            if token[0].isalpha():
                words.extend(self.word(token))
            else:
                words.append(token)
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
        if len(self._word_cache) < _MAX_CACHED_WORDS:
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
        if token.endswith("ao") and token[:-2] + "ado" in self.vocabulary:
            return (token[:-2] + "ado",)                    # Caribbean and Andalusian "-ao": "apretao"
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

    def units(self, words: list[str]) -> list[Unit]:
        """Words -> units, longest entry first. A word no entry names is a unit with no classes (a
        number no entry names, a unit of class `number`)."""
        units = []
        i = 0
        while i < len(words):
            node = self.root.get(words[i])
            if node is None and words[i][0].isdigit():
                node = self.number_node
            if node is None:
                units.append(Unit(i, i + 1, NO_CLASSES))
                i += 1
                continue
            classes, end = node.classes, i + 1
            j = i + 1
            while node.next and j < len(words):          # the longest entry that starts here
                following = node.next.get(words[j])
                if following is None and words[j][0].isdigit():
                    following = node.next.get(NUMBER)
                if following is None:
                    break
                node = following
                j += 1
                if node.classes:
                    classes, end = node.classes, j
            units.append(Unit(i, end, classes))
            i = end
        return units

    def is_number(self, word: str) -> bool:
        return word[0].isdigit() or word in self.number_words


_DROPPED = frozenset({":", "+"})       # tokens that join or mean nothing: "fever: none"
_MAX_PLANS = 50_000
_MAX_CACHED_WORDS = 50_000

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


_QUOTES = "\"“”«»„‘’'"
_ACCENTED = {"a": "[aá]", "e": "[eé]", "i": "[ií]", "o": "[oó]", "u": "[uúü]", "n": "[nñ]"}


def _tapback_pattern(entries: list[str]) -> re.Pattern[str]:
    """'Liked "..."', 'Le gustó «...»', 'Reacted 👍 to "..."', 'Liked an image' at the start of a
    message, up to the last closing quote: what the reaction quotes."""
    def entry(text: str) -> str:
        return r"\s+".join(r"\S+" if w == "*" else "".join(_ACCENTED.get(c, re.escape(c)) for c in w)
                           for w in text.split())
    starts = "|".join(entry(e) for e in sorted(entries, key=len, reverse=True))
    quoted = f"[{_QUOTES}].*[{_QUOTES}](?=\\s|$)|an? (?:image|photo|picture|video)|una? (?:imagen|foto|video)"
    return re.compile(rf"^\s*(?:{starts})\s*(?:{quoted})", re.IGNORECASE | re.DOTALL)


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


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def read_files(directory: Path) -> dict[str, Any]:
    """The lexicon files of a directory (`*.toml`), merged into one table: a table may be spread
    over several files ([words.*] in each concept's file), but a key may be defined only once.
    Findings come in the order `[findings] order` gives."""
    merged: dict[str, Any] = {}
    where: dict[tuple[str, ...], str] = {}

    def merge(into: dict[str, Any], table: dict[str, Any], path: tuple[str, ...], source: str) -> None:
        for key, value in table.items():
            at = (*path, key)
            if isinstance(value, dict) and isinstance(into.get(key, {}), dict):
                merge(into.setdefault(key, {}), value, at, source)
            elif key in into:
                raise ValueError(f"{'.'.join(at)} is defined in {where[at]} and again in {source}")
            else:
                into[key] = value
                where[at] = source

    for file in sorted(directory.glob("*.toml")):
        with open(file, "rb") as fh:
            merge(merged, tomllib.load(fh), (), file.name)
    order = merged.get("findings", {}).get("order", [])
    findings = merged.get("finding", {})
    if sorted(order) != sorted(findings) or len(set(order)) != len(order):
        raise ValueError(f"[findings] order must list every [finding.*] once: missing "
                         f"{sorted(set(findings) - set(order))}, unknown or repeated "
                         f"{sorted(f for f in order if f not in findings or order.count(f) > 1)}")
    merged["finding"] = {name: findings[name] for name in order}
    return merged


@cache
def load(version: str | None = None) -> Lexicon:
    """The lexicon of a protocol version (default: the loaded protocol's), compiled once."""
    version = version or PROTOCOL.version
    return Lexicon(read_files(Path(PROTOCOL.data_dir).parent / f"v{version}" / "triage"), version)


LEXICON = load()
