"""The per-question state machine: which server to try next, what a reply means, TCP retry.

`Forwarder` extends the UDP transport with the decisions (failover, rounds, deadline,
what counts as a failure) and asks `UpstreamHealth` for the order of the servers.
`resolve` wraps the callback API for callers that prefer to await.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Sequence

from mypy_extensions import mypyc_attr

from resolver.dns import message
from resolver.dns.message import (
    CD,
    DEFAULT_UDP_SIZE,
    RD,
    TC_IN_BYTE2,
    Framed,
    MalformedMessage,
    Rcode,
)
from resolver.dns.names import name_to_wire
from resolver.dns.rewrite import opt_record
from resolver.upstream.health import UpstreamHealth
from resolver.upstream.servers import UpstreamServer
from resolver.upstream.tls import TlsLinks
from resolver.upstream.transport import Done, Exchange, UdpTransport, checked_framed

# Bound here, not imported by name: CPython 3.11 compiles a method call on an imported
# name as a module attribute load, which makes a bound method per call (~30 ns).
TWO_U16 = message.TWO_U16

__all__ = ["Done", "Forwarder"]

_ANSWER_RCODES = frozenset((int(Rcode.NOERROR), int(Rcode.NXDOMAIN), int(Rcode.YXDOMAIN)))
_MAX_ROUNDS = 3  # passes over the server list within one deadline


@mypyc_attr(allow_interpreted_subclasses=True)  # benchmarks' instant upstreams
class Forwarder(UdpTransport):
    """Sends questions to upstream resolvers in order, with failover and holddown.

    Health: a try counts as a failure of its server when it times out, hits a socket
    error (ICMP unreachable included) or gets a malformed reply. An error answer
    (SERVFAIL, REFUSED, NOTIMP, FORMERR, or an extended RCODE) is that question's answer
    from a live server: it is not held against the server (a client asking `AXFR` three
    times must not put an upstream in hold-down for everyone, nor a broken domain's
    SERVFAIL), the question moves on to the next server, as dnsmasq does, and the server
    is not asked it again; when every server has answered so, the last error answer is
    passed on at once, rather than waiting for the deadline. Any answer resets the count.
    After `failures_before_holddown` failures in a row a server is skipped for `holddown`
    seconds (see `UpstreamHealth`).

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

    DNS over TLS: a server with a `tls_name` is asked only over its TLS connection
    (`resolver.upstream.tls`), never over UDP or plain TCP; its tries time out, fail
    over and count against its health as UDP tries do, except that a connection that
    breaks or cannot be opened counts once, not once per query waiting on it. The CAs
    are the system's, or those in `ca_file`.
    """

    def __init__(
        self,
        servers: Sequence[UpstreamServer],
        try_timeout: float = 1.0,
        deadline: float = 3.0,
        udp_size: int = DEFAULT_UDP_SIZE,
        failures_before_holddown: int = 3,
        holddown: float = 30.0,
        ca_file: str | None = None,
        tls_idle_timeout: float = 10.0,
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
        self.deadline = deadline
        self.udp_size = udp_size
        self.failures_before_holddown = failures_before_holddown
        self.holddown = holddown
        health = UpstreamHealth(self.servers, failures_before_holddown, holddown)
        super().__init__(self.servers, health, try_timeout)
        self._server_health = health.of
        self._order = health.order  # bound once: called for every question
        self._opt = {do: opt_record(udp_size, do) for do in (False, True)}
        self._tls = None if all(server.tls_name is None for server in self.servers) else \
            TlsLinks(self, self._sockaddrs, self._query_id, ca_file, deadline, tls_idle_timeout)
        self.responses: dict[tuple[UpstreamServer, int], int] = {}
        """Replies received, by server and RCODE (malformed ones are not counted)."""
        self.answered_by: UpstreamServer | None = None
        """The server whose answer the latest `done` call carries (None: no answer); read
        it inside `done`, before the next question finishes."""
        self.answered_framing: Framed | None = None
        """The records of the answer the latest `done` call carries, as the check framed
        them (None: not known); read it inside `done`, as `answered_by`."""

    def close(self) -> None:
        """Refuse further queries; those in flight finish, then the epoll set is closed."""
        self._closed = True
        if not self._waiting and not self._over_tcp_now:
            self._detach()

    def is_held_down(self, server: UpstreamServer) -> bool:
        """Whether `server` is currently being skipped."""
        return self._health.is_held_down(server)

    def all_held_down(self) -> bool:
        """Whether every server is currently being skipped: a question asked now would go
        to servers that just failed, so a caller with another answer at hand uses it."""
        return self._health.all_held_down(time.monotonic())

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
        question = name_to_wire(qname) + TWO_U16.pack(qtype, qclass)
        self.start_question(question, do=do, cd=cd, tcp=tcp, done=done)

    def start_question(self, question: bytes, *, do: bool, cd: bool, tcp: bool,
                       done: Done) -> None:
        """`start` for a question section already in wire form (uncompressed, as a parsed
        `Query.question` is): the client's own bytes, so no re-encoding per query."""
        if self._closed:
            raise RuntimeError("Forwarder used after close()")
        loop = self._attach()
        exchange = Exchange(question, RD | (CD if cd else 0), self._opt[do], tcp,
                            loop.time() + self.deadline, self._order(time.monotonic()), done)
        self._next_try(exchange)

    def _next_try(self, exchange: Exchange) -> None:
        """Send to the next server in turn (up to three passes within the deadline)."""
        loop = self._loop
        assert loop is not None
        while True:
            if exchange.next >= len(exchange.order):
                exchange.rounds += 1
                if exchange.rounds >= _MAX_ROUNDS:
                    self._give_up(exchange)
                    return
                exchange.order = self._order(time.monotonic())
                exchange.next = 0
            server = exchange.order[exchange.next]
            exchange.next += 1
            declined = exchange.declined
            if declined is not None and server in declined:
                continue
            left = exchange.deadline_at - loop.time()
            if left <= 0:
                self._give_up(exchange)
                return
            if server.tls_name is None:
                if self._send(exchange, server, min(self.try_timeout, left)):
                    return
            elif self._send_tls(exchange, server, min(self.try_timeout, left)):
                return

    def _accept(self, exchange: Exchange, data: bytes) -> None:
        """A reply to our query: the answer, or on to the next server."""
        server = exchange.server
        try:
            answer, rcode, framed = checked_framed(data, exchange.question)
        except MalformedMessage:
            self._health.failed(server)
            self._next_try(exchange)
            return
        key = (server, rcode)
        responses = self.responses
        responses[key] = responses.get(key, 0) + 1
        health = self._server_health[server]
        if health.failures:
            self._health.answered(server, health)  # it answers: it is alive
        if rcode not in _ANSWER_RCODES:
            self._declined(exchange, server, answer)
            return
        if exchange.tcp and answer[2] & TC_IN_BYTE2 and server.tls_name is None:
            loop = self._loop
            assert loop is not None
            loop.create_task(self._over_tcp(exchange, server))
            return
        self._finish(exchange, answer, framed)

    def _send_tls(self, exchange: Exchange, server: UpstreamServer, timeout: float) -> bool:
        """One try over the server's TLS connection (opened if needed), timed as `_send`
        times a UDP try and kept under minus its number; False when the server is paused
        after a failure to connect (the caller moves on)."""
        loop = self._loop
        assert loop is not None and self._tls is not None
        link = self._tls.link(server, loop)
        if link is None:
            return False
        query_id = link.send(exchange)
        if query_id < 0:
            return False
        exchange.server = server
        exchange.query_id = query_id
        exchange.link = link
        self._tries += 1
        exchange.attempt = self._tries
        self._waiting[-self._tries] = exchange
        when = loop.time() + timeout
        if timeout == self.try_timeout:
            self._full_tries.append((when, exchange.attempt, -self._tries))
        else:
            heapq.heappush(self._short_tries, (when, exchange.attempt, -self._tries))
        if self._sweep is None or when < self._sweep_at:
            self._schedule_sweep(when)
        return True

    def link_answered(self, exchange: Exchange, reply: bytes) -> None:
        """A reply over TLS to the try of `exchange`."""
        self._end_try(-exchange.attempt, exchange)
        self._accept(exchange, reply)

    def link_failed(self, server: UpstreamServer, exchanges: list[Exchange],
                    blame: bool) -> None:
        """A TLS connection ended with these tries waiting: on to the next server."""
        if blame:
            self._health.failed(server)
        for exchange in exchanges:
            if self._waiting.get(-exchange.attempt) is exchange:
                self._end_try(-exchange.attempt, exchange)
                self._next_try(exchange)

    def _detach(self) -> None:
        super()._detach()
        if self._tls is not None:
            self._tls.close()

    async def _over_tcp(self, exchange: Exchange, server: UpstreamServer) -> None:
        """The same server again over TCP after a truncated UDP answer; on to the next
        server if that fails (without counting against health, which tracks UDP)."""
        loop = asyncio.get_running_loop()
        timeout = min(self.try_timeout, exchange.deadline_at - loop.time())
        self._over_tcp_now += 1
        try:
            if timeout > 0:
                answer, rcode = await self._tcp_try(server, exchange.question, exchange.flags,
                                                    exchange.opt, timeout)
                key = (server, rcode)
                self.responses[key] = self.responses.get(key, 0) + 1
                if rcode in _ANSWER_RCODES:
                    self._finish(exchange, answer)
                    return
        except (OSError, TimeoutError, MalformedMessage):
            pass
        finally:
            self._over_tcp_now -= 1
        self._next_try(exchange)

    def _declined(self, exchange: Exchange, server: UpstreamServer, answer: bytes) -> None:
        """An error answer: kept, the server not asked again; on to the next server, or
        the answer passed on at once when every server has answered so."""
        exchange.refusal = (answer, server)
        declined = exchange.declined
        if declined is None:
            declined = exchange.declined = set()
        declined.add(server)
        if len(declined) >= len(self.servers):
            self._give_up(exchange)
        else:
            self._next_try(exchange)

    def _give_up(self, exchange: Exchange) -> None:
        """No usable answer: the last error answer if there was one, else None (SERVFAIL,
        no upstream answered in time)."""
        refusal = exchange.refusal
        if refusal is None:
            self._finish(exchange, None)
            return
        exchange.server = refusal[1]
        self._finish(exchange, refusal[0])

    def _finish(self, exchange: Exchange, answer: bytes | None,
                framed: Framed | None = None) -> None:
        done, exchange.done = exchange.done, None
        if self._closed and not self._waiting and not self._over_tcp_now:
            self._detach()
        if done is not None:
            self.answered_by = None if answer is None else exchange.server
            self.answered_framing = framed
            done(answer)
