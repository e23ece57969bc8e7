"""Serve-stale (RFC 8767): an expired answer when no upstream answers, and its refresh.

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
"""

from __future__ import annotations

import time

from resolver.cache import STALE_TTL, AnswerCache, CacheKey
from resolver.dns.answers import EdeCode, ede_option
from resolver.dns.message import RCODE_MASK, Rcode
from resolver.dns.rewrite import cap_ttls
from resolver.stages.contract import STALE, Forward, Request

MAX_REFRESHES = 64
"""Refreshes waiting at once, in all. While the upstreams are down each refresh may wait a
whole deadline; a flood of distinct names must not become a flood of upstream queries."""

_NXDOMAIN = int(Rcode.NXDOMAIN)
_TEXT = "no upstream answered; an answer kept past its TTL"
_STALE_EDE = ede_option(EdeCode.STALE_ANSWER, _TEXT)
_STALE_NXDOMAIN_EDE = ede_option(EdeCode.STALE_NXDOMAIN_ANSWER, _TEXT)


def stale_ede(message: bytes) -> bytes:
    """The Extended DNS Error option for a stale `message`: 19 (Stale NXDOMAIN Answer) for
    an NXDOMAIN, else 3 (Stale Answer) (RFC 8914 4.4 and 4.20)."""
    if message[3] & RCODE_MASK == _NXDOMAIN:
        return _STALE_NXDOMAIN_EDE
    return _STALE_EDE


class StaleAnswers:
    """Expired answers from one cache, and the refreshes they start; built by the cache
    stage when `cache.serve_stale` is not 0."""

    __slots__ = ("_cache", "_refreshing", "refreshes", "served")

    def __init__(self, cache: AnswerCache) -> None:
        self._cache = cache
        self._refreshing: set[CacheKey] = set()
        self.served = 0
        self.refreshes = 0
        """Refreshes started (each one a query to the upstream)."""

    def answer(self, request: Request, key: CacheKey, forward: Forward) -> bytes | None:
        """The stale answer to `request` as an upstream message (OPT removed), with
        `request.kind` STALE and `request.aliases` its stored chain; None if the cache has
        none. A refresh through `forward` (the stage below the cache) is started."""
        query = request.query
        found = self._cache.stale(key, len(query.question), time.time())
        if found is None:
            return None
        flags_counts, body, chain, _expired_for = found
        request.kind = STALE
        request.aliases = chain
        self.served += 1
        self.refresh(request, key, forward)
        # every TTL is STALE_TTL already; a negative answer's SOA MINIMUM comes down to it
        # too, so that no reading of RFC 2308 caches the stale NXDOMAIN/NODATA for longer
        return cap_ttls(b"".join((b"\0\0", flags_counts, query.question, body)), STALE_TTL)

    def refresh(self, request: Request, key: CacheKey, forward: Forward) -> None:
        """Ask the upstream for `request`'s question again, for the cache alone (the client
        has had its answer); nothing if it is being refreshed already or too many are."""
        refreshing = self._refreshing
        if key in refreshing or len(refreshing) >= MAX_REFRESHES:
            return
        refreshing.add(key)
        self.refreshes += 1
        # over TCP if truncated: no client is waiting that could retry, and a truncated
        # answer is not stored
        again = Request(b"", "", request.now, True, request.period)  # logged nowhere
        again.query = request.query
        cache = self._cache

        def refreshed(response: bytes | None) -> None:
            refreshing.discard(key)
            if response is not None:
                cache.put(key, response, time.time(), key[0])

        forward(again, refreshed)

    @property
    def refreshing(self) -> int:
        """Refreshes waiting for the upstream now."""
        return len(self._refreshing)
