"""Cache stage: serves upstream answers from memory, and stores them on their way back.

It wraps the upstream: a miss goes on to the next stage, and what the upstream answers
passes through here and is stored before the client gets it. Blocking sits above, so a
name that becomes blocked is never served from the cache (nothing needs flushing).

It also inspects alias chains (`blocking.cname`, `resolver.stages.cname`): the chain is
read when an answer is stored and kept on its entry, so this is the one place that has it
both for a hit and for the answer on its way back, and a hit whose chain has become
blocked is answered as blocked, while the entry stays for when it is not.

And it serves stale (`cache.serve_stale`, `resolver.stages.stale`): when the upstream gives
nothing back for a question whose answer expired lately, that answer goes up instead; and
it prefetches (`cache.prefetch`): a hit near expiry has the question asked again.
"""

from __future__ import annotations

import time
from dataclasses import replace

from resolver.cache import AnswerCache
from resolver.config.cache import CacheConfig
from resolver.config.settings import Config
from resolver.dns.aliases import UNREAD, chain_of
from resolver.dns.message import CD
from resolver.dns.query import Query
from resolver.dns.reply import fit
from resolver.dns.rewrite import cap_ttls
from resolver.policy.period import PolicyHolder, PolicyPeriod
from resolver.stages.cname import ChainInspection
from resolver.stages.contract import (
    BLOCKED,
    CACHED,
    STALE,
    Done,
    Forward,
    Request,
    Stage,
    StageSetup,
)
from resolver.stages.stale import Prefetch, Refreshes, StaleAnswers

CacheKey = tuple[str, int, int, bool, bool]
_CD = CD


def cache_key(query: Query) -> CacheKey:
    # `Query.do` and `Query.cd` spelled out: a property is a Python call, twice per hit
    edns = query.edns
    return (query.qname, query.qtype, query.qclass, edns is not None and edns.do,
            query.flags & _CD != 0)


def _new_cache(settings: CacheConfig, chains: bool) -> AnswerCache | None:
    if settings.max_entries <= 0:
        return None  # cache.max_entries: 0 turns caching off
    return AnswerCache(settings.max_entries, settings.min_ttl, settings.max_ttl,
                       settings.max_negative_ttl, chains=chains,
                       serve_stale=settings.serve_stale)


def _inspection(holder: PolicyHolder, config: Config) -> ChainInspection | None:
    if not config.blocking.cname:
        return None  # blocking.cname: false
    return ChainInspection(holder, config.blocking.negative_ttl, config.server.edns_udp_size)


class CacheStage(Stage):
    """Looks the question up; a miss passes on, and the answer coming back is stored.

    Hits and forwarded answers whose alias chain passes through a blocked name are
    answered as blocked (`ChainInspection`).
    """

    __slots__ = ("_before", "_blocked_before", "_cache", "_cname", "_forward_zones",
                 "_holder", "_inspection", "_prefetch", "_refreshes", "_settings", "_stale",
                 "_udp_size", "next")

    COUNTERS = (CACHED.counter, "cache_misses", "cache_entries", "cache_bytes",
                BLOCKED.counter, "cname_blocked", STALE.counter, "refreshes", "prefetches")
    LEVELS = ("cache_entries", "cache_bytes")

    def __init__(self, setup: StageSetup) -> None:
        self.next: Forward | None = None
        self._settings = setup.config.cache
        self._cname = setup.config.blocking.cname
        self._cache = _new_cache(self._settings, self._cname)
        self._udp_size = setup.config.server.edns_udp_size
        self._holder = setup.policy
        self._inspection = _inspection(setup.policy, setup.config)
        self._blocked_before = 0  # by inspections since replaced
        self._forward_zones = setup.config.forward_zones
        self._before = (0, 0, 0)  # stale answers, refreshes, prefetches of those replaced
        self._refreshes: Refreshes | None = None
        self._stale: StaleAnswers | None = None
        self._prefetch: Prefetch | None = None
        self._expiry()

    def handle(self, request: Request) -> bytes | None:
        cache = self._cache
        if cache is None:
            return None
        query = request.query
        key = cache_key(query)
        parts = cache.parts(key, len(query.question), request.now)
        if parts is None:
            return None
        chain = parts[2]
        if chain is not None and self._inspection is not None:
            blocked = self._inspection.check(request, chain, request.period, request.now)
            if blocked is not None:
                if request.ttl_cap is None:  # the same while the entry lives, in this period
                    request.same_until = cache.same_until(key, request.now)
                return blocked
        request.kind = CACHED
        answer = fit(parts[0], parts[1], query, self._udp_size, request.tcp)
        ttl_cap = request.ttl_cap
        if ttl_cap is not None:
            return cap_ttls(answer, ttl_cap)
        request.same_until = cache.same_until(key, request.now)
        return answer

    def forward(self, request: Request, done: Done) -> None:
        forward = self.next
        assert forward is not None, "the cache stage needs a stage below it"
        cache = self._cache
        if cache is None:
            forward(request, done)
            return
        key = cache_key(request.query)
        stale = self._stale
        if stale is not None and request.now < cache.stale_until(key):
            request.stale_ready = True  # the upstream stage need not wait for dead servers

        def store(response: bytes | None) -> None:
            if response is not None:
                request.aliases = cache.put(key, response, time.time(), key[0],
                                            request.framed)
            elif stale is not None:
                response = stale.answer(request, key)
                if response is not None:
                    done(response)
                    stale.refresh(request, key, forward)  # after the client has its answer
                    return
            done(response)

        forward(request, store)

    def check_forwarded(self, request: Request, response: bytes, period: PolicyPeriod,
                        now: float) -> bytes | None:
        """The blocked answer if the upstream's chain passes through a blocked name."""
        inspection = self._inspection
        if inspection is None:
            return None
        chain = request.aliases
        if chain is UNREAD:  # not stored here: no cache, or an answer put turned away
            chain = chain_of(response, request.query.qname)
        if chain is None:
            return None
        return inspection.check(request, chain, period, now)

    def store(self, query: Query, response: bytes, now: float) -> None:
        """Keep an upstream message (OPT removed) for `query`, as an answer coming back is."""
        if self._cache is not None:
            self._cache.put(cache_key(query), response, now)

    def counters(self) -> dict[str, int]:
        cache = self._cache
        blocked = self._blocked_before
        if self._inspection is not None:
            blocked += self._inspection.blocked
        # blocked adds to the blocking stage's: one count of blocked answers in all
        found = {BLOCKED.counter: blocked, "cname_blocked": blocked}
        served, refreshes, prefetches = self._counts()
        found |= {STALE.counter: served, "refreshes": refreshes, "prefetches": prefetches}
        if cache is None:
            return dict.fromkeys(self.COUNTERS, 0) | found
        # cache_hits counts hits made here; the repeat stage adds the hits it repeated
        return {CACHED.counter: cache.hits, "cache_misses": cache.misses,
                "cache_entries": len(cache), "cache_bytes": cache.bytes} | found

    def reconfigure(self, config: Config) -> None:
        if self._inspection is not None:
            self._blocked_before += self._inspection.blocked
        self._inspection = _inspection(self._holder, config)  # its templates hold the TTL
        if config.forward_zones != self._forward_zones and self._cache is not None:
            # names of a zone added, moved or removed were answered by other servers
            self._cache.clear()
        self._forward_zones = config.forward_zones
        if config.cache == self._settings and config.blocking.cname == self._cname \
                and config.server.edns_udp_size == self._udp_size:
            return
        old, self._settings = self._settings, config.cache
        self._udp_size = config.server.edns_udp_size
        new = config.cache
        if self._cache is not None and config.blocking.cname == self._cname \
                and new == replace(old, serve_stale=new.serve_stale, prefetch=new.prefetch):
            # only what happens near and past expiry changed: the entries stay
            self._cache.serve_stale = new.serve_stale
        else:
            # entries stored with inspection off have no chain read: none may escape it
            self._cname = config.blocking.cname
            self._cache = _new_cache(new, self._cname)
        self._expiry()

    def _expiry(self) -> None:
        """(Re)build what serves answers past their TTL and refreshes them before it, for
        the cache and settings now; counts carry over."""
        self._before = self._counts()
        if self._prefetch is not None:
            self._prefetch.close()
        cache = self._cache
        if cache is not None:
            cache.on_due = None
        if cache is None or not (cache.serve_stale or self._settings.prefetch):
            self._refreshes = self._stale = self._prefetch = None
            return
        refreshes = self._refreshes = Refreshes(cache)
        self._stale = StaleAnswers(cache, refreshes) if cache.serve_stale else None
        self._prefetch = None
        if self._settings.prefetch:
            prefetch = self._prefetch = Prefetch(refreshes, lambda: self.next,
                                                 lambda: self._holder.period, self._udp_size)
            cache.on_due = prefetch.due

    def _counts(self) -> tuple[int, int, int]:
        """Stale answers served, refreshes and prefetches started, since the stage began."""
        served, refreshes, prefetches = self._before
        if self._stale is not None:
            served += self._stale.served
        if self._refreshes is not None:
            refreshes += self._refreshes.started
        if self._prefetch is not None:
            prefetches += self._prefetch.started
        return served, refreshes, prefetches

    def close(self) -> None:
        if self._prefetch is not None:
            self._prefetch.close()  # before the upstream stage closes its sockets

    def __len__(self) -> int:
        return 0 if self._cache is None else len(self._cache)
