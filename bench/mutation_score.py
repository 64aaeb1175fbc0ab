"""Print the mutation score of each clinical-core module from mutmut's results (`make mutation`).

score = killed / (total - equivalent), where killed counts mutants a test failed on or that ran
past their time limit, and `equivalent` are the surviving mutants listed in tests/MUTATION.md
(each with why it cannot change behaviour). Reads mutants/<module>.meta as `mutmut run` leaves it.
After a run of some mutants only (`mutmut run <names>`, a sample), `total` counts the checked ones
and the line says how many were not checked.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ["bot/schedule.py", "bot/messages.py", "bot/escalation.py", "bot/triage/rules.py", "bot/conversation.py"]
TARGET = 90.0
# mutmut's exit codes (mutmut/stats.py): what a test run of one mutant ended with.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout", None: "not checked"}
_LISTED = re.compile(r"^\|\s*`(bot\.[^`]+__mutmut_(?:\d+|\*))`")


def equivalents(doc: Path) -> set[str]:
    """Mutant names listed in the equivalents table of tests/MUTATION.md."""
    return {m.group(1) for line in doc.read_text("utf-8").splitlines() if (m := _LISTED.match(line))}


def module_counts(meta: Path, equivalent: set[str]) -> tuple[Counter, list[str], list[str]]:
    """Counts by outcome, the survivors not listed as equivalent, and listed ones that were killed."""
    codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
    counts: Counter = Counter()
    survivors, not_equivalent = [], []
    for name, code in codes.items():
        status = STATUS.get(code, "suspicious")
        if status == "timeout":
            status = "killed"
        if name in equivalent or any(fnmatch.fnmatchcase(name, pattern) for pattern in equivalent if "*" in pattern):
            if status in ("survived", "no tests"):   # `rule()` runs at import: no test can reach it
                status = "equivalent"
            elif status != "not checked":  # a sample leaves some listed ones unchecked: say nothing of those
                not_equivalent.append(name)
        counts[status] += 1
        if status in ("survived", "no tests", "suspicious"):
            survivors.append(name)
    counts["total"] = len(codes)
    return counts, sorted(survivors), not_equivalent


def main(argv: list[str]) -> int:
    show = "--survivors" in argv
    equivalent = equivalents(ROOT / "tests" / "MUTATION.md")
    print(f"{'module':<22} {'score':>7} {'killed':>7} {'total':>6} {'equiv':>6} {'survived':>9} {'no tests':>9}")
    below = False
    for module in MODULES:
        meta = ROOT / "mutants" / (module + ".meta")
        if not meta.exists():
            print(f"{module:<22} (no results: run `make mutation`)")
            below = True
            continue
        counts, survivors, not_equivalent = module_counts(meta, equivalent)
        judged = counts["total"] - counts["not checked"] - counts["equivalent"]
        if judged <= 0:
            print(f"{module:<22} (no results: run `make mutation`)")
            below = True
            continue
        score = 100.0 * counts["killed"] / judged
        below |= score < TARGET
        print(f"{module:<22} {score:6.1f}% {counts['killed']:>7} {counts['total'] - counts['not checked']:>6} {counts['equivalent']:>6} "
              f"{counts['survived']:>9} {counts['no tests']:>9}"
              + (f"  (of {counts['total']}: {counts['not checked']} not checked)" if counts["not checked"] else ""))
        for name in not_equivalent:
            print(f"    listed as equivalent but a test kills it (renumbered?): {name}")
        if show:
            for name in survivors:
                print(f"    {name}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
