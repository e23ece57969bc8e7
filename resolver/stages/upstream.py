"""Upstream stage: the only stage that waits; asks the forwarder and fills the cache."""

from __future__ import annotations

import time

from resolver.dns.query import Query
from resolver.stages.cache import CacheStage
from resolver.upstream.forwarder import Done, Forwarder

MAX_IN_FLIGHT = 4096
"""Upstream queries waiting at once; each holds a socket, so a flood of distinct names
must not exhaust file descriptors. Beyond it the client gets SERVFAIL at once."""


class UpstreamStage:
    """Forwards a question; None means every upstream failed (caller sends SERVFAIL)."""

    __slots__ = ("_cache", "_forwarder", "failures", "forwarded", "in_flight", "shed")

    def __init__(self, forwarder: Forwarder, cache: CacheStage | None) -> None:
        self._forwarder = forwarder
        self._cache = cache
        self.forwarded = 0
        self.failures = 0
        self.in_flight = 0
        self.shed = 0

    def start(self, query: Query, tcp: bool, done: Done) -> None:
        """Forward; `done(response or None)` is called once, None meaning SERVFAIL."""
        if self.in_flight >= MAX_IN_FLIGHT:
            self.shed += 1
            done(None)
            return
        self.forwarded += 1
        self.in_flight += 1

        def finished(response: bytes | None) -> None:
            self.in_flight -= 1
            if response is None:
                self.failures += 1
            elif self._cache is not None:
                self._cache.store(query, response, time.time())
            done(response)

        # the question as the client sent it: parsed, so already valid and uncompressed
        self._forwarder.start_question(query.question, do=query.do, cd=query.cd, tcp=tcp,
                                       done=finished)

    def close(self) -> None:
        self._forwarder.close()
