"""Upstream stage: the tail of the chain and the only stage that waits."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Sequence
from typing import ClassVar

from resolver.config.endpoints import Endpoint
from resolver.config.forward_zones import ForwardZone
from resolver.config.settings import Config
from resolver.dns.message import rcode_name
from resolver.stages.contract import Done, Forward, Request, Series, Stage, StageSetup
from resolver.upstream.forwarder import Forwarder
from resolver.upstream.servers import UpstreamServer
from resolver.upstream.zones import ZoneTable

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Upper bounds, in seconds, of the upstream time histogram (+Inf is implied): from a
cache hit in the next room to a resolver at the end of the deadline."""

MAX_IN_FLIGHT = 4096
"""Upstream queries waiting at once; each holds a socket, so a flood of distinct names
must not exhaust file descriptors. Beyond it the client gets SERVFAIL at once."""


def forwarder_for(servers: Sequence[Endpoint], config: Config,
                  forwarder_class: type[Forwarder] = Forwarder) -> Forwarder:
    """A forwarder to `servers` (the upstreams, or one forward zone's) with its own
    failover and health, waiting as `upstream:` says; `tls://` servers are asked over DNS
    over TLS, verified against `upstream.ca_file`. (`forwarder_class`: benchmarks put a
    subclass in its place whose send answers at once.)"""
    ca_file = config.upstream.ca_file
    return forwarder_class([UpstreamServer(e.host, e.port, e.tls_name) for e in servers],
                     try_timeout=config.upstream.timeout,
                     deadline=config.upstream.deadline,
                     udp_size=config.server.edns_udp_size,
                     ca_file=None if ca_file is None else str(ca_file))


class UpstreamStage(Stage):
    """Forwards a question; `done(None)` means every upstream failed (SERVFAIL).

    A question in a forward zone goes to that zone's forwarder (the longest zone wins),
    any other to the upstreams'.
    """

    __slots__ = ("_by_zone", "_config", "_durations", "_failures", "_forwarded", "_forwarder",
                 "_responses", "_seconds", "_zones", "in_flight", "next", "shed")

    COUNTERS = ("forwarded", "upstream_failures")
    SERIES: ClassVar[dict[str, tuple[str, ...]]] = {"upstream_responses": ("upstream", "rcode"),
              "upstream_duration_bucket": ("le",),
              "upstream_duration_sum": (), "upstream_duration_count": ()}

    def __init__(self, setup: StageSetup) -> None:
        self.next: Forward | None = None  # always None: nothing lies below
        self._config = setup.config
        self._forwarder = forwarder_for(setup.config.upstream.servers, setup.config)
        self._by_zone: dict[ForwardZone, Forwarder] = {}
        self._zones: ZoneTable[Forwarder] | None = None
        """None without forward zones: then a question costs one attribute read more."""
        self._forwarded = 0
        self._failures = 0
        self.in_flight = 0
        self.shed = 0
        # one cell per bucket and one for +Inf: counts of answers, not cumulative
        self._durations = [0] * (len(DURATION_BUCKETS) + 1)
        self._seconds = 0.0
        self._responses: dict[tuple[str, int], int] = {}  # of forwarders replaced since
        self._set_zones(setup.config, reuse=False)

    def forward(self, request: Request, done: Done) -> None:
        if self.in_flight >= MAX_IN_FLIGHT:
            self.shed += 1
            done(None)
            return
        query = request.query
        forwarder = self._forwarder
        zones = self._zones
        if zones is not None:
            in_zone = zones.get(query.qname)
            if in_zone is not None:
                forwarder = in_zone
        if request.stale_ready and forwarder.all_held_down():
            done(None)  # the cache serves its expired answer now, and refreshes it
            return
        self._forwarded += 1
        self.in_flight += 1
        started = time.monotonic()

        def finished(response: bytes | None) -> None:
            self.in_flight -= 1
            seconds = time.monotonic() - started
            request.ms = seconds * 1000.0
            server = forwarder.answered_by
            if response is None or server is None:
                self._failures += 1
            else:
                request.upstream = str(server)
                request.framed = forwarder.answered_framing
                self._durations[bisect_left(DURATION_BUCKETS, seconds)] += 1
                self._seconds += seconds
            done(response)

        # the question as the client sent it: parsed, so already valid and uncompressed
        forwarder.start_question(query.question, do=query.do, cd=query.cd,
                                 tcp=request.tcp, done=finished)

    def counters(self) -> dict[str, int]:
        return {"forwarded": self._forwarded, "upstream_failures": self._failures}

    def series(self) -> dict[str, Series]:
        responses = dict(self._responses)
        for forwarder in (self._forwarder, *self._by_zone.values()):
            for (server, rcode), count in forwarder.responses.items():
                key = (str(server), rcode)
                responses[key] = responses.get(key, 0) + count
        buckets = [str(bound) for bound in DURATION_BUCKETS] + ["+Inf"]
        return {
            "upstream_responses": {(server, rcode_name(rcode)): float(count)
                                   for (server, rcode), count in responses.items()},
            "upstream_duration_bucket": {(bound,): float(count) for bound, count
                                         in zip(buckets, self._durations, strict=True)},
            "upstream_duration_sum": {(): self._seconds},
            "upstream_duration_count": {(): float(sum(self._durations))},
        }

    def reconfigure(self, config: Config) -> None:
        old, self._config = self._config, config
        # what every forwarder is built from: the zones' forwarders are rebuilt too
        built_from_changed = config.upstream != old.upstream \
            or config.server.edns_udp_size != old.server.edns_udp_size
        if built_from_changed:
            previous, self._forwarder = self._forwarder, forwarder_for(config.upstream.servers,
                                                                       config)
            self._retire(previous)
        if built_from_changed or config.forward_zones != old.forward_zones:
            self._set_zones(config, reuse=not built_from_changed)

    def _set_zones(self, config: Config, *, reuse: bool) -> None:
        """One forwarder per forward zone; with `reuse`, a zone whose servers did not change
        keeps its forwarder, and so its servers' health."""
        old = self._by_zone
        by_zone = {}
        for zone in config.forward_zones:
            kept = old.get(zone) if reuse else None
            by_zone[zone] = kept if kept is not None else forwarder_for(zone.servers, config)
        self._by_zone = by_zone
        self._zones = ZoneTable({zone.name: forwarder for zone, forwarder in by_zone.items()}) \
            if by_zone else None
        for zone, forwarder in old.items():
            if by_zone.get(zone) is not forwarder:
                self._retire(forwarder)

    def _retire(self, previous: Forwarder) -> None:
        """Keep a replaced forwarder's counts and close it."""
        for (server, rcode), count in previous.responses.items():
            key = (str(server), rcode)  # counters never go back (Prometheus)
            self._responses[key] = self._responses.get(key, 0) + count
        previous.responses = {}  # its late answers are lost to the counts: rare
        previous.close()  # queries in flight there still finish

    def close(self) -> None:
        self._forwarder.close()
        for forwarder in self._by_zone.values():
            forwarder.close()
