"""Tests for resolver.upstream.tls: DNS over TLS through a Forwarder, against fake TLS
servers on loopback with a test CA (tests/upstream/certificates.py)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import pytest

from resolver.upstream import tls
from resolver.upstream.forwarder import Forwarder
from resolver.upstream.servers import UpstreamServer

from .certificates import SERVER_NAME, Authority, ServerFiles, authority, server_files
from .fake_tls_upstream import FakeTlsUpstream
from .fake_upstream import (
    LOOPBACK,
    FakeUpstream,
    answering,
    assert_answer,
    fds_opened_since,
    open_fds,
    reply_to,
    run,
    timed,
)


@pytest.fixture(scope="module")
def ca() -> Authority:
    return authority()


@pytest.fixture(scope="module")
def files(ca: Authority, tmp_path_factory: pytest.TempPathFactory) -> ServerFiles:
    return server_files(tmp_path_factory.mktemp("pki"), ca)


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.WARNING, logger="dnsfence")
    yield caplog


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]


def tls_forwarder(fake: FakeTlsUpstream, files: ServerFiles, name: str | None = SERVER_NAME,
                  **options: float) -> Forwarder:
    return Forwarder([fake.server(name)], ca_file=str(files.ca), **options)  # type: ignore[arg-type]


class PlainListener(asyncio.DatagramProtocol):
    """UDP on the TLS server's port number: a plain-text fallback would land here."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[object, ...]) -> None:
        self.received.append(data)


async def plain_listener(port: int) -> tuple[asyncio.DatagramTransport, PlainListener]:
    listener = PlainListener()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: listener, local_addr=(LOOPBACK, port))
    return transport, listener


def test_answers_come_over_tls_padded_and_verified_by_name(files: ServerFiles) -> None:
    async def scenario() -> None:
        async with FakeTlsUpstream(files) as fake:
            udp, plain = await plain_listener(fake.port)
            forwarder = tls_forwarder(fake, files)
            wire, _ = await timed(forwarder, "www.example.com.", do=True)
            assert_answer(wire, "192.0.2.1")
            assert forwarder.answered_by == fake.server()
            assert str(fake.server()) == f"tls://127.0.0.1:{fake.port}#{SERVER_NAME}"
            (query,) = fake.queries
            assert query.flags & dns.flags.RD and query.ednsflags & dns.flags.DO
            padding = [o for o in query.options if o.otype == dns.edns.OptionType.PADDING]
            assert len(padding) == 1
            assert len(fake.raw[0]) % tls.PADDING_BLOCK == 0
            assert plain.received == []  # nothing in plain text, ever
            udp.close()
            forwarder.close()

    run(scenario())


def test_many_queries_share_one_connection_pipelined_and_out_of_order(
        files: ServerFiles) -> None:
    """The fake answers only once it holds 20 queries, last first: all 20 must be in flight
    on the one connection at once, and each answer must find its own query by ID."""
    def answer(query: dns.message.Message) -> bytes:
        index = int(query.question[0].name.labels[0][1:])
        return reply_to(query, f"192.0.2.{index}")

    async def scenario() -> None:
        async with FakeTlsUpstream(files, answer=answer, batch=20) as fake:
            forwarder = tls_forwarder(fake, files)
            for _round in range(3):
                results = await asyncio.gather(*[
                    forwarder.resolve(f"q{i}.example.", 1, 1, do=False, cd=False)
                    for i in range(1, 21)])
                for index, wire in enumerate(results, start=1):
                    assert_answer(wire, f"192.0.2.{index}")
            assert fake.connections == 1 and len(fake.queries) == 60
            assert len({q.id for q in fake.queries[:20]}) == 20
            forwarder.close()

    run(scenario())


def test_a_wrong_name_is_refused_once_logged_and_never_asked_in_plain_text(
        files: ServerFiles, warnings: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with FakeTlsUpstream(files) as fake:
            udp, plain = await plain_listener(fake.port)
            forwarder = tls_forwarder(fake, files, name="wrong.dnsfence.test")
            for _ in range(5):
                wire, elapsed = await timed(forwarder)
                assert wire is None and elapsed < 0.5  # no waiting for a deadline
            assert fake.queries == [] and plain.received == []
            (line,) = refusals(warnings)
            assert f"tls://127.0.0.1:{fake.port}#wrong.dnsfence.test refused" in line
            assert "not valid for wrong.dnsfence.test" in line and "never in plain text" in line
            udp.close()
            forwarder.close()

    run(scenario())


def test_an_untrusted_certificate_is_refused_and_the_next_server_answers(
        files: ServerFiles, warnings: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        other_ca = authority("another test CA")
        async with FakeTlsUpstream(files) as fake, FakeUpstream(answering("192.0.2.7")) as plain:
            ca_file = other_ca.write(files.ca.parent / "other-ca.pem")
            forwarder = Forwarder([fake.server(), plain.server], ca_file=str(ca_file))
            wire, _ = await timed(forwarder)
            assert_answer(wire, "192.0.2.7")
            assert fake.queries == []
            (line,) = refusals(warnings)
            assert f"not trusted by the CAs in {ca_file}" in line
            forwarder.close()

    run(scenario())


def test_the_system_cas_do_not_trust_the_test_ca(
        files: ServerFiles, warnings: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with FakeTlsUpstream(files) as fake:
            forwarder = Forwarder([fake.server()])
            wire, _ = await timed(forwarder)
            assert wire is None and fake.queries == []
            assert "not trusted by the system's CAs" in refusals(warnings)[0]
            forwarder.close()

    run(scenario())


def test_without_a_name_the_certificate_must_carry_the_address(
        ca: Authority, files: ServerFiles, tmp_path: Path,
        warnings: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with FakeTlsUpstream(files) as fake:
            forwarder = tls_forwarder(fake, files, name=None)
            assert_answer((await timed(forwarder))[0], "192.0.2.1")
            forwarder.close()
        names_only = server_files(tmp_path, ca, addresses=())
        async with FakeTlsUpstream(names_only) as fake:
            forwarder = tls_forwarder(fake, names_only, name=None)
            assert (await timed(forwarder))[0] is None
            assert "not valid for 127.0.0.1" in refusals(warnings)[0]
            forwarder.close()

    run(scenario())


def test_an_idle_connection_is_closed_and_the_next_query_opens_another(
        files: ServerFiles) -> None:
    async def scenario() -> None:
        async with FakeTlsUpstream(files) as fake:
            forwarder = tls_forwarder(fake, files, tls_idle_timeout=0.1)
            assert_answer((await timed(forwarder))[0], "192.0.2.1")
            assert fake.open_now == 1
            for _ in range(100):  # closed between 0.1 and 0.2 s after the last query
                if fake.open_now == 0:
                    break
                await asyncio.sleep(0.01)
            assert fake.open_now == 0
            assert_answer((await timed(forwarder))[0], "192.0.2.1")
            assert fake.connections == 2
            forwarder.close()

    run(scenario())


def test_a_busy_connection_is_not_closed_as_idle(files: ServerFiles) -> None:
    async def scenario() -> None:
        async with FakeTlsUpstream(files) as fake:
            forwarder = tls_forwarder(fake, files, tls_idle_timeout=0.1)
            for _ in range(12):  # 0.3 s of queries, 3 idle periods
                assert_answer((await timed(forwarder))[0], "192.0.2.1")
                await asyncio.sleep(0.025)
            assert fake.connections == 1
            forwarder.close()

    run(scenario())


def test_a_broken_connection_fails_its_queries_over_at_once_and_is_reopened(
        files: ServerFiles) -> None:
    """The first query is left unanswered and its connection reset: the query goes on at
    once (no try timeout), over a new connection, and its server counts one failure."""
    fake: FakeTlsUpstream

    def answer(query: dns.message.Message) -> bytes | None:
        if len(fake.queries) == 1:
            asyncio.get_running_loop().call_soon(fake.drop_connections)
            return None
        return reply_to(query)

    async def scenario() -> None:
        nonlocal fake
        async with FakeTlsUpstream(files, answer=answer) as fake:
            forwarder = tls_forwarder(fake, files, try_timeout=2.0, deadline=3.0)
            wire, elapsed = await timed(forwarder)
            assert_answer(wire, "192.0.2.1")
            assert elapsed < 1.0 and fake.connections == 2
            assert forwarder._health.of[fake.server()].failures == 0  # answered since
            forwarder.close()

    run(scenario())


def test_a_late_answer_to_a_timed_out_try_is_dropped(files: ServerFiles) -> None:
    """The fake answers in pairs: the first try times out and is tried again; the pair's
    answers then come (last first), and only the second try's is taken."""
    async def scenario() -> None:
        async with FakeTlsUpstream(files, batch=2) as fake:
            forwarder = tls_forwarder(fake, files, try_timeout=0.2, deadline=1.0)
            wire, elapsed = await timed(forwarder)
            assert_answer(wire, "192.0.2.1")
            assert 0.2 <= elapsed < 0.6 and len(fake.queries) == 2
            assert fake.queries[0].id != fake.queries[1].id
            forwarder.close()

    run(scenario())


def test_a_server_that_never_completes_the_handshake_fails_within_the_deadline() -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(2.0)
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(hang, LOOPBACK, 0)
        port = server.sockets[0].getsockname()[1]
        forwarder = Forwarder([UpstreamServer(LOOPBACK, port, SERVER_NAME)],
                              try_timeout=0.2, deadline=0.5)
        wire, elapsed = await timed(forwarder)
        assert wire is None and 0.45 <= elapsed < 0.8
        forwarder.close()
        server.close()

    run(scenario())


def test_a_truncated_answer_over_tls_is_never_retried_over_plain_tcp(
        files: ServerFiles) -> None:
    async def scenario() -> None:
        truncated = FakeTlsUpstream(files, answer=lambda q: reply_to(q, truncated=True))
        async with truncated as fake:
            forwarder = tls_forwarder(fake, files)
            wire, _ = await timed(forwarder, tcp=True)
            assert wire is not None and dns.message.from_wire(wire).flags & dns.flags.TC
            assert len(fake.queries) == 1
            forwarder.close()

    run(scenario())


def test_closing_the_forwarder_closes_its_connections_and_leaks_nothing(
        files: ServerFiles) -> None:
    async def scenario() -> None:
        async with FakeTlsUpstream(files) as fake:
            gc.collect()
            before = open_fds()
            forwarder = tls_forwarder(fake, files)
            for _ in range(5):
                assert_answer((await timed(forwarder))[0], "192.0.2.1")
            forwarder.close()
            for _ in range(100):
                if fake.open_now == 0:
                    break
                await asyncio.sleep(0.01)
            assert fake.open_now == 0
            await asyncio.sleep(0.05)
            assert fds_opened_since(before) == set()

    run(scenario())


def test_padding_makes_every_query_a_multiple_of_the_block() -> None:
    links = tls.TlsLinks(None, {}, lambda: 0, None, 1.0, 1.0)  # type: ignore[arg-type]
    opt = bytes.fromhex("0000290200000000000000")
    for length in range(6, 260):
        padded = links.padded_opt(opt, bytes(length))
        assert (12 + length + len(padded)) % tls.PADDING_BLOCK == 0
        assert padded[:9] == opt[:9] and padded[11:13] == b"\x00\x0c"


def test_a_silent_tls_server_times_out_fails_over_and_is_held_down(
        files: ServerFiles, warnings: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with FakeTlsUpstream(files, answer=lambda query: None) as silent, \
                FakeUpstream(answering("192.0.2.9")) as plain:
            forwarder = Forwarder([silent.server(), plain.server], try_timeout=0.1,
                                  deadline=1.0, failures_before_holddown=2,
                                  ca_file=str(files.ca))
            for _ in range(2):
                wire, elapsed = await timed(forwarder)
                assert_answer(wire, "192.0.2.9")
                assert 0.1 <= elapsed < 0.5
            assert forwarder.is_held_down(silent.server())
            wire, elapsed = await timed(forwarder)
            assert_answer(wire, "192.0.2.9")
            assert elapsed < 0.09 and len(silent.queries) == 2
            assert any("failed 2 times in a row" in r.getMessage() for r in warnings.records)
            forwarder.close()

    run(scenario())


def test_failed_connections_count_once_each_and_hold_the_server_down(
        files: ServerFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the pause after a failed connection the server is skipped without a new
    attempt; each attempt counts one failure, however many queries waited on it."""
    monkeypatch.setattr(tls, "RETRY_PAUSE", 0.05)

    async def scenario() -> None:
        async with FakeTlsUpstream(files) as fake, FakeUpstream(answering("192.0.2.9")) as plain:
            wrong = fake.server("wrong.dnsfence.test")
            forwarder = Forwarder([wrong, plain.server], failures_before_holddown=3,
                                  ca_file=str(files.ca))
            results = await asyncio.gather(*[timed(forwarder) for _ in range(10)])
            for wire, _ in results:
                assert_answer(wire, "192.0.2.9")
            assert forwarder._health.of[wrong].failures == 1  # ten queries, one connection
            assert not forwarder.is_held_down(wrong)
            for _ in range(2):
                await asyncio.sleep(0.06)  # past the pause: the next query tries again
                assert_answer((await timed(forwarder))[0], "192.0.2.9")
            assert forwarder.is_held_down(wrong) and fake.queries == []
            forwarder.close()

    run(scenario())
