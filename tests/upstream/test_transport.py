"""Tests for resolver.upstream.transport: sockets, IDs and ports, reply matching, timeouts,
resources; through a Forwarder talking to fake servers on loopback."""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import gc
import socket
import struct

import dns.message
import dns.rcode
import pytest

from resolver.upstream import transport
from resolver.upstream.forwarder import Forwarder
from resolver.upstream.servers import UpstreamServer

from .fake_upstream import (
    LOOPBACK,
    FakeUpstream,
    Seen,
    answering,
    assert_answer,
    closed_udp_port,
    fds_opened_since,
    full_answer,
    open_fds,
    reply_to,
    run,
    silent,
    timed,
    with_id,
)


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


def test_unreachable_port_fails_over_at_once_thanks_to_icmp() -> None:
    async def scenario() -> None:
        async with FakeUpstream(answering("192.0.2.3")) as live:
            closed = UpstreamServer(LOOPBACK, closed_udp_port())
            forwarder = Forwarder([closed, live.server], try_timeout=2.0)
            wire, elapsed = await timed(forwarder)
            assert_answer(wire, "192.0.2.3")
            assert elapsed < 0.5

    run(scenario())


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
            # each forwarder's epoll set, nothing per query
            assert len(fds_opened_since(before)) == 3
            for each in (forwarder, slow, tcp):
                each.close()
            assert fds_opened_since(before) == set()

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
            # the module's own attribute: compiled code reads it there too
            monkeypatch.setattr(_socket, "socket", no_more_fds)
            wire, elapsed = await timed(forwarder)
            monkeypatch.undo()
            assert wire is None
            assert elapsed < 0.1
            assert not forwarder.is_held_down(fake.server)
            assert_answer((await timed(forwarder))[0], "192.0.2.1")

    run(scenario())


def test_answers_wants_our_id_qr_opcode_query_and_the_same_question() -> None:
    query = dns.message.make_query("www.example.com", "A")
    question = query.to_wire()[12:]
    reply = reply_to(query)
    assert transport.answers(reply, query.id, question)
    assert transport.answers(reply[:12] + reply[12:20].upper() + reply[20:], query.id, question)
    assert not transport.answers(reply, query.id ^ 1, question)
    assert not transport.answers(query.to_wire(), query.id, question), "QR=0"
    assert not transport.answers(reply[:12 + len(question) - 1], query.id, question)
    for opcode in (1, 2, 4, 5, 15):  # a response of another opcode answers another question
        other = reply[:2] + bytes([reply[2] | opcode << 3]) + reply[3:]
        assert not transport.answers(other, query.id, question), opcode
    flagged = reply[:2] + bytes([reply[2] | 0x07, reply[3] | 0xF5]) + reply[4:]  # AA TC RD, RCODE
    assert transport.answers(flagged, query.id, question)


def test_checked_returns_the_answer_without_opt_and_the_full_rcode() -> None:
    query = dns.message.make_query("www.example.com", "A", use_edns=0)
    question = query.to_wire()[12 : 12 + len(query.question[0].name.to_wire() or b"") + 4]
    answer, rcode = transport.checked(reply_to(query), question)
    assert rcode == 0 and dns.message.from_wire(answer).edns == -1
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.BADVERS)
    assert transport.checked(response.to_wire(), question)[1] == dns.rcode.BADVERS
