"""Queries keep flowing while a large list reloads: none lost, none SERVFAIL."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from pathlib import Path

import dns.message
import dns.rcode

from .harness import BlocklistDir, DnsfenceFactory, Unbound

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
