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
(`reconfigure`) and releases what it holds (`close`). The ways of taking part are
protocols, in `resolver.stages.roles`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from mypy_extensions import mypyc_attr

from resolver.config.settings import Config
from resolver.dns.aliases import UNREAD, AliasChain, Unread
from resolver.dns.message import Framed
from resolver.dns.query import Query
from resolver.policy.audience import NO_GROUPS, Groups
from resolver.policy.index import Found
from resolver.policy.period import PolicyHolder, PolicyPeriod
from resolver.stages.response_kind import BLOCKED as BLOCKED
from resolver.stages.response_kind import CACHED as CACHED
from resolver.stages.response_kind import FORWARDED as FORWARDED
from resolver.stages.response_kind import LOCAL as LOCAL
from resolver.stages.response_kind import OBSERVED as OBSERVED
from resolver.stages.response_kind import RATE_LIMITED as RATE_LIMITED
from resolver.stages.response_kind import REFUSED as REFUSED
from resolver.stages.response_kind import REJECTED as REJECTED
from resolver.stages.response_kind import SERVFAIL as SERVFAIL
from resolver.stages.response_kind import STALE as STALE
from resolver.stages.response_kind import LogVerdict as LogVerdict
from resolver.stages.response_kind import ResponseKind as ResponseKind

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


@mypyc_attr(allow_interpreted_subclasses=True)  # tests, fuzzers, benchmarks, plugins
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
