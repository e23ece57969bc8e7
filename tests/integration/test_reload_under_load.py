"""Queries keep flowing while a large list reloads: none lost, none SERVFAIL, with one
worker reloading in place or with several replaced by a new generation at each reload."""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import dns.message
import dns.rcode

from .harness import BlocklistDir, DnsfenceFactory, Unbound, require_tool

NAMES = 100_000
RATE = 1_500  # queries per second, well below what loopback UDP drops
SECONDS = 5.0


def _write_source(path: Path, extra: str = "") -> None:
    scratch = path.with_name(path.name + ".tmp")
    with scratch.open("w") as out:
        out.write("# synthetic source for the reload-under-load test\n")
        for i in range(NAMES):
            out.write(f"blocked{i}.example.net\n")
        out.write(extra)
    os.replace(scratch, path)


def test_reload_under_load_loses_nothing(dnsfence_factory: DnsfenceFactory,
                                         blocklists_dir: BlocklistDir, unbound: Unbound,
                                         tmp_path: Path) -> None:
    source = tmp_path / "big.txt"
    _write_source(source)
    blocklists_dir.write_text("big", f"""name: big
reference: load test
effective: 2023-01-01
sources:
  - path: {source}
    format: domains
""")
    server = dnsfence_factory()
    server.query("www.example.test")  # warm the cache for the allowed half
    queries: dict[int, bytes] = {}
    for qid in range(int(RATE * SECONDS)):
        name = f"blocked{qid % NAMES}.example.net" if qid % 2 else "www.example.test"
        msg = dns.message.make_query(name, "A", use_edns=0)
        msg.id = qid
        queries[qid] = msg.to_wire()
    answers: dict[int, int] = {}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    done = threading.Event()

    def receive() -> None:
        while not (done.is_set() and len(answers) >= len(queries)):
            try:
                data = sock.recv(4096)
            except TimeoutError:
                if done.is_set():
                    return
                continue
            qid = struct.unpack_from("!H", data)[0]
            answers[qid] = data[3] & 0x0F

    edited = tmp_path / "edited.txt"  # written before the load, swapped in by one rename
    _write_source(edited, "added-during-load.example.net\n")
    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    started = time.monotonic()
    reload_at = len(queries) // 3
    for qid, wire in queries.items():
        if qid == reload_at:
            os.replace(edited, source)
        due = started + qid / RATE
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sock.sendto(wire, (server.host, server.port))
    server.wait_for_stderr(r"reloaded \(files changed\)", timeout=10)
    time.sleep(1.0)
    done.set()
    receiver.join(5)
    sock.close()
    missing = sorted(set(queries) - set(answers))
    assert not missing, f"{len(missing)} of {len(queries)} queries unanswered, first {missing[:5]}"
    servfail = [qid for qid, rcode in answers.items() if rcode == dns.rcode.SERVFAIL]
    assert not servfail
    for qid, rcode in answers.items():
        expected = dns.rcode.NXDOMAIN if qid % 2 else dns.rcode.NOERROR
        assert rcode == expected, (qid, rcode)
    assert server.query("added-during-load.example.net").rcode() == dns.rcode.NXDOMAIN


DNSPERF_SECONDS = 8
DNSPERF_RATE = 2_000
RELOADS = 5


def test_five_reloads_with_two_workers_lose_no_query(dnsfence_factory: DnsfenceFactory,
                                                     blocklists_dir: BlocklistDir,
                                                     unbound: Unbound, tmp_path: Path) -> None:
    """Each SIGHUP starts a new generation of workers; dnsperf, running throughout, gets
    an answer to every query."""
    dnsperf = require_tool("dnsperf")
    source = tmp_path / "big.txt"
    _write_source(source)
    blocklists_dir.write_text("big", f"""name: big
reference: load test
effective: 2023-01-01
sources:
  - path: {source}
    format: domains
""")
    server = dnsfence_factory(workers="2")
    server.query("www.example.test")
    queries = tmp_path / "queries.txt"
    queries.write_text("".join(f"blocked{i * 7919 % NAMES}.example.net A\nwww.example.test A\n"
                               for i in range(5_000)))
    run = subprocess.Popen(
        [dnsperf, "-s", server.host, "-p", str(server.port), "-d", str(queries),
         "-l", str(DNSPERF_SECONDS), "-Q", str(DNSPERF_RATE), "-c", "4", "-t", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.0)
        for generation in range(2, 2 + RELOADS):
            server.send_signal(signal.SIGHUP)
            server.wait_for_stderr(rf"starting 2 workers on the new policy \(generation "
                                   rf"{generation}\)", timeout=10)
            time.sleep(0.8)
        output, _ = run.communicate(timeout=DNSPERF_SECONDS + 30)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    sent = re.search(r"Queries sent:\s+(\d+)", output)
    lost = re.search(r"Queries lost:\s+(\d+)", output)
    assert sent is not None and lost is not None, output
    assert int(sent[1]) >= DNSPERF_RATE * (DNSPERF_SECONDS - 1), output
    assert int(lost[1]) == 0, output
    codes = re.search(r"Response codes:\s+(.*)", output)
    assert codes is not None and "SERVFAIL" not in codes[1], output
