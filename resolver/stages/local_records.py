"""Local records: the office's own names (`local:`) answered here, authoritatively.

It sits below blocking, so a blocked name stays blocked even when it has a local record
(`dnsfence lint` warns of such a conflict), and above the cache and the upstream, which
never see a local name. The answers are made once per (name, type) by
`resolver.dns.local_data` and rendered per query; they stay the same until the policy
changes, so the repeat stage may repeat them. A name without records is passed on
unless a `static` zone holds it (then NXDOMAIN). A CNAME chain through local names is
cut before a blocked name, so a block cannot be walked around through an alias.
"""

from __future__ import annotations

from resolver.config.local import LocalConfig
from resolver.config.settings import Config
from resolver.dns.local_answer import LocalAnswer
from resolver.dns.local_data import LocalData, LocalRR
from resolver.dns.message import CLASS_IN
from resolver.dns.rewrite import cap_ttls
from resolver.policy.model import Action
from resolver.stages.contract import LOCAL, Request, Stage, StageSetup


def local_data(local: LocalConfig, negative_ttl: int) -> LocalData:
    """The answers' source for a `local:` config; negative answers use the TTL of every
    other negative answer dnsfence makes (`blocking.negative_ttl`)."""
    return LocalData((LocalRR(r.name, r.rtype, r.rdata, r.target) for r in local.records),
                     {zone.name: zone.static for zone in local.zones},
                     ttl=local.ttl, negative_ttl=negative_ttl, ptr=local.ptr)


class LocalRecordsStage(Stage):
    """Answers local names (AA set); passes every other name on."""

    __slots__ = ("_answered", "_data", "_names", "_static", "_udp_size")

    COUNTERS = (LOCAL.counter,)

    def __init__(self, setup: StageSetup) -> None:
        self._answered = 0
        self.reconfigure(setup.config)

    def handle(self, request: Request) -> bytes | None:
        query = request.query
        answers = self._names.get(query.qname)
        if answers is None:
            if not self._static:
                return None  # the usual path: one dict lookup
            answer = self._data.below_static(query.qname)
            if answer is None or query.qclass != CLASS_IN:
                return None
            # NXDOMAIN: a flood of made-up names is not worth remembering
            return self._answer(request, answer, request.ttl_cap)
        if query.qclass != CLASS_IN:
            return None
        answer = answers.get(query.qtype)
        if answer is None:
            answer = self._data.answer(query.qname, query.qtype)
        ttl_cap = request.ttl_cap
        if answer.targets:
            answer, ttl_cap = self._unblocked(request, answer, ttl_cap)
        if ttl_cap is None:
            request.same_until = request.period.until
        return self._answer(request, answer, ttl_cap)

    def _answer(self, request: Request, answer: LocalAnswer, ttl_cap: int | None) -> bytes:
        self._answered += 1
        request.kind = LOCAL
        wire = answer.render(request.query, self._udp_size, request.tcp)
        if ttl_cap is not None and ttl_cap < answer.ttl:
            return cap_ttls(wire, ttl_cap)  # no answer may outlive a change of the policy
        return wire

    def _unblocked(self, request: Request, answer: LocalAnswer, ttl_cap: int | None
                   ) -> tuple[LocalAnswer, int | None]:
        """The answer cut before the first blocked name of its CNAME chain (the client
        asks for that name next and is blocked), and the TTL cap of the names it holds."""
        period = request.period
        now = request.now
        for target in answer.targets:
            found = period.index.lookup(target, now, request.groups)
            if found is not None and found[0].action is Action.BLOCK:
                query = request.query
                return self._data.answer(query.qname, query.qtype, stop_at=target), ttl_cap
            if now < period.last_bound:
                cap = period.ttl_cap(target, now)
                if cap is not None and (ttl_cap is None or cap < ttl_cap):
                    ttl_cap = cap
        return answer, ttl_cap

    def counters(self) -> dict[str, int]:
        return {LOCAL.counter: self._answered}

    def reconfigure(self, config: Config) -> None:
        """New records apply at once: the answers are made again from the new config."""
        self._data = local_data(config.local, config.blocking.negative_ttl)
        self._names = self._data.names
        self._static = self._data.has_static
        self._udp_size = config.server.edns_udp_size
