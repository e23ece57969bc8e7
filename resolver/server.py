"""Sockets and serving: the listeners and the serve loop with its signals (UDP is in
`resolver.udp_server`, TCP in `resolver.tcp_server`)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from resolver.config.endpoints import Endpoint
from resolver.pipeline import Pipeline
from resolver.tcp_server import TcpServer
from resolver.udp_batch import UdpIo, choose
from resolver.udp_server import UdpServer

log = logging.getLogger("dnsfence")

CONTROL_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
"""Blocked from the "serving on" line until handlers exist, so an early SIGHUP or
SIGTERM is delivered late rather than killing a half-started process."""

RETIRE_SIGNAL = signal.SIGUSR2
"""Sent by the supervisor to a worker whose successor is serving: stop taking queries,
answer those in flight, then exit."""
RETIRE_DRAIN = 5.0
"""Seconds a retiring worker waits at most for its queries in flight."""

@dataclass(slots=True)
class Listener:
    """One address's bound sockets (the UDP and TCP share the port)."""

    endpoint: Endpoint
    udp: socket.socket
    tcp: socket.socket


def _family(endpoint: Endpoint) -> socket.AddressFamily:
    return socket.AF_INET6 if endpoint.family_is_v6 else socket.AF_INET


def _socket(endpoint: Endpoint, kind: socket.SocketKind, reuseport: bool) -> socket.socket:
    sock = socket.socket(_family(endpoint), kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if endpoint.family_is_v6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_DGRAM:
            _large_receive_buffer(sock)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


_RECEIVE_BUFFER = 4 << 20


def _large_receive_buffer(sock: socket.socket) -> None:
    """Room for a burst (or a GC pause) of queries: 4 MiB holds thousands of datagrams.

    The kernel caps SO_RCVBUF at net.core.rmem_max; as root, SO_RCVBUFFORCE passes it.
    """
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    for option in (force, socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, _RECEIVE_BUFFER)
            return
        except OSError:
            continue


def bind(endpoint: Endpoint, reuseport: bool, attempts: int = 20) -> Listener:
    """Bind UDP and TCP on one port; port 0 picks a free port usable by both."""
    last: OSError | None = None
    for _ in range(attempts if endpoint.port == 0 else 1):
        udp = _socket(endpoint, socket.SOCK_DGRAM, reuseport)
        try:
            udp.bind((endpoint.host, endpoint.port))
            port = udp.getsockname()[1]
            tcp = _socket(endpoint, socket.SOCK_STREAM, reuseport)
            try:
                tcp.bind((endpoint.host, port))
                tcp.listen(128)
            except OSError:
                tcp.close()
                raise
        except OSError as exc:
            udp.close()
            last = exc
            if exc.errno != errno.EADDRINUSE:
                break
            continue
        return Listener(Endpoint(endpoint.host, port), udp, tcp)
    assert last is not None
    raise last


def bind_again(listener: Listener) -> Listener:
    """Another pair of sockets on the same port, for another SO_REUSEPORT worker."""
    return bind(listener.endpoint, reuseport=True)


async def serve(listeners: list[Listener], pipeline: Pipeline, idle_timeout: float,
                max_connections: int, *, background: Sequence[Coroutine[Any, Any, None]] = (),
                on_reload: Callable[[], None] | None = None, retire: bool = False,
                drain: float = RETIRE_DRAIN, on_serving: Callable[[], None] | None = None,
                on_stopping: Callable[[], None] | None = None, udp_io: UdpIo | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then close everything; SIGHUP calls `on_reload`.
    `on_serving` is called once every socket is read, `on_stopping` on SIGTERM or SIGINT.
    `udp_io`: how UDP is read and answered (default: `resolver.udp_batch.choose()`).

    With `retire`, RETIRE_SIGNAL ends it too, but gently: reading stops at once and the
    queries in flight are answered first (at most `drain` seconds; SIGTERM cuts it short).
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    retiring = asyncio.Event()

    def retire_now() -> None:
        retiring.set()
        stop.set()

    def stop_now() -> None:
        retiring.clear()  # SIGTERM during a drain: stop waiting
        if on_stopping is not None and not stop.is_set():
            on_stopping()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_now)
    if on_reload is not None:
        loop.add_signal_handler(signal.SIGHUP, on_reload)
    if retire:
        loop.add_signal_handler(RETIRE_SIGNAL, retire_now)
    # Signals sent since start-up were held back (see CONTROL_SIGNALS); deliver them now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK,
                           CONTROL_SIGNALS | ({RETIRE_SIGNAL} if retire else set()))
    io = udp_io or choose()
    udp_servers = [UdpServer(item.udp, pipeline, loop, io) for item in listeners]
    tcp_servers = [TcpServer(item.tcp, pipeline, idle_timeout, max_connections)
                   for item in listeners]
    for udp in udp_servers:
        udp.start()
    for tcp in tcp_servers:
        await tcp.start()
    tasks = [loop.create_task(job) for job in background]
    if on_serving is not None:
        on_serving()
    await stop.wait()
    if retiring.is_set():
        for udp in udp_servers:
            udp.pause()
        for tcp in tcp_servers:
            tcp.stop_accepting()
        started = loop.time()
        while retiring.is_set() and loop.time() < started + drain and (
                any(udp.pending for udp in udp_servers)
                or any(tcp.pending for tcp in tcp_servers)):
            await asyncio.sleep(0.01)
    if retiring.is_set():
        log.debug("dnsfence: retiring (pid %d) after %.2fs for the queries in flight",
                  os.getpid(), loop.time() - started)
    else:
        log.info("dnsfence: stopping (pid %d)", os.getpid())
    for task in tasks:
        task.cancel()
    for udp in udp_servers:
        udp.close()
    for tcp in tcp_servers:
        await tcp.close()
    pipeline.close()
