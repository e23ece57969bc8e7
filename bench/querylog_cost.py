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
import sys
import time
from pathlib import Path
from typing import Any

from bench import dnsperf, interleaved, setting_cost, suite
from bench.servers import Process
from resolver.commands.status import ask as ask_status
from resolver.config.endpoints import Endpoint

MODES = ("off", "blocked", "all")
FLOOD_QUEUE = 4_096  # records waiting at most in the flood case: small, so drops happen


def _dropped(process: Process) -> dict[str, int]:
    counters = ask_status(Endpoint("127.0.0.1", process.port))["counters"]
    return {name: counters.get(name, 0) for name in
            ("querylog_written", "querylog_dropped", "querylog_errors")}


def _settings(mode: str, queue: int = 65_536) -> str:
    return f"querylog:\n  mode: {mode}\n  queue: {queue}\n"


def run(rounds: int, seconds: float, flood: float, work: Path) -> dict[str, Any]:
    def afterwards(variant: Any, work: Path, upstream_port: int, files: Any
                   ) -> dict[str, Any]:
        return {"flood": _flood(variant, work, upstream_port, files, flood) if flood else {}}

    return setting_cost.compare({mode: _settings(mode) for mode in MODES}, rounds, seconds,
                                work, afterwards)


def _flood(variant: Any, work: Path, upstream_port: int, files: Any, seconds: float
           ) -> dict[str, Any]:
    """Blocked and cached names at full speed against mode all with a small queue."""
    process = setting_cost.start("all", _settings("all", FLOOD_QUEUE), variant,
                                 work / "flood", upstream_port)
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
    lines = [setting_cost.summary(results, "querylog.mode against off").rstrip("\n")]
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
