"""How fast can Python be here at all? Do-nothing servers beside dnsmasq and Unbound.

    python -m bench.ceiling [--seconds 5] [--runs 2] [--outstanding 100]

- `answer`: recvfrom_into + sendto of the query turned into an NXDOMAIN (flags patched,
  nothing parsed, nothing looked up), on stdlib asyncio with add_reader, as dnsfence's UDP
  loop is. The most any Python server with one sendto per answer can do.
- `forward`: a fresh connected UDP socket per query registered in a private epoll set,
  the reply's ID checked and relayed; no parsing, cache, failover or timeouts. The most a
  Python forwarder with RFC 5452's fresh port per query can do.

- `c-answer`: the same answer from a C loop (recvmmsg, sendmmsg, 64 datagrams a call): the
  floor, the kernel's share of a query, whatever the language.
- `dnsfence` as built (the compiled UDP batch and the compiled hot modules where they are
  built: `make build`) and `dnsfence-pure` (`DNSFENCE_PURE_PYTHON=1`: no compiled code at
  all), on blocked, cached and forwarded names, both with every feature at its default and
  client groups configured as `bench.groups_cost` sets them (3 groups, 200 networks, every
  list exempting one group).

Same setup as `make bench` (server on CPU 0; dnsperf and the upstream on CPU 1; queries per
server CPU-second). Writes bench/results/ceiling-*.json and latest-ceiling.md. Not part
of `make bench`: it measures the floors more than dnsfence, and its figures are quoted in
docs/BENCHMARKS.md to say how much of a gap is the language's and how much the kernel's.
Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    dnsperf,
    groups_cost,
    interleaved,
    machine,
    procstat,
    servers,
    suite,
    workloads,
)

ANSWER = textwrap.dedent("""
    import asyncio, socket, sys
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.setblocking(False)
    view = memoryview(bytearray(65535))
    def readable():
        for _ in range(256):
            try:
                size, address = sock.recvfrom_into(view)
            except BlockingIOError:
                return
            query = view[:size].tobytes()
            sock.sendto(query[:2] + b"\\x81\\x83" + query[4:], address)
    loop = asyncio.new_event_loop()
    loop.add_reader(sock.fileno(), readable)
    loop.run_forever()
""")

FORWARD = textwrap.dedent("""
    import asyncio, os, select, socket, sys
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.setblocking(False)
    upstream = ("127.0.0.1", int(sys.argv[2]))
    epoll = select.epoll()
    waiting = {}
    view = memoryview(bytearray(65535))
    def readable():
        for _ in range(256):
            try:
                size, address = sock.recvfrom_into(view)
            except BlockingIOError:
                return
            query = view[:size].tobytes()
            out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
            out.connect(upstream)
            our_id = os.urandom(2)
            out.send(our_id + query[2:])
            epoll.register(out.fileno(), select.EPOLLIN)
            waiting[out.fileno()] = (out, query[:2], address, our_id)
    def replies():
        for fd, _ in epoll.poll(0):
            out, client_id, address, our_id = waiting.pop(fd)
            try:
                reply = out.recv(65535)
            except OSError:
                reply = b""
            out.close()
            if reply[:2] == our_id:
                sock.sendto(client_id + reply[2:], address)
    loop = asyncio.new_event_loop()
    loop.add_reader(sock.fileno(), readable)
    loop.add_reader(epoll.fileno(), replies)
    loop.run_forever()
""")


C_ANSWER = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#define N 64
static char buffers[N][4096];
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)atoi(argv[1]));
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) return 1;
    struct mmsghdr messages[N];
    struct iovec vectors[N];
    struct sockaddr_in clients[N];
    for (;;) {
        for (int i = 0; i < N; i++) {
            vectors[i].iov_base = buffers[i];
            vectors[i].iov_len = sizeof buffers[i];
            memset(&messages[i].msg_hdr, 0, sizeof messages[i].msg_hdr);
            messages[i].msg_hdr.msg_iov = &vectors[i];
            messages[i].msg_hdr.msg_iovlen = 1;
            messages[i].msg_hdr.msg_name = &clients[i];
            messages[i].msg_hdr.msg_namelen = sizeof clients[i];
        }
        int got = recvmmsg(fd, messages, N, MSG_WAITFORONE, NULL);
        for (int i = 0; i < got; i++) {
            if (messages[i].msg_len >= 12) {
                buffers[i][2] = (char)0x81;  /* a response, RD RA: NXDOMAIN */
                buffers[i][3] = (char)0x83;
            }
            vectors[i].iov_len = messages[i].msg_len;
        }
        for (int sent = 0; sent < got;) {
            int done = sendmmsg(fd, messages + sent, (unsigned)(got - sent), 0);
            if (done <= 0) break;
            sent += done;
        }
    }
}
"""
"""The C-only floor: recvmmsg, the answer made by patching two header bytes, sendmmsg; 64
datagrams per system call, blocking. What is left of each query's cost is the kernel's."""

CASES = {
    "blocked": ("c-answer", "python-answer", "dnsmasq", "unbound", "dnsfence",
                "dnsfence-pure"),
    "cached": ("dnsmasq", "unbound", "dnsfence", "dnsfence-pure"),
    "forwarded": ("python-forward", "dnsmasq", "unbound", "dnsfence", "dnsfence-pure"),
}
"""Per workload, who is measured (see the module's text)."""


def minimal(name: str, script: str, work: Path, upstream_port: int) -> servers.Process:
    path = work / f"{name}.py"
    path.write_text(script)
    port = servers.free_port()
    command = ["taskset", "-c", servers.SERVER_CPU, sys.executable, str(path), str(port),
               str(upstream_port)]
    return servers.Process(f"python-{name}", command, port, work / f"{name}.log")


def c_floor(work: Path) -> servers.Process | None:
    """The C loop, compiled here (None without a C compiler)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    source, binary = work / "c_answer.c", work / "c_answer"
    source.write_text(C_ANSWER)
    subprocess.run([compiler, "-O2", "-Wall", "-o", str(binary), str(source)], check=True)
    port = servers.free_port()
    command = ["taskset", "-c", servers.SERVER_CPU, str(binary), str(port)]
    return servers.Process("c-answer", command, port, work / "c_answer.log")


def start(who: str, work: Path, shipped: Any, upstream_port: int, probe: str
          ) -> servers.Process | None:
    if who == "c-answer":
        process = c_floor(work)
        if process is None:
            return None
        process.start().wait_answering(probe, servers.NXDOMAIN, 30)
        return process
    if who.startswith("python-"):
        kind = who.removeprefix("python-")
        process = minimal(kind, ANSWER if kind == "answer" else FORWARD, work, upstream_port)
        process.start().wait_answering(
            probe, servers.NXDOMAIN if kind == "answer" else servers.NOERROR, 30)
        return process
    if who.startswith("dnsfence"):
        lists = groups_cost.grouped_lists(shipped.directory, work / "grouped-lists")
        process = servers.dnsfence(work / who, lists, upstream_port, name=who,
                                   settings=groups_cost.groups_setting(),
                                   pure=who == "dnsfence-pure")
        process.start().wait_answering(suite.probe_name(shipped), servers.NXDOMAIN, 90)
        return process
    return suite.start(who, shipped, work, upstream_port, suite.FULL)


def summary(results: dict[str, Any]) -> str:
    """Medians per workload and server, with the ratios the targets are written in."""
    per_cpu: dict[str, dict[str, list[float]]] = results["per_cpu"]
    lines = [f"### Ceiling: per server CPU-second, dnsperf -q {results['outstanding']}, "
             f"median of {results['runs']} runs of {results['seconds']:g} s "
             f"({results['date']}, commit {results['commit']})", "",
             "| workload | server | median | runs | ÷ C floor | ÷ dnsmasq | ÷ Unbound |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    floor = per_cpu.get("blocked", {}).get("c-answer")
    for workload, measured in per_cpu.items():
        medians = {who: statistics.median(v) for who, v in measured.items() if v}
        for who, median in medians.items():
            cells = [f"{median / statistics.median(floor):.2f}" if floor else "–"]
            for other in ("dnsmasq", "unbound"):
                cells.append(f"{median / medians[other]:.2f}" if medians.get(other) else "–")
            runs = " ".join(f"{v:,.0f}" for v in measured[who])
            lines.append(f"| {workload} | {who} | {median:,.0f} | {runs} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--outstanding", type=int, default=dnsperf.OUTSTANDING,
                        help="queries in flight (dnsperf -q; default %(default)s)")
    args = parser.parse_args(argv)
    per_cpu: dict[str, dict[str, list[float]]] = {w: {who: [] for who in cases}
                                                  for w, cases in CASES.items()}
    with tempfile.TemporaryDirectory(prefix="dnsfence-ceiling.") as scratch:
        work = Path(scratch)
        variants = workloads.blocklist_variants(work)
        shipped = variants[0]
        names = workloads.allowed(variants)
        files = workloads.query_files(work / "queries", shipped, names, size=300_000)
        upstream = servers.upstream(work / "upstream", names.zones).start()
        try:
            probe = f"bench-probe.{names.zones[0]}"
            upstream.wait_answering(probe, servers.NOERROR, 60)
            for run in range(1, args.runs + 1):
                for workload, cases in CASES.items():
                    for who in cases:
                        process = start(who, work, shipped, upstream.port, probe)
                        if process is None:
                            print(f"run {run}  {workload:9}  {who:15} skipped: no C compiler")
                            continue
                        try:
                            if workload == "cached":
                                suite.warm(process, files)
                            before = sum(procstat.tree_cpu(process.pid).values())
                            result = dnsperf.run(process.port, getattr(files, workload),
                                                 seconds=args.seconds,
                                                 once=workload == "forwarded",
                                                 outstanding=args.outstanding)
                            cpu = sum(procstat.tree_cpu(process.pid).values()) - before
                        finally:
                            process.stop()
                        figure = result.completed / cpu if cpu > 0 else 0.0
                        per_cpu[workload][who].append(figure)
                        print(f"run {run}  {workload:9}  {who:15} {result.qps:9.0f} qps  "
                              f"{figure:9.0f} per CPU-second  lost {result.lost}  "
                              f"{result.rcodes}", flush=True)
        finally:
            servers.stop_all()
    results = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
               "commit": machine.describe()["commit"], "runs": args.runs,
               "seconds": args.seconds, "outstanding": args.outstanding, "per_cpu": per_cpu}
    interleaved.save(results, "ceiling", summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
