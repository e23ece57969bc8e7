"""The listeners in process: UDP and TCP on one port, SO_REUSEPORT pairs, and a real `serve()`
answering both transports through a stand-in pipeline until a signal stops it.

Everything is on 127.0.0.1 with ephemeral ports; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from resolver.config.endpoints import Endpoint
from resolver.pipeline import Pipeline
from resolver.server import CONTROL_SIGNALS, RETIRE_SIGNAL, Listener, bind, bind_again, serve

LOOPBACK = Endpoint("127.0.0.1", 0)


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    opened: list[Listener] = []
    yield opened
    for listener in opened:
        listener.udp.close()
        listener.tcp.close()


def test_port_0_binds_udp_and_tcp_on_one_free_port(listeners: list[Listener]) -> None:
    listener = bind(LOOPBACK, reuseport=False)
    listeners.append(listener)
    port = listener.endpoint.port
    assert port != 0 and listener.endpoint.host == "127.0.0.1"
    assert listener.udp.getsockname() == listener.tcp.getsockname() == ("127.0.0.1", port)
    assert listener.udp.type == socket.SOCK_DGRAM and listener.tcp.type == socket.SOCK_STREAM
    assert not listener.udp.getblocking() and not listener.tcp.getblocking()


def test_bind_again_shares_the_port_with_so_reuseport(listeners: list[Listener]) -> None:
    first = bind(LOOPBACK, reuseport=True)
    listeners.append(first)
    second = bind_again(first)
    listeners.append(second)
    assert second.endpoint == first.endpoint
    assert second.udp.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
    assert second.tcp.getsockname() == first.tcp.getsockname()


def test_a_taken_port_is_refused_without_so_reuseport(listeners: list[Listener]) -> None:
    first = bind(LOOPBACK, reuseport=False)
    listeners.append(first)
    with pytest.raises(OSError) as taken:
        bind(first.endpoint, reuseport=False)
    assert taken.value.errno == errno.EADDRINUSE


class Later:
    """A query the stand-in pipeline answers later (through forward or resolve)."""

    def __init__(self, data: bytes) -> None:
        self.data = data


class StandInPipeline:
    """Answers b"now:..." at once and anything else later; records what it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[bytes, str, bool]] = []
        self.closed = False

    def handle(self, data: bytes, client: str, now: float, tcp: bool = False) -> bytes | Later:
        self.seen.append((data, client, tcp))
        if data.startswith(b"now:"):
            return b"answer " + data
        return Later(data)

    def forward(self, request: Later, reply: Callable[[bytes], None]) -> None:
        reply(b"later " + request.data)

    def stage(self, kind: type) -> object:
        raise LookupError(f"no {kind.__name__} here: the server falls back to its own cap")

    async def resolve(self, request: Later) -> bytes:
        await asyncio.sleep(0)
        return b"later " + request.data

    def close(self) -> None:
        self.closed = True


def udp_ask(port: int, data: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(data, ("127.0.0.1", port))
        return sock.recv(65535)


def tcp_ask(port: int, *queries: bytes) -> list[bytes]:
    """Several framed queries on one connection (pipelined), their framed answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"".join(len(q).to_bytes(2, "big") + q for q in queries))
        stream = sock.makefile("rb")
        answers = []
        for _ in queries:
            size = int.from_bytes(stream.read(2), "big")
            answers.append(stream.read(size))
        return answers


def test_serve_answers_udp_and_tcp_reloads_on_sighup_and_stops_on_sigterm(
        listeners: list[Listener]) -> None:
    listener = bind(LOOPBACK, reuseport=False)
    listeners.append(listener)
    port = listener.endpoint.port
    pipeline = StandInPipeline()
    reloads: list[int] = []
    background_cancelled = asyncio.Event()
    results: dict[str, Any] = {}

    async def background() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            background_cancelled.set()
            raise

    async def client() -> None:
        results["udp now"] = await asyncio.to_thread(udp_ask, port, b"now:1")
        results["udp later"] = await asyncio.to_thread(udp_ask, port, b"fwd:2")
        results["tcp"] = await asyncio.to_thread(tcp_ask, port, b"now:3", b"fwd:4")
        os.kill(os.getpid(), signal.SIGHUP)
        async with asyncio.timeout(5):
            while not reloads:
                await asyncio.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    async def scenario() -> None:
        async with asyncio.timeout(20):
            asker = asyncio.create_task(client())
            await serve([listener], cast(Pipeline, pipeline), idle_timeout=2.0,
                        max_connections=4, background=[background()],
                        on_reload=lambda: reloads.append(1))
            await asker
            await asyncio.sleep(0)  # serve cancelled it; let the cancellation run
            results["background cancelled"] = background_cancelled.is_set()

    previous = signal.pthread_sigmask(signal.SIG_BLOCK, CONTROL_SIGNALS)
    try:
        asyncio.run(scenario())
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    assert results["udp now"] == b"answer now:1"
    assert results["udp later"] == b"later fwd:2"
    assert results["tcp"] == [b"answer now:3", b"later fwd:4"]
    assert [(data, client, tcp) for data, client, tcp in pipeline.seen] == [
        (b"now:1", "127.0.0.1", False), (b"fwd:2", "127.0.0.1", False),
        (b"now:3", "127.0.0.1", True), (b"fwd:4", "127.0.0.1", True)]
    assert reloads == [1]
    assert results["background cancelled"] is True
    assert pipeline.closed
    assert listener.udp.fileno() == -1  # closed by serve


class SlowPipeline(StandInPipeline):
    """Answers b"slow:..." queries 0.3 s later, on both transports."""

    def forward(self, request: Later, reply: Callable[[bytes], None]) -> None:
        asyncio.get_running_loop().call_later(0.3, reply, b"later " + request.data)

    async def resolve(self, request: Later) -> bytes:
        await asyncio.sleep(0.3)
        return b"later " + request.data


def test_a_retiring_server_answers_what_is_in_flight_and_reads_nothing_more(
        listeners: list[Listener]) -> None:
    listener = bind(LOOPBACK, reuseport=True)
    listeners.append(listener)
    port = listener.endpoint.port
    successor = socket.socket(fileno=os.dup(listener.udp.fileno()))  # as a supervisor holds
    pipeline = SlowPipeline()
    results: dict[str, Any] = {}

    def late_query() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"now:late", ("127.0.0.1", port))

    async def client() -> None:
        udp = asyncio.create_task(asyncio.to_thread(udp_ask, port, b"slow:1"))
        tcp = asyncio.create_task(asyncio.to_thread(tcp_ask, port, b"slow:2"))
        async with asyncio.timeout(5):
            while len(pipeline.seen) < 2:
                await asyncio.sleep(0.01)
        os.kill(os.getpid(), RETIRE_SIGNAL)
        await asyncio.sleep(0.1)  # retiring: reading has stopped, answers are pending
        await asyncio.to_thread(late_query)
        results["udp"], results["tcp"] = await udp, await tcp

    async def scenario() -> None:
        async with asyncio.timeout(20):
            asker = asyncio.create_task(client())
            await serve([listener], cast(Pipeline, pipeline), idle_timeout=2.0,
                        max_connections=4, retire=True, drain=5.0)
            await asker

    previous = signal.pthread_sigmask(signal.SIG_BLOCK, CONTROL_SIGNALS | {RETIRE_SIGNAL})
    try:
        asyncio.run(scenario())
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    try:
        assert results["udp"] == b"later slow:1"
        assert results["tcp"] == [b"later slow:2"]
        assert [data for data, _, _ in pipeline.seen] == [b"slow:1", b"slow:2"]
        assert pipeline.closed
        successor.settimeout(2)
        assert successor.recv(100) == b"now:late"  # queued for the next worker, not lost
    finally:
        successor.close()
