"""Results JSON -> the full markdown section of a run (bench/results/latest.md).

Every case of every server; docs/BENCHMARKS.md gets a compact record of it instead
(bench/history.py).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.baseline import comparison
from bench.figures import (
    BASELINE,
    SERVERS,
    WORKLOADS,
    case,
    millis,
    number,
    per_cpu,
    ratio,
    server_record,
    table,
    times,
)


def _command(words: Sequence[str]) -> str:
    return " ".join(shlex.quote(w) if not w.startswith("[") else w for w in words)


def _blocklists(results: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for run in results["runs"]:
        for record in run["servers"]:
            seen[record["blocklist"]] = None
    return list(seen) or ["shipped", "600k"]


# --- the section -----------------------------------------------------------------------------

def run_tables(run: dict[str, Any], blocklists: Sequence[str],
               baseline: str | None = None) -> list[str]:
    """The tables of one run; `baseline` labels the other checkout's column, if measured."""
    servers = ("dnsfence", BASELINE, *SERVERS[1:]) if baseline else SERVERS
    shown = {server: server for server in servers} | {BASELINE: baseline or BASELINE}
    out = [f"#### Run {run['run']}: queries per server CPU-second (qps in brackets)", ""]
    rows = []
    for blocklist in blocklists:
        for workload in WORKLOADS:
            cells = []
            for server in servers:
                found = case(run, server, blocklist, workload)
                cells.append("–" if found is None else
                             f"{number(found.get('qps_per_cpu'))} ({number(found.get('qps'))})")
            cells += [times(ratio(run, blocklist, workload, "dnsmasq")),
                      times(ratio(run, blocklist, workload, "unbound"))]
            if baseline:
                cells.append(times(ratio(run, blocklist, workload, BASELINE)))
            rows.append([blocklist, workload, *cells])
    header = ["list", "workload", "dnsfence", "dnsmasq", "Unbound", "dnsfence ÷ dnsmasq",
              "dnsfence ÷ Unbound"]
    if baseline:
        header[3:3] = [baseline]
        header.append("this ÷ baseline")
    out += table(header, rows)
    out += ["", "<details><summary>Run " + str(run["run"]) + ": every case (server CPU, "
            "latency, lost, answers, peak RSS)</summary>", ""]
    rows = []
    for blocklist in blocklists:
        for workload in WORKLOADS:
            for server in servers:
                found = case(run, server, blocklist, workload)
                if found is None:
                    continue
                codes = ", ".join(f"{k} {v}" for k, v in sorted(found.get("rcodes", {}).items()))
                busy = found.get("machine_busy_s", {})
                other = busy.get("cpu0", 0.0) - found.get("server_cpu_s", 0.0)
                rows.append([blocklist, workload, shown[server],
                             number(found.get("qps")),
                             f"{found.get('server_cpu_s', 0):.2f}",
                             f"{found.get('run_time', 0):.1f}",
                             f"{found.get('avg_latency_ms', 0):.3f}",
                             f"{found.get('lost', 0)}", codes,
                             f"{found.get('rss_peak_mb', 0):.0f}", f"{max(other, 0):.2f}"])
    out += table(["list", "workload", "server", "qps", "server CPU-s", "run s", "avg ms",
                   "lost", "answers", "peak RSS MB", "CPU 0 other s"], rows)
    out += ["", "</details>", ""]
    lat_rows = []
    for workload in ("blocked", "cached", "mixed"):
        base = case(run, "dnsmasq", "shipped", workload, "latency_1000qps")
        for server in SERVERS:
            found = case(run, server, "shipped", workload, "latency_1000qps")
            if found is None:
                continue
            delta = (found["p50_ms"] - base["p50_ms"]) if base and found.get("p50_ms") is not None \
                and base.get("p50_ms") is not None else None
            lat_rows.append([workload, server, millis(found.get("p50_ms")),
                             millis(found.get("p90_ms")), millis(found.get("p99_ms")),
                             millis(found.get("max_ms")),
                             "–" if delta is None else f"{delta:+.3f}",
                             str(found.get("lost", 0))])
    if lat_rows:
        out += [f"#### Run {run['run']}: latency at a fixed 1,000 qps, shipped list (ms)", ""]
        out += table(["workload", "server", "p50", "p90", "p99", "max", "p50 − dnsmasq",
                       "lost"], lat_rows)
        out.append("")
    start_rows = []
    for blocklist in blocklists:
        for server in servers:
            record = server_record(run, server, blocklist)
            if record is not None:
                start_rows.append([blocklist, shown[server],
                                   f"{record['startup_s']:.2f}",
                                   f"{record['rss_peak_mb']:.0f}",
                                   f"{record.get('rss_end_mb', 0):.0f}"])
    out += [f"#### Run {run['run']}: start-up to first answer, and memory", ""]
    out += table(["list", "server", "first answer s", "peak RSS MB (VmHWM)",
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
    for found in workers["cases"]:
        per_worker = ", ".join(f"{cpu:.2f}" for cpu in found["worker_cpu_s"].values()
                               ) if found["workers"] > 1 else "–"
        where = "CPU 0 (taskset)" if found.get("pinned") else "any CPU"
        rows.append([str(found["workers"]), where, number(found["qps"]),
                     f"{found['server_cpu_s']:.2f}", number(found.get("qps_per_cpu")), per_worker,
                     str(found["lost"]), f"{found['rss_peak_mb']:.0f}"])
    out += table(["workers", "server on", "qps", "server CPU-s", "qps/CPU-s",
                   "CPU-s per worker", "lost", "RSS MB (sum of peaks)"], rows)
    large = workers.get("large")
    if large:
        found = large["case"]
        out += ["", f"With the {large['blocklist']} list and `--workers 2`: first answer after "
                f"{large['startup_s']:.2f} s; blocked workload {number(found['qps'])} qps, "
                f"CPU-s per worker " + ", ".join(f"{c:.2f}" for c in
                                                 found["worker_cpu_s"].values())
                + f", lost {found['lost']}. Memory after start-up (Pss counts shared "
                "copy-on-write pages once, split between the processes):", ""]
        out += table(["process", "RSS MB", "Pss MB", "peak RSS MB"],
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

    def line(label: str, goal: str, values: list[float | None], ok: Any, fmt: Any = times) -> None:
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
        record = server_record(r, "dnsfence", "600k")
        return float(record["startup_s"]) if record else None

    def rss(r: dict[str, Any]) -> float | None:
        record = server_record(r, "dnsfence", "600k")
        return float(record["rss_peak_mb"]) if record else None

    line("start-up to first answer, 600k", "≤ 3 s", each(startup), lambda v: v <= 3.0,
         lambda v: "–" if v is None else f"{v:.1f} s")
    def rss_end(r: dict[str, Any]) -> float | None:
        record = server_record(r, "dnsfence", "600k")
        return float(record.get("rss_end_mb", 0)) if record else None

    line("peak RSS (VmHWM), 600k, 1 worker", "≤ 150 MB", each(rss), lambda v: v <= 150,
         lambda v: "–" if v is None else f"{v:.0f} MB")
    line("RSS after the cases, 600k, 1 worker", "≤ 150 MB", each(rss_end),
         lambda v: v <= 150, lambda v: "–" if v is None else f"{v:.0f} MB")
    for workload in ("blocked", "cached"):
        def p50(r: dict[str, Any], w: str = workload) -> float | None:
            ours = case(r, "dnsfence", "shipped", w, "latency_1000qps")
            theirs = case(r, "dnsmasq", "shipped", w, "latency_1000qps")
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
    title = "### Targets, run " + " / run ".join(str(r["run"]) for r in runs)
    return [title, "", *table(["target", "goal", "measured", "verdict"], rows), ""]


def section(results: dict[str, Any], json_path: Path) -> str:
    m = results["machine"]
    blocklists = _blocklists(results)
    title = results["date"].replace("T", " ").replace("+00:00", " UTC")
    out = [f"## {title}: {results['mode']} run, commit {m['commit']}", "",
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
            name = record["server"]
            if name == BASELINE:
                name = f"{results['baseline']['label']} (in {results['baseline']['directory']})"
            commands[name] = record["command"]
    out += ["Commands (PORT, FILE and the work directory vary):", "", "```"]
    out += [f"{name}: {_command(words)}" for name, words in commands.items()]
    out += ["```", ""]
    out += targets(results)
    out += comparison(results)
    label = results["baseline"]["label"] if results.get("baseline") else None
    for run in results["runs"]:
        out += run_tables(run, blocklists, label)
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
                for found in record[key]:
                    what = (f"run {run['run']}, {record['server']}, {record['blocklist']}, "
                            f"{found['workload']}{' at 1,000 qps' if key != 'cases' else ''}")
                    if found.get("lost"):
                        out.append(f"{what}: {found['lost']} of {found['sent']} queries lost")
                    if found.get("unexpected_rcodes"):
                        out.append(f"{what}: answers {found['unexpected_rcodes']}")
                    if found.get("error"):
                        out.append(f"{what}: {found['error']}")
    return out
