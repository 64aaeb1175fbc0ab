"""Time per reply of `triage.classify` on one core: p50, p99 and the slowest, over labelled replies.

    .venv/bin/python bench/triage_bench.py [FILE.jsonl ...] [--rounds 5] [--profile] [--second-reader on|off]

The webhook calls `classify` inline, so one reply must stay cheap: the target is p99 under 1 ms
(issue #9; the rest of a reply costs about 5 ms of worker CPU). Every reply of the files (default:
every `tests/data/*.jsonl`) is classified once untimed (which fills the normaliser's word cache,
as a running worker's is), then `--rounds` times, each call timed on its own. Each call is timed
twice: in the thread's CPU time (what one core spends on it, whatever else the machine runs) and in
wall-clock time (which the machine's other load inflates). The report gives p50, p99 and the
maximum of each over all timed calls, and the replies a second one core does on average. The
second reader is on unless `--second-reader off`; its load (imports and model) is reported in
seconds and resident memory.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.triage import classify, learned  # noqa: E402
from bot.triage.evaluation import load  # noqa: E402

TARGET_P99_MS = 1.0


def percentile(sorted_values: list[float], p: float) -> float:
    """The nearest-rank percentile of values already sorted."""
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=5, help="timed passes over the replies")
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

    paths = args.paths or sorted((ROOT / "tests" / "data").glob("*.jsonl"))
    calls = [
        (e.text, e.hours, {"region": e.region, "precautions": e.precautions, "previous_soreness": e.previous})
        for path in paths for e in load(path)
    ]
    for text, hours, kw in calls:          # warm-up: fills the word cache
        classify(text, hours, **kw)

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for text, hours, kw in calls:
            classify(text, hours, **kw)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(args.rounds):
        for text, hours, kw in calls:
            c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
            classify(text, hours, **kw)
            w1, c1 = time.perf_counter_ns(), time.thread_time_ns()
            cpu.append((c1 - c0) / 1e3)
            wall.append((w1 - w0) / 1e3)
    cpu.sort()
    wall.sort()
    print(f"{len(calls)} replies from {len(paths)} file(s), {args.rounds} rounds, each call timed "
          f"(second reader {args.second_reader})")
    for name, values in (("CPU ", cpu), ("wall", wall)):
        print(f"{name}: p50 {percentile(values, 50):7.1f} µs   p99 {percentile(values, 99):7.1f} µs   "
              f"max {values[-1]:8.1f} µs   mean {statistics.fmean(values):6.1f} µs")
    p99_ms = percentile(cpu, 99) / 1e3
    print(f"one core: {1e6 / statistics.fmean(cpu):,.0f} replies/second on average; "
          f"p99 {p99_ms:.3f} ms per reply (target under {TARGET_P99_MS:g} ms: {'met' if p99_ms < TARGET_P99_MS else 'NOT met'})")
    return 0


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


if __name__ == "__main__":
    raise SystemExit(main())
