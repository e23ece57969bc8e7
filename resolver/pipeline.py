"""The query's path, top to bottom: parse -> access -> policy -> cache -> upstream.

Why this order:
- access first, so a refused client costs one dict lookup and learns nothing;
- policy above the cache, so a block applies at once and blocked names are never
  served from cache (the cache stores only upstream answers);
- the cache before the upstream, which is the only stage that waits.
Everything before the upstream runs synchronously in the socket callback: no
task or coroutine is created for a local answer. In front of it all, for UDP, the
repeat stage answers a query seen moments ago with the bytes it got then (after
the access check, which every query passes through).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from resolver.dns import answers
from resolver.dns.query import Query, classify, parse_query
from resolver.dns.reply import fit, for_client
from resolver.dns.rewrite import cap_ttls
from resolver.policy.period import PolicyHolder
from resolver.stages.access import AccessControl
from resolver.stages.blocking import BlockingStage
from resolver.stages.cache import CacheStage, cache_key
from resolver.stages.repeat import BLOCKED, CACHED, RepeatStage
from resolver.stages.status import CLASS_CHAOS, StatusStage
from resolver.stages.upstream import UpstreamStage

log = logging.getLogger("dnsfence")


class Pending(NamedTuple):
    """A question only the upstream can answer: `Pipeline.forward` or `resolve` it."""

    query: Query
    tcp: bool



class Pipeline:
    """Turns one request into an answer now (bytes), an answer later (a coroutine), or none."""

    __slots__ = ("access", "blocking", "cache", "policy", "refused", "repeat", "status",
                 "udp_size", "upstream")

    def __init__(self, policy: PolicyHolder, access: AccessControl, blocking: BlockingStage,
                 cache: CacheStage | None, upstream: UpstreamStage, udp_size: int,
                 status: StatusStage | None = None, repeat: RepeatStage | None = None) -> None:
        self.policy = policy
        self.repeat = repeat
        self.status = status
        self.refused = 0
        self.access = access
        self.blocking = blocking
        self.cache = cache
        self.upstream = upstream
        self.udp_size = udp_size

    def handle(self, data: bytes, client: str, now: float, tcp: bool = False
               ) -> bytes | Pending | None:
        snapshot = self.policy.current(now)
        repeat = None if tcp else self.repeat
        if repeat is not None:
            key = data[2:]
            seen = repeat.get(key, now, snapshot)
            if seen is not None and self.access.allows(client):
                if seen[2] == BLOCKED:
                    self.blocking.blocked += 1
                elif self.cache is not None:
                    self.cache.cache.hits += 1
                return data[:2] + seen[0]
        query = parse_query(data)
        if query is None:
            parsed = classify(data)
            if not isinstance(parsed, Query):
                return answers.rejection(parsed, data, self.udp_size)
            query = parsed
        if query.qclass == CLASS_CHAOS and self.status is not None:
            return self.status.answer(query, client)
        if not self.access.allows(client):
            self.refused += 1
            return answers.refused(query, udp_size=self.udp_size)
        # None unless this name's verdict changes at a known instant (then: seconds left).
        ttl_cap = snapshot.ttl_cap(query.qname, now) if now < snapshot.last_bound else None
        blocked = self.blocking.answer(query, snapshot, now, ttl_cap)
        if blocked is not None:
            if repeat is not None and ttl_cap is None and self.blocking.seen_before:
                repeat.remember(key, blocked, snapshot.until, BLOCKED, snapshot)
            return blocked
        if self.cache is not None:
            cached = self.cache.answer(query, now)
            if cached is not None:
                answer = fit(cached[0], cached[1], query, self.udp_size, tcp)
                if ttl_cap is not None:
                    return cap_ttls(answer, ttl_cap)
                if repeat is not None:
                    until = self.cache.cache.same_until(cache_key(query), now)
                    repeat.remember(key, answer, until, CACHED, snapshot)
                return answer
        return Pending(query, tcp)

    def forward(self, pending: Pending, reply: Callable[[bytes], None]) -> None:
        """Ask the upstream; `reply(answer for the client)` is called once, from the loop.

        A callback rather than a coroutine: no task per forwarded query on the UDP path.
        """
        query, tcp = pending

        def done(response: bytes | None) -> None:
            try:
                answer = self._for_client(query, tcp, response)
            except Exception:
                log.exception("dnsfence: internal error while answering a forwarded query")
                # still answer, so that no client (nor a TCP connection) waits for nothing
                answer = answers.servfail(query, answers.EdeCode.OTHER, "internal error",
                                          udp_size=self.udp_size)
            reply(answer)

        self.upstream.start(query, tcp, done)

    async def resolve(self, pending: Pending) -> bytes:
        """`forward`, awaited (TCP connections, tests)."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.forward(pending, future.set_result)
        return await future

    def _for_client(self, query: Query, tcp: bool, response: bytes | None) -> bytes:
        if response is None:
            return answers.servfail(query, answers.EdeCode.NO_REACHABLE_AUTHORITY,
                                    "no upstream answered in time", udp_size=self.udp_size)
        now = time.time()
        ttl_cap = self.policy.current(now).ttl_cap(query.qname, now)
        if ttl_cap is not None:
            response = cap_ttls(response, ttl_cap)
        return for_client(response, query, self.udp_size, tcp)
