"""Blocking: names decided by a BLOCK rule get NXDOMAIN + SOA + EDE 15, built once per rule.

This stage sits above the cache, and the cache stores only upstream answers, so
a name that becomes blocked is never served from cache (as in Blocky).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from resolver.config.settings import Config
from resolver.dns.answers import BlockedTemplate, NamedBlockedTemplate
from resolver.policy.index import Found
from resolver.policy.model import Action, AnyRule, RegexRule, Rule, SourceRules
from resolver.policy.period import PolicyPeriod
from resolver.stages.contract import BLOCKED, Request, Stage, StageSetup

_TEMPLATES_MAX = 10_000
_DECIDED_MAX = 4_096
"""Names whose decision is memoised: an office's hot set fits, and under a flood of
distinct names a bigger dict that never hits only costs (docs/BENCHMARKS.md)."""
_UNKNOWN: Found | None = ("", "")  # type: ignore[assignment]  # a sentinel no lookup returns


def ede_parts(rule: AnyRule, timezone: str, via: str = "") -> tuple[str, str]:
    """The EDE extra text around the matched pattern: one pair per rule, reused for every
    name a source rule matches. `via` names the alias chain that led to the name
    ('CNAME www.example.com → v16.tiktokcdn.com') when the question itself is not blocked."""
    if isinstance(rule, SourceRules):
        before, after = "", f", from {rule.source}"
    elif isinstance(rule, RegexRule):
        before, after = "regex ", ""
    else:
        before, after = "", ""
    suffix = f"{after}) via {via}" if via else f"{after})"
    start = rule.window.effective
    if start is not None:
        local = start.astimezone(ZoneInfo(timezone))
        shown = local.strftime("%Y-%m-%d") if local.time() == local.time().min \
            else local.isoformat(timespec="minutes")
        suffix += f" since {shown}"
    return f"blocked by list {rule.list_name} ({before}", suffix


def ede_text(rule: AnyRule, pattern: str, timezone: str, via: str = "") -> str:
    """'blocked by list tiktok (tiktok.com) since 2023-03-20' for the EDE extra text."""
    before, after = ede_parts(rule, timezone, via)
    return f"{before}{pattern}{after}"


def answer_zone(rule: AnyRule, pattern: str, qname: str) -> str:
    """The SOA owner of a blocked answer: the blocked domain as the rule names it."""
    if isinstance(rule, RegexRule):
        return qname
    if isinstance(rule, Rule) and rule.is_glob:
        return rule.zone
    return pattern


class BlockingStage(Stage):
    """Answers blocked names; passes everything else on.

    Every query passing through gets `request.ttl_cap`: when its name's verdict changes
    at a known instant, no answer (blocked, cached or forwarded) may outlive it.
    """

    __slots__ = ("_blocked", "_decided", "_decided_in", "_ede", "_groups", "_holder",
                 "_negative_ttl", "_observing", "_observing_in", "_policy", "_templates",
                 "_udp_size")

    COUNTERS = (BLOCKED.counter,)

    def __init__(self, setup: StageSetup) -> None:
        self._holder = setup.policy
        # keyed by the matched pattern; the rule is kept to tell lists with the same pattern apart
        self._templates: dict[str, tuple[AnyRule, BlockedTemplate]] = {}
        self._ede: dict[int, tuple[AnyRule, tuple[str, str]]] = {}
        self._groups: dict[int, tuple[SourceRules, NamedBlockedTemplate]] = {}
        self._policy = setup.policy.policy
        # Decisions already taken in this period (between two transitions a name's
        # decision cannot change): the hot set of an office skips the index walk.
        self._decided: dict[str, Found | None] = {}
        self._decided_in: PolicyPeriod | None = None
        self._observing: dict[str, Found | None] = {}  # the same, for the warning period
        self._observing_in: PolicyPeriod | None = None
        self._blocked = 0
        self.reconfigure(setup.config)

    def handle(self, request: Request) -> bytes | None:
        period = request.period
        now = request.now
        query = request.query
        qname = query.qname
        # None unless this name's verdict changes at a known instant (then: seconds left)
        ttl_cap = request.ttl_cap = period.ttl_cap(qname, now) \
            if now < period.last_bound else None
        decided = self._decided
        if self._decided_in is not period:
            decided.clear()
            self._decided_in = period
        found = decided.get(qname, _UNKNOWN)
        # a name decided before in this period is worth repeating; a flood of new ones is not
        seen_before = found is not _UNKNOWN
        if found is _UNKNOWN:
            found = period.index.lookup(qname, now)
            if len(decided) >= _DECIDED_MAX:
                decided.clear()  # bounded: a flood of random names cannot grow it
            decided[qname] = found
        if found is None or found[0].action is not Action.BLOCK:
            if period.observing:
                request.observed = self._observed(period, qname)
            return None
        rule, pattern = found
        self._blocked += 1
        request.kind = BLOCKED
        request.found = found
        if seen_before and ttl_cap is None:
            request.same_until = period.until
        if isinstance(rule, SourceRules):
            return self._named(rule).render(query, self._udp_size, ttl_cap, pattern)
        cached = self._templates.get(pattern)
        if cached is not None and cached[0] is rule:
            template = cached[1]
        else:
            template = self._template(rule, pattern, qname)
        return template.render(query, self._udp_size, ttl_cap)

    def _observed(self, period: PolicyPeriod, qname: str) -> Found | None:
        """The rule that will block `qname` when a list in its warning period starts."""
        memo = self._observing
        if self._observing_in is not period:
            memo.clear()
            self._observing_in = period
        if qname in memo:
            return memo[qname]
        found = None
        for list_name, effective in period.observing:
            at_start = period.index.lookup(qname, effective)
            if at_start is not None and at_start[0].action is Action.BLOCK \
                    and at_start[0].list_name == list_name:
                found = at_start
                break
        if len(memo) >= _DECIDED_MAX:
            memo.clear()
        memo[qname] = found
        return found

    def counters(self) -> dict[str, int]:
        return {BLOCKED.counter: self._blocked}

    def reconfigure(self, config: Config) -> None:
        self._negative_ttl = config.blocking.negative_ttl
        self._udp_size = config.server.edns_udp_size
        self._templates.clear()  # made with the old negative TTL
        self._groups.clear()

    def _named(self, rule: SourceRules) -> NamedBlockedTemplate:
        """The shared template of a source's names (one per source group)."""
        known = self._groups.get(id(rule))
        if known is not None and known[0] is rule:
            return known[1]
        blocklist = self._holder.policy.list_named(rule.list_name)
        before, after = ede_parts(rule, blocklist.timezone if blocklist else "UTC")
        template = NamedBlockedTemplate(self._negative_ttl, before, after)
        if len(self._groups) > 1000:
            self._groups.clear()
        self._groups[id(rule)] = (rule, template)
        return template

    def _template(self, rule: AnyRule, pattern: str, qname: str) -> BlockedTemplate:
        if len(self._templates) > _TEMPLATES_MAX or self._policy is not self._holder.policy:
            self._templates.clear()  # bounded, and no templates of a replaced policy
            self._ede.clear()
            self._policy = self._holder.policy
        known = self._ede.get(id(rule))
        if known is not None and known[0] is rule:
            before, after = known[1]
        else:
            blocklist = self._holder.policy.list_named(rule.list_name)
            before, after = ede_parts(rule, blocklist.timezone if blocklist else "UTC")
            self._ede[id(rule)] = (rule, (before, after))
        template = BlockedTemplate(answer_zone(rule, pattern, qname), self._negative_ttl,
                                   f"{before}{pattern}{after}")
        self._templates[pattern] = (rule, template)
        return template
