"""Results JSON -> the markdown in docs/BENCHMARKS.md: one section per run, a short history.

docs/BENCHMARKS.md keeps whatever people write above the history (notes, analysis); this
module only adds a history row between its markers and appends a results section, keeping
the last few sections so the file stays readable.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from statistics import mean
from typing import Any

HISTORY_START = "<!-- history:start (one row per recorded run; bench/report.py) -->"
HISTORY_END = "<!-- history:end -->"
SECTION_MARK = "<!-- bench-result -->"
KEEP_HISTORY = 30
KEEP_SECTIONS = 4
WORKLOADS = ("blocked", "cached", "forwarded", "mixed")
SERVERS = ("dnsfence", "dnsmasq", "unbound")


# --- lookups ---------------------------------------------------------------------------------

def _case(run: dict[str, Any], server: str, blocklist: str, workload: str,
          key: str = "cases") -> dict[str, Any] | None:
    for record in run["servers"]:
        if record["server"] == server and record["blocklist"] == blocklist:
            for case in record[key]:
                if case["workload"] == workload:
                    return dict(case)
    return None


def _server(run: dict[str, Any], server: str, blocklist: str) -> dict[str, Any] | None:
    for record in run["servers"]:
        if record["server"] == server and record["blocklist"] == blocklist:
            return dict(record)
    return None


def per_cpu(run: dict[str, Any], server: str, blocklist: str, workload: str) -> float | None:
    case = _case(run, server, blocklist, workload)
    return float(case["qps_per_cpu"]) if case and case.get("qps_per_cpu") else None


def ratio(run: dict[str, Any], blocklist: str, workload: str, other: str) -> float | None:
    ours = per_cpu(run, "dnsfence", blocklist, workload)
    theirs = per_cpu(run, other, blocklist, workload)
    return ours / theirs if ours and theirs else None


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return mean(present) if present else None


# --- formatting ------------------------------------------------------------------------------

def _n(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _x(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _command(words: Sequence[str]) -> str:
    return " ".join(shlex.quote(w) if not w.startswith("[") else w for w in words)


def _blocklists(results: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for run in results["runs"]:
        for record in run["servers"]:
            seen[record["blocklist"]] = None
    return list(seen) or ["shipped", "600k"]


# --- the section -----------------------------------------------------------------------------

def run_tables(run: dict[str, Any], blocklists: Sequence[str]) -> list[str]:
    out = [f"#### Run {run['run']}: queries per server CPU-second (qps in brackets)", ""]
    rows = []
    for blocklist in blocklists:
        for workload in WORKLOADS:
            cells = []
            for server in SERVERS:
                case = _case(run, server, blocklist, workload)
                cells.append("–" if case is None else
                             f"{_n(case.get('qps_per_cpu'))} ({_n(case.get('qps'))})")
            rows.append([blocklist, workload, *cells,
                         _x(ratio(run, blocklist, workload, "dnsmasq")),
                         _x(ratio(run, blocklist, workload, "unbound"))])
    out += _table(["list", "workload", "dnsfence", "dnsmasq", "Unbound",
                   "dnsfence ÷ dnsmasq", "dnsfence ÷ Unbound"], rows)
    out += ["", "<details><summary>Run " + str(run["run"]) + ": every case (server CPU, "
            "latency, lost, answers, peak RSS)</summary>", ""]
    rows = []
    for blocklist in blocklists:
        for workload in WORKLOADS:
            for server in SERVERS:
                case = _case(run, server, blocklist, workload)
                if case is None:
                    continue
                codes = ", ".join(f"{k} {v}" for k, v in sorted(case.get("rcodes", {}).items()))
                busy = case.get("machine_busy_s", {})
                other = busy.get("cpu0", 0.0) - case.get("server_cpu_s", 0.0)
                rows.append([blocklist, workload, server, _n(case.get("qps")),
                             f"{case.get('server_cpu_s', 0):.2f}",
                             f"{case.get('run_time', 0):.1f}",
                             f"{case.get('avg_latency_ms', 0):.3f}",
                             f"{case.get('lost', 0)}", codes,
                             f"{case.get('rss_peak_mb', 0):.0f}", f"{max(other, 0):.2f}"])
    out += _table(["list", "workload", "server", "qps", "server CPU-s", "run s", "avg ms",
                   "lost", "answers", "peak RSS MB", "CPU 0 other s"], rows)
    out += ["", "</details>", ""]
    lat_rows = []
    for workload in ("blocked", "cached", "mixed"):
        base = _case(run, "dnsmasq", "shipped", workload, "latency_1000qps")
        for server in SERVERS:
            case = _case(run, server, "shipped", workload, "latency_1000qps")
            if case is None:
                continue
            delta = (case["p50_ms"] - base["p50_ms"]) if base and case.get("p50_ms") is not None \
                and base.get("p50_ms") is not None else None
            lat_rows.append([workload, server, _ms(case.get("p50_ms")), _ms(case.get("p90_ms")),
                             _ms(case.get("p99_ms")), _ms(case.get("max_ms")),
                             "–" if delta is None else f"{delta:+.3f}",
                             str(case.get("lost", 0))])
    if lat_rows:
        out += [f"#### Run {run['run']}: latency at a fixed 1,000 qps, shipped list (ms)", ""]
        out += _table(["workload", "server", "p50", "p90", "p99", "max", "p50 − dnsmasq",
                       "lost"], lat_rows)
        out.append("")
    start_rows = []
    for blocklist in blocklists:
        for server in SERVERS:
            record = _server(run, server, blocklist)
            if record is not None:
                start_rows.append([blocklist, server, f"{record['startup_s']:.2f}",
                                   f"{record['rss_peak_mb']:.0f}",
                                   f"{record.get('rss_end_mb', 0):.0f}"])
    out += [f"#### Run {run['run']}: start-up to first answer, and memory", ""]
    out += _table(["list", "server", "first answer s", "peak RSS MB (VmHWM)",
                   "RSS after the cases MB"], start_rows)
    out.append("")
    out += workers_table(run)
    return out


def workers_table(run: dict[str, Any]) -> list[str]:
    workers = run.get("workers")
    if not workers:
        return []
    out = [f"#### Run {run['run']}: dnsfence `--workers`, blocked workload, shipped list, "
           "dnsperf -c 16 on CPU 1", ""]
    rows = []
    for case in workers["cases"]:
        per_worker = ", ".join(f"{cpu:.2f}" for cpu in case["worker_cpu_s"].values()
                               ) if case["workers"] > 1 else "–"
        where = "CPU 0 (taskset)" if case.get("pinned") else "any CPU"
        rows.append([str(case["workers"]), where, _n(case["qps"]),
                     f"{case['server_cpu_s']:.2f}", _n(case.get("qps_per_cpu")), per_worker,
                     str(case["lost"]), f"{case['rss_peak_mb']:.0f}"])
    out += _table(["workers", "server on", "qps", "server CPU-s", "qps/CPU-s",
                   "CPU-s per worker", "lost", "RSS MB (sum of peaks)"], rows)
    large = workers.get("large")
    if large:
        case = large["case"]
        out += ["", f"With the {large['blocklist']} list and `--workers 2`: first answer after "
                f"{large['startup_s']:.2f} s; blocked workload {_n(case['qps'])} qps, "
                f"CPU-s per worker " + ", ".join(f"{c:.2f}" for c in
                                                 case["worker_cpu_s"].values())
                + f", lost {case['lost']}. Memory after start-up (Pss counts shared "
                "copy-on-write pages once, split between the processes):", ""]
        out += _table(["process", "RSS MB", "Pss MB", "peak RSS MB"],
                      [[m["role"], f"{m['rss_mb']:.0f}", f"{m['pss_mb']:.0f}",
                        f"{m['hwm_mb']:.0f}"] for m in large["memory"]])
        total_pss = sum(m["pss_mb"] for m in large["memory"])
        out += ["", f"Total Pss {total_pss:.0f} MB."]
    out.append("")
    return out


def targets(results: dict[str, Any]) -> list[str]:
    runs = results["runs"]
    if not runs:
        return []
    rows = []

    def each(fn: Any) -> list[float | None]:
        return [fn(run) for run in runs]

    def line(label: str, goal: str, values: list[float | None], ok: Any, fmt: Any = _x) -> None:
        present = [v for v in values if v is not None]
        verdict = "–" if not present else ("met" if all(ok(v) for v in present) else
                                           ("mixed" if any(ok(v) for v in present) else "missed"))
        rows.append([label, goal, " / ".join(fmt(v) for v in values), verdict])

    for workload in ("blocked", "cached", "mixed"):
        line(f"{workload}, shipped: ÷ dnsmasq", "≥ 1.0×",
             each(lambda r, w=workload: ratio(r, "shipped", w, "dnsmasq")), lambda v: v >= 1.0)
    for workload in ("blocked", "cached"):
        line(f"{workload}, shipped: ÷ Unbound", "≥ 0.8× (aim)",
             each(lambda r, w=workload: ratio(r, "shipped", w, "unbound")), lambda v: v >= 0.8)
    line("forwarded, shipped: ÷ Unbound", "≥ 1.0×",
         each(lambda r: ratio(r, "shipped", "forwarded", "unbound")), lambda v: v >= 1.0)
    for workload in WORKLOADS:
        def keep(r: dict[str, Any], w: str = workload) -> float | None:
            small = per_cpu(r, "dnsfence", "shipped", w)
            large = per_cpu(r, "dnsfence", "600k", w)
            return large / small if small and large else None
        line(f"{workload}: 600k ÷ shipped (dnsfence)", "≥ 0.90×", each(keep),
             lambda v: v >= 0.9)

    def startup(r: dict[str, Any]) -> float | None:
        record = _server(r, "dnsfence", "600k")
        return float(record["startup_s"]) if record else None

    def rss(r: dict[str, Any]) -> float | None:
        record = _server(r, "dnsfence", "600k")
        return float(record["rss_peak_mb"]) if record else None

    line("start-up to first answer, 600k", "≤ 3 s", each(startup), lambda v: v <= 3.0,
         lambda v: "–" if v is None else f"{v:.1f} s")
    def rss_end(r: dict[str, Any]) -> float | None:
        record = _server(r, "dnsfence", "600k")
        return float(record.get("rss_end_mb", 0)) if record else None

    line("peak RSS (VmHWM), 600k, 1 worker", "≤ 150 MB", each(rss), lambda v: v <= 150,
         lambda v: "–" if v is None else f"{v:.0f} MB")
    line("RSS after the cases, 600k, 1 worker", "≤ 150 MB", each(rss_end),
         lambda v: v <= 150, lambda v: "–" if v is None else f"{v:.0f} MB")
    for workload in ("blocked", "cached"):
        def p50(r: dict[str, Any], w: str = workload) -> float | None:
            ours = _case(r, "dnsfence", "shipped", w, "latency_1000qps")
            theirs = _case(r, "dnsmasq", "shipped", w, "latency_1000qps")
            if not ours or not theirs or ours.get("p50_ms") is None \
                    or theirs.get("p50_ms") is None:
                return None
            return float(ours["p50_ms"] - theirs["p50_ms"])
        line(f"p50 at 1,000 qps, {workload}: dnsfence − dnsmasq", "≤ +0.050 ms", each(p50),
             lambda v: v <= 0.05, lambda v: "–" if v is None else f"{v:+.3f} ms")

    def scale(r: dict[str, Any], pinned: bool = False) -> float | None:
        cases = {(c["workers"], bool(c.get("pinned"))): c
                 for c in (r.get("workers") or {}).get("cases", [])}
        one, two = cases.get((1, False)), cases.get((2, pinned))
        if one and two and one["qps"]:
            return float(two["qps"] / one["qps"])
        return None

    line("`--workers 2` qps ÷ `--workers 1` (both unpinned)", "≥ 1.0×", each(scale),
         lambda v: v >= 1.0)
    line("`--workers 2` on CPU 0 only ÷ `--workers 1` unpinned", "(no goal)",
         each(lambda r: scale(r, True)), lambda v: v >= 1.0)
    title = "### Targets (issue 6), run " + " / run ".join(str(r["run"]) for r in runs)
    return [title, "", *_table(["target", "goal", "measured", "verdict"], rows), ""]


def section(results: dict[str, Any], json_path: Path) -> str:
    m = results["machine"]
    blocklists = _blocklists(results)
    title = results["date"].replace("T", " ").replace("+00:00", " UTC")
    out = [SECTION_MARK, f"## {title}: {results['mode']} run, commit {m['commit']}", "",
           f"- **Machine:** {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Linux "
           f"{m['kernel']}; Python {m['python']}; dnsperf {m['dnsperf']}, dnsmasq "
           f"{m['dnsmasq']}, Unbound {m['unbound']}.",
           f"- **Code:** commit {m['commit']}, resolver/ {m['resolver_tree']}.",
           f"- **Inputs:** shipped lists = {results['inputs']['shipped_plain']} plain names "
           f"(globs {', '.join(results['inputs']['shipped_globs_dnsfence_only']) or 'none'} "
           f"only in dnsfence, never queried); 600k = {results['inputs']['large_names']:,} "
           f"names; upstream = {results['inputs']['upstream_zones']:,} zones; hot set "
           f"{results['inputs']['hot_set']:,} names.",
           f"- **Settings:** {results['settings']['runs']} run(s), "
           f"{results['settings']['seconds']:g} s per throughput case, "
           f"{results['settings']['latency_seconds']:g} s per 1,000 qps case; whole run "
           f"{results['elapsed_s']:.0f} s. Raw results: `{json_path}`.",
           ""]
    commands = dict(results["commands"])
    first = results["runs"][0]["servers"] if results["runs"] else []
    for record in first:
        if record["blocklist"] == "shipped":
            commands[record["server"]] = record["command"]
    out += ["Commands (PORT, FILE and the work directory vary):", "", "```"]
    out += [f"{name}: {_command(words)}" for name, words in commands.items()]
    out += ["```", ""]
    out += targets(results)
    for run in results["runs"]:
        out += run_tables(run, blocklists)
    if results["skipped"]:
        out += ["Skipped for the time budget: " + "; ".join(results["skipped"]) + ".", ""]
    if results["problems"]:
        out += ["**Problems seen:**", ""] + [f"- {p}" for p in results["problems"]] + [""]
    anomalies = _anomalies(results)
    if anomalies:
        out += ["**Unexpected answers or losses:**", ""] + [f"- {a}" for a in anomalies] + [""]
    return "\n".join(out) + "\n"


def _anomalies(results: dict[str, Any]) -> list[str]:
    out = []
    for run in results["runs"]:
        for record in run["servers"]:
            for key in ("cases", "latency_1000qps"):
                for case in record[key]:
                    what = (f"run {run['run']}, {record['server']}, {record['blocklist']}, "
                            f"{case['workload']}{' at 1,000 qps' if key != 'cases' else ''}")
                    if case.get("lost"):
                        out.append(f"{what}: {case['lost']} of {case['sent']} queries lost")
                    if case.get("unexpected_rcodes"):
                        out.append(f"{what}: answers {case['unexpected_rcodes']}")
                    if case.get("error"):
                        out.append(f"{what}: {case['error']}")
    return out


def history_row(results: dict[str, Any]) -> str:
    runs = results["runs"]

    def avg(server: str, blocklist: str, workload: str) -> float | None:
        return _mean(per_cpu(r, server, blocklist, workload) for r in runs)

    def rat(workload: str, other: str) -> float | None:
        return _mean(ratio(r, "shipped", workload, other) for r in runs)

    startup = _mean(float(s["startup_s"]) for r in runs for s in r["servers"]
                    if s["server"] == "dnsfence" and s["blocklist"] == "600k")
    rss = _mean(float(s["rss_peak_mb"]) for r in runs for s in r["servers"]
                if s["server"] == "dnsfence" and s["blocklist"] == "600k")
    cells = [results["date"][:16].replace("T", " "), results["mode"],
             results["machine"]["commit"]
             + ("*" if results["machine"]["resolver_tree"] != "clean" else "")]
    for workload in WORKLOADS:
        other = "unbound" if workload == "forwarded" else "dnsmasq"
        cells.append(f"{_n(avg('dnsfence', 'shipped', workload))} "
                     f"({_x(rat(workload, other))} {'U' if other == 'unbound' else 'D'})")
    cells.append(_n(avg("dnsfence", "600k", "blocked")))
    cells.append("–" if startup is None else f"{startup:.1f} s")
    cells.append("–" if rss is None else f"{rss:.0f} MB")
    return "| " + " | ".join(cells) + " |"


HISTORY_HEADER = (
    "| date (UTC) | mode | commit | blocked | cached | forwarded | mixed | blocked 600k | "
    "600k start | 600k RSS |\n|---|---|---|---|---|---|---|---|---|---|")

INTRO = """\
# Benchmarks

`make bench` (or `bash bench/run.sh`; `--quick` for one short run that is not recorded
here) measures dnsfence beside dnsmasq and Unbound on this machine and appends a section
below. How it works and how to read it: [bench/README.md](../bench/README.md).

**Reading the numbers.** Each server is pinned to CPU 0; dnsperf and the upstream share
CPU 1. One dnsperf core saturates near 80–95k qps, so raw qps mostly measure the client for
the fast servers. The comparable figure is **queries per server CPU-second**: answers
completed ÷ (utime+stime of the server's processes during the case). "dnsfence ÷ dnsmasq"
is dnsfence's figure divided by dnsmasq's from the same run: 1.00× means dnsfence
needs as much CPU per query as dnsmasq; 0.25× means four times as much. The machine is
noisy (±30 %), hence two runs; compare ratios from the same run, not qps across days.

## History

Mean of the runs of one invocation: dnsfence queries per CPU-second with the shipped list,
and in brackets the ratio to dnsmasq (D) or, for forwarded, to Unbound (U). A `*` after
the commit means resolver/ had uncommitted changes.

"""


def record(results: dict[str, Any], text: str, doc: Path) -> None:
    """Add a history row and append `text`, keeping the last few sections."""
    current = doc.read_text(encoding="utf-8") if doc.exists() else ""
    if HISTORY_START not in current:
        current = (current.rstrip() + "\n\n" if current.strip() else INTRO) + \
            f"{HISTORY_START}\n{HISTORY_HEADER}\n{HISTORY_END}\n"
    head, rest = current.split(HISTORY_START, 1)
    table, tail = rest.split(HISTORY_END, 1)
    rows = [line for line in table.strip().splitlines()[2:] if line.startswith("|")]
    rows = ([*rows, history_row(results)])[-KEEP_HISTORY:]
    sections = [s for s in re.split(re.escape(SECTION_MARK), tail)[1:] if s.strip()]
    between = re.split(re.escape(SECTION_MARK), tail)[0]
    sections = [*sections, text.split(SECTION_MARK, 1)[1]][-KEEP_SECTIONS:]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(head + HISTORY_START + "\n" + HISTORY_HEADER + "\n" + "\n".join(rows)
                   + "\n" + HISTORY_END + between.rstrip("\n") + "\n\n"
                   + "".join(SECTION_MARK + s.rstrip("\n") + "\n\n" for s in sections
                             ).rstrip("\n") + "\n", encoding="utf-8")
