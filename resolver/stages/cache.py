"""Cache stage: serves upstream answers from memory with their remaining TTL."""

from __future__ import annotations

from resolver.cache import AnswerCache
from resolver.dns.wire import Query


def cache_key(query: Query) -> tuple[str, int, int, bool, bool]:
    return (query.qname, query.qtype, query.qclass, query.do, query.cd)


class CacheStage:
    """Looks the question up; a miss passes on (None)."""

    __slots__ = ("cache",)

    def __init__(self, cache: AnswerCache) -> None:
        self.cache = cache

    def answer(self, query: Query, now: float) -> bytes | None:
        return self.cache.get(cache_key(query), query.id, query.question, now)

    def store(self, query: Query, response: bytes, now: float) -> None:
        self.cache.put(cache_key(query), response, now)
