"""The lexicon files (bot/protocol/v1/triage/*.toml): what an editor of a word list is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.triage.lexicon import read_files

LEXICON_DIR = Path(__file__).resolve().parents[2] / "bot" / "protocol" / "v1" / "triage"


def _write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


def test_a_word_list_may_be_spread_over_files_and_findings_come_in_the_stated_order(tmp_path):
    _write(tmp_path, "a.toml", '[words.cough]\nen = [\n  "cough",\n]\n[finding.cough]\nframes = ["cough"]\n')
    _write(tmp_path, "b.toml", '[words.fever]\nen = [\n  "fever",\n]\n[finding.fever]\nframes = ["fever"]\n'
                               '[findings]\norder = ["fever", "cough"]\n')
    merged = read_files(tmp_path)
    assert set(merged["words"]) == {"cough", "fever"}
    assert list(merged["finding"]) == ["fever", "cough"]


def test_a_word_list_defined_twice_is_refused_naming_both_files(tmp_path):
    _write(tmp_path, "a.toml", '[words.cough]\nen = ["cough"]\n')
    _write(tmp_path, "b.toml", '[words.cough]\nen = ["coughing"]\n[findings]\norder = []\n')
    with pytest.raises(ValueError, match=r"words\.cough\.en is defined in a\.toml and again in b\.toml"):
        read_files(tmp_path)


def test_a_finding_missing_from_the_reading_order_is_refused(tmp_path):
    _write(tmp_path, "a.toml", '[finding.cough]\nframes = ["cough"]\n[findings]\norder = []\n')
    with pytest.raises(ValueError, match=r"missing \['cough'\]"):
        read_files(tmp_path)


def test_every_lexicon_file_has_one_entry_a_line():
    """A change to a word list must read as a diff of the words changed: no list of several
    entries on one line."""
    crowded = [f"{path.name}:{number}" for path in sorted(LEXICON_DIR.glob("*.toml"))
               for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
               if not line.lstrip().startswith("#") and line.count('",') > 1]
    assert not crowded
