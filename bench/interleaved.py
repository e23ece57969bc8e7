"""What the interleaved comparisons share (`bench.ab`, `bench.querylog_cost`): never-asked
names for every server and round, and where their results are kept."""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import servers, suite, workloads
from bench.corpus import REPO

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
