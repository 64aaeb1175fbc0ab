"""Replies classified per second on one core, over the labelled replies.

    .venv/bin/python bench/triage_bench.py [tests/data/replies.jsonl] [--seconds 3] [--repeats 5] [--profile]
                                           [--second-reader on|off]

The webhook calls `classify` inline, so it must stay fast: the target is 20,000 replies a second.
The file is classified over and over for `--repeats` rounds of about `--seconds` each; the first
pass (which fills the normaliser's word cache) is not timed. Each round is measured twice: in the
process's own CPU time (what one core does, whatever else the machine runs) and in wall-clock
time. The report gives the best round, as `timeit` does (slower rounds measure the machine's
other load, not the code), and the median. Then each reply is timed alone, in the thread's CPU
time, for p50/p99 per reply (target: p99 under 1 ms with the second reader on), and the second
reader's load (import and model) is reported in seconds and resident memory.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.triage import classify, learned  # noqa: E402
from bot.triage.evaluation import load  # noqa: E402

TARGET = 20_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="tests/data/replies.jsonl")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--repeats", type=int, default=5, help="rounds")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile run")
    parser.add_argument("--second-reader", choices=("on", "off"), default="on")
    args = parser.parse_args()

    learned.configure(enabled=args.second_reader == "on")
    rss, started = _rss_kib(), time.perf_counter()
    loaded = learned.reader()
    if loaded is not None:
        print(f"second reader loaded in {time.perf_counter() - started:.2f} s (imports and model), "
              f"+{(_rss_kib() - rss) / 1024:.1f} MiB resident; thresholds {loaded.thresholds}")
    else:
        print("second reader off: the rules alone")

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

    cpu_rates, wall_rates = [], []
    for _ in range(args.repeats):
        done = 0
        cpu, wall = time.process_time(), time.perf_counter()
        while time.perf_counter() - wall < args.seconds:
            for text, hours, kw in calls:
                classify(text, hours, **kw)
            done += len(calls)
        cpu_rates.append(done / (time.process_time() - cpu))
        wall_rates.append(done / (time.perf_counter() - wall))
    print(f"{max(cpu_rates):,.0f} replies/second on one core (best of {args.repeats} rounds of "
          f"{len(calls)} replies; median {statistics.median(cpu_rates):,.0f}; target {TARGET:,})")
    print(f"wall clock: best {max(wall_rates):,.0f}/s, median {statistics.median(wall_rates):,.0f}/s")

    each = []
    for _ in range(args.repeats):
        for text, hours, kw in calls:
            start = time.thread_time_ns()
            classify(text, hours, **kw)
            each.append(time.thread_time_ns() - start)
    each.sort()
    p50, p99 = each[len(each) // 2] / 1000, each[int(len(each) * 0.99)] / 1000
    print(f"per reply, CPU: p50 {p50:,.0f} us, p99 {p99:,.0f} us, max {each[-1] / 1000:,.0f} us over "
          f"{len(each)} calls (second reader {args.second_reader}; target p99 < 1,000 us)")
    return 0


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


if __name__ == "__main__":
    raise SystemExit(main())
