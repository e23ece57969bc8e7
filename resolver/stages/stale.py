"""Answers past or near their TTL: serve-stale (RFC 8767), refreshes, and prefetch.

When the office's link drops, every name would fail at once although the cache holds
answers it saw minutes ago. The cache stage keeps expired answers for `cache.serve_stale`
and, when the upstream gives it nothing (no server answered within the deadline, or every
server is held down and none was asked), hands one of them on through this module: every
TTL at 30 seconds, marked STALE so that the client is told with an Extended DNS Error (3,
or 19 for an NXDOMAIN). It then asks the upstream again in the background, at most once
per question at a time, and the fresh answer replaces the stale one in the cache.

Policy stays first: the blocking stage sits above the cache, so a name blocked meanwhile
never gets here, and the stale message goes through the same checks as a forwarded one
(CNAME inspection with the chain read when it was stored; the TTL cap of a coming change).

The hold-down of failing servers plays the part of RFC 8767's "failure recheck timer":
while every server is held down a query answers stale at once, and only the refreshes,
bounded in number, find out whether a server is back.

Prefetch (`cache.prefetch`) uses the same refreshes before expiry: an answer asked for in
the last tenth of its lifetime is asked for again, so popular names never make a client
wait for the upstream when they expire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from resolver.cache import STALE_TTL, AnswerCache, CacheKey
from resolver.dns import message
from resolver.dns.answers import EdeCode, ede_option
from resolver.dns.message import CD, RCODE_MASK, RD, Rcode
from resolver.dns.names import name_to_wire
from resolver.dns.query import Edns, Query
from resolver.dns.rewrite import cap_ttls
from resolver.policy.period import PolicyPeriod
from resolver.stages.contract import STALE, Forward, Request

TWO_U16 = message.TWO_U16

MAX_REFRESHES = 64
"""Refreshes waiting at once, in all. While the upstreams are down each refresh may wait a
whole deadline; a flood of distinct names must not become a flood of upstream queries."""

_NXDOMAIN = int(Rcode.NXDOMAIN)
_TEXT = "no upstream answered; an answer kept past its TTL"
_STALE_EDE = ede_option(EdeCode.STALE_ANSWER, _TEXT)
_STALE_NXDOMAIN_EDE = ede_option(EdeCode.STALE_NXDOMAIN_ANSWER, _TEXT)


def stale_ede(response: bytes) -> bytes:
    """The Extended DNS Error option for a stale `response`: 19 (Stale NXDOMAIN Answer) for
    an NXDOMAIN, else 3 (Stale Answer) (RFC 8914 4.4 and 4.20)."""
    if response[3] & RCODE_MASK == _NXDOMAIN:
        return _STALE_NXDOMAIN_EDE
    return _STALE_EDE


class Refreshes:
    """Questions asked again for the cache alone, no client waiting: after a stale answer,
    or before a popular answer expires (prefetch). One per question at a time, and
    MAX_REFRESHES in all; the answer that comes back is stored, replacing the old one."""

    __slots__ = ("_cache", "_refreshing", "started")

    def __init__(self, cache: AnswerCache) -> None:
        self._cache = cache
        self._refreshing: set[CacheKey] = set()
        self.started = 0
        """Refreshes started (each one a question to the upstream)."""

    def __contains__(self, key: CacheKey) -> bool:
        return key in self._refreshing

    def __len__(self) -> int:
        """Refreshes waiting for the upstream now."""
        return len(self._refreshing)

    def start(self, key: CacheKey, query: Query, period: PolicyPeriod, forward: Forward
              ) -> None:
        """Ask `forward` (the stage below the cache) for `query` again; nothing if `key` is
        being refreshed already or too many are."""
        refreshing = self._refreshing
        if key in refreshing or len(refreshing) >= MAX_REFRESHES:
            return
        refreshing.add(key)
        self.started += 1
        # over TCP if truncated: no client is waiting that could retry, and a truncated
        # answer is not stored
        again = Request(b"", "", time.time(), True, period)  # logged nowhere
        again.query = query
        cache = self._cache

        def refreshed(response: bytes | None) -> None:
            refreshing.discard(key)
            if response is not None:
                cache.put(key, response, time.time(), key[0])

        try:
            forward(again, refreshed)
        except RuntimeError:  # the upstream was closed: the server is stopping
            refreshing.discard(key)


class StaleAnswers:
    """Expired answers from one cache, each starting a refresh; built by the cache stage
    when `cache.serve_stale` is not 0."""

    __slots__ = ("_cache", "_refreshes", "served")

    def __init__(self, cache: AnswerCache, refreshes: Refreshes) -> None:
        self._cache = cache
        self._refreshes = refreshes
        self.served = 0

    def answer(self, request: Request, key: CacheKey) -> bytes | None:
        """The stale answer to `request` as an upstream message (OPT removed), with
        `request.kind` STALE and `request.aliases` its stored chain; None if the cache has
        none. The caller then hands it on, and calls `refresh`."""
        query = request.query
        found = self._cache.stale(key, len(query.question), time.time())
        if found is None:
            return None
        flags_counts, body, chain, _expired_for = found
        request.kind = STALE
        request.aliases = chain
        self.served += 1
        # every TTL is STALE_TTL already; a negative answer's SOA MINIMUM comes down to it
        # too, so that no reading of RFC 2308 caches the stale NXDOMAIN/NODATA for longer
        return cap_ttls(b"".join((b"\0\0", flags_counts, query.question, body)), STALE_TTL)

    def refresh(self, request: Request, key: CacheKey, forward: Forward) -> None:
        """Ask `forward` (the stage below the cache) for `request`'s question again, once
        the client has its stale answer."""
        self._refreshes.start(key, request.query, request.period, forward)


def own_query(key: CacheKey, udp_size: int) -> Query:
    """The question of a cache key, as dnsfence asks it itself (a prefetch): no client sent
    it, so it has ID 0, RD, the key's CD bit, and EDNS only to carry the key's DO bit."""
    qname, qtype, qclass, do, cd = key
    return Query(0, RD | (CD if cd else 0), qname, qtype, qclass,
                 name_to_wire(qname) + TWO_U16.pack(qtype, qclass),
                 Edns(udp_size, 0, True) if do else None)


class Prefetch:
    """Asks again for answers that are asked for in the last tenth of their lifetime, so
    that a popular name never expires for its clients (Unbound's `prefetch`).

    The cache calls `due` from a hit, at most once per second per entry (when it renders
    the entry's TTLs anew): the hit itself goes on at once, and the question is sent from
    the event loop's next turn, not from inside the hit.
    """

    __slots__ = ("_forward", "_pending", "_period", "_refreshes", "_udp_size", "started")

    def __init__(self, refreshes: Refreshes, forward: Callable[[], Forward | None],
                 period: Callable[[], PolicyPeriod], udp_size: int) -> None:
        self._refreshes = refreshes
        self._forward = forward
        self._period = period
        self._udp_size = udp_size
        self._pending: list[CacheKey] = []
        self.started = 0

    def close(self) -> None:
        """Send nothing more (the server is stopping, or the cache was replaced)."""
        self._pending.clear()
        self._forward = lambda: None

    def due(self, key: CacheKey) -> None:
        """`AnswerCache.on_due`: `key` was asked for near its expiry."""
        if key in self._refreshes or len(self._pending) >= MAX_REFRESHES:
            return
        if not self._pending:
            try:
                asyncio.get_running_loop().call_soon(self._send)
            except RuntimeError:
                return  # no event loop (a test or benchmark calling the chain directly)
        self._pending.append(key)

    def _send(self) -> None:
        pending, self._pending = self._pending, []
        forward = self._forward()
        if forward is None:
            return
        refreshes = self._refreshes
        period = self._period()
        for key in pending:
            before = refreshes.started
            refreshes.start(key, own_query(key, self._udp_size), period, forward)
            self.started += refreshes.started - before
