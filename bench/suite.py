"""The whole benchmark: dnsfence, dnsmasq and Unbound in turn, same upstream, same queries.

    python -m bench.suite [--quick] [--record | --no-record] [--baseline DIR]

Each server is pinned to CPU 0; dnsperf and the upstream run on CPU 1. For every case the
server's CPU time (utime+stime of its process tree, from /proc) is read before and after,
so "qps per CPU-second" is comparable even when the client, not the server, is the limit.
With `--baseline DIR`, a dnsfence from the checkout DIR (an earlier commit) is measured
too, right after this checkout's, on the throughput workloads with the shipped list
(bench/baseline.py). The results go to bench/results/*.json and latest.md (bench/report.py);
a full run also records a history row and a compact section in docs/BENCHMARKS.md
(bench/history.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench import dnsperf, history, machine, procstat, report, servers, workloads
from bench.baseline import Checkout, inspect
from bench.corpus import REPO, BlockedNames
from bench.figures import BASELINE
from bench.servers import NOERROR, NXDOMAIN, Process

RESULTS = REPO / "bench" / "results"
SERVER_NAMES = ("dnsfence", "dnsmasq", "unbound")
EXPECTED = {"blocked": {"NXDOMAIN"}, "cached": {"NOERROR"}, "forwarded": {"NOERROR"},
            "mixed": {"NOERROR", "NXDOMAIN"}}


@dataclass(frozen=True, slots=True)
class Settings:
    mode: str
    runs: int
    seconds: float          # one throughput case (dnsperf -l)
    latency_seconds: float  # one fixed-rate case (dnsperf -Q 1000 -l)
    once_size: int          # length of the files asked once (forwarded, mixed)
    budget: float           # seconds for everything; cases past it are skipped, not run
    start_timeout: float    # seconds a server may take to answer its first query


FULL = Settings("full", runs=2, seconds=5, latency_seconds=3, once_size=400_000,
                budget=540, start_timeout=90)
QUICK = Settings("quick", runs=1, seconds=2, latency_seconds=2, once_size=150_000,
                 budget=300, start_timeout=90)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Budget:
    def __init__(self, seconds: float) -> None:
        self.start = time.monotonic()
        self.seconds = seconds

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.start)


# --- one case --------------------------------------------------------------------------------

def measure(server: Process, workload: str, queries: Path, *, seconds: float,
            once: bool = False, max_qps: int | None = None, verbose: bool = False,
            clients: int = dnsperf.CLIENTS,
            outstanding: int = dnsperf.OUTSTANDING) -> dict[str, Any]:
    """One dnsperf run with the server's CPU time and the machine's busy time around it."""
    cpu_before, busy_before = server.cpu(), procstat.cpu_busy()
    result = dnsperf.run(server.port, queries, seconds=seconds, once=once, max_qps=max_qps,
                         verbose=verbose, clients=clients, outstanding=outstanding)
    cpu_after, busy_after = server.cpu(), procstat.cpu_busy()
    per_pid = {pid: round(cpu_after[pid] - cpu_before.get(pid, 0.0), 3) for pid in cpu_after}
    server_cpu = sum(per_pid.values())
    busy = {key: round(busy_after[key] - busy_before.get(key, 0.0), 3) for key in busy_after}
    memory = server.memory()
    unexpected = {code: n for code, n in result.rcodes.items()
                  if code not in EXPECTED.get(workload, set())}
    record: dict[str, Any] = {
        "server": server.name, "workload": workload, **result.summary(),
        "server_cpu_s": round(server_cpu, 3),
        "qps_per_cpu": round(result.completed / server_cpu) if server_cpu > 0 else None,
        "cpu_per_pid": {str(pid): cpu for pid, cpu in per_pid.items()},
        "rss_peak_mb": round(sum(m.hwm_mb for m in memory), 1),
        "machine_busy_s": busy,
        "unexpected_rcodes": unexpected,
        "alive": server.alive(),
    }
    if result.latencies_ms:
        record["latency_samples"] = len(result.latencies_ms)
        for name, share in (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99),
                            ("max_ms", 1.0)):
            value = dnsperf.percentile(result.latencies_ms, share)
            record[name] = round(value, 3) if value is not None else None
    if result.error:
        log(f"  dnsperf error: {result.error}")
    note = f"  {server.name:8} {workload:10} {result.qps:9.0f} qps  cpu {server_cpu:5.2f}s  " \
           f"per-cpu {record['qps_per_cpu'] or 0:>7}  lost {result.lost}"
    if unexpected:
        note += f"  UNEXPECTED {unexpected}"
    if "p50_ms" in record:
        note += f"  p50 {record['p50_ms']} p99 {record['p99_ms']} ms"
    log(note)
    return record


def warm(server: Process, files: workloads.QueryFiles) -> dict[str, Any]:
    """Ask the hot set once (not measured) so the cached cases hit the cache."""
    result = dnsperf.run(server.port, files.hot, seconds=10, once=True, outstanding=20)
    return {"completed": result.completed, "lost": result.lost, "rcodes": result.rcodes}


def probe_name(variant: BlockedNames) -> str:
    return f"bench-probe.{variant.plain[0]}"


# --- one server with one blocklist ------------------------------------------------------------

def start(name: str, variant: BlockedNames, work: Path, upstream_port: int,
          settings: Settings, *, workers: int = 1, pinned: bool = True,
          checkout: Checkout | None = None) -> Process:
    directory = work / f"{name}-{variant.label}-w{workers}{'' if pinned else '-free'}"
    if name in ("dnsfence", BASELINE):
        process = servers.dnsfence(directory, variant.directory, upstream_port, workers=workers,
                                   cpu=servers.SERVER_CPU if pinned else None, name=name,
                                   checkout=checkout.directory if checkout else None)
    elif name == "dnsmasq":
        process = servers.dnsmasq(directory, variant.plain, upstream_port)
    else:
        process = servers.unbound_server(directory, variant.plain, upstream_port)
    process.start()
    ready = process.wait_answering(probe_name(variant), NXDOMAIN, settings.start_timeout)
    shown = checkout.label if checkout else name
    log(f"{shown} ({variant.label}, {workers} worker{'s' * (workers != 1)}) answered "
        f"after {ready:.2f} s")
    return process


def server_cases(process: Process, variant: BlockedNames, files: workloads.QueryFiles,
                 settings: Settings) -> dict[str, Any]:
    seconds = settings.seconds
    cases = [measure(process, "blocked", files.blocked, seconds=seconds)]
    warm_result = warm(process, files)
    cases.append(measure(process, "cached", files.cached, seconds=seconds))
    cases.append(measure(process, "forwarded", files.forwarded, seconds=seconds, once=True))
    warm(process, files)
    cases.append(measure(process, "mixed", files.mixed, seconds=seconds, once=True))
    latency = []
    if variant.label == "shipped" and process.name != BASELINE:
        lat = settings.latency_seconds
        latency.append(measure(process, "blocked", files.blocked, seconds=lat, max_qps=1000,
                               verbose=True))
        warm(process, files)
        latency.append(measure(process, "cached", files.cached, seconds=lat, max_qps=1000,
                               verbose=True))
        latency.append(measure(process, "mixed", files.mixed_latency, seconds=lat,
                               max_qps=1000, verbose=True, once=True))
    memory = process.memory()
    return {
        "server": process.name, "blocklist": variant.label, "command": process.command,
        "startup_s": round(process.ready_after or 0.0, 3),
        "rss_peak_mb": round(sum(m.hwm_mb for m in memory), 1),
        "rss_end_mb": round(sum(m.rss_mb for m in memory), 1),
        "warm": warm_result, "cases": cases, "latency_1000qps": latency,
        "alive_at_end": process.alive(),
    }


def workers_cases(variants: list[BlockedNames], files: dict[str, workloads.QueryFiles],
                  work: Path, upstream_port: int, settings: Settings,
                  budget: Budget, *, with_large: bool) -> dict[str, Any]:
    """`--workers 1` and `--workers 2` unpinned, and 2 workers both pinned to CPU 0,
    blocked workload; with `with_large`, start-up and memory per worker with 600k."""
    out: dict[str, Any] = {"cases": [], "large": None}
    shipped = variants[0]
    for workers, pinned in ((1, False), (2, False), (2, True)):
        process = start("dnsfence", shipped, work, upstream_port, settings, workers=workers,
                        pinned=pinned)
        try:
            record = measure(process, "blocked", files["shipped"].blocked,
                             seconds=settings.seconds, clients=16)
            record["workers"] = workers
            record["pinned"] = pinned
            record["worker_cpu_s"] = _worker_cpu(process, record)
            out["cases"].append(record)
        finally:
            process.stop()
    large = variants[1]
    if not with_large:
        return out
    if budget.left() < settings.start_timeout + 30:
        log("skipping --workers 2 with the 600k list: time budget")
        return out
    process = start("dnsfence", large, work, upstream_port, settings, workers=2, pinned=False)
    try:
        memory = process.memory()
        record = measure(process, "blocked", files[large.label].blocked,
                         seconds=settings.seconds, clients=16)
        record["worker_cpu_s"] = _worker_cpu(process, record)
        out["large"] = {
            "blocklist": large.label, "startup_s": round(process.ready_after or 0.0, 3),
            "memory": [{"pid": m.pid, "role": "parent" if m.pid == process.pid else "worker",
                        "rss_mb": round(m.rss_mb, 1), "pss_mb": round(m.pss_mb, 1),
                        "hwm_mb": round(m.hwm_mb, 1)} for m in memory],
            "case": record,
        }
    finally:
        process.stop()
    return out


def _worker_cpu(process: Process, record: dict[str, Any]) -> dict[str, float]:
    """CPU seconds each worker spent in the case: > 0 for each means each one answered."""
    return {pid: cpu for pid, cpu in record["cpu_per_pid"].items() if int(pid) != process.pid}


# --- the run ---------------------------------------------------------------------------------

# the baseline's start-up, warm-ups and four throughput cases, per run
BASELINE_SECONDS = {"full": 45.0, "quick": 25.0}


def run_suite(settings: Settings, work: Path, checkout: Checkout | None = None
              ) -> dict[str, Any]:
    if checkout is not None:
        settings = replace(settings, budget=settings.budget
                           + BASELINE_SECONDS[settings.mode] * settings.runs)
    budget = Budget(settings.budget)
    log(f"{settings.mode} run: {settings.runs} run(s), {settings.seconds:g} s per case; "
        f"work directory {work}")
    started = time.monotonic()
    variants = workloads.blocklist_variants(work)
    names = workloads.allowed(variants)
    files = {v.label: workloads.query_files(work / "queries", v, names, size=settings.once_size)
             for v in variants}
    prepared = time.monotonic() - started
    log(f"inputs ready in {prepared:.1f} s: {len(variants[0].plain)} shipped plain names "
        f"(+{len(variants[0].globs)} globs dnsfence only), {len(variants[1].plain)} large, "
        f"{len(names.zones)} upstream zones, hot set {len(names.hot)}")
    upstream = servers.upstream(work / "upstream", names.zones).start()
    upstream.wait_answering(f"bench-probe.{names.zones[0]}", NOERROR, 60)
    log(f"upstream unbound on 127.0.0.1:{upstream.port} (CPU 1) after "
        f"{upstream.ready_after:.2f} s")
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": settings.mode, "settings": asdict(settings),
        "machine": machine.describe(),
        "inputs": {"shipped_plain": len(variants[0].plain),
                   "shipped_globs_dnsfence_only": list(variants[0].globs),
                   "large_names": len(variants[1].plain), "upstream_zones": len(names.zones),
                   "hot_set": len(names.hot), "prepare_s": round(prepared, 1),
                   "list_style": os.environ.get("BENCH_LIST_STYLE", "sources")},
        "commands": {"upstream": upstream.command,
                     "dnsperf": ["taskset", "-c", servers.CLIENT_CPU, "dnsperf", "-s",
                                 servers.LOOPBACK, "-p", "PORT", "-d", "FILE", "-l",
                                 f"{settings.seconds:g}", "-c", str(dnsperf.CLIENTS), "-q",
                                 str(dnsperf.OUTSTANDING), "-t", str(dnsperf.TIMEOUT),
                                 "[-n 1 for forwarded and mixed]",
                                 "[-Q 1000 -v for the latency cases]"]},
        "runs": [], "skipped": [], "problems": [],
    }
    if checkout is not None:
        results["baseline"] = checkout.as_json()
    try:
        for number in range(1, settings.runs + 1):
            results["runs"].append(one_run(number, variants, files, work, upstream, settings,
                                           budget, results, checkout))
    finally:
        upstream.stop()
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    return results


def one_run(number: int, variants: list[BlockedNames], files: dict[str, workloads.QueryFiles],
            work: Path, upstream: Process, settings: Settings, budget: Budget,
            results: dict[str, Any], checkout: Checkout | None = None) -> dict[str, Any]:
    log(f"--- run {number} ---")
    run: dict[str, Any] = {"run": number, "servers": [], "workers": None}
    for variant in variants:
        names = list(SERVER_NAMES)
        if checkout is not None and variant.label == "shipped":
            names.insert(1, BASELINE)  # right after this checkout's: the same conditions
        for name in names:
            # a start-up of up to start_timeout plus about eight cases must still fit
            need = (settings.start_timeout if name == "dnsfence" and variant.label != "shipped"
                    else 10) + 8 * (settings.seconds + 1)
            if budget.left() < need:
                results["skipped"].append(f"run {number}: {name} with {variant.label}")
                log(f"skipping {name} with {variant.label}: time budget")
                continue
            _with_server(name, variant, work, upstream, settings, run, results, files,
                         checkout if name == BASELINE else None)
    if not upstream.alive():
        results["problems"].append("the upstream unbound died")
    if budget.left() > 2 * (settings.seconds + 5):
        try:
            # memory per worker with the 600k list is measured once: it does not vary
            run["workers"] = workers_cases(variants, files, work, upstream.port, settings,
                                           budget, with_large=number == 1)
        except RuntimeError as exc:
            results["problems"].append(f"run {number}: workers: {exc}")
            log(f"workers failed: {exc}")
    else:
        results["skipped"].append(f"run {number}: --workers cases")
    return run


def _with_server(name: str, variant: BlockedNames, work: Path, upstream: Process,
                 settings: Settings, run: dict[str, Any], results: dict[str, Any],
                 files: dict[str, workloads.QueryFiles], checkout: Checkout | None = None
                 ) -> None:
    try:
        process = start(name, variant, work, upstream.port, settings, checkout=checkout)
    except RuntimeError as exc:
        results["problems"].append(f"run {run['run']}: {name} with {variant.label}: {exc}")
        log(f"{name} failed to start: {exc}")
        return
    try:
        record = server_cases(process, variant, files[variant.label], settings)
        if not record["alive_at_end"]:
            results["problems"].append(
                f"run {run['run']}: {name} with {variant.label} died during the cases; "
                f"log: {servers.tail(process.log)}")
        run["servers"].append(record)
    finally:
        process.stop()


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    servers.stop_all()
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one run, shorter cases; results in bench/results only")
    parser.add_argument("--record", action=argparse.BooleanOptionalAction, default=None,
                        help="append to docs/BENCHMARKS.md (default: yes unless --quick)")
    parser.add_argument("--work", type=Path, required=True,
                        help="scratch directory for generated lists, configs and logs")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        default=os.environ.get("BENCH_BASELINE") or None,
                        help="also measure dnsfence from the checkout DIR (an earlier commit), "
                             "throughput workloads with the shipped list (env BENCH_BASELINE)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    record = (not args.quick) if args.record is None else args.record
    checkout = None
    if args.baseline is not None:
        try:
            checkout = inspect(args.baseline, sys.executable)
        except RuntimeError as exc:
            log(f"--baseline: {exc}")
            return 2
        log(f"baseline {checkout.label} ({checkout.tree}): imports {checkout.resolver_file}")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    try:
        results = run_suite(settings, args.work, checkout)
    finally:
        servers.stop_all()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = results["date"].replace(":", "").replace("-", "")[:15]
    path = RESULTS / f"bench-{stamp}-{settings.mode}.json"
    text = json.dumps(results, indent=1, sort_keys=False)
    path.write_text(text + "\n")
    (RESULTS / "latest.json").write_text(text + "\n")
    (RESULTS / "latest.md").write_text(report.section(results, path.relative_to(REPO)))
    log(f"results: {path.relative_to(REPO)} ({results['elapsed_s']:.0f} s)")
    if record:
        history.record(results, history.compact_section(results, path.relative_to(REPO)),
                       REPO / "docs" / "BENCHMARKS.md")
        log("recorded in docs/BENCHMARKS.md (history row and a section under Runs)")
    else:
        log("not recorded in docs/BENCHMARKS.md (quick run); see bench/results/latest.md")
    for problem in results["problems"]:
        log(f"PROBLEM: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
