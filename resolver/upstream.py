"""Forwarding of questions to upstream resolvers over UDP, with TCP when an answer is truncated.

Each upstream query is built by us (never the client's bytes) with a fresh random ID
and a fresh UDP socket on a kernel-chosen random source port (RFC 5452). The socket is
connect()ed to the server, so the kernel already drops datagrams from any other
address or port and reports ICMP port-unreachable as an error, which turns a dead
server into an immediate failure instead of a timeout; replies are still checked for
source address, ID, QR and question before being accepted.

How it stays cheap (the forwarded benchmark, docs/BENCHMARKS.md): a query in flight is a
small state object, not a coroutine. Its socket is registered in the forwarder's own
epoll set, which asyncio watches as one file descriptor, so a query costs one
epoll_ctl and no asyncio reader handle; closing the socket removes it from the set. Try
timeouts sit in a heap swept by one timer. IDs come from a pool of os.urandom bytes.
`resolve` wraps this for callers that prefer to await.
"""

from __future__ import annotations

import _socket
import asyncio
import collections
import heapq
import ipaddress
import logging
import math
import os
import select
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from resolver.dns.wire import MalformedMessage, name_to_wire, skip_name

log = logging.getLogger("dnsfence")

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")  # type, class, TTL, RDLENGTH
_QUESTION_TAIL = struct.Struct("!HH")
_OPT_FIXED = struct.Struct("!BHHIH")  # root name, TYPE=41, CLASS=UDP size, TTL, RDLENGTH
_LENGTH = struct.Struct("!H")

_FLAG_QR = 0x8000
_FLAG_TC = 0x0200
_QR_IN_FLAGS_BYTE = _FLAG_QR >> 8  # QR and TC as seen in byte 2 of the header
_TC_IN_FLAGS_BYTE = _FLAG_TC >> 8
_FLAG_RD = 0x0100
_FLAG_CD = 0x0010
_EDNS_DO = 0x8000
_TYPE_OPT = 41

_RCODE_NOERROR = 0
_RCODE_SERVFAIL = 2
_RCODE_NXDOMAIN = 3
_RCODE_YXDOMAIN = 6

_ANSWER_RCODES = frozenset((_RCODE_NOERROR, _RCODE_NXDOMAIN, _RCODE_YXDOMAIN))
_MAX_ROUNDS = 3  # passes over the server list within one deadline
_DATAGRAMS_PER_WAKEUP = 16
_RECV_BUFFER_SIZE = 65_535
_SWEEP_SPACING = 0.01  # seconds at least between two sweeps for expired tries
_ID_POOL = 4096  # random bytes fetched at once for query IDs
_DGRAM_NONBLOCK = socket.SOCK_DGRAM | getattr(socket, "SOCK_NONBLOCK", 0)
_SET_NONBLOCKING = not hasattr(socket, "SOCK_NONBLOCK")  # one ioctl saved where it exists

Done = Callable[[bytes | None], None]


@dataclass(frozen=True, slots=True)
class UpstreamServer:
    """An upstream resolver, given as an IPv4 or IPv6 literal (no name lookups here)."""

    host: str
    port: int = 53

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise ValueError(
                f"upstream {self.host!r} is not an IPv4 or IPv6 address literal"
            ) from None
        if not 0 < self.port < 65_536:
            raise ValueError(f"upstream port {self.port} is outside 1..65535")

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def response_rcode(response: bytes) -> int:
    """The 4-bit header RCODE of a wire response (the OPT extension bits are not included)."""
    return response[3] & 0xF


def _strip_opt(msg: bytes, question_end: int) -> tuple[bytes, int]:
    """The message without its OPT record, and the OPT's upper 8 extended-RCODE bits.

    The OPT is normally the last record. Should other additional records follow it, they
    are dropped with it: removing bytes from the middle could move the target of a
    later compression pointer, and additional data is optional anyway.
    """
    _id, _flags, _qd, ancount, nscount, arcount = _HEADER.unpack_from(msg)
    off = question_end
    end = len(msg)
    additional_start = ancount + nscount
    for index in range(ancount + nscount + arcount):
        start = off
        off = skip_name(msg, off)
        if off + 10 > end:
            raise MalformedMessage("truncated resource record")
        rtype, _rclass, ttl, rdlength = _RR_FIXED.unpack_from(msg, off)
        off += 10 + rdlength
        if off > end:
            raise MalformedMessage("RDATA runs past the end of the message")
        if rtype == _TYPE_OPT and index >= additional_start:
            kept = index - additional_start
            header = msg[:10] + _LENGTH.pack(kept)
            return header + msg[12:start], ttl >> 24
    return msg, 0


@dataclass(slots=True)
class _Health:
    """Consecutive failures of one server and until when it is skipped."""

    failures: int = 0
    held_until: float = 0.0


class _Exchange:
    """One question on its way through the servers: what the callbacks share."""

    __slots__ = ("attempt", "deadline_at", "done", "flags", "next", "opt", "order",
                 "query_id", "question", "rounds", "server", "sock", "tcp")

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
        self.server = order[0]
        self.query_id = 0
        self.attempt = 0


class Forwarder:
    """Sends questions to upstream resolvers in order, with failover and holddown.

    Health: a try counts as a failure of its server when it times out, hits a socket
    error (ICMP unreachable included), gets a malformed reply, or gets REFUSED, NOTIMP,
    FORMERR or a non-zero extended RCODE; those say the server is unusable for us. A
    SERVFAIL answer moves on to the next server but counts neither way: it usually
    reflects the domain (broken delegation, DNSSEC bogus), and holding down a healthy
    resolver because one domain is broken would hurt every other query. Any usable
    answer resets the count. After `failures_before_holddown` failures in a row a
    server is skipped for `holddown` seconds; then it is tried again in its turn, and
    since its failure streak is kept, one more failure holds it down again at once. If
    every server is held down they are all tried anyway.

    Each call makes up to three passes over the servers until `deadline`, so a single
    lost datagram does not fail the query; each try waits at most `try_timeout` (less
    when the deadline is nearer).

    TCP: queries always go over UDP first, even for a client that came over TCP.
    Clients mostly come over TCP after a truncated UDP answer from us, often because
    their own buffer was small (512 bytes without EDNS) while we ask upstream with
    `udp_size`, so the UDP answer usually fits and saves a TCP handshake per query.
    When the UDP answer has TC=1 and `tcp=True`, the same server is asked again over
    TCP (RFC 7766 length framing); with `tcp=False` the TC answer is returned as is and
    the client retries over TCP. A failed TCP retry moves on to the next server
    without counting against health, which tracks the UDP path every query uses.
    """

    def __init__(
        self,
        servers: Sequence[UpstreamServer],
        try_timeout: float = 1.0,
        deadline: float = 3.0,
        udp_size: int = 1232,
        failures_before_holddown: int = 3,
        holddown: float = 30.0,
    ) -> None:
        if not servers:
            raise ValueError("at least one upstream server is needed")
        if try_timeout <= 0 or deadline <= 0:
            raise ValueError("try_timeout and deadline must be positive")
        if not 512 <= udp_size <= 65_535:
            raise ValueError(f"udp_size {udp_size} is outside 512..65535")
        if failures_before_holddown < 1:
            raise ValueError("failures_before_holddown must be at least 1")
        if holddown < 0:
            raise ValueError("holddown must not be negative")
        self.servers = tuple(servers)
        self.try_timeout = try_timeout
        self.deadline = deadline
        self.udp_size = udp_size
        self.failures_before_holddown = failures_before_holddown
        self.holddown = holddown
        self._health = {server: _Health() for server in self.servers}
        self._sockaddrs = {server: _sockaddr(server) for server in self.servers}
        self._opt = {
            do: _OPT_FIXED.pack(0, _TYPE_OPT, udp_size, _EDNS_DO if do else 0, 0)
            for do in (False, True)
        }
        # One receive buffer for all queries: the loop is single-threaded and each datagram
        # is copied out before the callback returns.
        self._buffer = memoryview(bytearray(_RECV_BUFFER_SIZE))
        self._closed = False
        self._ids = b""
        self._ids_at = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._epoll: select.epoll | None = None
        self._waiting: dict[int, _Exchange] = {}  # socket fd -> its exchange
        # (expiry, try number, fd) of each try; numbers only, so a finished query is freed at
        # once instead of living on here (it kept the GC busy: measured). Tries given the
        # full try_timeout expire in the order they start: a deque. Tries cut short by the
        # deadline go to a heap.
        self._full_tries: collections.deque[tuple[float, int, int]] = collections.deque()
        self._short_tries: list[tuple[float, int, int]] = []
        self._tries = 0  # numbers every UDP try
        self._sweep: asyncio.TimerHandle | None = None
        self._sweep_at = 0.0
        self._over_tcp_now = 0  # TCP retries running (they may come back to UDP)
        self._ready: list[UpstreamServer] | None = None  # see _order
        self._ready_until = 0.0

    def close(self) -> None:
        """Refuse further queries; those in flight finish, then the epoll set is closed."""
        self._closed = True
        if not self._waiting and not self._over_tcp_now:
            self._detach()

    def is_held_down(self, server: UpstreamServer) -> bool:
        """Whether `server` is currently being skipped."""
        return self._health[server].held_until > time.monotonic()

    async def resolve(
        self, qname: str, qtype: int, qclass: int, *, do: bool, cd: bool, tcp: bool = False
    ) -> bytes | None:
        """Returns the upstream's response wire (OPT removed, ID as the upstream sent it i.e.
        our own random ID) or None when every try failed within the deadline (caller answers
        SERVFAIL).

        A returned answer has RCODE NOERROR, NXDOMAIN or YXDOMAIN, and may have TC=1
        when `tcp` is False. Raises ValueError when `qname` is not a valid name.
        """
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()

        def settle(answer: bytes | None) -> None:
            if not future.done():
                future.set_result(answer)

        self.start(qname, qtype, qclass, do=do, cd=cd, tcp=tcp, done=settle)
        return await future

    def start(self, qname: str, qtype: int, qclass: int, *, do: bool, cd: bool, tcp: bool,
              done: Done) -> None:
        """Like `resolve`, but calls `done(answer or None)` once, from the event loop (or
        before returning, when no server can be tried at all)."""
        question = name_to_wire(qname) + _QUESTION_TAIL.pack(qtype, qclass)
        self.start_question(question, do=do, cd=cd, tcp=tcp, done=done)

    def start_question(self, question: bytes, *, do: bool, cd: bool, tcp: bool,
                       done: Done) -> None:
        """`start` for a question section already in wire form (uncompressed, as a parsed
        `Query.question` is): the client's own bytes, so no re-encoding per query."""
        if self._closed:
            raise RuntimeError("Forwarder used after close()")
        loop = self._attach()
        exchange = _Exchange(question, _FLAG_RD | (_FLAG_CD if cd else 0), self._opt[do], tcp,
                             loop.time() + self.deadline, self._order(time.monotonic()), done)
        self._next_try(exchange)

    # --- the state machine -------------------------------------------------------------

    def _next_try(self, exchange: _Exchange) -> None:
        """Send to the next server in turn (up to three passes within the deadline)."""
        loop = self._loop
        assert loop is not None
        while True:
            if exchange.next >= len(exchange.order):
                exchange.rounds += 1
                if exchange.rounds >= _MAX_ROUNDS:
                    self._finish(exchange, None)
                    return
                exchange.order = self._order(time.monotonic())
                exchange.next = 0
            server = exchange.order[exchange.next]
            exchange.next += 1
            left = exchange.deadline_at - loop.time()
            if left <= 0:
                self._finish(exchange, None)
                return
            if self._send(exchange, server, min(self.try_timeout, left)):
                return

    def _send(self, exchange: _Exchange, server: UpstreamServer, timeout: float) -> bool:
        """One UDP try: False when it could not even be sent (the caller moves on)."""
        sockaddr = self._sockaddrs[server]
        try:
            # the C socket type: socket.socket's Python layer cost ~0.7 µs a query
            sock = _socket.socket(_family(sockaddr), _DGRAM_NONBLOCK)
        except OSError:
            return False  # out of descriptors, say: not the server's fault
        query_id = self._query_id()
        try:
            if _SET_NONBLOCKING:
                sock.setblocking(False)
            sock.connect(sockaddr)  # the kernel picks a random source port (RFC 5452)
            sock.send(_HEADER.pack(query_id, exchange.flags, 1, 0, 0, 1)
                      + exchange.question + exchange.opt)
        except OSError:
            sock.close()
            self._failed(server, self._health[server])
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

    def _read(self, fd: int, exchange: _Exchange) -> None:
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
                self._failed(exchange.server, self._health[exchange.server])
                self._next_try(exchange)
                return
            if source != sockaddr and (source[1] != sockaddr[1]
                                       or not _same_host(source[0], sockaddr[0])):
                continue
            data = bytes(buffer[:size])
            if _answers(data, exchange.query_id, exchange.question):
                self._end_try(fd, exchange)
                self._accept(exchange, data)
                return

    def _accept(self, exchange: _Exchange, data: bytes) -> None:
        """A reply to our query: the answer, or on to the next server."""
        server = exchange.server
        health = self._health[server]
        try:
            answer, rcode = _checked(data, exchange.question)
        except MalformedMessage:
            self._failed(server, health)
            self._next_try(exchange)
            return
        if rcode == _RCODE_SERVFAIL:
            self._next_try(exchange)
            return
        if rcode not in _ANSWER_RCODES:
            self._failed(server, health)
            self._next_try(exchange)
            return
        if health.failures >= self.failures_before_holddown:
            log.warning("dnsfence: upstream %s answers again", server)
        health.failures = 0
        if health.held_until:
            health.held_until = 0.0
            self._ready = None
        if exchange.tcp and answer[2] & _TC_IN_FLAGS_BYTE:
            loop = self._loop
            assert loop is not None
            loop.create_task(self._over_tcp(exchange, server))
            return
        self._finish(exchange, answer)

    async def _over_tcp(self, exchange: _Exchange, server: UpstreamServer) -> None:
        """The same server again over TCP after a truncated UDP answer; on to the next
        server if that fails (without counting against health, which tracks UDP)."""
        loop = asyncio.get_running_loop()
        timeout = min(self.try_timeout, exchange.deadline_at - loop.time())
        self._over_tcp_now += 1
        try:
            if timeout > 0:
                answer, rcode = await self._tcp_try(server, exchange.question, exchange.flags,
                                                    exchange.opt, timeout)
                if rcode in _ANSWER_RCODES:
                    self._finish(exchange, answer)
                    return
        except (OSError, TimeoutError, MalformedMessage):
            pass
        finally:
            self._over_tcp_now -= 1
        self._next_try(exchange)

    def _end_try(self, fd: int, exchange: _Exchange) -> None:
        del self._waiting[fd]
        if exchange.sock is not None:
            exchange.sock.close()  # also leaves the epoll set
            exchange.sock = None

    def _finish(self, exchange: _Exchange, answer: bytes | None) -> None:
        done, exchange.done = exchange.done, None
        if self._closed and not self._waiting and not self._over_tcp_now:
            self._detach()
        if done is not None:
            done(answer)

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
            self._failed(exchange.server, self._health[exchange.server])
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

    def _order(self, now: float) -> list[UpstreamServer]:
        """Servers in configured order minus those held down, or all if all are.

        Kept between calls (a list per query showed in profiles) until a holddown starts
        or ends; exchanges only read it."""
        if self._ready is not None and now < self._ready_until:
            return self._ready
        health = self._health
        ready = [server for server in self.servers if health[server].held_until <= now]
        self._ready = ready or list(self.servers)
        held = [health[server].held_until for server in self.servers
                if health[server].held_until > now]
        self._ready_until = min(held, default=math.inf)
        return self._ready

    def _failed(self, server: UpstreamServer, health: _Health) -> None:
        health.failures += 1
        if health.failures >= self.failures_before_holddown:
            now = time.monotonic()
            if health.held_until <= now and health.failures == self.failures_before_holddown:
                log.warning("dnsfence: upstream %s failed %d times in a row; skipping it for "
                            "%gs", server, health.failures, self.holddown)
            health.held_until = now + self.holddown
            self._ready = None

    async def _tcp_try(
        self, server: UpstreamServer, question: bytes, flags: int, opt: bytes, timeout: float
    ) -> tuple[bytes, int]:
        """One query over a fresh TCP connection (RFC 7766 framing)."""
        loop = asyncio.get_running_loop()
        query_id = self._query_id()
        query = _HEADER.pack(query_id, flags, 1, 0, 0, 1) + question + opt
        sockaddr = self._sockaddrs[server]
        sock = socket.socket(_family(sockaddr), socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            async with asyncio.timeout(timeout):
                await loop.sock_connect(sock, sockaddr)
                await loop.sock_sendall(sock, _LENGTH.pack(len(query)) + query)
                (size,) = _LENGTH.unpack(await _recv_exactly(loop, sock, 2))
                reply = await _recv_exactly(loop, sock, size)
        finally:
            sock.close()
        if not _answers(reply, query_id, question):
            raise MalformedMessage("TCP reply does not answer our query")
        return _checked(reply, question)


def _sockaddr(server: UpstreamServer) -> tuple[str, int] | tuple[str, int, int, int]:
    """Socket address for a literal, via getaddrinfo so IPv6 scope IDs are honoured."""
    infos = socket.getaddrinfo(
        server.host, server.port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
    )
    address = infos[0][4]
    if len(address) == 4:
        return (str(address[0]), int(address[1]), int(address[2]), int(address[3]))
    return (str(address[0]), int(address[1]))


def _family(sockaddr: tuple[str, int] | tuple[str, int, int, int]) -> socket.AddressFamily:
    return socket.AF_INET6 if len(sockaddr) == 4 else socket.AF_INET


def _same_host(source: str, expected: str) -> bool:
    if source == expected:
        return True
    try:
        return ipaddress.ip_address(source) == ipaddress.ip_address(expected)
    except ValueError:
        return False


def _answers(data: bytes, query_id: int, question: bytes) -> bool:
    """Whether `data` is a response to our query: our ID, QR=1, one question, the same one.

    The name is compared case-insensitively (RFC 4343: ASCII letters only, which is what
    bytes.lower does; label length bytes are below 64 and unaffected); type and class
    exactly.
    """
    end = 12 + len(question)
    if len(data) < end or data[0] << 8 | data[1] != query_id or not data[2] & _QR_IN_FLAGS_BYTE:
        return False
    if data[4:6] != b"\x00\x01":
        return False
    if data[12:end] == question:  # the usual echo, byte for byte
        return True
    name_end = end - 4
    return data[name_end:end] == question[-4:] and (
        data[12:name_end].lower() == question[:-4].lower()
    )


def _checked(reply: bytes, question: bytes) -> tuple[bytes, int]:
    """The reply without OPT, and its full RCODE (extended bits from the OPT included)."""
    answer, extended = _strip_opt(reply, 12 + len(question))
    return answer, extended << 4 | (reply[3] & 0xF)


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
