"""The upstream stage alone, against tiny UDP DNS responders on 127.0.0.1.

Each responder listens on a port the kernel picks; nothing is sent anywhere else. Each
scenario runs under `asyncio.run` with an overall timeout, as tests/test_upstream.py does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import struct
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.rrset
import pytest

from resolver.config.endpoints import Endpoint
from resolver.config.settings import Config
from resolver.dns.message import records
from resolver.stages import upstream as upstream_module
from resolver.stages.upstream import UpstreamStage
from tests.stages.fakes import (
    Replies,
    assert_addresses,
    message_of,
    office_config,
    query_wire,
    request_for,
    setup_of,
)
from tests.upstream.certificates import SERVER_NAME, authority, server_files
from tests.upstream.fake_tls_upstream import FakeTlsUpstream
from tests.upstream.fake_tls_upstream import answering as tls_answering

LOOPBACK = "127.0.0.1"
SCENARIO_TIMEOUT = 5.0
TIMEOUT = 0.05
DEADLINE = 0.2


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(scenario, SCENARIO_TIMEOUT))


class Responder(asyncio.DatagramProtocol):
    """A UDP DNS server that answers every query with one A record (and an OPT when the
    query had one, as real upstreams do)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.seen: list[dns.message.Message] = []
        self.transport: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        query = dns.message.from_wire(data)
        self.seen.append(query)
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A",
                                                   self.address))
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])


@contextlib.asynccontextmanager
async def responders(*addresses: str) -> AsyncIterator[list[Responder]]:
    """One responder per address, each on its own port; closed when the block ends."""
    loop = asyncio.get_running_loop()
    started = []
    try:
        for address in addresses:
            transport, protocol = await loop.create_datagram_endpoint(
                functools.partial(Responder, address), local_addr=(LOOPBACK, 0))
            protocol.transport = transport
            started.append(protocol)
        yield started
    finally:
        for protocol in started:
            assert protocol.transport is not None
            protocol.transport.close()


def closed_udp_port() -> int:
    """A loopback port with nothing listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def config_for(port: int) -> Config:
    return office_config(**{"upstream.servers": (Endpoint(LOOPBACK, port),),
                            "upstream.timeout": TIMEOUT, "upstream.deadline": DEADLINE})


def forward(stage: UpstreamStage, name: str = "www.example.com", **options: Any) -> Replies:
    replies = Replies()
    stage.forward(request_for(setup_of(), query_wire(name, **options)), replies)
    return replies


async def settled(replies: Replies, calls: int = 1) -> list[bytes | None]:
    """The calls made once `calls` have come, plus a moment for any extra one."""
    while len(replies.calls) < calls:
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.02)
    return replies.calls


def test_forward_calls_done_once_with_the_upstreams_message_without_opt() -> None:
    async def scenario() -> None:
        async with responders("192.0.2.10") as (upstream,):
            stage = UpstreamStage(setup_of(config_for(upstream.port)))
            replies = forward(stage, "www.example.com", do=True)
            calls = await settled(replies)
            assert len(calls) == 1
            message = assert_addresses(calls[0], "192.0.2.10", ttl=60)
            assert message.edns == -1, "the OPT record is removed"
            assert len(upstream.seen) == 1
            sent = upstream.seen[0]
            assert sent.question[0].name.to_text() == "www.example.com."
            assert sent.ednsflags & dns.flags.DO, "the client's DO bit goes upstream"
            assert stage.counters() == {"forwarded": 1, "upstream_failures": 0}
            assert stage.in_flight == 0
            stage.close()

    run(scenario())


def test_the_answer_comes_with_its_records_as_the_check_framed_them() -> None:
    """The cache stores the message without walking it again: the framing is the
    forwarder's, for the very bytes handed on, and it is what a fresh walk finds."""
    async def scenario() -> None:
        async with responders("192.0.2.10") as (upstream,):
            stage = UpstreamStage(setup_of(config_for(upstream.port)))
            request = request_for(setup_of(), query_wire("www.example.com"))
            replies = Replies()
            stage.forward(request, replies)
            (answer,) = await settled(replies)
            assert answer is not None and request.framed is not None
            framed, question_end, found = request.framed
            assert framed is answer
            assert found == records(answer, question_end,
                                    sum(struct.unpack_from(">HHH", answer, 6)))
            stage.close()

    run(scenario())


def test_nothing_listening_gives_none_within_the_deadline_and_counts_a_failure() -> None:
    async def scenario() -> None:
        stage = UpstreamStage(setup_of(config_for(closed_udp_port())))
        started = time.monotonic()
        replies = forward(stage)
        calls = await settled(replies)
        assert time.monotonic() - started <= DEADLINE + 0.1
        assert calls == [None]
        assert stage.counters() == {"forwarded": 1, "upstream_failures": 1}
        assert stage.in_flight == 0
        stage.close()

    run(scenario())


def test_with_a_stale_answer_ready_and_every_server_held_down_none_comes_at_once() -> None:
    async def scenario() -> None:
        stage = UpstreamStage(setup_of(config_for(closed_udp_port())))
        assert await settled(forward(stage)) == [None]  # three refused tries: held down
        assert stage.counters() == {"forwarded": 1, "upstream_failures": 1}
        ready = request_for(setup_of(), query_wire("www.example.com"))
        ready.stale_ready = True
        replies = Replies()
        stage.forward(ready, replies)
        assert replies.calls == [None], "answered before forward returned"
        assert stage.counters() == {"forwarded": 1, "upstream_failures": 1}, "nothing asked"
        assert stage.in_flight == 0
        # without an answer at hand the servers are tried anyway
        started = forward(stage)
        assert started.calls == [] and stage.in_flight == 1
        assert await settled(started) == [None]
        assert stage.counters() == {"forwarded": 2, "upstream_failures": 2}
        stage.close()

    run(scenario())


def test_with_a_stale_answer_ready_a_server_not_held_down_is_asked() -> None:
    async def scenario() -> None:
        async with responders("192.0.2.13") as (upstream,):
            stage = UpstreamStage(setup_of(config_for(upstream.port)))
            ready = request_for(setup_of(), query_wire("www.example.com"))
            ready.stale_ready = True
            replies = Replies()
            stage.forward(ready, replies)
            assert_addresses((await settled(replies))[0], "192.0.2.13")
            assert len(upstream.seen) == 1
            stage.close()

    run(scenario())


def test_beyond_max_in_flight_done_gets_none_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream_module, "MAX_IN_FLIGHT", 1)

    async def scenario() -> None:
        async with responders("192.0.2.11") as (upstream,):
            stage = UpstreamStage(setup_of(config_for(upstream.port)))
            first = forward(stage, "one.example")
            shed = forward(stage, "two.example")
            assert shed.calls == [None], "answered before forward returned"
            assert stage.shed == 1
            assert_addresses((await settled(first))[0], "192.0.2.11")
            assert [m.question[0].name.to_text() for m in upstream.seen] == ["one.example."]
            assert stage.counters() == {"forwarded": 1, "upstream_failures": 0}
            again = forward(stage, "three.example")  # the first is no longer in flight
            assert_addresses((await settled(again))[0], "192.0.2.11")
            assert stage.shed == 1
            stage.close()

    run(scenario())


def test_with_max_in_flight_0_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream_module, "MAX_IN_FLIGHT", 0)

    async def scenario() -> None:
        async with responders("192.0.2.12") as (upstream,):
            stage = UpstreamStage(setup_of(config_for(upstream.port)))
            assert forward(stage).calls == [None]
            await asyncio.sleep(0.02)
            assert upstream.seen == [] and stage.shed == 1
            assert stage.counters() == {"forwarded": 0, "upstream_failures": 0}
            stage.close()

    run(scenario())


def test_reconfigure_with_other_servers_sends_the_next_query_to_the_new_one() -> None:
    async def scenario() -> None:
        async with responders("192.0.2.1", "192.0.2.2") as (old, new):
            stage = UpstreamStage(setup_of(config_for(old.port)))
            assert_addresses((await settled(forward(stage)))[0], "192.0.2.1")
            stage.reconfigure(config_for(new.port))
            assert_addresses((await settled(forward(stage)))[0], "192.0.2.2")
            assert (len(old.seen), len(new.seen)) == (1, 1)
            assert stage.counters() == {"forwarded": 2, "upstream_failures": 0}
            stage.close()

    run(scenario())


def test_reconfigure_without_upstream_changes_keeps_the_forwarder() -> None:
    async def scenario() -> None:
        async with responders("192.0.2.3") as (upstream,):
            config = config_for(upstream.port)
            stage = UpstreamStage(setup_of(config))
            kept = stage._forwarder
            stage.reconfigure(office_config(**{
                "upstream.servers": config.upstream.servers, "upstream.timeout": TIMEOUT,
                "upstream.deadline": DEADLINE, "cache.max_entries": 5}))
            assert stage._forwarder is kept
            assert_addresses((await settled(forward(stage)))[0], "192.0.2.3")
            stage.close()

    run(scenario())


def test_close_closes_the_forwarder() -> None:
    async def scenario() -> None:
        async with responders("192.0.2.4") as (upstream,):
            stage = UpstreamStage(setup_of(config_for(upstream.port)))
            stage.close()
            with pytest.raises(RuntimeError, match="after close"):
                forward(stage)
            await asyncio.sleep(0.02)
            assert upstream.seen == []

    run(scenario())


def test_the_upstreams_answer_keeps_its_own_id_for_the_pipeline_to_fit() -> None:
    async def scenario() -> None:
        async with responders("192.0.2.5") as (upstream,):
            stage = UpstreamStage(setup_of(config_for(upstream.port)))
            calls = await settled(forward(stage, "www.example.com", qid=777))
            assert message_of(calls[0]).id == upstream.seen[0].id
            stage.close()

    run(scenario())


def test_reconfigure_closes_the_forwarder_it_replaces() -> None:
    async def scenario() -> None:
        async with responders("192.0.2.6", "192.0.2.7") as (old, new):
            stage = UpstreamStage(setup_of(config_for(old.port)))
            replaced = stage._forwarder
            stage.reconfigure(config_for(new.port))
            assert stage._forwarder is not replaced
            with pytest.raises(RuntimeError, match="after close"):
                replaced.start("www.example.com", 1, 1, do=False, cd=False, tcp=False,
                               done=Replies())
            stage.close()

    run(scenario())


def test_tls_servers_are_asked_over_tls_verified_against_the_ca_file(
        tmp_path: Path) -> None:
    ca = authority()
    files = server_files(tmp_path, ca)

    async def scenario() -> None:
        async with FakeTlsUpstream(files, answer=tls_answering("192.0.2.8")) as fake:
            server = Endpoint(LOOPBACK, fake.port, SERVER_NAME)
            config = office_config(**{"upstream.servers": (server,),
                                      "upstream.ca_file": files.ca})
            stage = UpstreamStage(setup_of(config))
            request = request_for(setup_of(), query_wire("www.example.com"))
            replies = Replies()
            stage.forward(request, replies)
            assert_addresses((await settled(replies))[0], "192.0.2.8")
            assert request.upstream == f"tls://127.0.0.1:{fake.port}#{SERVER_NAME}"
            assert len(fake.queries) == 1
            kept = stage._forwarder
            stage.reconfigure(office_config(**{"upstream.servers": (server,)}))  # system CAs
            assert stage._forwarder is not kept
            assert (await settled(forward(stage)))[0] is None  # the test CA is not trusted
            assert len(fake.queries) == 1
            stage.close()

    run(scenario())
