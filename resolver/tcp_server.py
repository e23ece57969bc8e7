"""TCP (RFC 7766): 2-byte length framing, several queries per connection answered as they
complete, an idle timeout, caps on open connections in all and per client, and a shutdown
that lets connections answer what is in flight."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Protocol

from resolver.pipeline import Pipeline
from resolver.stages.client_limits import ClientLimitsStage
from resolver.stages.contract import Request

log = logging.getLogger("dnsfence")

_TCP_PIPELINE = 64  # queries in flight per TCP connection


class Admission(Protocol):
    """Decides whether a new TCP connection may stay open."""

    def admit_tcp(self, address: str) -> bool: ...

    def release_tcp(self, address: str) -> None: ...


class GlobalCap:
    """At most `limit` open connections in all."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open = 0

    def admit_tcp(self, address: str) -> bool:
        if self._open >= self._limit:
            return False
        self._open += 1
        return True

    def release_tcp(self, address: str) -> None:
        self._open = max(0, self._open - 1)


_DRAIN_SECONDS = 1.0
"""At shutdown, how long TCP connections may take to answer what is in flight."""


class TcpServer:
    """RFC 7766 TCP: framed queries, pipelined, idle timeout, connection cap."""

    def __init__(self, sock: socket.socket, pipeline: Pipeline, idle_timeout: float,
                 max_connections: int) -> None:
        self._sock = sock
        self._pipeline = pipeline
        self._idle = idle_timeout
        try:  # the chain's caps, in all and per client, counted with its other counters
            self._admission: Admission = pipeline.stage(ClientLimitsStage)
        except LookupError:  # a chain without it (tests): the cap in all only
            self._admission = GlobalCap(max_connections)
        self.pending = 0
        """Forwarded queries not answered yet (a retiring worker waits for them)."""
        self._server: asyncio.base_events.Server | None = None
        # each open connection's task and reader: closing feeds the readers an end of
        # stream, so connections finish what is in flight and close themselves
        self._connections: dict[asyncio.Task[None], asyncio.StreamReader] = {}
        self._closing = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, sock=self._sock)

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = peer[0] if peer else ""
        if self._closing or not self._admission.admit_tcp(client):
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._connections[task] = reader
        inflight: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(_TCP_PIPELINE)
        try:
            while True:
                try:
                    async with asyncio.timeout(self._idle):
                        header = await reader.readexactly(2)
                        data = await reader.readexactly(int.from_bytes(header, "big"))
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    break
                result = self._handle(data, client)
                if result is None:
                    continue
                if isinstance(result, bytes):
                    self._write(writer, result)
                    continue
                await slots.acquire()
                job = asyncio.get_running_loop().create_task(self._later(result, writer, slots))
                inflight.add(job)
                job.add_done_callback(inflight.discard)
            if inflight:  # answer what is in flight, within bounds
                await asyncio.wait(inflight,
                                   timeout=_DRAIN_SECONDS if self._closing else self._idle)
        except asyncio.CancelledError:
            pass
        finally:
            for job in inflight:
                job.cancel()
            self._admission.release_tcp(client)
            if task is not None:
                self._connections.pop(task, None)
            writer.close()
            # a connection cancelled at shutdown may be cancelled again while it waits here
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    def _handle(self, data: bytes, client: str) -> bytes | Request | None:
        try:
            return self._pipeline.handle(data, client, time.time(), tcp=True)
        except Exception:
            log.exception("internal error while answering a TCP query")
            return None

    async def _later(self, request: Request, writer: asyncio.StreamWriter,
                     slots: asyncio.Semaphore) -> None:
        self.pending += 1
        try:
            answer = await self._pipeline.resolve(request)
            if answer is not None:
                self._write(writer, answer)
        except Exception:
            log.exception("internal error while forwarding a TCP query")
        finally:
            self.pending -= 1
            slots.release()

    @staticmethod
    def _write(writer: asyncio.StreamWriter, answer: bytes) -> None:
        if not writer.is_closing():
            writer.write(len(answer).to_bytes(2, "big") + answer)

    def stop_accepting(self) -> None:
        """Close this process's copy of the listening socket; open connections go on."""
        if self._server is not None:
            self._server.close()

    async def close(self) -> None:
        """Stop accepting; let each connection answer what is in flight and close (within
        `_DRAIN_SECONDS`), then cancel what is left. No traceback either way."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for reader in self._connections.values():
            reader.feed_eof()  # the connection's read ends as if the client had closed
        tasks = list(self._connections)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=_DRAIN_SECONDS + 0.2)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=0.5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(0.5):
                    await self._server.wait_closed()
