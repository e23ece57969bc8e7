"""Soak: one worker under steady mixed traffic for minutes, with the 609k-name list and the
query log on; per minute, lost queries, latency percentiles and the server's memory.

Run: `make soak` (SOAK_MINUTES=10 by default), or
`python -m bench.soak [--minutes 10] [--load 0.8] [--capacity-seconds 20]`.

1. An Unbound upstream answers 50,000 allowed names from local data (bench/servers.py);
   dnsfence serves the 609k-name union list (bench/workloads.py) with `--workers 1`,
   `querylog.mode: all` to a file in the scratch directory, pinned to CPU 0.
2. Capacity: dnsperf without a rate limit on the mixed workload (85 % a hot set of 1,000
   names, 10 % names below blocked ones, 5 % names never asked before) for
   `--capacity-seconds`, after one pass over the hot set.
3. Soak: `--minutes` runs of dnsperf, one a minute, each at `--load` x that capacity, each
   with its own never-asked names; per minute the queries lost (no answer within 2 s),
   p50/p99/max latency, the server's RSS, its cache entries and the query log's records.

Everything listens on 127.0.0.1; nothing is sent elsewhere. Results go to
bench/results/soak-*.json and bench/results/latest-soak.md (printed too).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import dnsperf, servers
from bench.corpus import LARGE_LIST, REPO, BlockedNames, read_domains_file
from bench.machine import describe as machine
from bench.workloads import Names, allowed, distinct, mixed_names, write_large_blocklist
from resolver.commands.status import ask as ask_status
from resolver.config.endpoints import Endpoint

RESULTS = REPO / "bench" / "results"
SEED = 20230320
QUERYLOG = """querylog:
  mode: all
  path: {path}
"""


@dataclass
class Minute:
    """What one minute of the soak measured."""

    minute: int
    sent: int
    completed: int
    lost: int
    qps: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    rss_mb: float
    cache_entries: int
    cache_mb: float
    querylog_written: int
    querylog_dropped: int
    servfail: int


@dataclass
class Soak:
    """The whole run, as written to the results JSON."""

    started: str
    machine: dict[str, object]
    list_names: int
    capacity_qps: float
    rate_qps: int
    load: float
    start_rss_mb: float
    minutes: list[Minute] = field(default_factory=list)
    workdir: str = ""

    @property
    def lost(self) -> int:
        return sum(m.lost for m in self.minutes)

    @property
    def full_from(self) -> int:
        """The first minute after the one in which the cache reached its largest size (it
        stays there: the cache's bound), from which memory should no longer grow."""
        largest = max((m.cache_entries for m in self.minutes), default=0)
        filled = next((m.minute for m in self.minutes if m.cache_entries >= largest), 0)
        return filled + 1

    def slope(self) -> float | None:
        """Least-squares RSS slope in MB per minute from `full_from` on."""
        points = [(m.minute, m.rss_mb) for m in self.minutes if m.minute >= self.full_from]
        if len(points) < 2:
            return None
        mean_x = sum(x for x, _ in points) / len(points)
        mean_y = sum(y for _, y in points) / len(points)
        covariance = sum((x - mean_x) * (y - mean_y) for x, y in points)
        return covariance / sum((x - mean_x) ** 2 for x, _ in points)


def rss_mb(process: servers.Process) -> float:
    """The resident memory of the server and its workers, added up."""
    return sum(m.rss_mb for m in process.memory())


def write_mixed(path: Path, names: Names, blocked: list[str], count: int, prefix: str,
                rng: random.Random) -> Path:
    """`count` queries of the mixed workload; its never-asked names start with `prefix`."""
    misses = distinct(prefix, names.zones, count // 10, rng)
    with path.open("w", encoding="ascii") as out:
        out.writelines(f"{name} A\n" for name in
                       mixed_names(rng, names.hot, blocked, misses, count))
    return path


def status(port: int) -> dict[str, int]:
    try:
        counters: dict[str, int] = ask_status(Endpoint(servers.LOOPBACK, port))["counters"]
    except (OSError, TimeoutError, KeyError):
        return {}
    return counters


@dataclass
class Running:
    """One minute's dnsperf, started; its verbose output goes to a file, read afterwards
    while the next minute runs, so that the traffic has no gap for the parsing."""

    number: int
    command: list[str]
    output: Path
    process: subprocess.Popen[bytes]


def start_minute(number: int, port: int, queries: Path, rate: int, seconds: float,
                 workdir: Path) -> Running:
    command = ["taskset", "-c", servers.CLIENT_CPU, "dnsperf", "-s", servers.LOOPBACK,
               "-p", str(port), "-d", str(queries), "-l", f"{seconds:g}",
               "-c", str(dnsperf.CLIENTS), "-q", str(dnsperf.OUTSTANDING),
               "-t", str(dnsperf.TIMEOUT), "-Q", str(rate), "-v"]
    output = workdir / f"minute-{number}.out"
    with output.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    return Running(number, command, output, process)


def finish_minute(running: Running, rss: float, counters: dict[str, int]) -> Minute:
    result = dnsperf.parse(running.output.read_text(errors="replace"),
                           dnsperf.Result(running.command))
    running.output.unlink()
    if result.error:
        raise RuntimeError(f"minute {running.number}: {result.error}")
    latencies = result.latencies_ms
    return Minute(
        minute=running.number, sent=result.sent, completed=result.completed,
        lost=result.lost, qps=result.qps, p50_ms=dnsperf.percentile(latencies, 0.50),
        p99_ms=dnsperf.percentile(latencies, 0.99), max_ms=max(latencies, default=None),
        rss_mb=rss, cache_entries=counters.get("cache_entries", -1),
        cache_mb=counters.get("cache_bytes", 0) / 1e6,
        querylog_written=counters.get("querylog_written", -1),
        querylog_dropped=counters.get("querylog_dropped", -1),
        servfail=result.rcodes.get("SERVFAIL", 0))


def markdown(soak: Soak) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    slope = soak.slope()
    lines = [
        f"Soak of {len(soak.minutes)} min, {soak.started}: one worker, the "
        f"{soak.list_names:,}-name list, `querylog.mode: all`; capacity "
        f"{soak.capacity_qps:,.0f} qps measured first, soak at {soak.load:.0%} = "
        f"{soak.rate_qps:,} qps. RSS after start-up {soak.start_rss_mb:.1f} MB.",
        "",
        "| minute | sent | lost | qps | p50 ms | p99 ms | max ms | RSS MB | cache entries "
        "| cache MB | log records | log dropped | SERVFAIL |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {m.minute} | {m.sent:,} | {m.lost} | {m.qps:,.0f} | {ms(m.p50_ms)} | "
              f"{ms(m.p99_ms)} | {ms(m.max_ms)} | {m.rss_mb:.1f} | {m.cache_entries:,} | "
              f"{m.cache_mb:.1f} | {m.querylog_written:,} | {m.querylog_dropped:,} | "
              f"{m.servfail} |"
              for m in soak.minutes]
    lines += ["", f"Lost in all: {soak.lost} (target 0). RSS slope from minute "
              f"{soak.full_from} on (the cache full): "
              + ("-" if slope is None else f"{slope:+.2f} MB/min") + " (target < 1 MB/min)."]
    return "\n".join(lines) + "\n"


def run(minutes: int, load: float, capacity_seconds: float, workdir: Path) -> Soak:
    rng = random.Random(SEED)
    blocked = read_domains_file(LARGE_LIST)
    lists = write_large_blocklist(workdir / "blocklists", LARGE_LIST, blocked)
    names = allowed([BlockedNames("609k", lists, tuple(blocked), ())])
    upstream = servers.upstream(workdir / "upstream", names.zones).start()
    upstream.wait_answering(names.zones[0], servers.NOERROR, timeout=60)
    log_path = workdir / "querylog.jsonl"
    server = servers.dnsfence(workdir / "dnsfence", lists, upstream.port, workers=1,
                              settings=QUERYLOG.format(path=log_path)).start()
    server.wait_answering(f"soak.{blocked[0]}", servers.NXDOMAIN, timeout=180)
    start_rss = rss_mb(server)
    print(f"soak: server up in {server.ready_after:.1f} s, RSS {start_rss:.1f} MB; "
          f"measuring capacity for {capacity_seconds:g} s", flush=True)
    hot = workdir / "hot.txt"
    hot.write_text("".join(f"{name} A\n" for name in names.hot))
    dnsperf.run(server.port, hot, seconds=30, once=True)
    probe = write_mixed(workdir / "capacity.txt", names, blocked, 400_000, "c", rng)
    capacity = dnsperf.run(server.port, probe, seconds=capacity_seconds)
    if capacity.error or not capacity.qps:
        raise RuntimeError(f"capacity run failed: {capacity.error}")
    rate = int(capacity.qps * load)
    soak = Soak(started=time.strftime("%Y-%m-%d %H:%M:%S %Z"), machine=machine(),
                list_names=len(blocked), capacity_qps=capacity.qps, rate_qps=rate, load=load,
                start_rss_mb=start_rss, workdir=str(workdir))
    print(f"soak: capacity {capacity.qps:,.0f} qps; {minutes} min at {rate:,} qps", flush=True)
    files = [write_mixed(workdir / f"minute-{n}.txt", names, blocked, rate * 61, f"s{n}-", rng)
             for n in range(1, minutes + 1)]
    ended: tuple[Running, float, dict[str, int]] | None = None
    for number, queries in enumerate(files, 1):
        running = start_minute(number, server.port, queries, rate, 60, workdir)
        if ended is not None:
            report(soak, finish_minute(*ended))
        running.process.wait(timeout=60 + dnsperf.TIMEOUT + 30)
        ended = (running, rss_mb(server), status(server.port))
        queries.unlink()
        if not server.alive():
            raise RuntimeError(f"the server exited; log {server.log}:\n"
                               f"{servers.tail(server.log)}")
    if ended is not None:
        report(soak, finish_minute(*ended))
    return soak


def report(soak: Soak, minute: Minute) -> None:
    soak.minutes.append(minute)
    print(f"soak: minute {minute.minute}: lost {minute.lost}, p50 {minute.p50_ms or 0:.2f} ms, "
          f"p99 {minute.p99_ms or 0:.2f} ms, RSS {minute.rss_mb:.1f} MB, "
          f"cache {minute.cache_entries:,}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--load", type=float, default=0.8,
                        help="share of the measured capacity to soak at (default 0.8)")
    parser.add_argument("--capacity-seconds", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    # the client side's CPU, with dnsperf and the upstream: the server has CPU 0 to itself
    os.sched_setaffinity(0, {int(servers.CLIENT_CPU)})
    workdir = Path(tempfile.mkdtemp(prefix="dnsfence-soak."))
    print(f"soak: scratch directory {workdir}", flush=True)
    try:
        soak = run(args.minutes, args.load, args.capacity_seconds, workdir)
    finally:
        servers.stop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"soak-{stamp}.json").write_text(
        json.dumps({**asdict(soak), "lost": soak.lost, "cache_full_from": soak.full_from,
                    "rss_slope_mb_per_min": soak.slope()}, indent=2))
    text = markdown(soak)
    (RESULTS / "latest-soak.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

