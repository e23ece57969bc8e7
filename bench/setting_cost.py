"""What a setting costs: servers of this checkout that differ only in their config, interleaved.

    python -m bench.setting_cost --variant 'off=blocking: {cname: false}' --variant on=
        [--rounds 4] [--seconds 3] [--outstanding 100] [--work DIR]

Each `--variant NAME=YAML` is one server whose config gets YAML added (empty: the
defaults); the first is the reference. All run at once pinned to the same CPU (only the one
being asked works). Each round asks every workload of the shipped lists of each server, the
order turned one place every round, so a slow minute lands on all of them. Forwarded and mixed
queries are new names in every round for every server. Reports the median queries per
server CPU-second and the paired ratios against the first variant. Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import dnsperf, interleaved, machine, servers, suite
from bench.figures import WORKLOADS
from bench.servers import NXDOMAIN, Process


def start(name: str, settings: str, variant: Any, work: Path, upstream_port: int,
          blocklists: Path | None = None) -> Process:
    """One dnsfence with `settings` added to its config (and `blocklists` in place of the
    shipped lists, if given), answering."""
    process = servers.dnsfence(work / f"dnsfence-{name}", blocklists or variant.directory,
                               upstream_port, name=name, settings=settings)
    process.start()
    ready = process.wait_answering(suite.probe_name(variant), NXDOMAIN, 90)
    suite.log(f"{name} answered after {ready:.2f} s")
    return process


Afterwards = Callable[[Any, Path, int, Any], dict[str, Any]]
"""(blocked-names variant, work directory, upstream port, query files) -> more results,
run once the compared servers are stopped, while the upstream still runs."""


Lists = Callable[[Path, Path], Path]
"""(the shipped lists' directory, a scratch directory) -> the lists a variant serves."""


def compare(variants: dict[str, str], rounds: int, seconds: float, work: Path,
            afterwards: Afterwards | None = None,
            lists: dict[str, Lists] | None = None,
            outstanding: int = dnsperf.OUTSTANDING) -> dict[str, Any]:
    """`lists` gives some variants other blocklists, made from the shipped ones (they must
    block the same names for the same client, 127.0.0.1); `outstanding` is dnsperf's
    `-q` (queries in flight)."""
    shipped, names, files, upstream = interleaved.shipped_setup(work)
    processes: dict[str, Process] = {}
    once: dict[str, dict[tuple[str, int], Path]] = {}
    more: dict[str, Any] = {}
    try:
        for number, (name, settings) in enumerate(variants.items()):
            own = (lists or {}).get(name)
            directory = own(shipped.directory, work / f"lists-{name}") if own else None
            processes[name] = start(name, settings, shipped, work, upstream.port, directory)
            suite.warm(processes[name], files)
            once[name] = interleaved.once_files(work / "queries", f"v{number}x", rounds,
                                                shipped, names)
        records = interleaved.interleave(processes, rounds,
                                         interleaved.shipped_cases(files, once),
                                         seconds=seconds, outstanding=outstanding)
        figures = interleaved.figures(records, "qps_per_cpu")
        for process in processes.values():
            process.stop()
        processes.clear()
        if afterwards is not None:
            more = afterwards(shipped, work, upstream.port, files)
    finally:
        for process in processes.values():
            process.stop()
        upstream.stop()
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "rounds": rounds,
            "seconds": seconds, "outstanding": outstanding,
            "commit": machine.describe()["commit"], "variants": variants, "per_cpu": figures,
            **more}


def summary(results: dict[str, Any], title: str = "settings") -> str:
    names = list(results["per_cpu"])
    reference, others = names[0], names[1:]
    head = " | ".join(f"{name} ÷ {reference} (paired) | geo. mean" for name in others)
    outstanding = results.get("outstanding", dnsperf.OUTSTANDING)
    lines = [f"### {title}, interleaved ({results['rounds']} rounds of {results['seconds']:g} s "
             f"cases, dnsperf -q {outstanding}, {results['date']}, commit "
             f"{results['commit']})", "",
             f"| workload | {reference}, median | {head} |",
             "| --- | --- |" + " --- | --- |" * len(others)]
    per_cpu = results["per_cpu"]
    for workload in WORKLOADS:
        base = per_cpu[reference][workload]
        cells = [f"| {workload} | {statistics.median(base):,.0f}"]
        for name in others:
            pairs = [a / b for a, b in zip(per_cpu[name][workload], base, strict=True)
                     if a and b]
            mean = statistics.geometric_mean(pairs) if pairs else 0.0
            cells.append(f"{' '.join(f'{p:.2f}' for p in pairs)} | {mean:.2f}×")
        lines.append(" | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _variant(text: str) -> tuple[str, str]:
    name, _, settings = text.partition("=")
    if not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME=YAML")
    return name, settings.replace("\\n", "\n") + ("\n" if settings else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.setting_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", type=_variant, action="append", required=True,
                        metavar="NAME=YAML", help="a server; the first is the reference")
    parser.add_argument("--rounds", type=int, default=4, choices=range(1, 21))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--outstanding", type=int, default=dnsperf.OUTSTANDING,
                        help="queries in flight (dnsperf -q; default %(default)s)")
    parser.add_argument("--work", type=Path, help="scratch directory (default: a new one)")
    args = parser.parse_args(argv)
    variants = dict(args.variant)
    if len(variants) < 2:
        parser.error("give at least two variants with different names")
    return interleaved.measured(
        "settings", args.work,
        lambda work: compare(variants, args.rounds, args.seconds, work,
                             outstanding=args.outstanding), summary)


if __name__ == "__main__":
    sys.exit(main())
