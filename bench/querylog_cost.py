"""What the query log costs: `querylog.mode` off, blocked (the default) and all, interleaved.

    python -m bench.querylog_cost [--rounds 4] [--seconds 3] [--flood 10] [--work DIR]

Three servers of this checkout, differing only in `querylog.mode`, run at once pinned to the
same CPU (only the one being asked works). Each round asks every workload of the shipped
lists of each server, the order rotated every round, so a slow minute lands on all three.
Forwarded and mixed queries are new names in every round for every server. Reports the
median queries per server CPU-second and the paired ratios against `off`.

Then a flood: dnsperf at full speed with 500 queries outstanding against the `all` server
(a small `querylog.queue`, so the writer must fall behind): answers lost (must be 0) and
records dropped (counted by the server, read from `dnsfence status`). Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import dnsperf, interleaved, machine, servers, suite, workloads
from bench.figures import WORKLOADS
from bench.servers import NOERROR, NXDOMAIN, Process
from resolver.commands.status import ask as ask_status
from resolver.config.endpoints import Endpoint

MODES = ("off", "blocked", "all")
FLOOD_QUEUE = 4_096  # records waiting at most in the flood case: small, so drops happen


def _start(mode: str, variant: Any, work: Path, upstream_port: int, *, queue: int = 65_536
           ) -> Process:
    directory = work / f"dnsfence-{mode}"
    process = servers.dnsfence(directory, variant.directory, upstream_port,
                               name=f"log-{mode}",
                               querylog=f"querylog:\n  mode: {mode}\n  queue: {queue}\n")
    process.start()
    ready = process.wait_answering(suite.probe_name(variant), NXDOMAIN, 90)
    suite.log(f"querylog.mode {mode} answered after {ready:.2f} s")
    return process


def _dropped(process: Process) -> dict[str, int]:
    counters = ask_status(Endpoint("127.0.0.1", process.port))["counters"]
    return {name: counters.get(name, 0) for name in
            ("querylog_written", "querylog_dropped", "querylog_errors")}


def run(rounds: int, seconds: float, flood: float, work: Path) -> dict[str, Any]:
    variants = workloads.blocklist_variants(work)
    shipped = variants[0]
    names = workloads.allowed(variants)
    files = workloads.query_files(work / "queries", shipped, names, size=1_000)
    upstream = servers.upstream(work / "upstream", names.zones).start()
    upstream.wait_answering(f"bench-probe.{names.zones[0]}", NOERROR, 60)
    processes: dict[str, Process] = {}
    once: dict[str, dict[tuple[str, int], Path]] = {}
    figures: dict[str, dict[str, list[float]]] = {}
    flooded: dict[str, Any] = {}
    try:
        for mode in MODES:
            processes[mode] = _start(mode, shipped, work, upstream.port)
            suite.warm(processes[mode], files)
            once[mode] = interleaved.once_files(work / "queries", mode[0], rounds, shipped, names)
            figures[mode] = {workload: [] for workload in WORKLOADS}
        for number in range(1, rounds + 1):
            shift = number % len(MODES)
            order = MODES[shift:] + MODES[:shift]
            suite.log(f"--- round {number}: {', '.join(order)} ---")
            for mode in order:
                for workload in WORKLOADS:
                    queries = once[mode].get((workload, number)) or getattr(files, workload)
                    record = suite.measure(processes[mode], workload, queries,
                                           seconds=seconds,
                                           once=workload in ("forwarded", "mixed"))
                    if record["lost"] or record["unexpected_rcodes"]:
                        raise RuntimeError(f"{mode} {workload}: lost {record['lost']}, "
                                           f"unexpected {record['unexpected_rcodes']}")
                    figures[mode][workload].append(float(record["qps_per_cpu"] or 0))
        for process in processes.values():
            process.stop()
        processes.clear()
        if flood > 0:
            flooded = _flood(shipped, work, upstream.port, files, flood)
    finally:
        for process in processes.values():
            process.stop()
        upstream.stop()
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "rounds": rounds,
            "seconds": seconds, "commit": machine.describe()["commit"],
            "per_cpu": figures, "flood": flooded}


def _flood(variant: Any, work: Path, upstream_port: int, files: Any, seconds: float
           ) -> dict[str, Any]:
    """Blocked and cached names at full speed against mode all with a small queue."""
    process = _start("all", variant, work / "flood", upstream_port, queue=FLOOD_QUEUE)
    try:
        suite.warm(process, files)
        before = _dropped(process)
        result = dnsperf.run(process.port, files.mixed, seconds=seconds, outstanding=500)
        time.sleep(1.5)  # the writer thread drains what is queued
        after = _dropped(process)
        log_file = work / "flood" / "dnsfence-all" / "state" / "querylog.jsonl"
        lines = sum(1 for _ in log_file.open("rb")) if log_file.exists() else 0
    finally:
        process.stop()
    answered = result.completed
    record = {"seconds": seconds, "sent": result.sent, "answered": answered,
              "lost": result.lost, "qps": round(result.qps),
              "queue": FLOOD_QUEUE, "log_lines": lines,
              **{name: after[name] - before[name] for name in after}}
    suite.log(f"flood: {record}")
    return record


def summary(results: dict[str, Any]) -> str:
    lines = [f"### querylog.mode against off, interleaved ({results['rounds']} rounds of "
             f"{results['seconds']:g} s cases, {results['date']}, commit {results['commit']})",
             "", "| workload | off, median | blocked ÷ off (paired) | geo. mean | "
             "all ÷ off (paired) | geo. mean |", "| --- | --- | --- | --- | --- | --- |"]
    per_cpu = results["per_cpu"]
    for workload in WORKLOADS:
        off = per_cpu["off"][workload]
        cells = [f"| {workload} | {statistics.median(off):,.0f}"]
        for mode in ("blocked", "all"):
            pairs = [a / b for a, b in zip(per_cpu[mode][workload], off, strict=True)
                     if a and b]
            mean = statistics.geometric_mean(pairs) if pairs else 0.0
            cells.append(f"{' '.join(f'{p:.2f}' for p in pairs)} | {mean:.2f}×")
        lines.append(" | ".join(cells) + " |")
    flood = results.get("flood")
    if flood:
        lines += ["", f"Flood, mode all, queue {flood['queue']:,}, dnsperf -q 500 for "
                      f"{flood['seconds']:g} s: {flood['answered']:,} answered of "
                      f"{flood['sent']:,} sent ({flood['qps']:,} qps), {flood['lost']} lost; "
                      f"log records written {flood['querylog_written']:,}, dropped "
                      f"{flood['querylog_dropped']:,}, errors {flood['querylog_errors']}; "
                      f"lines in the file {flood['log_lines']:,}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.querylog_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, choices=range(1, 21))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--flood", type=float, default=10.0, help="seconds; 0 = no flood")
    parser.add_argument("--work", type=Path, help="scratch directory (default: a new one)")
    args = parser.parse_args(argv)
    return interleaved.measured(
        "querylog", args.work,
        lambda work: run(args.rounds, args.seconds, args.flood, work), summary)

if __name__ == "__main__":
    sys.exit(main())
