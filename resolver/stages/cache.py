"""Cache stage: serves upstream answers from memory with their remaining TTL."""

from __future__ import annotations

from resolver.cache import AnswerCache
from resolver.dns.query import Query


def cache_key(query: Query) -> tuple[str, int, int, bool, bool]:
    return (query.qname, query.qtype, query.qclass, query.do, query.cd)


class CacheStage:
    """Looks the question up; a miss passes on (None)."""

    __slots__ = ("cache",)

    def __init__(self, cache: AnswerCache) -> None:
        self.cache = cache

    def answer(self, query: Query, now: float) -> tuple[bytes, bytes] | None:
        """(header bytes 2..12, everything after the question), for `reply.fit`."""
        return self.cache.parts(cache_key(query), len(query.question), now)

    def store(self, query: Query, response: bytes, now: float) -> None:
        self.cache.put(cache_key(query), response, now)
