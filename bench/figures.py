"""Reading one run of the results JSON, and the number formats every table shares.

Both the full section (bench/report.py, bench/results/latest.md) and the compact record in
docs/BENCHMARKS.md (bench/history.py) read the same figures, so the lookups live here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import mean
from typing import Any

WORKLOADS = ("blocked", "cached", "forwarded", "mixed")
SERVERS = ("dnsfence", "dnsmasq", "unbound")
# the JSON name of the dnsfence started from another checkout (bench/baseline.py)
BASELINE = "baseline"


def case(run: dict[str, Any], server: str, blocklist: str, workload: str,
         key: str = "cases") -> dict[str, Any] | None:
    for record in run["servers"]:
        if record["server"] == server and record["blocklist"] == blocklist:
            for found in record[key]:
                if found["workload"] == workload:
                    return dict(found)
    return None


def server_record(run: dict[str, Any], server: str, blocklist: str) -> dict[str, Any] | None:
    for record in run["servers"]:
        if record["server"] == server and record["blocklist"] == blocklist:
            return dict(record)
    return None


def per_cpu(run: dict[str, Any], server: str, blocklist: str, workload: str) -> float | None:
    found = case(run, server, blocklist, workload)
    return float(found["qps_per_cpu"]) if found and found.get("qps_per_cpu") else None


def ratio(run: dict[str, Any], blocklist: str, workload: str, other: str) -> float | None:
    """dnsfence's queries per CPU-second ÷ `other`'s, in the same run."""
    ours = per_cpu(run, "dnsfence", blocklist, workload)
    theirs = per_cpu(run, other, blocklist, workload)
    return ours / theirs if ours and theirs else None


def mean_of(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return mean(present) if present else None


def number(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def times(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def millis(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines
