"""Memory of one Kubernetes pod's dnsfence, for the Deployment's requests and limits.

Run: .venv/bin/python -m bench.pod_memory [--large]
Runs `dnsfence serve` with the pod's config (deploy/kubernetes/dnsfence.yaml: two workers,
query log to standard output; listen, upstream and lists given as flags) against an
unbound that answers every name below fill.test, on 127.0.0.1 only. Measures after
start-up, then after dnsperf has asked enough distinct names to fill every worker's cache
(cache.max_entries each). Pss summed over the processes is what the pod's cgroup is
charged for them (shared pages counted once); Rss summed counts shared pages once per
process. `--large` adds the 609k-name list as a `sources:` file. Prints Markdown.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench import servers
from bench.corpus import LARGE_LIST, read_domains_file
from bench.servers import LOOPBACK
from bench.workloads import write_large_blocklist
from resolver.commands.status import ask as ask_status
from resolver.config.endpoints import Endpoint

REPO = Path(__file__).resolve().parent.parent
POD_CONFIG = REPO / "deploy" / "kubernetes" / "dnsfence.yaml"
SHIPPED_LISTS = REPO / "blocklists"
ZONE = "fill.test"
RATE = 15_000  # queries a second while filling: well within two workers' capacity


@dataclass(frozen=True, slots=True)
class Row:
    case: str
    phase: str
    pss_mb: float
    rss_mb: float
    per_process: str
    cache_entries: int


def cache_capacity() -> int:
    config = yaml.safe_load(POD_CONFIG.read_text(encoding="utf-8"))
    workers = int(config["server"]["workers"])
    per_worker = int(config.get("cache", {}).get("max_entries", 100_000))
    return workers * per_worker


def measure(case: str, phase: str, process: servers.Process) -> Row:
    memory = process.memory()
    counters = ask_status(Endpoint(LOOPBACK, process.port))["counters"]
    return Row(case, phase, sum(m.pss_mb for m in memory), sum(m.rss_mb for m in memory),
               " / ".join(f"{m.pss_mb:.0f}" for m in memory),
               int(counters.get("cache_entries", -1)))


def fill(process: servers.Process, workdir: Path, names: int, first: int) -> None:
    """Ask `names` distinct names, numbered from `first`, from 32 sockets (SO_REUSEPORT
    spreads them over the workers by source port)."""
    queries = workdir / "fill.txt"
    queries.write_text("".join(f"n{i}.{ZONE} A\n" for i in range(first, first + names)),
                       encoding="ascii")
    subprocess.run(["dnsperf", "-s", LOOPBACK, "-p", str(process.port), "-d", str(queries),
                    "-n", "1", "-c", "32", "-Q", str(RATE), "-t", "2"],
                   capture_output=True, text=True, timeout=names / RATE + 60, check=True)
    time.sleep(2.0)  # the workers publish their counters every second


def fill_caches(process: servers.Process, workdir: Path) -> None:
    """New names until every worker's cache is at its bound (the sum reaches capacity)."""
    capacity, asked = cache_capacity(), 0
    for _ in range(6):
        fill(process, workdir, capacity // 2, asked)
        asked += capacity // 2
        counters = ask_status(Endpoint(LOOPBACK, process.port))["counters"]
        if int(counters.get("cache_entries", 0)) >= capacity:
            return
    raise RuntimeError(f"the caches did not fill after {asked:,} names")


def run_case(case: str, lists: Path, workdir: Path, upstream_port: int) -> list[Row]:
    process = servers.Process("dnsfence", [
        sys.executable, "-m", "resolver", "serve", "--config", str(POD_CONFIG),
        "--listen", f"{LOOPBACK}:{(port := servers.free_port())}",
        "--upstream", f"{LOOPBACK}:{upstream_port}", "--blocklists", str(lists),
        "--http-listen", "", "--state-dir", str(workdir / "state")],
        port, workdir / f"{case}.log").start()
    try:
        process.wait_answering("tiktok.com", 3, timeout=120)
        time.sleep(2.0)
        rows = [measure(case, "after start-up", process)]
        fill_caches(process, workdir)
        rows.append(measure(case, "caches full", process))
        return rows
    finally:
        process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also with the 609k-name list")
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="dnsfence-pod-memory.") as scratch:
        workdir = Path(scratch)
        upstream = servers.upstream(workdir / "unbound", [ZONE]).start()
        try:
            upstream.wait_answering(f"x.{ZONE}", 0, timeout=30)
            rows += run_case("shipped lists", SHIPPED_LISTS, workdir, upstream.port)
            if args.large:
                lists = workdir / "large"
                lists.mkdir()
                for path in SHIPPED_LISTS.glob("*.yaml"):
                    (lists / path.name).write_text(path.read_text(encoding="utf-8"))
                write_large_blocklist(lists, LARGE_LIST, read_domains_file(LARGE_LIST))
                rows += run_case("shipped + 609k list", lists, workdir, upstream.port)
        finally:
            upstream.stop()
    print("| lists | when | Pss total MB | Rss total MB | Pss MB (main / workers) "
          "| cache entries |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row.case} | {row.phase} | {row.pss_mb:.1f} | {row.rss_mb:.1f} | "
              f"{row.per_process} | {row.cache_entries:,} |")


if __name__ == "__main__":
    main()
