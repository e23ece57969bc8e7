"""What a dashboard watcher costs DNS: blocked and cached throughput of a server whose
dashboard a client polls every second (the JSON the page's script reads and the page
itself) against the same server unwatched, interleaved in one run.

    python -m bench.dashboard_cost [--rounds 4] [--seconds 5] [--work DIR]

Two servers of this checkout with the same config (the query log on, as shipped: every
blocked answer is logged, and the watched dashboard follows that log), one worker each,
pinned to the same CPU. While one is measured the other is frozen (SIGSTOP), so that the
watched one's background reading cannot slow the unwatched one down, nor the other way.
During the watched server's cases a thread here asks `/api/dashboard?html=1` and `/` once
a second. Each round measures both servers, order rotated; the figures are dnsperf's
queries per second (throughput at full load) and per server CPU-second, and the paired
ratios watched ÷ unwatched. Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import interleaved, machine, servers, suite
from bench.servers import NXDOMAIN, Process

WORKLOADS = ("blocked", "cached")
NAMES = ("unwatched", "watched")
PATHS = ("/api/dashboard?html=1", "/")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


class Poller:
    """Asks the dashboard's JSON and page once a second each, from a thread."""

    def __init__(self, port: int) -> None:
        self._base = f"http://127.0.0.1:{port}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.requests = 0
        self.failures = 0
        self.seconds: list[float] = []
        self.bytes: dict[str, int] = {}

    def __enter__(self) -> Poller:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while True:
            started = time.monotonic()
            for path in PATHS:
                try:
                    with _DIRECT.open(self._base + path, timeout=5) as response:
                        body = response.read()
                    self.bytes[path] = len(body)
                    self.seconds.append(time.monotonic() - started)
                except OSError:
                    self.failures += 1
                self.requests += 1
            if self._stop.wait(max(0.0, 1.0 - (time.monotonic() - started))):
                return


def _freeze(process: Process, frozen: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGSTOP if frozen else signal.SIGCONT)


def run(rounds: int, seconds: float, work: Path) -> dict[str, Any]:
    shipped, _, files, upstream = interleaved.shipped_setup(work)
    processes: dict[str, Process] = {}
    http_ports: dict[str, int] = {}
    polls: dict[str, Any] = {}
    try:
        for name in NAMES:
            http_ports[name] = servers.free_port()
            process = servers.dnsfence(work / f"dnsfence-{name}", shipped.directory,
                                       upstream.port, name=name,
                                       http=f"127.0.0.1:{http_ports[name]}")
            processes[name] = process.start()
            process.wait_answering(suite.probe_name(shipped), NXDOMAIN, 90)
            suite.warm(process, files)
            _freeze(process, True)
        poller = Poller(http_ports["watched"])

        @contextlib.contextmanager
        def turn(name: str) -> Iterator[None]:
            """The server asked now runs (the other stays frozen), watched if it is."""
            _freeze(processes[name], False)
            try:
                with poller if name == "watched" else contextlib.nullcontext():
                    yield
            finally:
                _freeze(processes[name], True)

        records = interleaved.interleave(
            processes, rounds,
            lambda name, number: [(w, getattr(files, w), False) for w in WORKLOADS],
            seconds=seconds, around=turn)
        qps = interleaved.figures(records, "qps")
        per_cpu = interleaved.figures(records, "qps_per_cpu")
        figures = {name: {w: {"qps": qps[name][w], "per_cpu": per_cpu[name][w]}
                          for w in WORKLOADS} for name in NAMES}
        polls = {"requests": poller.requests, "failures": poller.failures,
                 "median_ms": round(1000 * statistics.median(poller.seconds), 1)
                 if poller.seconds else None, "bytes": poller.bytes}
    finally:
        for process in processes.values():
            _freeze(process, False)
            process.stop()
        upstream.stop()
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "rounds": rounds,
            "seconds": seconds, "commit": machine.describe()["commit"], "figures": figures,
            "polls": polls}


def summary(results: dict[str, Any]) -> str:
    figures = results["figures"]
    lines = [f"### The dashboard watched every second against unwatched, interleaved "
             f"({results['rounds']} rounds of {results['seconds']:g} s cases, "
             f"{results['date']}, commit {results['commit']})", "",
             "| workload | unwatched qps, median | watched qps, median | watched ÷ unwatched "
             "(paired) | geo. mean | median | per CPU-second, geo. mean |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for workload in WORKLOADS:
        base, watched = figures["unwatched"][workload], figures["watched"][workload]
        pairs = [a / b for a, b in zip(watched["qps"], base["qps"], strict=True) if a and b]
        per_cpu = [a / b for a, b in zip(watched["per_cpu"], base["per_cpu"], strict=True)
                   if a and b]
        lines.append(
            f"| {workload} | {statistics.median(base['qps']):,.0f} | "
            f"{statistics.median(watched['qps']):,.0f} | "
            f"{' '.join(f'{p:.3f}' for p in pairs)} | "
            f"{statistics.geometric_mean(pairs) if pairs else 0:.3f}× | "
            f"{statistics.median(pairs) if pairs else 0:.3f}× | "
            f"{statistics.geometric_mean(per_cpu) if per_cpu else 0:.3f}× |")
    polls = results["polls"]
    lines += ["", f"Polls: {polls['requests']} requests ({polls['failures']} failed), median "
                  f"{polls['median_ms']} ms; bytes: "
                  + ", ".join(f"{path} {size:,}" for path, size in polls["bytes"].items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, choices=range(1, 21))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--work", type=Path, help="scratch directory (default: a new one)")
    args = parser.parse_args(argv)
    return interleaved.measured("dashboard", args.work,
                                lambda work: run(args.rounds, args.seconds, work), summary)


if __name__ == "__main__":
    sys.exit(main())
