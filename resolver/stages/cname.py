"""CNAME inspection: an upstream answer whose alias chain passes through a blocked name is
answered as that name would be (NXDOMAIN, SOA, EDE 15 naming the chain).

A name on no list can alias one that is: some CDN names on the shipped lists only ever
appear as CNAME targets, so without this they match nothing. The check runs where answers
come from the upstream: on every cache hit (the cache stage asks it, since a chain that
becomes blocked at a transition must be blocked from that instant, from the cache too)
and on every forwarded answer (the cache stage again, through `check_forwarded`). The
chain's names are read once per upstream message (`resolver.dns.aliases`, in the walk the
cache makes anyway) and decided once per policy period (as the blocking stage decides
question names), so a first check in a period is one dict lookup per name in the chain,
a later one of the same chain one attribute read (the chain keeps the period it was found
clear in), and an answer without a chain costs one attribute test.

Names in the chain whose verdict changes at a known instant cap the answer's TTLs to it,
as the blocking stage caps those of question names. A question a list explicitly allows
(an exception such as `newsroom.tiktok.com`) is never blocked through its chain: the
exception is the admin's word on that name.

A chain name covered by a list of some client groups only (`clients:`) is decided per
query for the client's groups, on the rare path, so that the memos and the chain's
"clear" mark stay valid for every client.
"""

from __future__ import annotations

import math

from resolver.dns.aliases import AliasChain
from resolver.dns.answers import BlockedTemplate
from resolver.policy.index import Found
from resolver.policy.model import Action, AnyRule
from resolver.policy.period import PolicyHolder, PolicyPeriod
from resolver.stages.blocking import ede_parts
from resolver.stages.contract import BLOCKED, Request

_DECIDED_MAX = 4_096
"""Chain names whose decision is memoised per period (bounded as in the blocking stage)."""
_TEMPLATES_MAX = 1_000
"""Blocked answers kept, one per question and chain: few are ever hot."""

_State = tuple[Found | None, float | None, bool] | None
"""A chain name's decision within a period: None when it neither blocks nor changes
before the policy's last bound, for any client (the usual case: one `is None` per name);
otherwise the BLOCK rule that decides it for a client in no group (or None), the instant
its decision next changes (or None), and whether it depends on the client's groups."""
_UNKNOWN: _State = (None, math.nan, False)  # a sentinel `_decide` never returns


class ChainInspection:
    """Decides alias chains against the policy in force; built by the cache stage."""

    __slots__ = ("_decided", "_decided_in", "_holder", "_negative_ttl", "_templates",
                 "_udp_size", "blocked")

    def __init__(self, holder: PolicyHolder, negative_ttl: int, udp_size: int) -> None:
        self._holder = holder
        self._negative_ttl = negative_ttl
        self._udp_size = udp_size
        self._decided: dict[str, _State] = {}
        self._decided_in: PolicyPeriod | None = None
        self._templates: dict[tuple[str, tuple[str, ...], str, str],
                              tuple[AnyRule, BlockedTemplate]] = {}
        self.blocked = 0
        """Answers blocked through their chain (the blocking stage counts the others)."""

    def check(self, request: Request, chain: AliasChain, period: PolicyPeriod,
              now: float) -> bytes | None:
        """The blocked answer to `request` if `chain` passes through a name blocked now
        (`request.kind` and `request.found` set), else None; either way `request.ttl_cap`
        is lowered to the first change of a name in the chain."""
        if chain.clear_in is period:  # checked in this period: nothing blocks or changes
            return None
        decided = self._decided
        if self._decided_in is not period:
            decided.clear()
            self._decided_in = period
        for name in chain.names:
            state = decided.get(name, _UNKNOWN)
            if state is _UNKNOWN:
                state = self._decide(name, period, now)
            if state is not None:
                return self._act(request, chain, period, now)
        chain.clear_in = period
        return None

    def _decide(self, name: str, period: PolicyPeriod, now: float) -> _State:
        index = period.index
        found = index.lookup(name, now)
        if found is not None and found[0].action is not Action.BLOCK:
            found = None
        change = index.next_change(name, now) if now < period.last_bound else None
        depends = index.depends_on_client(name)
        state = None if found is None and change is None and not depends \
            else (found, change, depends)
        decided = self._decided
        if len(decided) >= _DECIDED_MAX:
            decided.clear()  # bounded: a flood of distinct chains cannot grow it
        decided[name] = state
        return state

    def _act(self, request: Request, chain: AliasChain, period: PolicyPeriod,
             now: float) -> bytes | None:
        """The rare path: a name in the chain blocks now or changes later."""
        decided = self._decided
        blocking: tuple[str, Found] | None = None
        change = math.inf
        groups = request.groups
        for name in chain.names:
            state = decided.get(name, _UNKNOWN)
            if state is _UNKNOWN:  # cleared by a flood since `check` looked
                state = self._decide(name, period, now)
            if state is None:
                continue
            found, at, depends = state
            if depends and groups:
                found = period.index.lookup(name, now, groups)
                if found is not None and found[0].action is not Action.BLOCK:
                    found = None
            if found is not None and blocking is None:
                blocking = name, found
            if at is not None and at < change:
                change = at
        ttl_cap = request.ttl_cap
        if change != math.inf:
            cap = max(0, math.floor(change - now))
            if ttl_cap is None or cap < ttl_cap:
                ttl_cap = request.ttl_cap = cap
        if blocking is None:
            return None
        qname = request.query.qname
        exception = period.index.lookup(qname, now, groups)
        if exception is not None and exception[0].action is Action.ALLOW:
            return None
        name, found = blocking
        self.blocked += 1
        request.kind = BLOCKED
        request.found = found
        audience = found[0].audience
        group = "" if audience is None else audience.group_for(groups)
        return self._template(chain, found, name, qname, group).render(
            request.query, self._udp_size, ttl_cap)

    def _template(self, chain: AliasChain, found: Found, name: str, qname: str,
                  group: str) -> BlockedTemplate:
        """The blocked answer for this question, chain and rule, made once: each upstream
        message brings a new chain object, but mostly with the same names.

        Its SOA is owned by the question name, as for a regex rule's answer: the blocked
        zone is not an ancestor of the question here, and a negative answer's SOA should be.
        """
        rule, pattern = found
        key = (qname, chain.names, pattern, group)
        known = self._templates.get(key)
        if known is not None and known[0] is rule:
            return known[1]
        blocklist = self._holder.policy.list_named(rule.list_name)
        before, after = ede_parts(rule, blocklist.timezone if blocklist else "UTC",
                                  chain.path_to(name), group)
        template = BlockedTemplate(qname, self._negative_ttl, f"{before}{pattern}{after}",
                                   self._udp_size)
        if len(self._templates) >= _TEMPLATES_MAX:
            self._templates.clear()
        self._templates[key] = (rule, template)
        return template
