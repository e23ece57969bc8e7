"""The contract every stage keeps: one request object, three ways to take part in a query.

A stage answers now (`handle` returns the answer bytes), passes the query on (`handle`
returns None), or, at the tail of the chain, answers later (`forward` calls `done` with
the upstream's message). A stage that wraps the tail (the cache) has a `forward` too and
sees the answer on its way back, and may check each upstream message before it is fitted
to the client and answer in its place (`check_forwarded`: that is how CNAME inspection
blocks a forwarded answer). A stage may also be shown every answer made now that stays
the same for a while (`remember`): that is how the repeat stage learns its answers.
`resolver.pipeline` holds the list and binds these methods once, so a query costs one call
per stage and nothing more.

Each stage owns its counters (`counters`), applies its own part of a new config
(`reconfigure`) and releases what it holds (`close`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from resolver.config.settings import Config
from resolver.dns.aliases import UNREAD, AliasChain, Unread
from resolver.dns.answers import EdeCode
from resolver.dns.message import Framed
from resolver.dns.query import Query
from resolver.policy.audience import NO_GROUPS, Groups
from resolver.policy.index import Found
from resolver.policy.period import PolicyHolder, PolicyPeriod


class ResponseKind(enum.Enum):
    """What a query got, with the counter it adds to and the Extended DNS Error it carries.

    The lower-case name is the verdict a query log writes ("blocked", "cached" ...).
    """

    BLOCKED = ("blocked", EdeCode.BLOCKED)
    CACHED = ("cache_hits", None)
    FORWARDED = ("forwarded", None)
    REFUSED = ("refused", EdeCode.PROHIBITED)
    LOCAL = ("local", None)
    STALE = ("stale", EdeCode.STALE_ANSWER)
    SERVFAIL = ("servfail", EdeCode.NO_REACHABLE_AUTHORITY)
    REJECTED = ("rejected", None)
    RATE_LIMITED = ("rate_limited", None)
    """Over its client's rate limit: dropped, or answered truncated (the slip)."""

    def __init__(self, counter: str, ede: EdeCode | None) -> None:
        self.counter = counter
        self.ede = ede
        self.index = len(self.__class__.__members__)
        """0, 1, ... in declaration order: a list index, where an enum key would cost a
        Python-level hash per query."""

    @property
    def verdict(self) -> str:
        return self.name.lower()


# The kinds as module globals, for the stages to import: reading a member from the enum
# class costs more than a global, once per query.
BLOCKED = ResponseKind.BLOCKED
CACHED = ResponseKind.CACHED
FORWARDED = ResponseKind.FORWARDED
REFUSED = ResponseKind.REFUSED
LOCAL = ResponseKind.LOCAL
STALE = ResponseKind.STALE
SERVFAIL = ResponseKind.SERVFAIL
REJECTED = ResponseKind.REJECTED
RATE_LIMITED = ResponseKind.RATE_LIMITED


class LogVerdict(enum.Enum):
    """What the query log and the metrics say of an answer beside its kind."""

    OBSERVED = "observed"
    """Answered as usual in a list's warning period, though the ban will block it."""


OBSERVED = LogVerdict.OBSERVED


DROP = b""
"""What `handle` returns for a packet that gets no answer at all (e.g. a stray response)."""


class Request:
    """One query on its way through the chain; stages read it and leave their findings on it.

    The pipeline reuses one Request for every query answered now, so a stage must not keep
    it past `handle` (copy what it needs); a Request given to `forward` is the query's own.
    """

    __slots__ = ("aliases", "client", "data", "found", "framed", "groups", "kind", "ms", "now",
                 "observed", "period", "query", "same_until", "stale_ready", "tcp", "ttl_cap",
                 "upstream")

    query: Query
    """Set by the parse stage; stages after it may rely on it (not when `kind` is
    REJECTED: the packet had no usable question)."""
    ttl_cap: int | None
    """Set by the blocking stage: seconds until this name's policy may change, or None.
    No answer may outlive that change (a ban starts at its instant, not a TTL later)."""
    found: Found | None
    """Set with `kind` BLOCKED: the deciding rule and the pattern it matched (the query
    log's `list` and `rule`)."""
    groups: Groups
    """Set by the access stage (or the repeat stage, which answers before it): the client
    groups the client is in; stages after access may rely on it. The policy's decision
    depends on it, so every memo of a decision is kept per group set."""

    def __init__(self, data: bytes, client: str, now: float, tcp: bool,
                 period: PolicyPeriod) -> None:
        self.data = data
        self.client = client
        self.now = now
        self.tcp = tcp
        self.period = period
        self.kind: ResponseKind | None = None
        self.same_until = 0.0
        """Set by the stage that answered when its answer bytes stay the same for the same
        query bytes until then (within `period`); 0 when they may not."""
        self.found = None
        self.groups = NO_GROUPS
        self.observed: Found | None = None
        """Set by the blocking stage in a list's warning period (`observe_from`): the rule
        that will block this name when the ban starts. The answer itself is as usual."""
        self.upstream = ""
        """Set on the way back from the upstream: the server that answered ("" if none)."""
        self.ms = 0.0
        """Set on the way back from the upstream: milliseconds the upstream took."""
        self.stale_ready = False
        """Set by the cache stage before it forwards: it holds an expired answer to serve
        should no upstream answer (serve-stale), so the upstream stage answers None at once
        when every server is held down instead of making the client wait for nothing."""
        self.framed: Framed | None = None
        """Set on the way back from the upstream: the message's records as the forwarder's
        check framed them, so that the cache stores it without a walk of its own."""
        self.aliases: AliasChain | Unread | None = UNREAD
        """Set on the way back by the cache stage: the upstream message's CNAME/DNAME
        chain as its store read it, so that nobody reads the message twice; UNREAD if not."""


Done = Callable[[bytes | None], None]
"""Called once with the upstream's message (OPT removed), or None when none answered. A
stage that wraps the tail may pass up a message of its own instead of None, setting `kind`
(the cache's expired answer, STALE): it is checked and fitted to the client as a forwarded
one is, with the kind's Extended DNS Error."""
Forward = Callable[[Request, Done], None]


@runtime_checkable
class AnswersNow(Protocol):
    def handle(self, request: Request) -> bytes | None:
        """The answer, `DROP`, or None to pass the query to the next stage."""


@runtime_checkable
class AnswersLater(Protocol):
    next: Forward | None
    """The forward of the next stage that answers later; None at the tail."""

    def forward(self, request: Request, done: Done) -> None:
        """Get the upstream's message for `request` and call `done` once with it."""


@runtime_checkable
class ChecksForwarded(Protocol):
    def check_forwarded(self, request: Request, response: bytes, period: PolicyPeriod,
                        now: float) -> bytes | None:
        """Called with every upstream message (OPT removed) before it is fitted to the
        client, in the policy `period` of `now`: an answer of the stage's own replaces it
        (the stage sets `kind`), None lets it through. It may lower `request.ttl_cap`, which
        holds the question name's cap at `now`."""


@runtime_checkable
class RemembersAnswers(Protocol):
    def remember(self, request: Request, answer: bytes) -> None:
        """Called with every answer made now that stays the same for the same query bytes
        until `request.same_until`, whichever stage made it."""


@runtime_checkable
class ObservesAnswers(Protocol):
    def observe(self, request: Request, answer: bytes) -> None:
        """Called once for every answer, made now or later (`DROP` included), after the
        stage that made it set `request.kind`. It runs on the query path: it must be
        cheap, must not block, and must copy what it keeps."""


Series = dict[tuple[str, ...], float]
"""One labelled metric family's values, by label values in the order the stage's
`SERIES` declares the label names."""


@dataclass(frozen=True, slots=True)
class StageSetup:
    """What a stage is built from."""

    config: Config
    policy: PolicyHolder
    status_report: Callable[[], dict[str, Any]] | None = None
    """What the CHAOS status query answers with; None where nothing reports (tests)."""


class Stage:
    """Base of every stage: counters, reconfiguration and closing do nothing by default."""

    __slots__ = ()

    @property
    def answers_now(self) -> bool:
        """Whether `handle` has work under the current config: the pipeline leaves a stage
        whose feature is off out of the per-query walk (it binds again on reconfigure)."""
        return True

    COUNTERS: ClassVar[tuple[str, ...]] = ()
    """The names `counters` reports, declared so the workers' shared counters can be laid
    out before the stages exist."""
    LEVELS: ClassVar[tuple[str, ...]] = ()
    """Those of COUNTERS that are levels (entries held now), not running totals: when a
    worker exits they go with it, where its totals are kept so none goes backwards."""
    SERIES: ClassVar[dict[str, tuple[str, ...]]] = {}
    """The labelled families `series` reports: family name -> its label names."""

    def __init__(self, setup: StageSetup) -> None:
        """Every stage is built from the config and the policy holder alone."""

    def counters(self) -> dict[str, int]:
        """This stage's counters by name; the pipeline adds up equal names."""
        return {}

    def series(self) -> dict[str, Series]:
        """This stage's labelled counters (see `SERIES`); the pipeline adds up equal ones."""
        return {}

    def reconfigure(self, config: Config) -> None:
        """Apply a reloaded config; counters carry over."""

    def close(self) -> None:
        """Release sockets and the like (the server is stopping or the stage is replaced)."""
