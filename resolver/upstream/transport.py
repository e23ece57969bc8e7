"""Getting one query to one server and its reply back: UDP sockets in one epoll set, TCP.

Each upstream query is built by us (never the client's bytes) with a fresh random ID
and a fresh UDP socket on a kernel-chosen random source port (RFC 5452). The socket is
connect()ed to the server, so the kernel already drops datagrams from any other
address or port and reports ICMP port-unreachable as an error, which turns a dead
server into an immediate failure instead of a timeout; replies are still checked for
source address, ID, QR and question before being accepted.

A query in flight is a small state object, not a coroutine. Its socket is registered in
the transport's own epoll set, which asyncio watches as one file descriptor, so a query
costs one epoll_ctl and no asyncio reader handle; closing the socket removes it from
the set. Try timeouts sit in a deque and a heap swept by one timer. IDs come from a pool
of os.urandom bytes.
"""

from __future__ import annotations

import _socket
import asyncio
import collections
import heapq
import math
import os
import select
import socket
from collections.abc import Callable, Sequence
from typing import Protocol

from mypy_extensions import mypyc_attr

from resolver.dns import message
from resolver.dns.message import OPCODE_MASK, QR_IN_BYTE2, RCODE_MASK, Framed, MalformedMessage
from resolver.dns.rewrite import strip_opt_framed
from resolver.upstream.health import UpstreamHealth
from resolver.upstream.servers import UpstreamServer, address_family, same_host, socket_address

# Bound here, not imported by name: CPython 3.11 compiles a method call on an imported
# name as a module attribute load, which makes a bound method per call (~30 ns).
HEADER = message.HEADER
U16 = message.U16

_QR_AND_OPCODE = QR_IN_BYTE2 | OPCODE_MASK >> 8
"""The header bits a response to our query has as QR=1, opcode QUERY (RFC 1035 4.1.1: the
opcode is copied into the response): another opcode answers some other question."""
_DATAGRAMS_PER_WAKEUP = 16
_RECV_BUFFER_SIZE = 65_535
_SWEEP_SPACING = 0.01  # seconds at least between two sweeps for expired tries
_ID_POOL = 4096  # random bytes fetched at once for query IDs
_DGRAM_NONBLOCK = socket.SOCK_DGRAM | getattr(socket, "SOCK_NONBLOCK", 0)
_SET_NONBLOCKING = not hasattr(socket, "SOCK_NONBLOCK")  # one ioctl saved where it exists

Done = Callable[[bytes | None], None]


class Connection(Protocol):
    """A stream shared by several tries (DNS over TLS): told when one stops waiting."""

    def forget(self, query_id: int) -> None: ...


class Exchange:
    """One question on its way through the servers: what the callbacks share."""

    __slots__ = ("attempt", "deadline_at", "declined", "done", "flags", "link", "next", "opt",
                 "order", "query_id", "question", "refusal", "rounds", "server", "sock", "tcp")

    def __init__(self, question: bytes, flags: int, opt: bytes, tcp: bool, deadline_at: float,
                 order: list[UpstreamServer], done: Done) -> None:
        self.question = question
        self.flags = flags
        self.opt = opt
        self.tcp = tcp
        self.deadline_at = deadline_at
        self.order = order
        self.next = 0  # index in `order` of the server to try next
        self.rounds = 0
        self.done: Done | None = done
        self.sock: _socket.socket | None = None  # the UDP try in flight, if any
        self.link: Connection | None = None  # or the connection of the TLS try in flight
        self.server = order[0]
        self.query_id = 0
        self.attempt = 0
        self.refusal: tuple[bytes, UpstreamServer] | None = None
        """The latest error answer (SERVFAIL, REFUSED, NOTIMP, FORMERR) and who sent it:
        passed on if no server answers better."""
        self.declined: set[UpstreamServer] | None = None
        """Servers that answered this question with an error: not asked it again."""


@mypyc_attr(allow_interpreted_subclasses=True)  # the forwarder, and benchmarks' instant upstreams
class UdpTransport:
    """UDP tries in one epoll set, their timeouts, and the TCP retry.

    The forwarder extends this class rather than holding one: the per-try path then
    reaches sockets, loop and timers through `self`, with no extra hop. A subclass
    provides `_accept` (a reply to the try arrived) and `_next_try` (the try failed:
    already counted against its server; go on).
    """

    def __init__(self, servers: Sequence[UpstreamServer], health: UpstreamHealth,
                 try_timeout: float) -> None:
        self.try_timeout = try_timeout
        self._health = health
        self._sockaddrs = {server: socket_address(server) for server in servers}
        # One receive buffer for all queries: the loop is single-threaded and each datagram
        # is copied out before the callback returns.
        self._buffer = memoryview(bytearray(_RECV_BUFFER_SIZE))
        self._closed = False
        self._ids = b""
        self._ids_at = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._epoll: select.epoll | None = None
        self._waiting: dict[int, Exchange] = {}  # socket fd -> its exchange
        # (expiry, try number, fd) of each try; numbers only, so a finished query is freed at
        # once instead of living on here (it kept the GC busy). Tries given the full
        # try_timeout expire in the order they start: a deque. Tries cut short by the
        # deadline go to a heap.
        self._full_tries: collections.deque[tuple[float, int, int]] = collections.deque()
        self._short_tries: list[tuple[float, int, int]] = []
        self._tries = 0  # numbers every UDP try
        self._sweep: asyncio.TimerHandle | None = None
        self._sweep_at = 0.0
        self._over_tcp_now = 0  # TCP retries running (they may come back to UDP)

    def _accept(self, exchange: Exchange, data: bytes) -> None:
        raise NotImplementedError

    def _next_try(self, exchange: Exchange) -> None:
        raise NotImplementedError

    def _send(self, exchange: Exchange, server: UpstreamServer, timeout: float) -> bool:
        """One UDP try: False when it could not even be sent (the caller moves on)."""
        sockaddr = self._sockaddrs[server]
        try:
            # the C socket type: socket.socket's Python layer adds a measurable cost per query
            sock = _socket.socket(address_family(sockaddr), _DGRAM_NONBLOCK)
        except OSError:
            return False  # out of descriptors, say: not the server's fault
        query_id = self._query_id()
        try:
            if _SET_NONBLOCKING:
                sock.setblocking(False)
            sock.connect(sockaddr)  # the kernel picks a random source port (RFC 5452)
            sock.send(HEADER.pack(query_id, exchange.flags, 1, 0, 0, 1)
                      + exchange.question + exchange.opt)
        except OSError:
            sock.close()
            self._health.failed(server)
            return False
        epoll = self._epoll
        assert epoll is not None
        fd = sock.fileno()
        try:
            epoll.register(fd, select.EPOLLIN)
        except OSError:
            sock.close()
            return False
        exchange.sock = sock
        exchange.server = server
        exchange.query_id = query_id
        self._tries += 1
        exchange.attempt = self._tries
        self._waiting[fd] = exchange
        when = self._loop.time() + timeout  # type: ignore[union-attr]
        if timeout == self.try_timeout:
            self._full_tries.append((when, exchange.attempt, fd))
        else:
            heapq.heappush(self._short_tries, (when, exchange.attempt, fd))
        if self._sweep is None or when < self._sweep_at:
            self._schedule_sweep(when)
        return True

    def _readable(self) -> None:
        """The epoll set has replies (or errors) ready: read each socket that has."""
        epoll = self._epoll
        if epoll is None:
            return
        waiting = self._waiting
        for fd, _events in epoll.poll(0):
            exchange = waiting.get(fd)
            if exchange is not None:
                self._read(fd, exchange)

    def _read(self, fd: int, exchange: Exchange) -> None:
        """Take the first datagram that answers this try; skip any other."""
        sock = exchange.sock
        assert sock is not None
        sockaddr = self._sockaddrs[exchange.server]
        buffer = self._buffer
        for _ in range(_DATAGRAMS_PER_WAKEUP):
            try:
                size, source = sock.recvfrom_into(buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable on the connected socket
                self._end_try(fd, exchange)
                self._health.failed(exchange.server)
                self._next_try(exchange)
                return
            if source != sockaddr and (source[1] != sockaddr[1]
                                       or not same_host(source[0], sockaddr[0])):
                continue
            data = bytes(buffer[:size])
            if answers(data, exchange.query_id, exchange.question):
                self._end_try(fd, exchange)
                self._accept(exchange, data)
                return

    def _end_try(self, fd: int, exchange: Exchange) -> None:
        """`fd`: the try's key in `_waiting`, its socket's (a TLS try's: minus its number)."""
        del self._waiting[fd]
        if exchange.sock is not None:
            exchange.sock.close()  # also leaves the epoll set
            exchange.sock = None
        elif exchange.link is not None:
            exchange.link.forget(exchange.query_id)
            exchange.link = None

    # --- timeouts -----------------------------------------------------------------------

    def _schedule_sweep(self, when: float) -> None:
        loop = self._loop
        assert loop is not None
        if self._sweep is not None:
            self._sweep.cancel()
        self._sweep_at = when
        self._sweep = loop.call_at(when, self._expire)

    def _expire(self) -> None:
        """Tries past their time count as failures of their server; on to the next."""
        self._sweep = None
        loop = self._loop
        if loop is None:
            return
        now = loop.time()
        full, short = self._full_tries, self._short_tries
        waiting = self._waiting
        while True:
            if full and full[0][0] <= now:
                _, attempt, fd = full.popleft()
            elif short and short[0][0] <= now:
                _, attempt, fd = heapq.heappop(short)
            else:
                break
            exchange = waiting.get(fd)
            if exchange is None or exchange.attempt != attempt:
                continue  # answered (the fd may serve a newer try by now)
            self._end_try(fd, exchange)
            self._health.failed(exchange.server)
            self._next_try(exchange)
        if (full or short) and self._sweep is None:
            first = min(full[0][0] if full else math.inf, short[0][0] if short else math.inf)
            self._schedule_sweep(max(first, now + _SWEEP_SPACING))

    # --- plumbing -------------------------------------------------------------------------

    def _attach(self) -> asyncio.AbstractEventLoop:
        """The running loop, watching our epoll set (made on first use, or again after
        close or a new loop).

        The loop we attached to, still running, is taken as the caller's: the server runs
        one loop per process. asyncio.get_running_loop() is not asked each time because
        it calls getpid(), a system call (strace showed one per forwarded query).
        """
        known = self._loop
        if known is not None and self._epoll is not None and known.is_running():
            return known
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._epoll is not None:
            return loop
        if self._waiting:
            raise RuntimeError("Forwarder used from a second event loop")
        self._detach()
        self._epoll = select.epoll()
        loop.add_reader(self._epoll.fileno(), self._readable)
        self._loop = loop
        return loop

    def _detach(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self._full_tries.clear()
        self._short_tries.clear()
        if self._epoll is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
            self._epoll = None
        self._loop = None

    def _query_id(self) -> int:
        """16 bits from the OS's CSPRNG, fetched 4 KiB at a time (one syscall per 2,048)."""
        at = self._ids_at
        if at >= len(self._ids):
            self._ids = os.urandom(_ID_POOL)
            at = 0
        self._ids_at = at + 2
        return self._ids[at] << 8 | self._ids[at + 1]

    async def _tcp_try(
        self, server: UpstreamServer, question: bytes, flags: int, opt: bytes, timeout: float
    ) -> tuple[bytes, int]:
        """One query over a fresh TCP connection (RFC 7766 framing)."""
        loop = asyncio.get_running_loop()
        query_id = self._query_id()
        query = HEADER.pack(query_id, flags, 1, 0, 0, 1) + question + opt
        sockaddr = self._sockaddrs[server]
        sock = socket.socket(address_family(sockaddr), socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            async with asyncio.timeout(timeout):
                await loop.sock_connect(sock, sockaddr)
                await loop.sock_sendall(sock, U16.pack(len(query)) + query)
                (size,) = U16.unpack(await _recv_exactly(loop, sock, 2))
                reply = await _recv_exactly(loop, sock, size)
        finally:
            sock.close()
        if not answers(reply, query_id, question):
            raise MalformedMessage("TCP reply does not answer our query")
        return checked(reply, question)


def answers(data: bytes, query_id: int, question: bytes) -> bool:
    """Whether `data` is a response to our query: our ID, QR=1, opcode QUERY, one question,
    the same one.

    The name is compared case-insensitively (RFC 4343: ASCII letters only, which is what
    bytes.lower does; label length bytes are below 64 and unaffected); type and class
    exactly.
    """
    end = 12 + len(question)
    if len(data) < end or data[0] << 8 | data[1] != query_id \
            or data[2] & _QR_AND_OPCODE != QR_IN_BYTE2:
        return False
    if data[4:6] != b"\x00\x01":
        return False
    if data[12:end] == question:  # the usual echo, byte for byte
        return True
    name_end = end - 4
    return data[name_end:end] == question[-4:] and (
        data[12:name_end].lower() == question[:-4].lower()
    )


def checked(reply: bytes, question: bytes) -> tuple[bytes, int]:
    """The reply without OPT (and whatever follows it), and its full RCODE (extended bits
    from the OPT included)."""
    answer, rcode, _ = checked_framed(reply, question)
    return answer, rcode


def checked_framed(reply: bytes, question: bytes) -> tuple[bytes, int, Framed]:
    """`checked`, and the answer's records as its walk framed them (for the cache). The
    question end is known: `answers` has made sure the reply echoes our question."""
    answer, extended, framed = strip_opt_framed(reply, 12 + len(question))
    return answer, extended << 4 | (reply[3] & RCODE_MASK), framed


async def _recv_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    """Exactly `size` bytes from a stream socket, or ConnectionError at end of stream."""
    chunks: list[bytes] = []
    missing = size
    for _ in range(size + 1):  # every pass reads at least one byte or raises
        if missing == 0:
            break
        chunk = await loop.sock_recv(sock, missing)
        if not chunk:
            raise ConnectionError("upstream closed the TCP connection mid-message")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)
