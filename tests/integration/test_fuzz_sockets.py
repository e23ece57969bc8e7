"""The real server under malformed traffic: thousands of mutated UDP packets and hundreds of
broken TCP streams, after which it is alive, answers correctly, and logged no traceback.

The packets are real ones (`fuzz.seeds`: the repository's copy of real captures, the shared
corpora when present, and queries for the names the lists decide on), mutated with a fixed
seed. Every UDP answer that comes back must be a response to a packet that was sent (QR
set, a known ID). Everything goes to 127.0.0.1 only.
"""

from __future__ import annotations

import random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

import dns.message
import dns.rcode
import pytest

from fuzz.seeds import made_queries, real_packets

from .harness import BlocklistDir, Dnsfence, DnsfenceFactory, addresses_in, rcode_name

UDP_PACKETS = 3_000
TCP_STREAMS = 300
SEED = 20230320


def mutate(rng: random.Random, packet: bytes, others: list[bytes]) -> bytes:
    """One to four edits: flipped bits, changed, inserted or removed bytes, a cut, or a
    splice with another packet, as a fuzzer's mutator makes them."""
    data = bytearray(packet)
    for _ in range(rng.randint(1, 4)):
        edit = rng.randrange(7)
        at = rng.randrange(len(data) + 1)
        byte = min(at, len(data) - 1)
        if edit == 0 and data:
            data[byte] ^= 1 << rng.randrange(8)
        elif edit == 1 and data:
            data[byte] = rng.choice((0, 0xFF, 0xC0, 0x3F, 0x40, rng.randrange(256)))
        elif edit == 2:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif edit == 3:
            del data[at:at + rng.randint(1, 8)]
        elif edit == 4:
            del data[at:]
        elif edit == 5 and len(data) >= 12:  # a header count set to something odd
            struct.pack_into(">H", data, rng.choice((4, 6, 8, 10)),
                             rng.choice((0, 1, 2, 16, 17, 0xFFFF)))
        else:
            other = rng.choice(others)
            cut = rng.randrange(len(other) + 1)
            data[at:] = other[cut:]
    return bytes(data[:65_000])


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    found = [pair.query for pair in real_packets()]
    found += [pair.response for pair in real_packets() if pair.response]
    found += [pair.query for pair in made_queries()]
    return [p for p in found if 0 < len(p) <= 4096]


@pytest.fixture
def server(dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir) -> Dnsfence:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    return dnsfence_factory()


def assert_serves_correctly(server: Dnsfence) -> None:
    """Alive; a blocked name NXDOMAIN and a forwarded one NOERROR, over UDP and TCP; no
    traceback and no internal error logged."""
    assert server.running
    for tcp in (False, True):
        blocked = server.query("www.tiktok.com", tcp=tcp)
        assert rcode_name(blocked) == "NXDOMAIN", blocked
        forwarded = server.query("www.example.test", tcp=tcp)
        assert rcode_name(forwarded) == "NOERROR" and addresses_in(forwarded) == ["192.0.2.10"]
    logged = "\n".join(server.stderr_lines())
    assert "Traceback" not in logged and "internal error" not in logged, logged[-3000:]


def test_mutated_udp_packets(server: Dnsfence, packets: list[bytes]) -> None:
    rng = random.Random(SEED)
    sent_ids: set[bytes] = set()
    answers: list[bytes] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.02)

        def drain() -> None:
            while True:
                try:
                    answers.append(sock.recv(65_535))
                except TimeoutError:
                    return

        for index in range(UDP_PACKETS):
            packet = mutate(rng, rng.choice(packets), packets)
            if not packet:
                continue
            sent_ids.add(packet[:2])
            sock.sendto(packet, (server.host, server.port))
            if index % 50 == 49:  # paced: the point is odd packets, not a flood
                drain()
        deadline = time.monotonic() + 3.5  # forwarded ones may wait for the upstream
        while time.monotonic() < deadline:
            drain()
    assert len(answers) > UDP_PACKETS // 10, "hardly anything was answered"
    for answer in answers:
        assert len(answer) >= 12 and answer[2] & 0x80, answer.hex()
        assert answer[:2] in sent_ids, answer.hex()
    assert_serves_correctly(server)


@dataclass(frozen=True)
class Stream:
    """A way to break a TCP connection: what to send, and whether to reset it at the end."""

    name: str
    make: Callable[[random.Random, bytes], bytes]
    reset: bool = False
    half_close: bool = False


def framed(message: bytes) -> bytes:
    return struct.pack(">H", len(message)) + message


STREAMS = (
    Stream("zero length", lambda rng, q: b"\x00\x00"),
    Stream("one byte of length", lambda rng, q: b"\x00"),
    Stream("length beyond the data", lambda rng, q: struct.pack(">H", len(q) + 40) + q),
    Stream("cut mid-message", lambda rng, q: framed(q)[:rng.randint(3, len(q))]),
    Stream("short length", lambda rng, q: struct.pack(">H", rng.randint(1, len(q) - 1)) + q),
    Stream("garbage", lambda rng, q: bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))),
    Stream("a query then garbage", lambda rng, q: framed(q) + b"\xff" * rng.randint(1, 40)),
    Stream("largest length, little data", lambda rng, q: b"\xff\xff" + q),
    Stream("nothing", lambda rng, q: b""),
    Stream("reset mid-message", lambda rng, q: framed(q)[:-3], reset=True),
    Stream("half-closed mid-message", lambda rng, q: framed(q)[:-1], half_close=True),
    Stream("mutated, framed", lambda rng, q: q),  # replaced by a mutated packet below
)


def test_malformed_tcp_streams(server: Dnsfence, packets: list[bytes]) -> None:
    rng = random.Random(SEED + 1)
    queries = [p for p in packets if len(p) > 12]
    for index in range(TCP_STREAMS):
        stream = STREAMS[index % len(STREAMS)]
        query = rng.choice(queries)
        data = framed(mutate(rng, query, packets)) if stream.name == "mutated, framed" \
            else stream.make(rng, query)
        with socket.create_connection((server.host, server.port), timeout=2) as conn:
            if stream.reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            try:
                conn.sendall(data)
                if stream.half_close:
                    conn.shutdown(socket.SHUT_WR)
                conn.settimeout(0.02)
                conn.recv(65_535)
            except (TimeoutError, ConnectionError):
                pass  # the server may close at once, or wait for more
    assert_serves_correctly(server)
    # a well-formed pipelined stream still gets every answer, in full
    names = ["www.tiktok.com", "www.example.test"] * 3
    wires = [dns.message.make_query(name, "A", use_edns=0) for name in names]
    for number, wire in enumerate(wires):
        wire.id = 1000 + number
    with socket.create_connection((server.host, server.port), timeout=3) as conn:
        conn.sendall(b"".join(framed(w.to_wire()) for w in wires))
        buffer = b""
        replies = []
        deadline = time.monotonic() + 5
        while len(replies) < len(wires) and time.monotonic() < deadline:
            buffer += conn.recv(65_535)
            while len(buffer) >= 2 and len(buffer) >= 2 + struct.unpack_from(">H", buffer)[0]:
                size = struct.unpack_from(">H", buffer)[0]
                replies.append(dns.message.from_wire(buffer[2:2 + size]))
                buffer = buffer[2 + size:]
    by_id = {reply.id: reply for reply in replies}
    for wire in wires:
        expected = dns.rcode.NXDOMAIN if "tiktok" in wire.question[0].name.to_text() \
            else dns.rcode.NOERROR
        assert by_id[wire.id].rcode() == expected
