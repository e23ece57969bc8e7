"""Tests for resolver.upstream.Forwarder against fake upstream servers on loopback.

Every fake server listens on 127.0.0.1 (or ::1) on a port the kernel picks; nothing
is sent anywhere else. Each scenario runs under asyncio.run with an overall timeout.
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import gc
import os
import socket
import struct
import time
import types
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from resolver import upstream
from resolver.upstream import Forwarder, UpstreamServer, response_rcode

LOOPBACK = "127.0.0.1"
SCENARIO_TIMEOUT = 15.0


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(scenario, SCENARIO_TIMEOUT))


# --- fake upstream --------------------------------------------------------------------


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


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- assertions -----------------------------------------------------------------------


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


# --- normal operation -----------------------------------------------------------------


def test_normal_answer_is_returned_without_opt_and_with_our_id() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering("192.0.2.7")) as fake:
            forwarder = Forwarder([fake.server])
            wire, _ = await timed(forwarder)
            assert_answer(wire, "192.0.2.7")
            assert wire is not None
            assert_no_opt(wire)
            assert wire[:2] == fake.seen[0].wire[:2], "the ID is the one we sent upstream"
            assert response_rcode(wire) == dns.rcode.NOERROR
            forwarder.close()

    run(scenario())


def test_query_is_our_own_with_rd_edns_and_the_clients_do_cd_bits() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering()) as fake:
            forwarder = Forwarder([fake.server], udp_size=1400)
            for do in (False, True):
                for cd in (False, True):
                    await forwarder.resolve("www.example.com.", 28, 1, do=do, cd=cd)
            for seen, (do, cd) in zip(
                fake.seen,
                [(False, False), (False, True), (True, False), (True, True)],
                strict=True,
            ):
                query = seen.message
                assert query.flags & dns.flags.RD
                assert bool(query.flags & dns.flags.CD) == cd
                assert query.edns == 0 and query.payload == 1400
                assert bool(query.ednsflags & dns.flags.DO) == do
                assert query.question[0].rdtype == dns.rdatatype.AAAA
                assert not query.options

    run(scenario())


def test_ids_and_source_ports_differ_across_queries() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering()) as fake:
            forwarder = Forwarder([fake.server])
            for _ in range(20):
                assert_answer(
                    await forwarder.resolve("a.example.", 1, 1, do=False, cd=False), "192.0.2.1"
                )
            ids = {seen.message.id for seen in fake.seen}
            ports = {seen.source[1] for seen in fake.seen}
            assert len(ids) >= 18, f"IDs should be random, got {sorted(ids)}"
            assert len(ports) >= 15, f"source ports should be random, got {sorted(ports)}"

    run(scenario())


def test_ids_keep_coming_from_the_os_random_source_across_pool_refills() -> None:
    forwarder = Forwarder([UpstreamServer(LOOPBACK, 9)])
    ids = [forwarder._query_id() for _ in range(3 * 2048)]  # three 4 KiB pools
    assert len(set(ids)) > 5_500  # 6,144 draws from 65,536 values: ~5,870 distinct
    assert ids[:2048] != ids[2048:4096]
    assert all(0 <= value < 65_536 for value in ids)


def test_a_question_in_wire_form_is_sent_as_the_client_wrote_it() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering()) as fake:
            forwarder = Forwarder([fake.server])
            future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
            question = b"\x03WwW\x07ExAmPlE\x00\x00\x01\x00\x01"
            forwarder.start_question(question, do=False, cd=False, tcp=False,
                                     done=future.set_result)
            assert_answer(await future, "192.0.2.1")
            assert fake.seen[0].wire[12:12 + len(question)] == question

    run(scenario())


def test_escaped_qname_is_sent_as_the_original_label_bytes() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering()) as fake:
            forwarder = Forwarder([fake.server])
            wire = await forwarder.resolve(
                r"a\.b.ex\065mple\032x\\.\000.", 1, 1, do=False, cd=False
            )
            assert_answer(wire, "192.0.2.1")
            labels = fake.seen[0].message.question[0].name.labels
            assert labels == (b"a.b", b"exAmple x\\", b"\x00", b"")
            await forwarder.resolve(".", 2, 1, do=False, cd=False)
            assert fake.seen[1].message.question[0].name == dns.name.root

    run(scenario())


@pytest.mark.parametrize(
    "qname",
    [
        "a..example.",
        "x" * 64 + ".example.",
        "a.\\",
        "a\\256.example.",
        ".".join(["abcdefghi"] * 26),
        "caf\u20ac.example.",
    ],
)
def test_invalid_qnames_raise_value_error(qname: str) -> None:
    async def scenario() -> None:
        forwarder = Forwarder([UpstreamServer(LOOPBACK, closed_udp_port())])
        with pytest.raises(ValueError):
            await forwarder.resolve(qname, 1, 1, do=False, cd=False)

    run(scenario())


def test_reply_question_is_compared_case_insensitively() -> None:
    def respond(fake: FakeUpstream, seen: Seen) -> None:
        wire = reply_to(seen.message)
        name_end = 12 + len(seen.message.question[0].name.to_wire() or b"")
        fake.send(wire[:12] + wire[12:name_end].upper() + wire[name_end:], seen.source)

    async def scenario() -> None:
        async with FakeUpstream(respond) as fake:
            assert_answer(
                await Forwarder([fake.server]).resolve(
                    "www.Example.com.", 1, 1, do=False, cd=False
                ),
                "192.0.2.1",
            )

    run(scenario())


def test_opt_in_the_middle_of_additional_is_removed_with_what_follows() -> None:
    def respond(fake: FakeUpstream, seen: Seen) -> None:
        wire = reply_to(seen.message)  # ends with the OPT: append an A after it
        extra = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 99])
        arcount = struct.unpack_from("!H", wire, 10)[0] + 1
        fake.send(wire[:10] + struct.pack("!H", arcount) + wire[12:] + extra, seen.source)

    async def scenario() -> None:
        async with FakeUpstream(respond) as fake:
            wire = await Forwarder([fake.server]).resolve("a.example.", 1, 1, do=True, cd=False)
            message = assert_answer(wire, "192.0.2.1")
            assert message.edns == -1 and message.additional == []

    run(scenario())


def test_ipv6_loopback_upstream() -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")

    async def scenario() -> None:
        async with FakeUpstream(answering("192.0.2.6"), host="::1") as fake:
            assert_answer(
                await Forwarder([fake.server]).resolve("a.example.", 1, 1, do=False, cd=False),
                "192.0.2.6",
            )

    run(scenario())


def test_upstream_must_be_an_address_literal() -> None:
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        UpstreamServer("dns.example")
    with pytest.raises(ValueError, match="port"):
        UpstreamServer(LOOPBACK, 0)


def test_resolve_after_close_is_an_error() -> None:
    async def scenario() -> None:
        forwarder = Forwarder([UpstreamServer(LOOPBACK, closed_udp_port())])
        forwarder.close()
        with pytest.raises(RuntimeError):
            await forwarder.resolve("a.example.", 1, 1, do=False, cd=False)

    run(scenario())


# --- replies that must be ignored -----------------------------------------------------


def test_spoofed_replies_are_ignored_and_the_real_one_taken() -> None:
    """Wrong ID, wrong name, wrong type, QR=0 and another source port all arrive first."""

    def respond(fake: FakeUpstream, seen: Seen) -> None:
        query = seen.message
        spoof = reply_to(query, "6.6.6.6")
        fake.send_from_other_port(spoof, seen.source)
        fake.send(with_id(spoof, query.id ^ 0x5A5A), seen.source)
        other_name = dns.message.make_query("evil.example.", "A")
        other_name.id = query.id
        fake.send(reply_to(other_name, "6.6.6.7"), seen.source)
        other_type = dns.message.make_query(query.question[0].name, "AAAA")
        other_type.id = query.id
        fake.send(dns.message.make_response(other_type).to_wire(), seen.source)
        fake.send(spoof[:2] + bytes([spoof[2] & 0x7F]) + spoof[3:], seen.source)  # QR=0
        fake.send(b"\x00", seen.source)
        fake.send(reply_to(query, "192.0.2.1"), seen.source, delay=0.05)

    async def scenario() -> None:
        async with FakeUpstream(respond) as fake:
            forwarder = Forwarder([fake.server], try_timeout=1.0)
            wire, elapsed = await timed(forwarder, "www.example.com.")
            assert_answer(wire, "192.0.2.1")
            assert 0.04 <= elapsed < 0.9

    run(scenario())


def test_only_spoofed_replies_means_a_timeout() -> None:
    def respond(fake: FakeUpstream, seen: Seen) -> None:
        spoof = reply_to(seen.message, "6.6.6.6")
        fake.send_from_other_port(spoof, seen.source)
        fake.send(with_id(spoof, seen.message.id ^ 1), seen.source)

    async def scenario() -> None:
        async with FakeUpstream(respond) as fake:
            forwarder = Forwarder([fake.server], try_timeout=0.2, deadline=0.3)
            wire, elapsed = await timed(forwarder)
            assert wire is None
            assert 0.28 <= elapsed <= 0.45

    run(scenario())


# --- failover, deadline, health -------------------------------------------------------


def test_silent_first_server_fails_over_to_second_after_try_timeout() -> None:
    async def scenario() -> None:
        async with FakeUpstream(silent) as dead, FakeUpstream(answering("192.0.2.2")) as live:
            forwarder = Forwarder([dead.server, live.server], try_timeout=0.3)
            wire, elapsed = await timed(forwarder)
            assert_answer(wire, "192.0.2.2")
            assert 0.28 <= elapsed <= 0.5
            assert len(dead.seen) == 1

    run(scenario())


def test_unreachable_port_fails_over_at_once_thanks_to_icmp() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering("192.0.2.3")) as live:
            closed = UpstreamServer(LOOPBACK, closed_udp_port())
            forwarder = Forwarder([closed, live.server], try_timeout=2.0)
            wire, elapsed = await timed(forwarder)
            assert_answer(wire, "192.0.2.3")
            assert elapsed < 0.5

    run(scenario())


def test_all_silent_gives_none_within_the_deadline() -> None:
    async def scenario() -> None:
        async with FakeUpstream(silent) as first, FakeUpstream(silent) as second:
            forwarder = Forwarder([first.server, second.server], try_timeout=0.2, deadline=0.5)
            wire, elapsed = await timed(forwarder)
            assert wire is None
            assert 0.45 <= elapsed <= 0.5 + 0.1
            assert (len(first.seen), len(second.seen)) == (2, 1), "s1, s2, then s1 again"

    run(scenario())


def test_servfail_moves_on_but_does_not_hold_the_server_down() -> None:
    async def scenario() -> None:
        async with (
            FakeUpstream(answering(rcode=dns.rcode.SERVFAIL)) as failing,
            FakeUpstream(answering("192.0.2.4")) as live,
        ):
            forwarder = Forwarder([failing.server, live.server], failures_before_holddown=1)
            for _ in range(3):
                wire, elapsed = await timed(forwarder)
                assert_answer(wire, "192.0.2.4")
                assert elapsed < 0.5
            assert len(failing.seen) == 3
            assert not forwarder.is_held_down(failing.server)

    run(scenario())


def test_only_servfail_gives_none() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering(rcode=dns.rcode.SERVFAIL)) as failing:
            wire, _ = await timed(Forwarder([failing.server]))
            assert wire is None

    run(scenario())


def test_nxdomain_is_an_answer() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering(rcode=dns.rcode.NXDOMAIN)) as fake:
            wire, _ = await timed(Forwarder([fake.server]))
            assert wire is not None and response_rcode(wire) == dns.rcode.NXDOMAIN

    run(scenario())


def test_refused_holds_the_server_down() -> None:
    async def scenario() -> None:
        async with (
            FakeUpstream(answering(rcode=dns.rcode.REFUSED)) as refusing,
            FakeUpstream(answering("192.0.2.5")) as live,
        ):
            forwarder = Forwarder([refusing.server, live.server], failures_before_holddown=1)
            for _ in range(3):
                assert_answer((await timed(forwarder))[0], "192.0.2.5")
            assert len(refusing.seen) == 1
            assert forwarder.is_held_down(refusing.server)

    run(scenario())


def test_extended_rcode_in_opt_counts_as_failure() -> None:
    def respond(fake: FakeUpstream, seen: Seen) -> None:
        response = dns.message.make_response(seen.message)
        response.set_rcode(dns.rcode.BADVERS)
        fake.send(response.to_wire(), seen.source)

    async def scenario() -> None:
        async with FakeUpstream(respond) as odd, FakeUpstream(answering("192.0.2.8")) as live:
            forwarder = Forwarder([odd.server, live.server])
            assert_answer((await timed(forwarder))[0], "192.0.2.8")

    run(scenario())


def test_holddown_skips_a_dead_server_then_probes_it_again() -> None:
    async def scenario() -> None:
        async with FakeUpstream(silent) as dead, FakeUpstream(answering("192.0.2.9")) as live:
            forwarder = Forwarder(
                [dead.server, live.server],
                try_timeout=0.2,
                failures_before_holddown=2,
                holddown=0.6,
            )
            for expected_seen in (1, 2):
                wire, elapsed = await timed(forwarder)
                assert_answer(wire, "192.0.2.9")
                assert elapsed >= 0.18, "still waiting for the dead server"
                assert len(dead.seen) == expected_seen
            assert forwarder.is_held_down(dead.server)

            wire, elapsed = await timed(forwarder)
            assert_answer(wire, "192.0.2.9")
            assert elapsed < 0.15, "a held-down server is skipped"
            assert len(dead.seen) == 2

            await asyncio.sleep(0.65)
            assert not forwarder.is_held_down(dead.server)
            wire, elapsed = await timed(forwarder)
            assert_answer(wire, "192.0.2.9")
            assert len(dead.seen) == 3, "tried again after the holddown"
            assert elapsed >= 0.18

            wire, elapsed = await timed(forwarder)
            assert elapsed < 0.15, "one failed probe holds it down again"
            assert len(dead.seen) == 3

    run(scenario())


def test_when_every_server_is_held_down_they_are_tried_anyway() -> None:
    async def scenario() -> None:
        async with FakeUpstream(silent) as dead:
            forwarder = Forwarder(
                [dead.server],
                try_timeout=0.1,
                deadline=0.25,
                failures_before_holddown=1,
                holddown=60,
            )
            assert (await timed(forwarder))[0] is None
            assert forwarder.is_held_down(dead.server)
            tries = len(dead.seen)
            assert (await timed(forwarder))[0] is None
            assert len(dead.seen) > tries

    run(scenario())


def test_server_that_comes_back_is_used_again() -> None:
    state = {"up": False}

    def respond(fake: FakeUpstream, seen: Seen) -> None:
        if state["up"]:
            fake.send(reply_to(seen.message, "192.0.2.10"), seen.source)

    async def scenario() -> None:
        async with FakeUpstream(respond) as flaky:
            forwarder = Forwarder(
                [flaky.server],
                try_timeout=0.1,
                deadline=0.15,
                failures_before_holddown=1,
                holddown=60,
            )
            assert (await timed(forwarder))[0] is None
            state["up"] = True
            assert_answer((await timed(forwarder))[0], "192.0.2.10")
            assert not forwarder.is_held_down(flaky.server)

    run(scenario())


# --- truncation -----------------------------------------------------------------------


def full_answer(seen: Seen) -> bytes:
    return reply_to(seen.message, "192.0.2.100", records=40)


def test_truncated_udp_answer_is_retried_over_tcp_for_tcp_clients() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering(truncated=True), tcp_respond=full_answer) as fake:
            wire = await Forwarder([fake.server]).resolve(
                "big.example.", 1, 1, do=True, cd=False, tcp=True
            )
            message = assert_answer(wire, *[f"192.0.2.{100 + i}" for i in range(40)])
            assert not message.flags & dns.flags.TC
            assert message.edns == -1
            assert len(fake.tcp_seen) == 1
            tcp_query = fake.tcp_seen[0].message
            assert tcp_query.ednsflags & dns.flags.DO

    run(scenario())


def test_truncated_udp_answer_is_returned_as_is_for_udp_clients() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering(truncated=True), tcp_respond=full_answer) as fake:
            wire = await Forwarder([fake.server]).resolve(
                "big.example.", 1, 1, do=False, cd=False, tcp=False
            )
            assert wire is not None
            message = dns.message.from_wire(wire)
            assert message.flags & dns.flags.TC and message.answer == []
            assert fake.tcp_seen == []

    run(scenario())


def test_tcp_retry_failure_moves_on_to_the_next_server() -> None:
    async def scenario() -> None:
        async with (
            FakeUpstream(answering(truncated=True)) as udp_only,
            FakeUpstream(answering(truncated=True), tcp_respond=full_answer) as both,
        ):
            forwarder = Forwarder([udp_only.server, both.server])
            wire = await forwarder.resolve("big.example.", 1, 1, do=False, cd=False, tcp=True)
            assert_answer(wire, *[f"192.0.2.{100 + i}" for i in range(40)])
            assert not forwarder.is_held_down(udp_only.server)

    run(scenario())


def test_hanging_tcp_retry_still_ends_within_the_deadline() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering(truncated=True), tcp_respond=lambda seen: None) as fake:
            forwarder = Forwarder([fake.server], try_timeout=0.2, deadline=0.5)
            wire, elapsed = await timed(forwarder, tcp=True)
            assert wire is None
            assert 0.45 <= elapsed <= 0.5 + 0.1
            assert len(fake.tcp_seen) >= 2

    run(scenario())


def test_tcp_client_gets_a_plain_udp_answer_when_it_fits() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering("192.0.2.11"), tcp_respond=full_answer) as fake:
            wire = await Forwarder([fake.server]).resolve(
                "a.example.", 1, 1, do=False, cd=False, tcp=True
            )
            assert_answer(wire, "192.0.2.11")
            assert fake.tcp_seen == []

    run(scenario())


# --- resources ------------------------------------------------------------------------


def test_no_file_descriptors_leak_across_answers_timeouts_and_cancellation() -> None:
    async def scenario() -> None:
        async with (
            FakeUpstream(answering()) as live,
            FakeUpstream(silent) as dead,
            FakeUpstream(answering(truncated=True), tcp_respond=full_answer) as big,
        ):
            gc.collect()  # earlier tests' forwarders, never closed, hold their epoll sets
            before = open_fds()
            forwarder = Forwarder([live.server])
            slow = Forwarder([dead.server], try_timeout=0.02, deadline=0.05)
            tcp = Forwarder([big.server])
            for index in range(50):
                if index % 10 == 0:
                    assert await slow.resolve("a.example.", 1, 1, do=False, cd=False) is None
                elif index % 10 == 1:
                    task = asyncio.create_task(slow.resolve("a.example.", 1, 1, do=False, cd=False))
                    await asyncio.sleep(0.005)
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                elif index % 10 == 2:
                    assert (
                        await tcp.resolve("big.example.", 1, 1, do=False, cd=False, tcp=True)
                        is not None
                    )
                else:
                    assert (
                        await forwarder.resolve("a.example.", 1, 1, do=False, cd=False) is not None
                    )
            await asyncio.sleep(0.1)  # the cancelled query's try ends; the fake TCP server
            # finishes closing its side
            assert open_fds() == before + 3  # each forwarder's epoll set, nothing per query
            for each in (forwarder, slow, tcp):
                each.close()
            assert open_fds() == before

    run(scenario())


def test_concurrent_queries_each_get_their_own_answer() -> None:
    def respond(fake: FakeUpstream, seen: Seen) -> None:
        index = int(seen.message.question[0].name.labels[0][1:])
        fake.send(
            reply_to(seen.message, f"192.0.2.{index}"), seen.source, delay=0.001 * (20 - index)
        )

    async def scenario() -> None:
        async with FakeUpstream(respond) as fake:
            forwarder = Forwarder([fake.server])
            results = await asyncio.gather(
                *[
                    forwarder.resolve(f"q{i}.example.", 1, 1, do=False, cd=False)
                    for i in range(1, 21)
                ]
            )
            for index, wire in enumerate(results, start=1):
                assert_answer(wire, f"192.0.2.{index}")

    run(scenario())


def test_running_out_of_sockets_is_not_blamed_on_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_more_fds(*args: object, **kwargs: object) -> socket.socket:
        raise OSError(24, "Too many open files")

    async def scenario() -> None:
        async with FakeUpstream(answering()) as fake:
            forwarder = Forwarder([fake.server], failures_before_holddown=1)
            shim = types.SimpleNamespace(**vars(_socket))
            shim.socket = no_more_fds
            monkeypatch.setattr(upstream, "_socket", shim)
            wire, elapsed = await timed(forwarder)
            monkeypatch.undo()
            assert wire is None
            assert elapsed < 0.1
            assert not forwarder.is_held_down(fake.server)
            assert_answer((await timed(forwarder))[0], "192.0.2.1")

    run(scenario())
