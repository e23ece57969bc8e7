"""Upstream stage: the tail of the chain and the only stage that waits."""

from __future__ import annotations

from resolver.config.settings import Config
from resolver.stages.contract import Done, Forward, Request, Stage, StageSetup
from resolver.upstream.forwarder import Forwarder
from resolver.upstream.servers import UpstreamServer

MAX_IN_FLIGHT = 4096
"""Upstream queries waiting at once; each holds a socket, so a flood of distinct names
must not exhaust file descriptors. Beyond it the client gets SERVFAIL at once."""


def _forwarder(config: Config) -> Forwarder:
    return Forwarder([UpstreamServer(e.host, e.port) for e in config.upstream.servers],
                     try_timeout=config.upstream.timeout,
                     deadline=config.upstream.deadline,
                     udp_size=config.server.edns_udp_size)


class UpstreamStage(Stage):
    """Forwards a question; `done(None)` means every upstream failed (SERVFAIL)."""

    __slots__ = ("_config", "_failures", "_forwarded", "_forwarder", "in_flight", "next",
                 "shed")

    COUNTERS = ("forwarded", "upstream_failures")

    def __init__(self, setup: StageSetup) -> None:
        self.next: Forward | None = None  # always None: nothing lies below
        self._config = setup.config
        self._forwarder = _forwarder(setup.config)
        self._forwarded = 0
        self._failures = 0
        self.in_flight = 0
        self.shed = 0

    def forward(self, request: Request, done: Done) -> None:
        if self.in_flight >= MAX_IN_FLIGHT:
            self.shed += 1
            done(None)
            return
        self._forwarded += 1
        self.in_flight += 1

        def finished(response: bytes | None) -> None:
            self.in_flight -= 1
            if response is None:
                self._failures += 1
            done(response)

        query = request.query
        # the question as the client sent it: parsed, so already valid and uncompressed
        self._forwarder.start_question(query.question, do=query.do, cd=query.cd,
                                       tcp=request.tcp, done=finished)

    def counters(self) -> dict[str, int]:
        return {"forwarded": self._forwarded, "upstream_failures": self._failures}

    def reconfigure(self, config: Config) -> None:
        old, self._config = self._config, config
        if config.upstream != old.upstream \
                or config.server.edns_udp_size != old.server.edns_udp_size:
            previous, self._forwarder = self._forwarder, _forwarder(config)
            previous.close()  # queries in flight there still finish

    def close(self) -> None:
        self._forwarder.close()
