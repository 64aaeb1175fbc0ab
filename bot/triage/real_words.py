"""Real words that typo repair must leave alone, and the command that lists them.

Typo repair (`Lexicon._fix`) turns an unknown word into a lexicon word one letter away: "brusing"
is "bruising". A real word one letter from a symptom word is not a typo ("napping" is not
"zapping", "sleeping" is not "seeping", "asiento" is not "aliento"), and correcting it invents a
symptom. `real_words.txt` lists every dictionary word (English and Spanish) that the repair would
otherwise change, except plain inflections of the lexicon word ("blisters" is still "blister").

Regenerate it after adding words to the lexicon (Debian's `wamerican` and `wspanish` word lists,
both free to redistribute: SCOWL's licence and public domain):

    .venv/bin/flask triage-real-words /usr/share/dict/american-english /usr/share/dict/spanish
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

PATH = Path(__file__).with_name("real_words.txt")
_INFLECTIONS = ("s", "es", "d", "ed", "r", "er", "ly", "y", "ing")


def load(path: Path = PATH) -> frozenset[str]:
    with open(path, encoding="utf-8") as fh:
        return frozenset(w for w in (line.strip() for line in fh) if w and not w.startswith("#"))


def _fold(word: str) -> str:
    word = unicodedata.normalize("NFKD", word.strip().lower())
    return "".join(c for c in word if not unicodedata.combining(c))


def _inflection(word: str, of: str) -> bool:
    short, long = sorted((word, of), key=len)
    return long.startswith(short) and long[len(short):] in _INFLECTIONS


def write(dictionaries: list[str], path: Path = PATH) -> int:
    """Write the list from these dictionary files; returns how many words it holds."""
    from bot.triage.lexicon import LEXICON as lex   # the lexicon without this list's protection

    words: set[str] = set()
    for dictionary in dictionaries:
        with open(dictionary, encoding="utf-8", errors="ignore") as fh:
            words.update(w for w in map(_fold, fh) if w.isalpha() and w.isascii())
    risky = sorted(
        w for w in words
        if w not in lex.vocabulary and w not in lex.spelling
        and (fixed := lex.repair(w)) != (w,) and not (len(fixed) == 1 and _inflection(w, fixed[0]))
    )
    header = __doc__.strip().replace("\n", "\n# ")
    path.write_text(f"# {header}\n" + "".join(f"{w}\n" for w in risky), encoding="utf-8")
    return len(risky)
