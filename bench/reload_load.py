"""Latency while a 1,000,000-name list reloads: nothing lost, nothing SERVFAIL.

Run: .venv/bin/python bench/reload_load.py [--names N] [--rate QPS] [--seconds S]
Starts unbound (local zone only) and `dnsfence serve` on 127.0.0.1, sends queries at a
fixed rate from one UDP socket (half blocked names, half a cached allowed name), rewrites
the big source file a third of the way in so the server reloads it, and reports latency
percentiles inside and outside the reload window, lost queries and SERVFAILs. Prints
Markdown for docs/BENCHMARKS.md. Traffic goes to 127.0.0.1 only; everything is bounded.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dns.message

REPO = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def write_source(path: Path, names: int, extra: str = "") -> None:
    scratch = path.with_name(path.name + ".tmp")
    with scratch.open("w") as out:
        out.writelines(f"blocked{i}.example.net\n" for i in range(names))
        out.write(extra)
    os.replace(scratch, path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from integration.harness import Unbound  # the test suite's local-only unbound

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        upstream = Unbound(work / "unbound", ready_timeout=10).start()
        lists = work / "blocklists"
        lists.mkdir()
        source = work / "big.txt"
        write_source(source, args.names)
        (lists / "big.yaml").write_text(
            f"name: big\nreference: reload benchmark\neffective: 2023-01-01\n"
            f"sources:\n  - path: {source}\n    format: domains\n")
        server = subprocess.Popen(
            [sys.executable, "-m", "resolver", "serve", "--listen", "127.0.0.1:0",
             "--upstream", upstream.address, "--blocklists", str(lists),
             "--http-listen", ""],
            cwd=REPO, stderr=subprocess.PIPE, text=True, bufsize=1)
        log: list[tuple[float, str]] = []
        port = 0
        assert server.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stderr.readline()
            found = re.search(r"serving on 127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found.group(1))
                break
        assert port, "server did not start"
        reader = threading.Thread(target=lambda: [log.append((time.monotonic(), x.strip()))
                                                  for x in server.stderr], daemon=True)  # type: ignore[union-attr]
        reader.start()
        try:
            total = int(args.rate * args.seconds)
            sent: dict[int, float] = {}
            got: dict[int, tuple[float, int]] = {}
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(0.2)
            stop = threading.Event()

            def receive() -> None:
                while not stop.is_set():
                    try:
                        data = sock.recv(4096)
                    except TimeoutError:
                        continue
                    got[struct.unpack_from("!H", data)[0]] = (time.monotonic(), data[3] & 15)

            threading.Thread(target=receive, daemon=True).start()
            wires = {}
            for qid in range(min(total, 65536)):
                name = f"blocked{qid * 7919 % args.names}.example.net" if qid % 2 \
                    else "www.example.test"
                msg = dns.message.make_query(name, "A", use_edns=0)
                msg.id = qid
                wires[qid] = msg.to_wire()
            # the edited list is written beforehand and swapped in with one rename, so the
            # client's own writing never delays its sending or its timestamps
            edited = work / "big-edited.txt"
            write_source(edited, args.names, "added.example.net\n")
            started = time.monotonic()
            touched = 0.0
            for qid in range(min(total, 65536)):
                if qid == total // 3:
                    os.replace(edited, source)
                    touched = time.monotonic()
                due = started + qid / args.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sent[qid] = time.monotonic()
                sock.sendto(wires[qid], ("127.0.0.1", port))
            time.sleep(1.5)
            stop.set()
            reloaded = [t for t, line in log if "reloaded" in line]
            done_at = reloaded[0] if reloaded else float("nan")
            window = [(sent[q], got[q][0] - sent[q]) for q in got if touched <= sent[q] <= done_at]
            outside = [got[q][0] - sent[q] for q in got if not touched <= sent[q] <= done_at]
            inside = [d for _, d in window]
            lost = len(sent) - len(got)
            servfail = sum(1 for _, rcode in got.values() if rcode == 2)
            print("| names | rate qps | queries | lost | SERVFAIL | reload took s | "
                  "p50 / p99 / max during reload ms | p50 / p99 outside ms |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            print(f"| {args.names:,} | {args.rate:,} | {len(sent):,} | {lost} | {servfail} | "
                  f"{done_at - touched:.2f} | {percentile(inside, .5) * 1e3:.2f} / "
                  f"{percentile(inside, .99) * 1e3:.2f} / {max(inside, default=0) * 1e3:.1f} | "
                  f"{percentile(outside, .5) * 1e3:.2f} / {percentile(outside, .99) * 1e3:.2f} |")
            print(f"\nreload log: {[line for _, line in log if 'reload' in line]}")
        finally:
            server.terminate()
            server.wait(10)
            upstream.stop()


if __name__ == "__main__":
    main()
