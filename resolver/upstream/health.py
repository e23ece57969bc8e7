"""Which upstream servers to ask, in which order: failure streaks and hold-downs.

A server that keeps failing is skipped for a while instead of costing every query a
timeout; the order is computed once and kept until a hold-down starts or ends, because
a list built per query showed in profiles.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from resolver.upstream.servers import UpstreamServer

log = logging.getLogger("dnsfence")


LOG_INTERVAL = 60.0
"""Seconds at least between two hold-down lines of one server: a server flapping between
answering and failing writes one line a minute with a count, not one per flap."""


@dataclass(slots=True)
class ServerHealth:
    """Consecutive failures of one server and until when it is skipped."""

    failures: int = 0
    held_until: float = 0.0
    logged_at: float = -math.inf  # when its last hold-down line was written
    unlogged: int = 0  # hold-downs since then, not written
    said_down: bool = False  # a hold-down line was written and no "answers again" since


class UpstreamHealth:
    """Failure streaks of the servers, and the order to try them in.

    After `failures_before_holddown` failures in a row a server is skipped for `holddown`
    seconds; then it is tried again in its turn, and since its failure streak is kept, one
    more failure holds it down again at once. If every server is held down they are all
    tried anyway. `of` is read directly by the forwarder on its per-answer path: a server
    with no failures needs no call here.
    """

    __slots__ = ("_ready", "_ready_until", "failures_before_holddown", "holddown", "of",
                 "servers")

    def __init__(self, servers: Sequence[UpstreamServer], failures_before_holddown: int,
                 holddown: float) -> None:
        self.servers = tuple(servers)
        self.failures_before_holddown = failures_before_holddown
        self.holddown = holddown
        self.of = {server: ServerHealth() for server in self.servers}
        self._ready: list[UpstreamServer] | None = None  # see order
        self._ready_until = 0.0

    def is_held_down(self, server: UpstreamServer) -> bool:
        """Whether `server` is currently being skipped."""
        return self.of[server].held_until > time.monotonic()

    def all_held_down(self, now: float) -> bool:
        """Whether every server is being skipped (a query would only be a long shot)."""
        return all(health.held_until > now for health in self.of.values())

    def order(self, now: float) -> list[UpstreamServer]:
        """Servers in configured order minus those held down, or all if all are.

        Kept between calls until a holddown starts or ends; exchanges only read it."""
        if self._ready is not None and now < self._ready_until:
            return self._ready
        health = self.of
        ready = [server for server in self.servers if health[server].held_until <= now]
        self._ready = ready or list(self.servers)
        held = [health[server].held_until for server in self.servers
                if health[server].held_until > now]
        self._ready_until = min(held, default=math.inf)
        return self._ready

    def failed(self, server: UpstreamServer) -> None:
        """One more failure of `server`; enough of them in a row hold it down."""
        health = self.of[server]
        health.failures += 1
        if health.failures >= self.failures_before_holddown:
            now = time.monotonic()
            if health.held_until <= now and health.failures == self.failures_before_holddown:
                self._log_holddown(server, health, now)
            health.held_until = now + self.holddown
            self._ready = None

    def _log_holddown(self, server: UpstreamServer, health: ServerHealth, now: float) -> None:
        if now - health.logged_at < LOG_INTERVAL:
            health.unlogged += 1
            return
        again = f" ({health.unlogged} more hold-downs in the last minute)" \
            if health.unlogged else ""
        log.warning("dnsfence: upstream %s failed %d times in a row; skipping it for %gs%s",
                    server, health.failures, self.holddown, again,
                    extra={"event": "upstream_held_down", "upstream": str(server),
                           "failures": health.failures, "seconds": self.holddown,
                           "unlogged": health.unlogged})
        health.logged_at = now
        health.unlogged = 0
        health.said_down = True

    def answered(self, server: UpstreamServer, health: ServerHealth) -> None:
        """An answer from `server`, whose `health` shows failures: its streak ends."""
        if health.failures >= self.failures_before_holddown and health.said_down:
            health.said_down = False
            log.warning("dnsfence: upstream %s answers again", server,
                        extra={"event": "upstream_back", "upstream": str(server)})
        health.failures = 0
        if health.held_until:
            health.held_until = 0.0
            self._ready = None
