"""Fake upstream servers on loopback for the upstream tests, and the assertions they share.

Every fake server listens on 127.0.0.1 (or ::1) on a port the kernel picks; nothing
is sent anywhere else. Each scenario runs under asyncio.run with an overall timeout.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

from resolver.upstream.forwarder import Forwarder
from resolver.upstream.servers import UpstreamServer

LOOPBACK = "127.0.0.1"

SCENARIO_TIMEOUT = 15.0


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(scenario, SCENARIO_TIMEOUT))


@dataclass
class Seen:
    """One query as the fake server received it."""

    wire: bytes
    source: tuple[Any, ...]

    @property
    def message(self) -> dns.message.Message:
        return dns.message.from_wire(self.wire)

Responder = Callable[["FakeUpstream", Seen], None]


@dataclass
class FakeUpstream:
    """A UDP (and optionally TCP) DNS server on a loopback ephemeral port.

    `respond` decides what to send back for each UDP query; it may send several
    datagrams, from the server's own socket or from a second one on another port.
    """

    respond: Responder
    tcp_respond: Callable[[Seen], bytes | None] | None = None  # None: accept, never answer
    host: str = LOOPBACK
    seen: list[Seen] = field(default_factory=list)
    tcp_seen: list[Seen] = field(default_factory=list)
    _transport: asyncio.DatagramTransport | None = None
    _tcp_server: asyncio.Server | None = None
    _other: socket.socket | None = None
    port: int = 0

    async def __aenter__(self) -> FakeUpstream:
        loop = asyncio.get_running_loop()
        for _attempt in range(20):  # find a port free for both UDP and TCP
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self.host, 0)
            )
            self._transport = transport
            self.port = transport.get_extra_info("sockname")[1]
            if self.tcp_respond is None:
                break
            try:
                self._tcp_server = await asyncio.start_server(self._serve_tcp, self.host, self.port)
                break
            except OSError:
                transport.close()
        else:
            raise RuntimeError("no loopback port free for both UDP and TCP")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._other = socket.socket(family, socket.SOCK_DGRAM)
        self._other.bind((self.host, 0))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._transport is not None and self._other is not None
        self._transport.close()
        self._other.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()

    @property
    def server(self) -> UpstreamServer:
        return UpstreamServer(self.host, self.port)

    def send(self, wire: bytes, to: tuple[Any, ...], delay: float = 0.0) -> None:
        assert self._transport is not None
        if delay:
            asyncio.get_running_loop().call_later(delay, self._transport.sendto, wire, to)
        else:
            self._transport.sendto(wire, to)

    def send_from_other_port(self, wire: bytes, to: tuple[Any, ...]) -> None:
        assert self._other is not None
        self._other.sendto(wire, to)

    def received(self, wire: bytes, source: tuple[Any, ...]) -> None:
        seen = Seen(wire, source)
        self.seen.append(seen)
        self.respond(self, seen)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self.tcp_respond is not None
        try:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            seen = Seen(await reader.readexactly(size), writer.get_extra_info("peername"))
            self.tcp_seen.append(seen)
            reply = self.tcp_respond(seen)
            if reply is None:
                await asyncio.sleep(1.0)
                return
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
        finally:
            writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, fake: FakeUpstream) -> None:
        self.fake = fake

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.fake.received(data, addr)


def reply_to(
    query: dns.message.Message,
    address: str = "192.0.2.1",
    *,
    rcode: int = dns.rcode.NOERROR,
    truncated: bool = False,
    records: int = 1,
) -> bytes:
    """An upstream-style response (with an OPT when the query had one)."""
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.Rcode(rcode))
    if truncated:
        response.flags |= dns.flags.TC
    elif rcode == dns.rcode.NOERROR:
        base = address.rsplit(".", 1)[0]
        first = int(address.rsplit(".", 1)[1])
        addresses = [f"{base}.{first + i}" for i in range(records)]
        response.answer.append(
            dns.rrset.from_text(query.question[0].name, 60, "IN", "A", *addresses)
        )
    return response.to_wire()


def answering(address: str = "192.0.2.1", **options: Any) -> Responder:
    def respond(fake: FakeUpstream, seen: Seen) -> None:
        fake.send(reply_to(seen.message, address, **options), seen.source)

    return respond


def silent(fake: FakeUpstream, seen: Seen) -> None:
    """Never answers (a dead or firewalled upstream)."""


def with_id(wire: bytes, query_id: int) -> bytes:
    return struct.pack("!H", query_id) + wire[2:]


def closed_udp_port() -> int:
    """A loopback port with nothing listening: queries to it draw ICMP port unreachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def open_fds() -> frozenset[tuple[str, str]]:
    """This process's open descriptors as (number, what it points to).

    Compared as sets, not counted: a descriptor that other code (an earlier test's thread, a
    collected socket) closes meanwhile must not hide one this test leaks.
    """
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed since the listing, or the listing's own descriptor
        found.add((fd, target))
    return frozenset(found)


def fds_opened_since(before: frozenset[tuple[str, str]]) -> set[tuple[str, str]]:
    """Descriptors open now that were not open at `before` (the listing's own excluded)."""
    return {entry for entry in open_fds() - before if not entry[1].endswith("/fd")}


def assert_answer(wire: bytes | None, *addresses: str) -> dns.message.Message:
    assert wire is not None, "expected an answer, got None"
    message = dns.message.from_wire(wire)
    assert message.rcode() == dns.rcode.NOERROR
    got = sorted(rd.address for rrset in message.answer for rd in rrset)
    assert got == sorted(addresses)
    return message


def assert_no_opt(wire: bytes) -> None:
    message = dns.message.from_wire(wire)
    assert message.edns == -1, "the OPT record should have been removed"


async def timed(
    forwarder: Forwarder, qname: str = "www.example.com.", **options: Any
) -> tuple[bytes | None, float]:
    options.setdefault("do", False)
    options.setdefault("cd", False)
    started = time.monotonic()
    result = await forwarder.resolve(qname, 1, 1, **options)
    return result, time.monotonic() - started


def full_answer(seen: Seen) -> bytes:
    return reply_to(seen.message, "192.0.2.100", records=40)
