"""Tests for resolver.upstream.forwarder.Forwarder against fake upstream servers on loopback.

Every fake server listens on 127.0.0.1 (or ::1) on a port the kernel picks; nothing
is sent anywhere else. Each scenario runs under asyncio.run with an overall timeout.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from resolver.dns.message import response_rcode
from resolver.upstream.forwarder import Forwarder
from resolver.upstream.servers import UpstreamServer

from .fake_upstream import (
    LOOPBACK,
    FakeUpstream,
    answering,
    assert_answer,
    assert_no_opt,
    closed_udp_port,
    full_answer,
    run,
    silent,
    timed,
)


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


def test_resolve_after_close_is_an_error() -> None:
    async def scenario() -> None:
        forwarder = Forwarder([UpstreamServer(LOOPBACK, closed_udp_port())])
        forwarder.close()
        with pytest.raises(RuntimeError):
            await forwarder.resolve("a.example.", 1, 1, do=False, cd=False)

    run(scenario())


def test_silent_first_server_fails_over_to_second_after_try_timeout() -> None:
    async def scenario() -> None:
        async with FakeUpstream(silent) as dead, FakeUpstream(answering("192.0.2.2")) as live:
            forwarder = Forwarder([dead.server, live.server], try_timeout=0.3)
            wire, elapsed = await timed(forwarder)
            assert_answer(wire, "192.0.2.2")
            assert 0.28 <= elapsed <= 0.5
            assert len(dead.seen) == 1

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


@pytest.mark.parametrize("rcode", [dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.NOTIMP,
                                   dns.rcode.FORMERR])
def test_when_every_server_answers_an_error_it_is_passed_on_at_once(rcode: int) -> None:
    async def scenario() -> None:
        async with (FakeUpstream(answering(rcode=rcode)) as first,
                    FakeUpstream(answering(rcode=rcode)) as second):
            forwarder = Forwarder([first.server, second.server], try_timeout=1.0, deadline=3.0)
            wire, elapsed = await timed(forwarder)
            assert wire is not None and response_rcode(wire) == rcode
            assert elapsed < 0.5, "not after a timeout or the deadline"
            assert forwarder.answered_by == second.server  # the last one asked
            assert (len(first.seen), len(second.seen)) == (1, 1), "each asked once"
            assert not forwarder.is_held_down(first.server)

    run(scenario())


def test_an_error_answer_moves_on_to_the_next_server() -> None:
    async def scenario() -> None:
        async with (FakeUpstream(answering(rcode=dns.rcode.REFUSED)) as refusing,
                    FakeUpstream(answering("192.0.2.5")) as live):
            forwarder = Forwarder([refusing.server, live.server])
            assert_answer((await timed(forwarder))[0], "192.0.2.5")
            assert forwarder.answered_by == live.server

    run(scenario())


def test_nxdomain_is_an_answer() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering(rcode=dns.rcode.NXDOMAIN)) as fake:
            wire, _ = await timed(Forwarder([fake.server]))
            assert wire is not None and response_rcode(wire) == dns.rcode.NXDOMAIN

    run(scenario())


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
