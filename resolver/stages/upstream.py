"""Upstream stage: the only stage that waits; asks the forwarder and fills the cache."""

from __future__ import annotations

import time

from resolver.dns.wire import Query
from resolver.stages.cache import CacheStage
from resolver.upstream import Forwarder


class UpstreamStage:
    """Forwards a question; None means every upstream failed (caller sends SERVFAIL)."""

    __slots__ = ("_cache", "_forwarder", "failures", "forwarded")

    def __init__(self, forwarder: Forwarder, cache: CacheStage | None) -> None:
        self._forwarder = forwarder
        self._cache = cache
        self.forwarded = 0
        self.failures = 0

    async def answer(self, query: Query, tcp: bool) -> bytes | None:
        self.forwarded += 1
        response = await self._forwarder.resolve(
            query.qname, query.qtype, query.qclass, do=query.do, cd=query.cd, tcp=tcp)
        if response is None:
            self.failures += 1
            return None
        if self._cache is not None:
            self._cache.store(query, response, time.time())
        return response

    def close(self) -> None:
        self._forwarder.close()
