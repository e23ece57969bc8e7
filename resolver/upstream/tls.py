"""DNS over TLS (RFC 7858): one connection per upstream, reused and pipelined.

Each query goes onto its server's connection as soon as it is asked, with the 2-byte
length of RFC 7766 and an ID unique among those in flight there; answers come back in any
order and are matched by ID. Frames asked in one turn of the event loop leave as one
write (one TLS record, one send). Queries are padded to 128-byte blocks (RFC 8467), so
their sizes do not tell the names apart.

A connection with nothing asked for `idle_timeout` seconds is closed (between one and two
such periods after its last query). One that breaks fails its waiting queries over to the
next server, counting one failure of its server however many were waiting, and the next
query opens a new one. A connection that cannot be opened counts one failure and pauses
the server for `RETRY_PAUSE`, during which its queries go straight to the others.

A certificate refused (`resolver.upstream.verification`) means nothing is sent: a warning
says why, at most once a minute per server and reason, and the queries fail over. There
is no fallback to plain DNS, ever.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Protocol

from resolver.dns import message
from resolver.dns.rewrite import edns_option
from resolver.upstream.servers import SocketAddress, UpstreamServer, address_family
from resolver.upstream.transport import Exchange, answers
from resolver.upstream.verification import client_context, refusal

HEADER = message.HEADER
U16 = message.U16

log = logging.getLogger("dnsfence")

RETRY_PAUSE = 1.0
"""Seconds a server whose connection could not be opened is not tried again."""
REPORT_EVERY = 60.0
"""Seconds between two warnings about one server failing for one reason."""
PADDING_BLOCK = 128  # RFC 8467 4.1: queries padded to a multiple of 128 bytes
_PADDING_OPTION = 12
_MAX_PENDING = 16_384  # queries in flight on one connection (IDs are 16 bits)


class LinkOwner(Protocol):
    """What a connection reports to its forwarder."""

    def link_answered(self, exchange: Exchange, reply: bytes) -> None:
        """A reply to the try of `exchange` (ID and question checked)."""

    def link_failed(self, server: UpstreamServer, exchanges: list[Exchange],
                    blame: bool) -> None:
        """The connection ended with these tries waiting; `blame`: one failure of `server`."""


class TlsLinks:
    """The DNS-over-TLS connections of one forwarder: one per server, opened on first use."""

    __slots__ = ("_context", "_current", "_padded", "_paused_until", "_reported",
                 "_sockaddrs", "ca_file", "connect_timeout", "idle_timeout", "new_id", "owner")

    def __init__(self, owner: LinkOwner, sockaddrs: Mapping[UpstreamServer, SocketAddress],
                 new_id: Callable[[], int], ca_file: str | None, connect_timeout: float,
                 idle_timeout: float) -> None:
        self.owner = owner
        self.new_id = new_id
        self.ca_file = ca_file
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self._sockaddrs = sockaddrs
        self._context: ssl.SSLContext | None = None  # made on first use: CAs take ms to load
        self._current: dict[UpstreamServer, TlsLink] = {}
        self._paused_until: dict[UpstreamServer, float] = {}
        self._reported: dict[UpstreamServer, tuple[str, float]] = {}
        self._padded: dict[tuple[bytes, int], bytes] = {}

    def link(self, server: UpstreamServer, loop: asyncio.AbstractEventLoop) -> TlsLink | None:
        """The connection to `server`, opened now if there is none; None while the server
        is paused after a failure to connect (or the CAs cannot be loaded)."""
        link = self._current.get(server)
        if link is not None:
            return link
        if self._paused_until.get(server, 0.0) > loop.time():
            return None
        context = self._context
        if context is None:
            try:
                context = self._context = client_context(self.ca_file)
            except OSError as exc:
                self.failed(server, loop, f"the CAs in {self.ca_file} cannot be loaded ({exc})",
                            "upstream_tls_failed")
                return None
        link = self._current[server] = TlsLink(self, server, loop)
        link.open(context, self._sockaddrs[server])
        return link

    def padded_opt(self, opt: bytes, question: bytes) -> bytes:
        """`opt` (an OPT record without options) with the padding that makes the query a
        multiple of PADDING_BLOCK bytes; made once per OPT and question length."""
        key = (opt, len(question))
        padded = self._padded.get(key)
        if padded is None:
            size = 12 + len(question) + len(opt) + 4
            option = edns_option(_PADDING_OPTION, bytes(-size % PADDING_BLOCK))
            padded = self._padded[key] = opt[:-2] + U16.pack(len(option)) + option
        return padded

    def ended(self, link: TlsLink) -> None:
        if self._current.get(link.server) is link:
            del self._current[link.server]

    def failed(self, server: UpstreamServer, loop: asyncio.AbstractEventLoop, reason: str,
               event: str) -> None:
        """A connection could not be opened: pause the server, and say why (not too often)."""
        now = loop.time()
        self._paused_until[server] = now + RETRY_PAUSE
        last = self._reported.get(server)
        if last is not None and last[0] == reason and now - last[1] < REPORT_EVERY:
            return
        self._reported[server] = (reason, now)
        log.warning("dnsfence: upstream %s refused: %s; its queries go to the other upstreams "
                    "or fail, never in plain text", server, reason,
                    extra={"event": event, "upstream": str(server), "reason": reason})

    def close(self) -> None:
        for link in list(self._current.values()):
            link.close()
        self._current.clear()


class TlsLink(asyncio.Protocol):
    """The connection to one server: queries written as asked, answers matched by ID."""

    def __init__(self, links: TlsLinks, server: UpstreamServer,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.pending: dict[int, Exchange] = {}
        """Tries waiting for their answer here, by query ID."""
        self.closed = False
        self._links = links
        self._loop = loop
        self._transport: asyncio.BaseTransport | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._out: list[bytes] = []
        self._flush_due = False
        self._partial = b""  # the start of a frame whose rest has not arrived
        self._asked = 0  # queries written: the idle check compares it with the last one
        self._asked_at_check = -1
        self._idle_check: asyncio.TimerHandle | None = None

    # --- asked by the forwarder -----------------------------------------------------------

    def open(self, context: ssl.SSLContext, sockaddr: SocketAddress) -> None:
        self._connecting = self._loop.create_task(self._connect(context, sockaddr))

    def send(self, exchange: Exchange) -> int:
        """Queue the query of `exchange` (sent once connected): its ID, or -1 when too
        many are waiting here already."""
        pending = self.pending
        if len(pending) >= _MAX_PENDING:
            return -1
        new_id = self._links.new_id
        query_id = new_id()
        while query_id in pending:
            query_id = new_id()
        pending[query_id] = exchange
        question = exchange.question
        query = (HEADER.pack(query_id, exchange.flags, 1, 0, 0, 1) + question
                 + self._links.padded_opt(exchange.opt, question))
        self._out.append(U16.pack(len(query)) + query)
        self._asked += 1
        if not self._flush_due and self._transport is not None:
            self._flush_due = True
            self._loop.call_soon(self._flush)
        return query_id

    def forget(self, query_id: int) -> None:
        """The try with this ID stopped waiting (answered, timed out): a late answer to
        it is dropped."""
        self.pending.pop(query_id, None)

    def close(self) -> None:
        """Close now (idle, or the forwarder is done); nothing may be waiting."""
        if self.closed:
            return
        self._end()
        if self._connecting is not None:
            self._connecting.cancel()
        if self._transport is not None:
            self._transport.close()  # TLS close_notify, then FIN

    # --- the connection ---------------------------------------------------------------------

    async def _connect(self, context: ssl.SSLContext, sockaddr: SocketAddress) -> None:
        loop = self._loop
        timeout = self._links.connect_timeout
        sock = socket.socket(address_family(sockaddr), socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            async with asyncio.timeout(timeout):
                await loop.sock_connect(sock, sockaddr)
                await loop.create_connection(lambda: self, sock=sock, ssl=context,
                                             server_hostname=self.server.tls_name,
                                             ssl_handshake_timeout=timeout)
        except ssl.SSLCertVerificationError as exc:
            name = self.server.tls_name or self.server.host
            self._could_not_open(refusal(exc, name, self._links.ca_file),
                                 "upstream_tls_refused")
        except ssl.SSLError as exc:
            self._could_not_open(f"the TLS handshake failed ({exc.reason or exc})",
                                 "upstream_tls_failed")
        except TimeoutError:
            self._could_not_open(f"no TLS connection within {timeout:g}s",
                                 "upstream_tls_failed")
        except OSError as exc:
            self._could_not_open(f"cannot connect ({exc.strerror or exc})",
                                 "upstream_tls_failed")
        finally:
            self._connecting = None
            if self._transport is None:
                sock.close()

    def _could_not_open(self, reason: str, event: str) -> None:
        if self.closed:
            return
        self._links.failed(self.server, self._loop, reason, event)
        self._fail(blame=True)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """The handshake is done and the certificate accepted: send what was asked."""
        if self.closed:
            transport.close()
            return
        self._transport = transport
        self._flush()
        self._asked_at_check = self._asked
        self._idle_check = self._loop.call_later(self._links.idle_timeout, self._check_idle)

    def data_received(self, data: bytes) -> None:
        if self._partial:
            data = self._partial + data
            self._partial = b""
        pending = self.pending
        answered = self._links.owner.link_answered
        at, end = 0, len(data)
        while end - at >= 2:
            size = data[at] << 8 | data[at + 1]
            if end - at - 2 < size:
                break
            reply = data[at + 2:at + 2 + size]
            at += 2 + size
            if size < 12:
                continue
            exchange = pending.get(reply[0] << 8 | reply[1])
            if exchange is not None and answers(reply, exchange.query_id, exchange.question):
                answered(exchange, reply)  # the forwarder ends the try: forget() above
                if self.closed:
                    return
        if at < end:
            self._partial = data[at:]

    def eof_received(self) -> bool | None:
        return None  # the server is done with this connection: close it

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self.closed:
            self._fail(blame=bool(self.pending))

    # --- internals ---------------------------------------------------------------------------

    def _flush(self) -> None:
        self._flush_due = False
        out = self._out
        transport = self._transport
        if out and transport is not None and not self.closed:
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def _check_idle(self) -> None:
        if self.closed:
            return
        if not self.pending and self._asked == self._asked_at_check:
            self.close()
            return
        self._asked_at_check = self._asked
        self._idle_check = self._loop.call_later(self._links.idle_timeout, self._check_idle)

    def _end(self) -> list[Exchange]:
        """Closed for good: the tries that were waiting, no longer here."""
        self.closed = True
        if self._idle_check is not None:
            self._idle_check.cancel()
            self._idle_check = None
        self._links.ended(self)
        waiting = list(self.pending.values())
        self.pending.clear()
        self._out.clear()
        return waiting

    def _fail(self, blame: bool) -> None:
        """Broken or never opened: its waiting tries go on to the next server."""
        waiting = self._end()
        if self._transport is not None:
            self._transport.close()
        if waiting or blame:
            self._links.owner.link_failed(self.server, waiting, blame)
