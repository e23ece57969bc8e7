"""The query's path, assembled in one place: the chain below, top to bottom.

Every stage keeps the contract of `resolver.stages.contract`: it answers now, passes
the query on, or (the tail) answers later through a callback. Everything before the
upstream runs synchronously in the socket callback: no task or coroutine is made for
a local answer. Adding a stage is one module in `resolver/stages/` and one line here.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from resolver.config.settings import Config
from resolver.dns import answers
from resolver.dns.message import rcode_name
from resolver.dns.reply import for_client
from resolver.dns.rewrite import cap_ttls
from resolver.policy.period import PolicyHolder
from resolver.stages.access import AccessStage
from resolver.stages.answer_counts import AnswerCountsStage
from resolver.stages.blocking import BlockingStage
from resolver.stages.cache import CacheStage
from resolver.stages.client_limits import ClientLimitsStage
from resolver.stages.contract import (
    FORWARDED,
    SERVFAIL,
    STALE,
    Request,
    Series,
    Stage,
    StageSetup,
)
from resolver.stages.local_records import LocalRecordsStage
from resolver.stages.local_zones import LocalZonesStage
from resolver.stages.meta_queries import MetaQueryStage
from resolver.stages.parse import ParseStage
from resolver.stages.querylog import QueryLogStage
from resolver.stages.repeat import RepeatStage
from resolver.stages.roles import (
    AnswersLater,
    AnswersNow,
    ChecksForwarded,
    ObservesAnswers,
    RemembersAnswers,
)
from resolver.stages.special_use import SpecialUseStage
from resolver.stages.stale import stale_ede
from resolver.stages.status import StatusStage
from resolver.stages.upstream import UpstreamStage

log = logging.getLogger("dnsfence")

CHAIN: tuple[type[Stage], ...] = (
    ClientLimitsStage,  # first: a flood over its rate is dropped before anything (off by default)
    RepeatStage,    # a UDP query seen moments ago costs one dict lookup (it checks access)
    ParseStage,     # bytes -> Query; malformed packets get FORMERR/NOTIMP/BADVERS or nothing
    StatusStage,    # CHAOS status.dnsfence, before access: the host may ask even if not a client
    AccessStage,    # a refused client costs one dict lookup and learns nothing
    SpecialUseStage,  # resolver.arpa (DDR) answered here: no upstream may point clients away
    MetaQueryStage,  # zone transfers and meta-classes: refused here, never held against upstreams
    BlockingStage,  # above the cache, so a block applies at once and is never served from cache
    LocalRecordsStage,  # below blocking (a block wins over a local record), never forwarded
    LocalZonesStage,  # private reverse zones, localhost, .invalid...: never leave the office
    CacheStage,     # wraps the upstream: hits answer now, upstream answers are stored coming back
    UpstreamStage,  # the tail, the only stage that waits
    AnswerCountsStage,  # observes every answer (now or later): answers nothing, so last
    QueryLogStage,  # observes too: hands the answers `querylog.mode` asks for to its writer
)
"""The order of the chain. Why each stage sits where it does is said on its line."""

S = TypeVar("S", bound=Stage)


def counter_names(chain: Iterable[type[Stage]] = CHAIN) -> tuple[str, ...]:
    """Every counter the chain's stages report, in chain order, each name once."""
    return tuple(dict.fromkeys(name for stage in chain for name in stage.COUNTERS))


def level_names(chain: Iterable[type[Stage]] = CHAIN) -> frozenset[str]:
    """The counters that are levels, not totals (see `Stage.LEVELS`)."""
    return frozenset(name for stage in chain for name in stage.LEVELS)


def series_labels(chain: Iterable[type[Stage]] = CHAIN) -> dict[str, tuple[str, ...]]:
    """Every labelled family the chain's stages report, with its label names."""
    found: dict[str, tuple[str, ...]] = {}
    for stage in chain:
        for family, labels in stage.SERIES.items():
            if found.setdefault(family, labels) != labels:
                raise ValueError(f"{family}: two stages declare different labels")
    return found


_NXDOMAIN = 3


def upstream_error_ede(upstream: str, rcode: int) -> bytes:
    """EDE 0 "Other" naming the upstream whose error answer is passed on, e.g.
    'upstream 127.0.0.1:53 answered REFUSED' (RFC 8914 has no code for it)."""
    return answers.ede_option(answers.EdeCode.OTHER,
                              f"upstream {upstream or 'unknown'} answered {rcode_name(rcode)}")


class Handle(Protocol):
    def __call__(self, data: bytes, client: str, now: float, tcp: bool = False
                 ) -> bytes | Request | None: ...


class Pipeline:
    """Turns one packet into an answer now (bytes), a `Request` to forward, or nothing."""

    __slots__ = ("_checks", "_forward", "_observers", "_policy", "_stages", "_udp_size",
                 "handle")

    handle: Handle
    """handle(data, client, now, tcp=False): bound once per chain (see `_bind`)."""

    def __init__(self, policy: PolicyHolder, stages: Sequence[Stage], config: Config) -> None:
        self._policy = policy
        self._stages = tuple(stages)
        self._udp_size = config.server.edns_udp_size
        self._bind()

    @classmethod
    def from_config(cls, config: Config, policy: PolicyHolder,
                    status_report: Callable[[], dict[str, Any]] | None = None,
                    chain: Iterable[type[Stage]] = CHAIN) -> Pipeline:
        """One worker's chain; each worker has its own cache and upstream sockets."""
        setup = StageSetup(config, policy, status_report)
        return cls(policy, [stage(setup) for stage in chain], config)

    def _bind(self) -> None:
        """Bind the stages' methods once, so a query walks a tuple of bound methods."""
        handlers = tuple(s.handle for s in self._stages
                         if isinstance(s, AnswersNow) and s.answers_now)
        rememberers = tuple(s.remember for s in self._stages if isinstance(s, RemembersAnswers))
        observers = self._observers = tuple(
            s.observe for s in self._stages if isinstance(s, ObservesAnswers))
        self._checks = tuple(
            s.check_forwarded for s in self._stages if isinstance(s, ChecksForwarded))
        later = [s for s in self._stages if isinstance(s, AnswersLater)]
        if not later:
            raise ValueError("the chain needs a stage that answers later (the upstream)")
        for upper, lower in itertools.pairwise(later):
            upper.next = lower.forward
        later[-1].next = None
        self._forward = later[0].forward
        holder = self._policy
        current = holder.current
        # One Request is reused from packet to packet until one leaves for the upstream:
        # filling in slots costs less than making an object per packet (docs/BENCHMARKS.md).
        scratch = [Request(b"", "", 0.0, False, self._policy.period)]
        # The bounds of the period last seen, held here: a period is immutable, so only a
        # new one (after a transition or a reload) needs its attributes read, which in the
        # compiled build are reads on an interpreted object.
        seen = holder.period
        until, since = seen.until, seen.since

        def handle(data: bytes, client: str, now: float, tcp: bool = False
                   ) -> bytes | Request | None:
            nonlocal seen, until, since
            request = scratch[0]
            request.data = data
            request.client = client
            request.now = now
            request.tcp = tcp
            period = holder.period
            if period is not seen:
                seen, until, since = period, period.until, period.since
            # the holder's own test, inline: a method call per query costs more than it
            if now >= until or now < since:
                period = current(now)
            request.period = period
            request.kind = None
            request.same_until = 0.0
            request.observed = None
            for stage_handle in handlers:
                answer = stage_handle(request)
                if answer is not None:
                    if request.same_until:
                        for remember in rememberers:
                            remember(request, answer)
                    for observe in observers:
                        observe(request, answer)
                    return answer or None  # DROP (b"") is no answer at all
            scratch[0] = Request(b"", "", 0.0, False, request.period)  # this one goes upstream
            return request

        self.handle = handle

    def forward(self, request: Request, reply: Callable[[bytes], None]) -> None:
        """Ask the stages that answer later; `reply(answer for the client)` is called once.

        A callback rather than a coroutine: no task per forwarded query on the UDP path.
        """

        def done(response: bytes | None) -> None:
            try:
                answer = self._for_client(request, response)
            except Exception:
                log.exception("dnsfence: internal error while answering a forwarded query")
                # still answer, so that no client (nor a TCP connection) waits for nothing
                request.kind = SERVFAIL
                answer = answers.servfail(request.query, answers.EdeCode.OTHER,
                                          "internal error", udp_size=self._udp_size)
            try:
                for observe in self._observers:
                    observe(request, answer)
            except Exception:  # a broken log or counter must not cost the client its answer
                log.exception("dnsfence: internal error while observing a forwarded answer")
            reply(answer)

        self._forward(request, done)

    async def resolve(self, request: Request) -> bytes:
        """`forward`, awaited (TCP connections, tests)."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.forward(request, future.set_result)
        return await future

    def _for_client(self, request: Request, response: bytes | None) -> bytes:
        query = request.query
        if response is None:
            request.kind = SERVFAIL
            return answers.servfail(query, SERVFAIL.ede,
                                    "no upstream answered in time", udp_size=self._udp_size)
        stale = request.kind is STALE  # no upstream answered: the cache's expired answer
        now = time.time()
        holder = self._policy
        period = holder.period
        if now >= period.until or now < period.since:
            period = holder.current(now)
        # as the blocking stage does: no call when no rule changes any more
        request.ttl_cap = period.ttl_cap(query.qname, now) if now < period.last_bound \
            else None
        for check in self._checks:  # CNAME inspection, of stale answers too
            answer = check(request, response, period, now)
            if answer is not None:
                return answer
        ttl_cap = request.ttl_cap
        if ttl_cap is not None:
            response = cap_ttls(response, ttl_cap)
        if stale:
            return for_client(response, query, self._udp_size, request.tcp,
                              stale_ede(response))
        request.kind = FORWARDED
        rcode = response[3] & 0x0F
        if rcode and rcode != _NXDOMAIN:  # every upstream answered an error: say whose
            return for_client(response, query, self._udp_size, request.tcp,
                              upstream_error_ede(request.upstream, rcode))
        return for_client(response, query, self._udp_size, request.tcp)

    def reconfigure(self, config: Config) -> None:
        """Apply a reloaded config: each stage takes its own part; counters carry over."""
        for stage in self._stages:
            stage.reconfigure(config)
        self._udp_size = config.server.edns_udp_size
        self._bind()

    def counters(self) -> dict[str, int]:
        """This worker's counters: each stage's, equal names added up (plain integers)."""
        total: dict[str, int] = {}
        for stage in self._stages:
            for name, value in stage.counters().items():
                total[name] = total.get(name, 0) + value
        return total

    def series(self) -> dict[str, Series]:
        """This worker's labelled counters: each stage's, equal families and labels added."""
        total: dict[str, Series] = {}
        for stage in self._stages:
            for family, values in stage.series().items():
                into = total.setdefault(family, {})
                for labels, value in values.items():
                    into[labels] = into.get(labels, 0) + value
        return total

    def stage(self, kind: type[S]) -> S:
        """The chain's stage of this class (for status reports and tests)."""
        for stage in self._stages:
            if isinstance(stage, kind):
                return stage
        raise LookupError(f"no {kind.__name__} in this chain")

    @property
    def policy(self) -> PolicyHolder:
        return self._policy

    @property
    def stages(self) -> tuple[Stage, ...]:
        return self._stages

    def close(self) -> None:
        for stage in self._stages:
            stage.close()
