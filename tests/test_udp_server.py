"""resolver.udp_server: the compiled batch and the Python loop give the same answers, byte
for byte (packet corpora, the pipeline's hypothesis traffic), on real sockets on loopback
read by a real event loop; forwarded queries answer later through either; a handler's
exception is logged the same way by both and costs no other query its answer."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.config.settings import Config
from resolver.dns.query import parse_query
from resolver.pipeline import CHAIN, Pipeline
from resolver.stages.contract import Done, Request, Stage
from resolver.stages.upstream import UpstreamStage
from resolver.udp_batch import UdpIo, choose, compiled
from resolver.udp_server import UdpServer
from tests.stages.fakes import GUEST, OFFICE, PRESS, STRANGER, T0, grouped_config, office_config
from tests.test_pipeline import build, grouped_traffic, office_policy, traffic
from tests.udp_io import LOOPBACKS, arrived, batch_module, quiet_for, udp

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "tests" / "data" / "fuzz-seeds"
CORPORA = REPO.parent / "shared" / "corpora" / "packets"
LARGEST_UDP = 65_507
CHUNK = 100  # datagrams sent before the servers read: more than one batch of 64


def upstream_answer(request: Request) -> bytes:
    """What the tests' upstream answers, whatever the question: `192.0.2.8` for type A,
    no data for any other."""
    query = request.query
    address = query.qtype == 1
    header = struct.pack("!HHHHHH", query.id, 0x8180, 1, int(address), 0, 0)
    record = (b"\xc0\x0c" + struct.pack("!HHIH", 1, query.qclass, 60, 4)
              + bytes([192, 0, 2, 8])) if address else b""
    return header + query.question + record


class AnsweringUpstream(Stage):
    """A tail that answers in `forward` itself."""

    next = None

    def forward(self, request: Request, done: Done) -> None:
        done(upstream_answer(request))


def chain_answering_at_once() -> tuple[type[Stage], ...]:
    """The real chain with an upstream that answers in `forward` itself."""
    return tuple(AnsweringUpstream if stage is UpstreamStage else stage for stage in CHAIN)


CLIENTS = {OFFICE: "127.0.0.1", PRESS: "127.0.0.2", GUEST: "127.0.0.3",
           STRANGER: "127.0.0.9", "::1": "::1"}
"""The tests' client addresses, as loopback addresses a socket can be bound to; the
stranger's is one `allowed` leaves out."""


def allowed(config: Config) -> Config:
    return config.with_overrides(**{"server.allow_clients": tuple(
        ipaddress.ip_network(f"{host}/{128 if ':' in host else 32}")
        for host in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "::1"))})


def python_io() -> UdpIo:
    return choose("off")


def batched_io() -> UdpIo:
    """The compiled batch, even where DNSFENCE_PURE_PYTHON makes servers choose Python."""
    batch_module()  # a failure under CI when it is not built, a skip elsewhere
    batch, why = compiled()
    assert batch is not None, why
    return UdpIo(batch, "batched")


@dataclass
class Served:
    """One UdpServer on its own socket and event loop, with the pipeline's results
    counted (the same wrapper for both paths)."""

    io: UdpIo
    pipeline: Pipeline
    family: socket.AddressFamily
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    results: list[bool] = field(default_factory=list)
    now: float = T0

    def __post_init__(self) -> None:
        host = "::1" if self.family == socket.AF_INET6 else "127.0.0.1"
        self.sock = udp(self.family, host)
        self.address = self.sock.getsockname()
        inner = self.pipeline.handle

        def handle(data: bytes, client: str, now: float, tcp: bool = False
                   ) -> bytes | Request | None:
            try:
                result = inner(data, client, now, tcp)
            except Exception:
                self.results.append(False)  # read, and no answer
                raise
            self.results.append(result is not None)
            return result

        self.pipeline.handle = handle
        self.server = UdpServer(self.sock, self.pipeline, self.loop, self.io,
                                clock=lambda: self.now)
        self.server.start()

    def run_until(self, done: Callable[[], bool], timeout: float = 3.0) -> None:
        async def wait() -> None:
            deadline = self.loop.time() + timeout
            while not done() and self.loop.time() < deadline:
                await asyncio.sleep(0.001)
        self.loop.run_until_complete(wait())

    def ask(self, queries: Sequence[tuple[socket.socket, bytes]]) -> dict[int, list[bytes]]:
        """Every query sent, then read by the server; the answers each client socket got
        (by its file descriptor), sorted: a batch sends its answers together."""
        first = len(self.results)
        for client, query in queries:
            client.sendto(query, self.address)
        self.run_until(lambda: len(self.results) >= first + len(queries))
        assert len(self.results) == first + len(queries), "not every query was read"
        expected = sum(self.results[first:])
        clients = {client.fileno(): client for client, _ in queries}
        got: dict[int, list[bytes]] = {}
        for fd, client in clients.items():
            got[fd] = arrived(client, expected) if len(clients) == 1 else []
            got[fd] += quiet_for(client, 0.01)
            got[fd].sort()
        assert sum(len(v) for v in got.values()) == expected
        return got

    def close(self) -> None:
        self.server.close()
        self.loop.close()


def pair_of_servers(config: Config, family: socket.AddressFamily) -> list[Served]:
    """The batched and the Python path, each with a pipeline of its own built alike."""
    made = []
    for io in (batched_io(), python_io()):
        pipeline = build(office_policy(), repeat=True, config=config,
                         chain=chain_answering_at_once())
        made.append(Served(io, pipeline, family))
    return made


def corpus() -> list[bytes]:
    """The fuzzers' seeds and the shared packet corpora: raw files, dnsperf's
    length-prefixed streams split, Unbound's hex lines decoded."""
    found: list[bytes] = []
    roots = [root for root in (SEEDS, CORPORA) if root.is_dir()]
    for path in sorted(p for root in roots for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found.append(data)
        if path.suffix == ".blob":
            pos = 0
            while pos + 2 <= len(data):
                (length,) = struct.unpack_from(">H", data, pos)
                found.append(data[pos + 2:pos + 2 + length])
                pos += 2 + length
        if path.parent.name == "unbound-test_packets":
            for line in data.decode("ascii", "replace").split():
                if len(line) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in line):
                    found.append(bytes.fromhex(line))
    # most are responses, which a server drops: asked again as queries (QR cleared), they
    # reach the parser, the policy, the cache and the upstream too
    asked = [p[:2] + bytes([p[2] & 0x7F]) + p[3:] for p in found if len(p) > 2 and p[2] & 0x80]
    return [packet for packet in found + asked if len(packet) <= LARGEST_UDP]


@pytest.mark.parametrize(("family", "host"), LOOPBACKS, ids=["ipv4", "ipv6"])
def test_every_corpus_packet_gets_the_same_answer_from_both_paths(
        family: socket.AddressFamily, host: str) -> None:
    packets = corpus()
    assert len(packets) > 9 + (500 if CORPORA.is_dir() else 0)
    servers = pair_of_servers(allowed(grouped_config()), family)
    clients = [udp(family, host) for _ in servers]
    try:
        answered = 0
        for start in range(0, len(packets), CHUNK):
            chunk = packets[start:start + CHUNK]
            batched, python = (server.ask([(client, p) for p in chunk])
                               for server, client in zip(servers, clients, strict=True))
            assert list(batched.values()) == list(python.values()), f"packets from {start}"
            answered += sum(len(v) for v in python.values())
        # not only garbage: every well-formed query is answered (and some others, FORMERR)
        queries = sum(parse_query(packet) is not None for packet in packets)
        assert answered >= queries > (100 if CORPORA.is_dir() else 0)
        assert servers[0].pipeline.counters() == servers[1].pipeline.counters()
        assert servers[0].server.batch is not None
        assert servers[0].server.batch.datagrams == len(packets)
    finally:
        for server in servers:
            server.close()
        for client in clients:
            client.close()


def run_traffic(config: Config, stream: list[tuple[bytes, float, str]],
                cuts: list[int]) -> None:
    """`stream` through both paths, in chunks cut at `cuts` (each read at its first
    query's instant), from the clients' own loopback addresses."""
    servers = pair_of_servers(config, socket.AF_INET)
    hosts = sorted({CLIENTS[client] for _, _, client in stream})
    sockets = [{host: udp(socket.AF_INET, host) for host in hosts} for _ in servers]
    try:
        bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
        for start, end in itertools.pairwise(bounds):
            chunk = stream[start:end]
            answers = []
            for server, own in zip(servers, sockets, strict=True):
                server.now = chunk[0][1]
                answers.append(server.ask([(own[CLIENTS[c]], wire) for wire, _, c in chunk]))
            assert list(answers[0].values()) == list(answers[1].values())
        assert servers[0].pipeline.counters() == servers[1].pipeline.counters()
    finally:
        for server in servers:
            server.close()
        for own in sockets:
            for sock in own.values():
                sock.close()


@settings(max_examples=60, deadline=None)
@given(traffic(), st.lists(st.integers(0, 60), max_size=6))
def test_pipeline_traffic_gets_the_same_answers_from_both_paths(
        stream: list[tuple[bytes, float, str, bool]], cuts: list[int]) -> None:
    config = allowed(office_config())
    run_traffic(config, [(wire, now, client) for wire, now, client, _ in stream], cuts)


@settings(max_examples=40, deadline=None)
@given(grouped_traffic(), st.lists(st.integers(0, 60), max_size=6))
def test_grouped_traffic_gets_the_same_answers_from_both_paths(
        stream: list[tuple[bytes, float, str]], cuts: list[int]) -> None:
    run_traffic(allowed(grouped_config()), stream, cuts)


class LaterUpstream(Stage):
    """A tail that holds each forwarded query until the test answers it."""

    next = None
    held: ClassVar[list[tuple[Request, Done]]] = []

    def forward(self, request: Request, done: Done) -> None:
        self.held.append((request, done))


@pytest.fixture(params=["batched", "python"])
def io(request: pytest.FixtureRequest) -> UdpIo:
    return batched_io() if request.param == "batched" else python_io()


@pytest.mark.parametrize(("family", "host"), LOOPBACKS, ids=["ipv4", "ipv6"])
def test_forwarded_queries_are_answered_later_to_their_clients(
        io: UdpIo, family: socket.AddressFamily, host: str) -> None:
    chain = tuple(LaterUpstream if stage is UpstreamStage else stage for stage in CHAIN)
    served = Served(io, build(office_policy(), repeat=True, chain=chain), family)
    clients = [udp(family, host) for _ in range(3)]
    try:
        names = [f"n{n}.example.org" for n in range(len(clients))]
        for client, name in zip(clients, names, strict=True):
            client.sendto(query(name), served.address)
        served.run_until(lambda: len(served.results) == len(clients))
        assert served.server.pending == len(clients)  # all three waiting for the upstream
        assert arrived(clients[0], 1, timeout=0.05) == []
        for request, done in LaterUpstream.held:
            served.loop.call_soon(done, upstream_answer(request))
        LaterUpstream.held.clear()
        served.run_until(lambda: served.server.pending == 0)
        for client, name in zip(clients, names, strict=True):
            [answer] = arrived(client, 1)
            assert name.encode().split(b".")[0] in answer and answer[3] & 0x0F == 0
    finally:
        served.close()
        for client in clients:
            client.close()


def test_a_handler_exception_is_logged_alike_and_costs_no_one_else_an_answer(
        io: UdpIo, caplog: pytest.LogCaptureFixture) -> None:
    pipeline = build(office_policy(), repeat=True, chain=chain_answering_at_once())
    inner = pipeline.handle

    def handle(data: bytes, client: str, now: float, tcp: bool = False
               ) -> bytes | Request | None:
        if data == b"bug":
            raise ZeroDivisionError("a bug in a stage")
        return inner(data, client, now, tcp)

    pipeline.handle = handle
    served = Served(io, pipeline, socket.AF_INET)  # counts what reaches `handle`
    client = udp(socket.AF_INET, "127.0.0.1")
    try:
        blocked = query("www.tiktok.com")
        answers = served.ask([(client, blocked), (client, b"bug"), (client, blocked)])
        assert [a[3] & 0x0F for a in answers[client.fileno()]] == [3, 3]  # NXDOMAIN
        [record] = [r for r in caplog.records if "internal error" in r.getMessage()]
        assert record.getMessage() == "internal error while answering a UDP query (1 so far)"
        assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError
    finally:
        served.close()
        client.close()


def test_the_batch_reads_its_socket_only_while_started() -> None:
    served = Served(batched_io(), build(office_policy(), repeat=True), socket.AF_INET)
    client = udp(socket.AF_INET, "127.0.0.1")
    try:
        served.server.pause()
        client.sendto(query("www.tiktok.com"), served.address)
        served.run_until(lambda: False, timeout=0.05)
        assert served.results == []  # left in the socket for the next generation
        served.server.start()
        served.run_until(lambda: len(served.results) == 1)
        assert arrived(client, 1)[0][3] & 0x0F == 3
    finally:
        served.close()
        client.close()


def query(name: str) -> bytes:
    wire = b"".join(bytes([len(label)]) + label.encode() for label in name.split("."))
    return struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + wire + b"\0\0\1\0\1"
