"""Replies classified per second on one core, over the labelled replies.

    .venv/bin/python bench/triage_bench.py [tests/data/replies.jsonl] [--seconds 3] [--profile]

The webhook calls `classify` inline, so it must stay fast: the target is 20,000 replies a second.
The file is repeated until the run lasts about `--seconds`; the first pass (which fills the
normaliser's word cache) is not timed.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.triage import classify  # noqa: E402
from bot.triage.evaluation import load  # noqa: E402

TARGET = 20_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="tests/data/replies.jsonl")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile run")
    args = parser.parse_args()

    calls = [
        (e.text, e.hours, {"region": e.region, "precautions": e.precautions, "previous_soreness": e.previous})
        for e in load(args.path)
    ]
    for text, hours, kw in calls:          # warm-up: fills the word cache
        classify(text, hours, **kw)

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(20):
            for text, hours, kw in calls:
                classify(text, hours, **kw)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        for text, hours, kw in calls:
            classify(text, hours, **kw)
        done += len(calls)
    elapsed = time.perf_counter() - start
    rate = done / elapsed
    print(f"{rate:,.0f} replies/second ({done:,} classifications of {len(calls)} replies in {elapsed:.2f} s; "
          f"target {TARGET:,})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
