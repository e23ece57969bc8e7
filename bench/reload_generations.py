"""Reloads under load with several workers: dnsperf at a fixed rate through 5 SIGHUPs, each
of which starts a new generation of workers while the old one finishes.

Run: .venv/bin/python bench/reload_generations.py [--workers 2] [--reloads 5] [--rate 2000]
Starts unbound (local zones only) and `dnsfence serve --workers N` with the 600k list on
127.0.0.1, runs dnsperf (half blocked names, half an allowed cached name) and sends a SIGHUP
every `--every` seconds; reports queries sent and lost (unanswered within dnsperf's 2 s),
the response codes, and for each reload how long the load took and when the old workers
had gone. Prints Markdown for docs/BENCHMARKS.md. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import LARGE_LIST, read_domains_file
from bench.reload_memory import REPO, Server
from bench.workloads import write_large_blocklist

TIMEOUT = 2  # seconds before dnsperf counts a query lost


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reloads", type=int, default=5)
    parser.add_argument("--rate", type=int, default=2_000)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between SIGHUPs")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from integration.harness import Unbound  # the test suite's local-only unbound

    seconds = 2 + args.reloads * args.every + 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        names = read_domains_file(LARGE_LIST)
        blocklists = write_large_blocklist(work / "blocklists", LARGE_LIST, names)
        queries = work / "queries.txt"
        queries.write_text("".join(f"{names[i * 7919 % len(names)]} A\nwww.example.test A\n"
                                   for i in range(20_000)))
        upstream = Unbound(work / "unbound", ready_timeout=10).start()
        try:
            server = Server(REPO, work, blocklists, upstream.address, args.workers)
            try:
                server.wait_until(lambda: len(server.children()) == args.workers, "workers")
                perf = subprocess.Popen(
                    ["dnsperf", "-s", "127.0.0.1", "-p", str(server.port), "-d", str(queries),
                     "-l", f"{seconds:g}", "-Q", str(args.rate), "-c", "8", "-t", str(TIMEOUT)],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                time.sleep(2)
                timings = []
                for number in range(1, args.reloads + 1):
                    sent = time.monotonic()
                    server.reload(number)
                    timings.append(time.monotonic() - sent)
                    time.sleep(max(0.0, args.every - timings[-1]))
                output, _ = perf.communicate(timeout=seconds + 30)
                loads = [float(m[1]) for m in re.finditer(r"reloaded \(SIGHUP\) in ([\d.]+)s",
                                                          "\n".join(server.lines))]
            finally:
                server.stop()
        finally:
            upstream.stop()

    def number(label: str) -> str:
        found = re.search(rf"{label}:\s+([\d.]+)", output)
        return found[1] if found else "?"

    codes = re.search(r"Response codes:\s+(.*)", output)
    print("| workers | list | rate qps | reloads | queries sent | lost | response codes | "
          "avg latency ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    latency = float(number("Average Latency \\(s\\)")) * 1000 if number(
        "Average Latency \\(s\\)") != "?" else float("nan")
    print(f"| {args.workers} | 609k names | {args.rate:,} | {args.reloads} | "
          f"{int(number('Queries sent')):,} | {number('Queries lost')} | "
          f"{codes[1] if codes else '?'} | {latency:.2f} |")
    print(f"\nload per reload, s (the supervisor's): {', '.join(f'{x:.2f}' for x in loads)}")
    print(f"SIGHUP to the old workers gone, s: {', '.join(f'{x:.2f}' for x in timings)}")


if __name__ == "__main__":
    main()
