"""This checkout against an earlier one, interleaved: both servers up, cases taken in turns.

    python -m bench.ab --baseline DIR [--rounds 6] [--seconds 3] [--work DIR]

`make bench --baseline` measures the earlier checkout right after this one; on a shared
machine a case moves ±10 % between two minutes, which is more than the difference a
refactoring is allowed. Here both servers run at once, pinned to the same CPU (only the one
being asked works), and each round asks the four workloads of the shipped lists of one
server and then of the other, the order swapped every round (ABBA), so a slow minute lands
on both. Forwarded and mixed queries are new names in every round for every server, so no
round warms the cache for another. Reports each server's median queries per server
CPU-second and the paired ratio per round; writes bench/results/ab-*.json. Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import interleaved, machine, suite
from bench.baseline import inspect
from bench.figures import BASELINE, WORKLOADS
from bench.servers import Process


def run(baseline_dir: Path, rounds: int, seconds: float, work: Path) -> dict[str, Any]:
    checkout = inspect(baseline_dir, sys.executable)
    suite.log(f"baseline {checkout.label}: imports {checkout.resolver_file}")
    settings = suite.Settings("ab", runs=1, seconds=seconds, latency_seconds=0,
                              once_size=interleaved.ONCE_SIZE, budget=0, start_timeout=90)
    shipped, names, files, upstream = interleaved.shipped_setup(work)
    processes: dict[str, Process] = {}
    once: dict[str, dict[tuple[str, int], Path]] = {}
    try:
        for name in ("dnsfence", BASELINE):
            processes[name] = suite.start(name, shipped, work, upstream.port, settings,
                                          checkout=checkout if name == BASELINE else None)
            suite.warm(processes[name], files)
            once[name] = interleaved.once_files(work / "queries",
                                                 "a" if name == "dnsfence" else "b",
                                                 rounds, shipped, names)
        records = interleaved.interleave(processes, rounds,
                                         interleaved.shipped_cases(files, once),
                                         seconds=seconds)
        figures = interleaved.figures(records, "qps_per_cpu")
    finally:
        for process in processes.values():
            process.stop()
        upstream.stop()
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "rounds": rounds,
            "seconds": seconds, "baseline": checkout.as_json(),
            "commit": machine.describe()["commit"], "per_cpu": figures}


def summary(results: dict[str, Any]) -> str:
    label, this = results["baseline"]["label"], results["commit"]
    lines = [f"### dnsfence {this} ÷ {label}, interleaved ({results['rounds']} rounds of "
             f"{results['seconds']:g} s cases, {results['date']})", "",
             "| workload | dnsfence, median | baseline, median | ratio of medians | "
             "paired ratios, per round | geometric mean |", "| --- | --- | --- | --- | --- | --- |"]
    for workload in WORKLOADS:
        ours = results["per_cpu"]["dnsfence"][workload]
        theirs = results["per_cpu"][BASELINE][workload]
        pairs = [a / b for a, b in zip(ours, theirs, strict=True) if a and b]
        geometric = statistics.geometric_mean(pairs) if pairs else 0.0
        lines.append(f"| {workload} | {statistics.median(ours):,.0f} | "
                     f"{statistics.median(theirs):,.0f} | "
                     f"{statistics.median(ours) / statistics.median(theirs):.2f}× | "
                     f"{' '.join(f'{p:.2f}' for p in pairs)} | {geometric:.2f}× |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, metavar="DIR",
                        help="a checkout (git worktree) of the earlier commit")
    parser.add_argument("--rounds", type=int, default=6, choices=range(2, 21))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--work", type=Path, help="scratch directory (default: a new one)")
    args = parser.parse_args(argv)
    return interleaved.measured(
        "ab", args.work,
        lambda work: run(args.baseline, args.rounds, args.seconds, work), summary)

if __name__ == "__main__":
    sys.exit(main())
