"""Recording a run in docs/BENCHMARKS.md: a history row and a compact section under "Runs".

The top of docs/BENCHMARKS.md (method, current figures, in-process costs) is written by
hand; this module only touches two marked places: it adds a row between the history
markers and appends a compact section after the runs marker, keeping the newest few. The
full tables of a run stay in bench/results/latest.md (bench/report.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.figures import (
    BASELINE,
    WORKLOADS,
    mean_of,
    number,
    per_cpu,
    ratio,
    server_record,
    table,
    times,
)

HISTORY_START = "<!-- history:start (one row per recorded run; bench/history.py) -->"
HISTORY_END = "<!-- history:end -->"
RUNS_START = "<!-- runs:start (sections appended by bench/history.py; newest last) -->"
SECTION_MARK = "<!-- bench-result -->"
KEEP_HISTORY = 30
KEEP_SECTIONS = 3
HISTORY_HEADER = (
    "| date (UTC) | commit | blocked | cached | forwarded | mixed | this ÷ baseline |\n"
    "|---|---|---|---|---|---|---|")
NEW_DOC = f"""\
# Benchmarks

How they run and how to read them: [bench/README.md](../bench/README.md).

## History

Mean over the runs of one `make bench`: dnsfence ÷ dnsmasq / dnsfence ÷ Unbound, queries
per server CPU-second with the shipped list.

{HISTORY_START}
{HISTORY_HEADER}
{HISTORY_END}

## Runs

{RUNS_START}
"""


def _mean_ratio(runs: list[dict[str, Any]], workload: str, other: str) -> float | None:
    return mean_of(ratio(r, "shipped", workload, other) for r in runs)


def _baseline_ratio(runs: list[dict[str, Any]], workload: str) -> float | None:
    ours = mean_of(per_cpu(r, "dnsfence", "shipped", workload) for r in runs)
    theirs = mean_of(per_cpu(r, BASELINE, "shipped", workload) for r in runs)
    return ours / theirs if ours and theirs else None


def history_row(results: dict[str, Any]) -> str:
    runs = results["runs"]
    m = results["machine"]
    date = results["date"][:16].replace("T", " ")
    cells = [date if results["mode"] == "full" else f"{date} ({results['mode']})",
             m["commit"] + ("*" if m["resolver_tree"] != "clean" else "")]
    for workload in WORKLOADS:
        cells.append(f"{times(_mean_ratio(runs, workload, 'dnsmasq'))} / "
                     f"{times(_mean_ratio(runs, workload, 'unbound'))}")
    baseline = results.get("baseline")
    cells.append("–" if not baseline else f"@{baseline['commit']}: " + " / ".join(
        times(_baseline_ratio(runs, w)) for w in WORKLOADS))
    return "| " + " | ".join(cells) + " |"


def compact_section(results: dict[str, Any], json_path: Path) -> str:
    """One run as a few lines: machine, and per-CPU-second figures of every run."""
    m = results["machine"]
    runs = results["runs"]
    baseline = results.get("baseline")
    servers = ["dnsfence", *([BASELINE] if baseline else []), "dnsmasq", "unbound"]
    names = {"dnsfence": f"dnsfence {m['commit']}", "dnsmasq": "dnsmasq",
             "unbound": "Unbound", BASELINE: baseline["label"] if baseline else ""}
    header = ["list", "workload", *(names[s] for s in servers), "÷ dnsmasq", "÷ Unbound"]
    if baseline:
        header.append("this ÷ baseline")
    rows = []
    for blocklist in ("shipped", "600k"):
        for workload in WORKLOADS:
            cells = [blocklist, workload]
            cells += [" / ".join(number(per_cpu(r, s, blocklist, workload)) for r in runs)
                      for s in servers]
            others = ["dnsmasq", "unbound", *([BASELINE] if baseline else [])]
            cells += [" / ".join(times(ratio(r, blocklist, workload, o)) for r in runs)
                      for o in others]
            rows.append(cells)
    large = [server_record(r, "dnsfence", "600k") for r in runs]
    title = results["date"][:16].replace("T", " ")
    out = [SECTION_MARK, f"### {title} UTC, commit {m['commit']} ({results['mode']}, "
           f"{len(runs)} run{'s' * (len(runs) != 1)})", "",
           f"{m['cpu']}, {m['cores']} cores, Linux {m['kernel']}; Python {m['python']}, "
           f"dnsmasq {m['dnsmasq']}, Unbound {m['unbound']}; resolver/ {m['resolver_tree']}."
           f" Queries per server CPU-second, " + " / ".join(f"run {r['run']}" for r in runs)
           + f". Raw results: `{json_path}` (not committed).", "",
           *table(header, rows), ""]
    if any(large):
        out += ["dnsfence with the 600k list: first answer " + " / ".join(
            f"{r['startup_s']:.1f} s" for r in large if r) + ", peak RSS " + " / ".join(
            f"{r['rss_peak_mb']:.0f} MB" for r in large if r) + ".", ""]
    notes = [*results["problems"], *(f"skipped: {s}" for s in results["skipped"])]
    if notes:
        out += ["Problems: " + "; ".join(notes) + ".", ""]
    return "\n".join(out) + "\n"


def record(results: dict[str, Any], text: str, doc: Path) -> None:
    """Add a history row and append the compact section `text`, keeping the newest few."""
    current = doc.read_text(encoding="utf-8") if doc.exists() else NEW_DOC
    if HISTORY_START not in current:
        current = current.rstrip() + f"\n\n## History\n\n{HISTORY_START}\n{HISTORY_HEADER}\n" \
            f"{HISTORY_END}\n"
    if RUNS_START not in current:
        current = current.rstrip() + f"\n\n## Runs\n\n{RUNS_START}\n"
    head, rest = current.split(HISTORY_START, 1)
    history, middle = rest.split(HISTORY_END, 1)
    middle, runs = middle.split(RUNS_START, 1)
    rows = [line for line in history.strip().splitlines()[2:] if line.startswith("|")]
    rows = [*rows, history_row(results)][-KEEP_HISTORY:]
    sections = [s for s in re.split(re.escape(SECTION_MARK), runs)[1:] if s.strip()]
    sections = [*sections, text.split(SECTION_MARK, 1)[1]][-KEEP_SECTIONS:]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(head + HISTORY_START + "\n" + HISTORY_HEADER + "\n" + "\n".join(rows)
                   + "\n" + HISTORY_END + middle + RUNS_START + "\n\n"
                   + "\n".join(SECTION_MARK + s.rstrip("\n") + "\n" for s in sections),
                   encoding="utf-8")
