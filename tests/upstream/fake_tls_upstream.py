"""A fake DNS-over-TLS server on loopback for the TLS tests: counts connections, keeps
queries, answers in batches (in reverse order) so that pipelining shows.

Only 127.0.0.1 (or ::1), on a port the kernel picks.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import dns.message

from resolver.upstream.servers import UpstreamServer

from .certificates import SERVER_NAME, ServerFiles
from .fake_upstream import LOOPBACK, reply_to

Answer = Callable[[dns.message.Message], bytes | None]
"""A query -> the reply's wire, or None to stay silent."""


def answering(address: str = "192.0.2.1") -> Answer:
    return lambda query: reply_to(query, address)


@dataclass
class FakeTlsUpstream:
    """`batch` queries are gathered before any is answered, then answered last first;
    `close_after` answers end a connection (the server closes it)."""

    files: ServerFiles
    answer: Answer = field(default_factory=answering)
    batch: int = 1
    close_after: int | None = None
    host: str = LOOPBACK
    connections: int = 0
    """TLS connections accepted (handshake done on our side)."""
    open_now: int = 0
    queries: list[dns.message.Message] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    """Every query as received (padding included)."""
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def __aenter__(self) -> FakeTlsUpstream:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.files.certificate, self.files.key)
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.drop_connections()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 2.0)

    def server(self, name: str | None = SERVER_NAME) -> UpstreamServer:
        """This server as a forwarder sees it, verified against `name` (None: the address)."""
        return UpstreamServer(self.host, self.port, name or self.host)

    def drop_connections(self) -> None:
        """Abort every open connection (a crash, a reset)."""
        for writer in self._writers:
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self._writers.append(writer)
        waiting: list[dns.message.Message] = []
        answered = 0
        try:
            while True:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
                wire = await reader.readexactly(size)
                self.raw.append(wire)
                query = dns.message.from_wire(wire)
                self.queries.append(query)
                waiting.append(query)
                if len(waiting) < self.batch:
                    continue
                for each in reversed(waiting):
                    reply = self.answer(each)
                    if reply is not None:
                        writer.write(struct.pack("!H", len(reply)) + reply)
                        answered += 1
                waiting.clear()
                await writer.drain()
                if self.close_after is not None and answered >= self.close_after:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self.open_now -= 1
            self._writers.remove(writer)
            writer.close()
