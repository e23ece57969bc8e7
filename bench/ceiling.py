"""How fast can Python be here at all? Two do-nothing servers beside dnsmasq and Unbound.

    python -m bench.ceiling [--seconds 5] [--runs 2]

- `answer`: recvfrom_into + sendto of the query turned into an NXDOMAIN (flags patched,
  nothing parsed, nothing looked up), on stdlib asyncio with add_reader, as dnsfence's UDP
  loop is. The most any Python server with one sendto per answer can do.
- `forward`: a fresh connected UDP socket per query registered in a private epoll set,
  the reply's ID checked and relayed; no parsing, cache, failover or timeouts. The most a
  Python forwarder with RFC 5452's fresh port per query can do.

Same setup as `make bench` (server on CPU 0; dnsperf and the upstream on CPU 1; queries per
server CPU-second). Not part of `make bench`: it measures Python, not dnsfence, and its
figures are quoted in docs/BENCHMARKS.md to say how much of a gap is the language's.
Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

from bench import dnsperf, procstat, servers, suite, workloads

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


def minimal(name: str, script: str, work: Path, upstream_port: int) -> servers.Process:
    path = work / f"{name}.py"
    path.write_text(script)
    port = servers.free_port()
    command = ["taskset", "-c", servers.SERVER_CPU, sys.executable, str(path), str(port),
               str(upstream_port)]
    return servers.Process(f"python-{name}", command, port, work / f"{name}.log")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dnsfence-ceiling.") as scratch:
        work = Path(scratch)
        variants = workloads.blocklist_variants(work)
        shipped = variants[0]
        names = workloads.allowed(variants)
        files = workloads.query_files(work / "queries", shipped, names, size=150_000)
        upstream = servers.upstream(work / "upstream", names.zones).start()
        try:
            upstream.wait_answering(f"bench-probe.{names.zones[0]}", servers.NOERROR, 60)
            for run in range(1, args.runs + 1):
                cases = [("blocked", "python-answer"), ("blocked", "dnsmasq"),
                         ("blocked", "unbound"), ("blocked", "dnsfence"),
                         ("forwarded", "python-forward"), ("forwarded", "unbound"),
                         ("forwarded", "dnsfence")]
                for workload, who in cases:
                    if who.startswith("python-"):
                        kind = who.removeprefix("python-")
                        process = minimal(kind, ANSWER if kind == "answer" else FORWARD,
                                          work, upstream.port).start()
                        rcode = servers.NXDOMAIN if kind == "answer" else servers.NOERROR
                        probe = f"bench-probe.{names.zones[0]}"
                        process.wait_answering(probe, rcode, 30)
                    else:
                        process = suite.start(who, shipped, work, upstream.port, suite.FULL)
                    try:
                        before = sum(procstat.tree_cpu(process.pid).values())
                        result = dnsperf.run(process.port, getattr(files, workload),
                                             seconds=args.seconds, once=workload == "forwarded")
                        cpu = sum(procstat.tree_cpu(process.pid).values()) - before
                        per_cpu = result.completed / cpu if cpu > 0 else 0.0
                        print(f"run {run}  {workload:9}  {who:15} {result.qps:9.0f} qps  "
                              f"{per_cpu:9.0f} per CPU-second  lost {result.lost}", flush=True)
                    finally:
                        process.stop()
        finally:
            servers.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
