"""Record every triage prediction on the labelled files, and compare two recordings.

    .venv/bin/python bench/triage_compare.py record OUT.jsonl [FILE.jsonl ...]
    .venv/bin/python bench/triage_compare.py diff BEFORE.jsonl AFTER.jsonl [--limit 40]
    .venv/bin/python bench/triage_compare.py seeds [FILE.jsonl ...]     # record under two hash seeds and diff

`record` classifies every line of every file given (default: every `tests/data/*.jsonl`, and
`tests/data/banks/*.jsonl` when they are there) and writes one JSON line per reply: the file, the
line, the text and context, and the whole prediction (level, soreness, symptoms, resolved, rules,
reasons, is_question, window). `diff` reports, per file, how many predictions changed and in
which fields, then lists the changed replies. A refactoring must leave `diff` empty; a behaviour
change shows here exactly what it moved.

`seeds` records in two child processes with PYTHONHASHSEED 0 and 1 and diffs them: a prediction
that depends on set or dictionary order shows up there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIELDS = ("level", "soreness", "symptoms", "resolved", "rules", "reasons", "is_question", "window")


def default_files() -> list[Path]:
    data = ROOT / "tests" / "data"
    return sorted(data.glob("*.jsonl")) + sorted((data / "banks").glob("*.jsonl"))


def _lines(path: Path):
    """(line number, text, hours, context) of a labelled file or a bank (banks may lack hours)."""
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            obj = json.loads(raw)
            yield number, obj["text"], float(obj.get("hours_since_session", 30.0)), obj.get("context") or {}


def record(files: list[Path], out: Path) -> int:
    from bot.triage import classify

    count = 0
    with open(out, "w", encoding="utf-8") as fh:
        for path in files:
            name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
            for number, text, hours, context in _lines(path):
                r = classify(text, hours, region=context.get("region"),
                             precautions=context.get("precautions") or (),
                             previous_soreness=context.get("previous_soreness"))
                d = r.as_dict()
                row = {"file": name, "line": number, "text": text, "hours": hours, "context": context,
                       **{f: d[f] for f in FIELDS}}
                fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
    return count


def _load(path: Path) -> dict[tuple[str, int], dict]:
    with open(path, encoding="utf-8") as fh:
        return {(r["file"], r["line"]): r for r in map(json.loads, fh)}


def diff(before: Path, after: Path, limit: int) -> int:
    """Print what changed; returns the number of changed predictions."""
    a, b = _load(before), _load(after)
    changed: dict[str, list[tuple[dict, dict, list[str]]]] = defaultdict(list)
    fields: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    for key in sorted(a.keys() | b.keys()):
        old, new = a.get(key), b.get(key)
        file = key[0]
        totals[file] += 1
        if old is None or new is None:
            changed[file].append((old or {}, new or {}, ["(only in one recording)"]))
            continue
        if old["text"] != new["text"]:
            changed[file].append((old, new, ["(a different reply at this line)"]))
            continue
        moved = [f for f in FIELDS if old[f] != new[f]]
        if moved:
            changed[file].append((old, new, moved))
            fields[file].update(moved)
    n = sum(len(v) for v in changed.values())
    print(f"{n} of {sum(totals.values())} predictions changed")
    for file in sorted(totals):
        levels = sum(1 for o, nw, m in changed[file] if "level" in m)
        detail = ", ".join(f"{f} {c}" for f, c in fields[file].most_common())
        print(f"  {file}: {len(changed[file])} of {totals[file]} changed"
              + (f" ({levels} in level; {detail})" if changed[file] else ""))
    shown = 0
    for file in sorted(changed):
        for old, new, moved in changed[file]:
            if shown >= limit:
                print(f"... and {n - shown} more (--limit)")
                return n
            shown += 1
            print(f"\n{file}:{(old or new).get('line')}: {(old or new).get('text')!r}")
            for f in moved:
                if f.startswith("("):
                    print(f"    {f}")
                else:
                    print(f"    {f}: {old.get(f)!r} -> {new.get(f)!r}")
    return n


def seeds(files: list[Path]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        outs = []
        for seed in ("0", "1"):
            out = Path(tmp) / f"seed{seed}.jsonl"
            env = {**os.environ, "PYTHONHASHSEED": seed}
            subprocess.run([sys.executable, __file__, "record", str(out), *map(str, files)], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            outs.append(out)
        return diff(outs[0], outs[1], limit=40)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="classify every reply and write the predictions")
    rec.add_argument("out", type=Path)
    rec.add_argument("files", nargs="*", type=Path)
    dif = sub.add_parser("diff", help="compare two recordings")
    dif.add_argument("before", type=Path)
    dif.add_argument("after", type=Path)
    dif.add_argument("--limit", type=int, default=40, help="changed replies to list")
    sds = sub.add_parser("seeds", help="record under PYTHONHASHSEED 0 and 1 and compare")
    sds.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()

    if args.command == "record":
        files = [f.resolve() for f in args.files] or default_files()
        count = record(files, args.out)
        print(f"{count} predictions from {len(files)} files written to {args.out}")
        return 0
    if args.command == "diff":
        return 1 if diff(args.before, args.after, args.limit) else 0
    return 1 if seeds([f.resolve() for f in args.files] or default_files()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
