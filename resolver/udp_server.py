"""UDP on asyncio: a reader callback that reads many datagrams per wake-up and answers
local ones at once, without a task (TCP is in `resolver.tcp_server`).

`add_reader` + a non-blocking socket instead of a DatagramProtocol: one callback drains
many datagrams. Two ways to read them, same answers (`resolver.udp_batch` chooses):
the compiled batch (recvmmsg/sendmmsg, up to 64 datagrams per system call) or the Python
loop (recvfrom_into + sendto per datagram). Either way a wake-up handles at most `_DRAIN`
datagrams, so that TCP connections and upstream replies get their turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

from resolver.udp_batch import PER_CALL, UdpIo

log = logging.getLogger("dnsfence")

_DRAIN = 256  # datagrams handled per wake-up before yielding to other callbacks
_BUFFER = 65_535  # more than any UDP payload: nothing is ever cut


class Answering(Protocol):
    """What the server needs of `resolver.pipeline.Pipeline` (a protocol, so that a compiled
    server takes a stand-in too)."""

    def handle(self, data: bytes, client: str, now: float, tcp: bool = False) -> Any:
        """The answer bytes, or a query to pass to `forward`."""

    def forward(self, request: Any, reply: Callable[[bytes], None]) -> None:
        """Answer a query `handle` did not answer, later, through `reply`."""


class UdpServer:
    """Reads datagrams in a reader callback and answers local ones immediately."""

    def __init__(self, sock: socket.socket, pipeline: Answering,
                 loop: asyncio.AbstractEventLoop, io: UdpIo | None = None, *,
                 clock: Callable[[], float] = time.time, buffer: int = _BUFFER) -> None:
        self._sock = sock
        self._pipeline = pipeline
        self._loop = loop
        self._clock = clock
        self._closed = False
        self._errors = 0
        self.pending = 0
        """Forwarded queries not answered yet (a retiring worker waits for them)."""
        self.batch = None if io is None or io.batch is None else io.batch(
            sock.fileno(), PER_CALL, buffer)
        """The compiled batch reading this socket (its counters), or None."""
        # one receive buffer, reused: recvfrom(65535) would allocate 64 KiB per datagram
        # (the batch has its own slots)
        self._view = memoryview(bytearray(buffer if self.batch is None else 0))

    def start(self) -> None:
        self._loop.add_reader(self._sock.fileno(),
                              self._readable if self.batch is None else self._readable_batched)

    def _readable_batched(self) -> None:
        assert self.batch is not None
        self.batch.drain(self._pipeline.handle, self._later, self._failed, self._clock(),
                         _DRAIN)

    def _later(self, result: Any, address: tuple[Any, ...]) -> None:
        """A query the batch's handler did not answer now: to the forwarder."""
        try:
            self._pipeline.forward(result, self._replier(address))
        except Exception:
            self._log_error("internal error while forwarding a UDP query")

    def _failed(self, error: Exception) -> None:
        self._log_error("internal error while answering a UDP query", error)

    def _readable(self) -> None:
        sock, handle, forward = self._sock, self._pipeline.handle, self._pipeline.forward
        receive, send, view = sock.recvfrom_into, sock.sendto, self._view
        now = self._clock()
        for _ in range(_DRAIN):
            try:
                size, address = receive(view)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # e.g. an ICMP error queued on the socket
            try:
                result = handle(view[:size].tobytes(), address[0], now)
            except Exception:
                self._log_error("internal error while answering a UDP query")
                continue
            if isinstance(result, bytes):
                try:  # noqa: SIM105  (contextlib.suppress costs more, per packet)
                    send(result, address)
                except OSError:
                    pass  # full buffer or vanished client: like a lost packet
            elif result is not None:
                try:
                    forward(result, self._replier(address))
                except Exception:
                    self._log_error("internal error while forwarding a UDP query")

    def _replier(self, address: tuple[Any, ...]) -> Callable[[bytes], None]:
        send = self._sock.sendto
        self.pending += 1

        def reply(answer: bytes) -> None:
            self.pending -= 1
            if not self._closed:
                try:  # noqa: SIM105  (see _readable)
                    send(answer, address)
                except OSError:
                    pass
        return reply

    def _log_error(self, message: str, error: BaseException | None = None) -> None:
        self._errors += 1
        if self._errors <= 10 or self._errors % 1000 == 0:
            log.error("%s (%d so far)", message, self._errors,
                      exc_info=error if error is not None else True)

    def pause(self) -> None:
        """Stop reading; answers still on their way are sent. The socket stays open: a
        worker of the next generation reads the same one, so no datagram queued in it is
        lost."""
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._sock.fileno())

    def close(self) -> None:
        self._closed = True  # answers still on their way from the upstream are dropped
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
