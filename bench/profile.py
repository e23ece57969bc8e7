"""Where dnsfence's time goes under load: py-spy samples the pinned server during a workload.

    python -m bench.profile --py-spy PATH [--workload blocked|cached|forwarded|mixed]...
                            [--blocklist shipped|600k]... [--seconds 5]
    python -m bench.profile --in-process [--queries 10000]

`--in-process` needs no py-spy: it times `Pipeline.handle` stage by stage and step by step
inside this process (`bench.handle_cost --breakdown`, which also compares checkouts).

Not part of `make bench` (py-spy is not a Debian package; `pip install py-spy` provides it).
The setup is the benchmark's (same upstream, same queries, server on CPU 0, dnsperf on
CPU 1); py-spy runs on CPU 1 with --nonblocking, so the server is not paused. Prints, per
case, the functions with the most samples on the CPU themselves (self) and including
what they call (total), and keeps the raw stacks in bench/results/.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from bench import dnsperf, servers, suite, workloads
from bench.corpus import REPO

# frames every sample passes through (the event loop, the command line): not informative
_PLUMBING = ("<module> ", "_run_code ", "_run_module_as_main ", "run (", "main (",
             "Runner.run ", "BaseEventLoop.run", "BaseEventLoop._run_once ", "Handle._run ")


def summarise(raw: Path, top: int) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            if not frame.startswith(_PLUMBING):
                total[frame] += n
    lines = [f"{samples} samples"]
    for title, counter in (("self", own), ("total", total)):
        lines.append(f"  by {title}:")
        lines += [f"    {100 * n / max(samples, 1):5.1f} %  {frame}"
                  for frame, n in counter.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """'handle (resolver/pipeline.py:51)' without the line, path from the package on."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for anchor in ("/resolver/", "/dnslib/", "/asyncio/", "/python3."):
        if anchor in path:
            path = anchor.strip("/") + "/" + path.split(anchor, 1)[1]
            break
    return f"{name} ({path})"


def profile_case(py_spy: str, process: servers.Process, workload: str, queries: Path,
                 seconds: float, out: Path) -> str:
    recorder = subprocess.Popen(
        ["taskset", "-c", servers.CLIENT_CPU, py_spy, "record", "--pid", str(process.pid),
         "--duration", f"{seconds:g}", "--rate", "200", "--nonblocking", "--format", "raw",
         "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    load = threading.Thread(target=dnsperf.run, args=(process.port, queries),
                            kwargs={"seconds": seconds + 1,
                                    "once": workload in ("forwarded", "mixed")})
    load.start()
    _, err = recorder.communicate(timeout=seconds + 30)
    load.join()
    if recorder.returncode != 0 or not out.exists():
        return f"py-spy failed: {err.decode(errors='replace')[-400:]}"
    return summarise(out, 15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy executable")
    parser.add_argument("--workload", action="append",
                        choices=["blocked", "cached", "forwarded", "mixed"])
    parser.add_argument("--blocklist", action="append", choices=["shipped", "600k"])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--in-process", action="store_true",
                        help="µs per stage and step in process (bench.handle_cost --breakdown)")
    parser.add_argument("--queries", type=int, default=10_000,
                        help="with --in-process: queries per timed pass")
    args = parser.parse_args(argv)
    if args.in_process:
        from bench.handle_breakdown import breakdown
        return breakdown(args.queries)
    chosen_workloads = args.workload or ["blocked", "cached"]
    chosen_lists = args.blocklist or ["shipped", "600k"]
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dnsfence-profile.") as scratch:
        work = Path(scratch)
        variants = workloads.blocklist_variants(work)
        names = workloads.allowed(variants)
        upstream = servers.upstream(work / "upstream", names.zones).start()
        try:
            upstream.wait_answering(f"bench-probe.{names.zones[0]}", servers.NOERROR, 60)
            for variant in variants:
                if variant.label not in chosen_lists:
                    continue
                files = workloads.query_files(work / "queries", variant, names, size=100_000)
                process = suite.start("dnsfence", variant, work, upstream.port, suite.FULL)
                try:
                    for workload in chosen_workloads:
                        if workload in ("cached", "mixed"):
                            suite.warm(process, files)
                        raw = results / f"profile-{variant.label}-{workload}.txt"
                        text = profile_case(args.py_spy, process, workload,
                                            getattr(files, workload), args.seconds, raw)
                        print(f"== dnsfence, {variant.label} list, {workload} "
                              f"(raw stacks: {raw.relative_to(REPO)})\n{text}\n", flush=True)
                finally:
                    process.stop()
        finally:
            servers.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
