"""The triage lexicon: `triage.toml` compiled once into a normaliser and a phrase matcher.

Reading a reply happens on words, never on substrings ("shot" is not "hot", "number" is not
"numb"). This module turns raw text into normalised words and finds every lexicon phrase in a list
of words. It knows nothing of rules or levels; `reading.py` decides what the matches mean.

The matcher is a trie of words: each phrase is a path, a `<class>` or `a|b` element fans out into
one edge per word, and a `..N` gap is an edge that may skip up to N words. Matching a clause is a
walk from each word, so the cost grows with the clause, not with the size of the lexicon.

(A single compiled regular expression over the whole reply was tried instead: with the classes
and `a|b` elements expanded it has ~57,000 phrase ends, and Python's `re`, which tries an
alternation's branches one by one, took ~475 µs a reply against ~10 µs for this walk.)

Normalising remembers each distinct token's normal form (`_forms`, bounded), so a reply costs one
dictionary lookup a token; typo repair runs once per new token, and only on unknown words.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from bot.protocol import PROTOCOL
from bot.triage import real_words

# Kinds of lexicon entries, as the sections of triage.toml name them.
FINDING = "finding"
TOPIC = "topic"
MODIFIER = "modifier"
INTENSITY = "intensity"
TREND = "trend"
STATEMENT = "statement"
CUE = "cue"
QUESTION = "question"

_SECTIONS = (FINDING, TOPIC, MODIFIER, INTENSITY, TREND, STATEMENT, CUE, QUESTION)
# A match inside a longer one is dropped ("chest pain" is not also "pain"), except for these
# (outer, inner) pairs: a modifier inside a finding still qualifies it ("sharp" in "sharp pain under
# my shoulder blade"), a finding inside a modifier is still reported ("sangrando" in "sigue
# sangrando"), a negation inside a statement still negates ("no" in "no issues breathing"), and a
# statement inside a cue still counts ("bien" in "ya estoy bien").
# Question forms never drop anything and are never dropped.
_KEEPS = frozenset({(FINDING, MODIFIER), (MODIFIER, FINDING), (TREND, MODIFIER), (STATEMENT, CUE),
                    (CUE, STATEMENT), (QUESTION, FINDING),
                    (QUESTION, CUE), (QUESTION, MODIFIER), (QUESTION, INTENSITY), (QUESTION, TREND),
                    (QUESTION, STATEMENT), (QUESTION, TOPIC)})

_TOKEN = re.compile(r"\d+(?:[.,:]\d+)?|[a-z]+|[?!.,;:/\-+\n()\[\]]")
_APOSTROPHES = re.compile(r"['’`´ʼ]")
_APOSTROPHE_S = re.compile(r"\b([a-z]+)['’`´ʼ]s\b")
# "it's", "that's" stay one word ("its", "thats": the lexicon's spelling); after any other word
# "'s" is "is" or a possessive, and is dropped: "arm's weak" -> "arm weak".
_S_CONTRACTIONS = frozenset({"it", "that", "what", "there", "here", "he", "she", "who", "let", "where", "how"})


def _apostrophe_s(m: re.Match) -> str:
    word = m.group(1)
    return word + "s" if word in _S_CONTRACTIONS else word
_HYPHEN_IN_WORD = re.compile(r"(?<=[a-z])-(?=[a-z])")
_RUN_OF_3 = re.compile(r"([a-z])\1{2,}")
_RUN_OF_2 = re.compile(r"([a-z])\1+")
_DEGREES = re.compile(r"°\s*([fc])?\b")
_MAX_FORMS = 50_000


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


@dataclass(frozen=True, eq=False)   # compared and hashed by identity: one object per group
class Entry:
    """One lexicon group a phrase belongs to, e.g. finding `short_of_breath` or cue `negation`."""

    kind: str
    id: str
    tag: str | None = None
    red_flag: bool = False
    value: int | None = None          # intensity stand-in score
    standalone: bool = True           # intensity: counts without a soreness word next to it
    applies_to: frozenset[str] = frozenset()  # modifier: the findings it can qualify
    clause_wide: bool = False         # modifier: qualifies every such finding of its clause
    dropped_by: frozenset[str] = frozenset()  # kinds whose longer match hides this one (_KEEPS)


class Match(NamedTuple):
    """A phrase of `entry` over words[start:end] (end exclusive) of a clause."""

    start: int
    end: int
    entry: Entry

    def __repr__(self) -> str:
        return f"Match({self.start}, {self.end}, {self.entry.kind}.{self.entry.id})"


_match = tuple.__new__   # _match(Match, (start, end, entry)): a Match without a Python-level call


NUMBER = "#"   # in a phrase: any number, in digits or words ("pressing for 10 minutes")


@dataclass(eq=False)
class _Node:
    next: dict[str, "_Node"] = field(default_factory=dict)
    gaps: list[tuple[int, "_Node"]] = field(default_factory=list)
    ends: list[Entry] = field(default_factory=list)

    def gap_child(self, width: int) -> "_Node":
        for w, child in self.gaps:
            if w == width:
                return child
        child = _Node()
        self.gaps.append((width, child))
        return child


class Lexicon:
    """Normaliser, word vocabularies and phrase matcher of one protocol version."""

    def __init__(self, raw: dict[str, Any], version: str):
        self.version = version
        self.raw = raw
        self.thresholds: dict[str, float] = dict(raw["thresholds"])
        scope = raw["scope"]
        self.negation_window: int = scope["negation_window"]
        self.post_cue_window: int = scope["post_cue_window"]
        self.clause_breakers = frozenset(scope["clause_breakers"])
        # Every token that ends a clause: punctuation, "-" and "/" (unless between two numbers:
        # see reading._clauses) and the clause-breaking words.
        self.clause_splitters = self.clause_breakers | frozenset(".,;!?\n()[]-/")
        self.gap_breakers = frozenset(scope["gap_breakers"])
        self.coordinators = frozenset(scope["coordinators"])
        self.weak_words = frozenset(scope["weak_words"])
        self.red_flag_negation_passes = frozenset(scope["red_flag_negation_passes"])

        norm = raw["normalise"]
        self.spelling: dict[str, tuple[str, ...]] = {
            k: tuple(v.split()) for k, v in norm["spelling"].items()
        }
        self.not_typos = frozenset(norm["not_typos"])
        self.real_words = real_words.load()          # dictionary words one letter from a symptom word
        self.fuzzy_min_length: int = norm["fuzzy_min_length"]
        # Digits used as words in texting ("hurts 2 breathe"): read as the word before a verb.
        self.digit_words: dict[str, str] = dict(norm["digit_words"])
        self.digit_word_before = frozenset(norm["digit_word_before"])
        emoji = dict(norm["emoji"])
        self._emoji = re.compile("|".join(re.escape(e) for e in sorted(emoji, key=len, reverse=True)))
        self._emoji_words = {e: f" {w} " for e, w in emoji.items()}

        numbers = raw["numbers"]
        self.number_words: dict[str, int] = dict(numbers["words"])
        self.needs_scale = frozenset(numbers["needs_scale"])
        self.scale_words = tuple(tuple(s.split()) for s in numbers["scale_words"])
        self.scale = frozenset(str(s) for s in numbers["scale"])
        self.range_words = frozenset(numbers["range_words"])
        self.range_max_width: int = numbers["range_max_width"]
        self.units = frozenset(numbers["units"])
        self.not_after = frozenset(numbers["not_after"])
        self.score_lead = frozenset(numbers["score_lead"])
        self.past_before = frozenset(numbers["past_before"])
        self.past_after = frozenset(numbers["past_after"])
        self.present_before = frozenset(numbers["present_before"])
        self.score_follow = frozenset(numbers["score_follow"])
        self.same_before = frozenset(numbers["same_before"])

        self.classes: dict[str, frozenset[str]] = {
            name: frozenset(words) for name, words in raw["classes"].items()
        }
        self.entries: dict[tuple[str, str], Entry] = {}
        self._root = _Node()
        # Every word a phrase uses; typo tolerance aims at the words of findings only.
        self.vocabulary: set[str] = set(self.number_words)
        finding_words: set[str] = set()
        other_words: set[str] = set()
        for kind in _SECTIONS:
            for entry_id, spec in raw.get(kind, {}).items():
                entry = self._entry(kind, entry_id, spec)
                self.entries[(kind, entry_id)] = entry
                for lang in PROTOCOL.languages:
                    for phrase in spec.get(lang, ()):
                        words = self._add(phrase, entry)
                        (finding_words if kind in (FINDING, TOPIC) else other_words).update(words)
        # Typo tolerance aims at symptom words only, not at the small words that phrases share
        # with everyday speech ("puedo", "still").
        finding_words -= other_words
        self._start = _freeze(self._root).__getitem__(0)   # first word -> compiled node
        self._squashed: dict[str, str | None] = {}
        for word in self.vocabulary:
            key = _RUN_OF_2.sub(r"\1", word)
            self._squashed[key] = word if self._squashed.get(key, word) == word else None
        self._deletions: dict[str, set[str]] = {}
        for word in finding_words:
            if len(word) >= self.fuzzy_min_length and word.isalpha():
                for variant in _deletions(word):
                    self._deletions.setdefault(variant, set()).add(word)
        self._finding_words = frozenset(finding_words)
        self._word_cache: dict[str, tuple[str, ...]] = {}
        self._digit_words_set = frozenset(self.digit_words)
        # Tokens whose normal form is fixed: punctuation that joins or is dropped.
        self._fixed_forms = {":": "", "+": ""}
        self._forms: dict[str, str] = dict(self._fixed_forms)

    # -- building ---------------------------------------------------------------------------

    @staticmethod
    def _entry(kind: str, entry_id: str, spec: dict[str, Any]) -> Entry:
        if kind == FINDING and spec.get("tag") is not None and spec["tag"] not in PROTOCOL.symptoms:
            raise ValueError(f"finding {entry_id}: {spec['tag']!r} is not a protocol symptom tag")
        return Entry(
            kind=kind,
            id=entry_id,
            tag=spec.get("tag"),
            red_flag=bool(spec.get("red_flag", False)),
            value=spec.get("value"),
            standalone=bool(spec.get("standalone", True)),
            applies_to=frozenset(spec.get("applies_to", ())),
            clause_wide=bool(spec.get("clause_wide", False)),
            dropped_by=frozenset() if kind == QUESTION else frozenset(
                outer for outer in _SECTIONS if outer != QUESTION and (outer, kind) not in _KEEPS
            ),
        )

    def _element(self, text: str) -> frozenset[str] | int:
        if text.startswith(".."):
            return int(text[2:] or 3)
        if text == NUMBER:
            return frozenset([NUMBER, *self.number_words])
        if text.startswith("<") and text.endswith(">"):
            words = self.classes[text[1:-1]]
        else:
            words = frozenset(text.split("|"))
        out: set[str] = set()
        for word in words:
            out.update(self.spelling.get(word, (word,))[:1] or (word,))
        return frozenset(out)

    def _add(self, phrase: str, entry: Entry) -> set[str]:
        """Insert one phrase under `entry`; returns the words it uses."""
        elements: list[frozenset[str] | int] = []
        for part in phrase.split():
            fixed = self.spelling.get(part)
            if fixed and len(fixed) > 1:       # a spelling fix that expands ("alot" -> "a lot")
                elements.extend(frozenset([w]) for w in fixed)
            else:
                elements.append(self._element(part))
        if not elements or isinstance(elements[0], int) or isinstance(elements[-1], int):
            raise ValueError(f"{entry.kind}.{entry.id}: a phrase cannot begin or end with a gap: {phrase!r}")
        used: set[str] = set()
        nodes = [self._root]
        for element in elements:
            if isinstance(element, int):
                nodes = [node.gap_child(element) for node in nodes]
                continue
            used |= element
            following: list[_Node] = []
            for node in nodes:
                for word in element:
                    following.append(node.next.setdefault(word, _Node()))
            nodes = list({id(n): n for n in following}.values())
        for node in nodes:
            if entry not in node.ends:
                node.ends.append(entry)
        self.vocabulary |= used
        return used

    # -- normalising ----------------------------------------------------------------------------

    def words(self, text: str) -> list[str]:
        """Raw text -> normalised words and punctuation marks, in order. ":" and "+" are dropped
        ("fever: none" reads as "fever none")."""
        text = text.lower()
        if not text.isascii():
            text = self._fold(text)
        if "/" in text or "%" in text:
            text = text.replace("w/o", " without ").replace("w/", " with ").replace("%", " percent ")
        if "'" in text or "`" in text:
            text = _APOSTROPHE_S.sub(_apostrophe_s, text)   # "breathing's fine" -> "breathing fine"
            text = _APOSTROPHES.sub("", text)
        if "-" in text:
            text = _HYPHEN_IN_WORD.sub(" ", text)
        tokens = _TOKEN.findall(text)
        # Each distinct token is normalised once and remembered (`_forms`); a reply is then one
        # lookup per token. A form may be several words ("alot" -> "a lot") or none ("lol").
        forms = self._forms
        seen = set(tokens)
        for token in seen.difference(forms):
            self._learn(token)
        if len(forms) > _MAX_FORMS:                      # a flood of new tokens: start afresh
            self._forms = forms = dict(self._fixed_forms)
            for token in seen:
                self._learn(token)
        words = " ".join([forms[t] for t in tokens]).split()
        if not self._digit_words_set.isdisjoint(seen):
            self._digits_as_words(words)
        return words

    def _fold(self, text: str) -> str:
        """Accents off, emoji that mean something into words, the rest of emoji and symbols dropped."""
        text = text.translate(_FOLD)                        # á -> a, ñ -> n, ’ -> '
        if not text.isascii():
            text = self._emoji.sub(lambda m: self._emoji_words[m.group()], text)
            text = _DEGREES.sub(lambda m: f" {m.group(1) or 'degrees'} ", text)
            text = unicodedata.normalize("NFKD", text)
            text = "".join(c for c in text if not unicodedata.combining(c))
        return text

    def _learn(self, token: str) -> None:
        if token[0].isalpha():
            self._forms[token] = " ".join(self.word(token))
        else:
            self._forms[token] = token

    def _digits_as_words(self, words: list[str]) -> None:
        """Texting "2" and "4" for "to" and "for" before a verb: "hurts 2 breathe"."""
        last = len(words) - 1
        for i, w in enumerate(words):
            if w in self.digit_words and 0 < i < last and words[i - 1].isalpha() and words[i + 1] in self.digit_word_before:
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
        if (token in self.vocabulary or token in self.not_typos or token in self.number_words
                or token in self.real_words):
            return (token,)                               # only unknown words are repaired
        return self.repair(token)

    def repair(self, token: str) -> tuple[str, ...]:
        """An unknown word -> the lexicon word it misspells, or itself when none is certain."""
        squashed = self._squashed.get(_RUN_OF_2.sub(r"\1", token))  # "soo" -> "so", "numbb" -> "numb"
        if squashed:
            return (squashed,)
        base = self._without_diminutive(token)                  # "bultito" -> "bulto"
        if base:
            return (base,)
        if len(token) >= self.fuzzy_min_length:
            guess = self._one_typo_away(token)
            if guess:
                return (guess,)
        return (token,)

    def _without_diminutive(self, token: str) -> str | None:
        """Spanish diminutives: "puntito" -> "punto", "moretoncito" -> "moreton", "llaguita" -> "llaga"."""
        for suffix, endings in _DIMINUTIVES:
            if token.endswith(suffix) and len(token) > len(suffix) + 2:
                stem = token[: -len(suffix)]
                for ending in endings:
                    if stem + ending in self.vocabulary:
                        return stem + ending
        return None

    def _one_typo_away(self, token: str) -> str | None:
        """A finding word one deletion, insertion, substitution or swap away, if exactly one is."""
        candidates: set[str] = set()
        if token in self._deletions:                     # a letter missing: "brusing"
            candidates |= self._deletions[token]
        for variant in _deletions(token):
            if variant in self._finding_words:           # a letter too many: "bruisinng"
                candidates.add(variant)
            candidates |= self._deletions.get(variant, set())  # a letter wrong or swapped
        # Typos rarely hit the first letter, and real words that differ from a symptom word only
        # there are common ("napping" / "zapping", "having" / "heaving" differs later, but "hearing"
        # / "bearing" ...): no correction is better than a wrong one.
        candidates = {c for c in candidates if c[0] == token[0] and _one_edit(c, token)}
        return candidates.pop() if len(candidates) == 1 else None

    # -- matching -------------------------------------------------------------------------------

    def matches(self, words: list[str], numbers: bool = True) -> list[Match]:
        """Every phrase found in one clause's words, minus those inside a longer match.
        `numbers`: the words may hold digits (each then matches `#`)."""
        if numbers:
            words = [NUMBER if w[0].isdigit() else w for w in words]
        n = len(words)
        start = self._start
        found: list[tuple[int, int, int, Entry]] = []   # (start, -end, order, entry): sorts in C
        for i, word in enumerate(words):
            node = start.get(word)
            j = i + 1
            while node is not None:                 # follow the phrase word by word
                following, gaps, ends = node
                for entry in ends:
                    found.append((i, -j, len(found), entry))
                if gaps:
                    self._skip_gaps(words, i, j, gaps, found)
                node = following.get(words[j]) if j < n else None
                j += 1
        if len(found) < 2:
            return [_match(Match, (s, -e, entry)) for s, e, _, entry in found]
        found.sort()                                # by start, longest first: containers come first
        out: list[Match] = []
        spans: list[tuple[int, int, Entry]] = []
        reach = -1                                  # the furthest end of the spans so far
        for s, e, _, entry in found:
            e = -e
            if spans and spans[-1][0] == s and spans[-1][1] == e and spans[-1][2] is entry:
                continue                            # the same phrase reached twice (with and without a gap)
            inside = e <= reach and bool(entry.dropped_by) and any(
                e2 >= e and e2 - s2 > e - s and outer.kind in entry.dropped_by for s2, e2, outer in spans
            )
            spans.append((s, e, entry))
            if e > reach:
                reach = e
            if not inside:
                out.append(_match(Match, (s, e, entry)))
        return out

    def _skip_gaps(self, words: list[str], i: int, j: int, gaps: tuple, found: list) -> None:
        """Phrases with a `..N` gap after words[i:j]: the gap skips up to N words, never a
        [scope].gap_breakers word or a number."""
        n = len(words)
        breakers = self.gap_breakers
        stack = []
        for width, child_following in gaps:
            k = j
            while k < n:
                if k > j and (words[k - 1] in breakers or words[k - 1] == NUMBER):
                    break
                nxt = child_following.get(words[k])
                if nxt is not None:
                    stack.append((nxt, k + 1))
                if k - j >= width:
                    break
                k += 1
        seen = set()
        while stack:
            node, k = stack.pop()
            following, more_gaps, ends = node
            for entry in ends:
                if (k, id(entry)) not in seen:
                    seen.add((k, id(entry)))
                    found.append((i, -k, len(found), entry))
            if k < n:
                child = following.get(words[k])
                if child is not None:
                    stack.append((child, k + 1))
            for width, child_following in more_gaps:
                m = k
                while m < n:
                    if m > k and (words[m - 1] in breakers or words[m - 1] == NUMBER):
                        break
                    nxt = child_following.get(words[m])
                    if nxt is not None:
                        stack.append((nxt, m + 1))
                    if m - k >= width:
                        break
                    m += 1


_DIMINUTIVES = (   # suffix, endings that may replace it; longer suffixes first
    ("guita", ("ga",)), ("guito", ("go",)), ("quita", ("ca",)), ("quito", ("co",)),
    ("citos", ("", "es")), ("citas", ("", "es")), ("cito", ("", "e")), ("cita", ("", "e")),
    ("itos", ("os", "o", "")), ("itas", ("as", "a", "")), ("ito", ("o", "")), ("ita", ("a", "")),
)


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


def _freeze(node: _Node, memo: dict[int, tuple] | None = None) -> tuple:
    """The trie as nested tuples (following words, gaps, entries ending here), for fast walking.
    A gap is (width, the words that may follow it)."""
    memo = {} if memo is None else memo
    if id(node) in memo:
        return memo[id(node)]
    frozen = (
        {w: _freeze(c, memo) for w, c in node.next.items()},
        tuple((width, _freeze(child, memo)[0]) for width, child in node.gaps),
        tuple(node.ends),
    )
    memo[id(node)] = frozen
    return frozen


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
