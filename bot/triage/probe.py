"""Replies composed from the behavioural banks (tests/data/banks/), and the red-flag floor's hold rate.

The banks were written by a helper who read only PROTOCOL.md (tests/data/banks/README.md): red-flag
statements with their rule and level, benign fragments (scores, trends, chatter, self-care), and
look-alikes (denied, someone else's, idioms, remedies) with the level each gets alone. As in
behavioural testing (CheckList, Ribeiro et al. 2020), they are composed into replies the way
patients run sentences together: in any order, joined by "and", "but", "also", a comma or a new
line, with case and punctuation dropped, a typo, an emoji, a name (someone else's symptoms end
their sentence: what follows "my son has a chest cold and" is still the son's). The properties:

- floor: a reply that contains a red flag is at least that flag's level, whatever surrounds it;
- look-alike: a look-alike never raises a reply beyond max(the reply without it, its own level);
- invariance: "lol", an emoji or a greeting changes nothing.

`compose_floor` and `compose_lookalike` take any `random.Random` (Hypothesis passes its own, the
`flask triage-probe` command a seeded one), so the tests and the command compose alike.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.protocol import PROTOCOL, UNCLEAR
from bot.triage import Triage, classify

BANKS_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "banks"

CONNECTORS = {
    "en": (" and ", " but ", " also ", ", ", "\n", ". "),
    "es": (" y ", " pero ", " también ", ", ", "\n", ". "),
}
# Without punctuation, fragments are still joined by a word or a new line, as run-on texts are
# ("...asthma and the room is spinning"), never by a bare space.
UNPUNCTUATED = {
    "en": (" and ", " but ", " also ", "\n"),
    "es": (" y ", " pero ", " también ", "\n"),
}
# After someone else's symptoms, the writer's own words begin a new sentence: "my son has a chest
# cold and can't breathe" is the son's.
NEW_SENTENCE = (". ", "\n")
NEUTRAL_EMOJI = ("😊", "🙏", "😅", "🙂", "💪", "😂", "❤️", "🤞")
GREETINGS = ("hi", "hello", "hey", "good morning", "hola", "buenos días", "buenas tardes")
NAMES = ("Maria", "John", "Ana", "Sarah", "Carlos", "Lupita", "Kim", "Dr. Patel")
_PUNCTUATION = str.maketrans("", "", ".,;:!?¿¡")


@dataclass(frozen=True)
class Fragment:
    """One line of a bank."""

    text: str
    lang: str
    kind: str                        # the red flag's rule, or the fragment's kind
    level: str | None                # its level alone (None for benign fragments)
    hours: float = 20.0
    region: str | None = None
    precautions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Banks:
    redflags: tuple[Fragment, ...]
    benign: tuple[Fragment, ...]
    lookalikes: tuple[Fragment, ...]


@dataclass(frozen=True)
class Composed:
    """A reply made of fragments, and the context it is classified in."""

    text: str
    hours: float
    region: str | None
    precautions: tuple[str, ...]
    parts: tuple[Fragment, ...] = field(default=())

    def classify(self) -> Triage:
        return classify(self.text, self.hours, region=self.region, precautions=self.precautions)


def load_banks(directory: Path = BANKS_DIR) -> Banks:
    def read(name: str, kind_key: str) -> tuple[Fragment, ...]:
        out = []
        with open(directory / name, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                obj = json.loads(line)
                context = obj.get("context") or {}
                out.append(Fragment(obj["text"], obj["lang"], obj[kind_key], obj.get("level"),
                                    float(context.get("hours_since_session", 20.0)), context.get("region"),
                                    tuple(context.get("precautions") or ())))
        return tuple(out)

    return Banks(read("redflags.jsonl", "rule"), read("benign.jsonl", "kind"), read("lookalikes.jsonl", "kind"))


def rank(level: str) -> int:
    return PROTOCOL.rank(level) if level != UNCLEAR else -1


# -- composing ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Noise:
    """What is done to a composed reply: its case, its punctuation, a typo in one benign fragment,
    an emoji, a name, and the connectors between its parts."""

    case: str = "as is"              # "as is" | "lower" | "upper"
    drop_punctuation: bool = False
    typo_at: int | None = None       # a random number that picks where the typo goes
    emoji: str | None = None
    name: str | None = None
    name_first: bool = True          # "Hi Maria, ..." or "... - Maria"
    connectors: tuple[str, ...] = ()

    @classmethod
    def draw(cls, rng: random.Random, parts: list[Fragment]) -> "Noise":
        drop = rng.random() < 0.3
        connectors = []
        for before, part in zip(parts, parts[1:]):
            if before.kind == "someone_else":
                connectors.append("\n" if drop else rng.choice(NEW_SENTENCE))
            else:
                connectors.append(rng.choice((UNPUNCTUATED if drop else CONNECTORS)[part.lang]))
        return cls(
            case=rng.choice(("as is", "as is", "lower", "upper")),
            drop_punctuation=drop,
            typo_at=rng.randrange(10_000) if rng.random() < 0.3 else None,
            emoji=rng.choice(NEUTRAL_EMOJI) if rng.random() < 0.3 else None,
            name=rng.choice(NAMES) if rng.random() < 0.25 else None,
            name_first=rng.random() < 0.5,
            connectors=tuple(connectors),
        )

    def without(self, index: int) -> "Noise":
        """The same noise for the parts without the one at `index` (one connector fewer)."""
        connectors = self.connectors[1:] if index == 0 else self.connectors[:index - 1] + self.connectors[index:]
        return replace(self, connectors=connectors)

    def apply(self, parts: list[Fragment]) -> str:
        texts = [p.text for p in parts]
        typed = [i for i, p in enumerate(parts) if p.level is None and p.kind != "score"]
        if self.typo_at is not None and typed:
            i = typed[self.typo_at % len(typed)]
            texts[i] = _with_typo(texts[i], self.typo_at)
        text = texts[0] if texts else ""
        for connector, part in zip(self.connectors, texts[1:]):
            text += connector + part
        if self.drop_punctuation:
            text = text.translate(_PUNCTUATION)
        if self.name:                      # (a salutation keeps its comma: "Hi Ana, ten")
            text = f"Hi {self.name}, {text}" if self.name_first else f"{text} - {self.name}"
        if self.emoji:
            text = f"{text} {self.emoji}"
        if self.case == "lower":
            text = text.lower()
        elif self.case == "upper":
            text = text.upper()
        return text


def _with_typo(text: str, at: int) -> str:
    """One letter of a word of four letters or more dropped, doubled or swapped with the next (never
    the first letter: typo repair does not guess it)."""
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long:
        return text
    i = long[at % len(long)]
    w = words[i]
    k = 1 + at % (len(w) - 2)
    edit = (at // 7) % 3
    if edit == 0:
        w = w[:k] + w[k + 1:]
    elif edit == 1:
        w = w[:k] + w[k] + w[k:]
    else:
        w = w[:k] + w[k + 1] + w[k] + w[k + 2:]
    words[i] = w
    return " ".join(words)


def compose_floor(rng: random.Random, banks: Banks) -> tuple[Composed, Fragment]:
    """A red flag among up to three benign fragments or look-alikes, in any order, with noise; the
    reply is classified in the red flag's context."""
    flag = rng.choice(banks.redflags)
    others = [rng.choice(banks.benign if rng.random() < 0.75 else banks.lookalikes)
              for _ in range(rng.randrange(4))]
    parts = others + [flag]
    rng.shuffle(parts)
    text = Noise.draw(rng, parts).apply(parts)
    return Composed(text, flag.hours, flag.region, flag.precautions, tuple(parts)), flag


def compose_lookalike(rng: random.Random, banks: Banks) -> tuple[Composed, Composed, Fragment]:
    """A look-alike among up to three benign fragments, and the same reply without it (same order,
    connectors and noise), both in the look-alike's context."""
    lookalike = rng.choice(banks.lookalikes)
    benign = [rng.choice(banks.benign) for _ in range(rng.randrange(4))]
    where = rng.randrange(len(benign) + 1)
    parts = benign[:where] + [lookalike] + benign[where:]
    noise = Noise.draw(rng, parts)
    context = (lookalike.hours, lookalike.region, lookalike.precautions)
    return (Composed(noise.apply(parts), *context, tuple(parts)),
            Composed(noise.without(where).apply(benign), *context, tuple(benign)), lookalike)


# -- the floor's hold rate ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Failure:
    reply: Composed
    flag: Fragment
    result: Triage


@dataclass(frozen=True)
class ProbeReport:
    n: int
    seed: int
    failures: tuple[Failure, ...]

    @property
    def held(self) -> int:
        return self.n - len(self.failures)

    @property
    def hold_rate(self) -> float:
        return self.held / self.n if self.n else 1.0


def probe_floor(banks: Banks, n: int = 10_000, seed: int = 9) -> ProbeReport:
    """Compose n replies with a seeded generator (the same n and seed give the same replies) and
    list those whose level fell below their red flag's."""
    rng = random.Random(seed)
    failures = []
    for _ in range(n):
        reply, flag = compose_floor(rng, banks)
        result = reply.classify()
        if rank(result.level) < rank(flag.level):
            failures.append(Failure(reply, flag, result))
    return ProbeReport(n, seed, tuple(failures))
