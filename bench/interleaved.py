"""What the interleaved comparisons share (`bench.ab`, `bench.setting_cost` and the scripts
built on it, `bench.dashboard_cost`, `bench.dot_cost`): never-asked names for every server
and round, the rounds themselves, and where their results are kept."""

from __future__ import annotations

import contextlib
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from bench import dnsperf, servers, suite, workloads
from bench.corpus import REPO
from bench.figures import WORKLOADS
from bench.servers import Process

ONCE_SIZE = 150_000  # names per once-only file: more than a case of a few seconds asks


def shipped_setup(work: Path) -> tuple[Any, Any, Any, servers.Process]:
    """The shipped lists (blocked names), the allowed names, the query files, and a
    running upstream that answers them."""
    variants = workloads.blocklist_variants(work)
    shipped = variants[0]
    names = workloads.allowed(variants)
    files = workloads.query_files(work / "queries", shipped, names, size=1_000)
    upstream = servers.upstream(work / "upstream", names.zones).start()
    upstream.wait_answering(f"bench-probe.{names.zones[0]}", servers.NOERROR, 60)
    return shipped, names, files, upstream


def once_files(directory: Path, label: str, rounds: int, variant: Any, names: Any
               ) -> dict[tuple[str, int], Path]:
    """A forwarded and a mixed file of never-asked names per round, for the server that
    `label` (a short tag, unique within the run) stands for."""
    files = {}
    for number in range(1, rounds + 1):
        tag = f"{label}{number}"
        rng = random.Random(f"once-{tag}")
        forwarded = workloads.distinct(f"f{tag}x", names.zones, ONCE_SIZE, rng)
        misses = workloads.distinct(f"m{tag}x", names.zones, ONCE_SIZE // 10, rng)
        mixed = workloads.mixed_names(rng, list(names.hot), variant.plain, misses, ONCE_SIZE)
        for kind, listed in (("forwarded", forwarded), ("mixed", mixed)):
            path = directory / f"{kind}-{tag}.txt"
            path.write_text("".join(f"{name} A\n" for name in listed))
            files[(kind, number)] = path
    return files


Case = tuple[str, Path, bool]
"""One dnsperf run: the workload, its query file, and whether each name is asked once."""
Cases = Callable[[str, int], Iterable[Case]]
"""(server name, round number) -> what that server is asked in that round, in order."""
Records = dict[str, dict[str, list[dict[str, Any]]]]
"""server name -> workload -> `suite.measure`'s record of each round, in round order."""


def shipped_cases(files: Any, once: Mapping[str, Mapping[tuple[str, int], Path]]) -> Cases:
    """The four workloads of the shipped lists: blocked and cached from the common query
    files, forwarded and mixed from each server's never-asked names of the round."""
    def cases(name: str, number: int) -> list[Case]:
        return [(workload, once[name].get((workload, number)) or getattr(files, workload),
                 workload in ("forwarded", "mixed")) for workload in WORKLOADS]
    return cases


def interleave(processes: Mapping[str, Process], rounds: int, cases: Cases, *,
               seconds: float, outstanding: int = dnsperf.OUTSTANDING,
               around: Callable[[str], contextlib.AbstractContextManager[object]] | None = None
               ) -> Records:
    """Each round asks every server its `cases`, the order turned one place a round (for
    two servers: AB, BA, AB...), so a slow minute lands on all of them. `around(name)`
    wraps a server's turn (to wake it, to watch it). A run that lost answers or got
    unexpected response codes stops the comparison: its figure would mean nothing."""
    names = list(processes)
    records: Records = {name: {} for name in names}
    for number in range(1, rounds + 1):
        shift = (number - 1) % len(names)
        order = names[shift:] + names[:shift]
        suite.log(f"--- round {number}: {', '.join(order)} ---")
        for name in order:
            with around(name) if around is not None else contextlib.nullcontext():
                for workload, queries, once in cases(name, number):
                    record = suite.measure(processes[name], workload, queries,
                                           seconds=seconds, once=once,
                                           outstanding=outstanding)
                    if record["lost"] or record["unexpected_rcodes"]:
                        raise RuntimeError(f"{name} {workload}: lost {record['lost']}, "
                                           f"unexpected {record['unexpected_rcodes']}")
                    records[name].setdefault(workload, []).append(record)
    return records


def figures(records: Records, key: str) -> dict[str, dict[str, list[float]]]:
    """One figure of every record (`qps`, `qps_per_cpu`), 0 where there is none."""
    return {name: {workload: [float(record[key] or 0) for record in each]
                   for workload, each in by_workload.items()}
            for name, by_workload in records.items()}


def measured(prefix: str, work: Path | None, run: Callable[[Path], dict[str, Any]],
             summary: Callable[[dict[str, Any]], str]) -> int:
    """`run` in `work` (default: a scratch directory removed after), every server stopped
    whatever happens; then the results saved and the summary printed."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"dnsfence-{prefix}.") as scratch:
        try:
            results = run(work or Path(scratch))
        finally:
            servers.stop_all()
    path = save(results, prefix, summary(results))
    suite.log(f"done in {time.monotonic() - started:.0f} s; {path.relative_to(REPO)}")
    return 0


def save(results: dict[str, Any], prefix: str, summary: str) -> Path:
    """bench/results/PREFIX-STAMP.json and latest-PREFIX.md; prints the summary."""
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = results["date"].replace(":", "").replace("-", "")[:15]
    path = out / f"{prefix}-{stamp}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    (out / f"latest-{prefix}.md").write_text(summary)
    print(summary)
    return path
