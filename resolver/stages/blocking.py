"""Blocking: names decided by a BLOCK rule get NXDOMAIN + SOA + EDE 15, built once per rule.

This stage sits above the cache, and the cache stores only upstream answers, so
a name that becomes blocked is never served from cache (as in Blocky). A decision
depends on the client's groups (`Request.groups`) when lists apply only to some, so
its memos are kept per set of groups.
"""

from __future__ import annotations

from typing import Final
from zoneinfo import ZoneInfo

from resolver.config.settings import Config
from resolver.dns.answers import BlockedTemplate, NamedBlockedTemplate
from resolver.policy.audience import Audience, Groups
from resolver.policy.below_memo import Below
from resolver.policy.index import Found, PolicyIndex
from resolver.policy.model import Action, AnyRule, RegexRule, Rule, SourceRules
from resolver.policy.period import PolicyPeriod
from resolver.stages.contract import BLOCKED, Request, Stage, StageSetup

_TEMPLATES_MAX: Final = 10_000
_DECIDED_MAX: Final = 4_096
"""Names whose decision is memoised: an office's hot set fits, and under a flood of
distinct names a bigger dict that never hits only costs (docs/BENCHMARKS.md)."""
# Final: compiled, a constant read, not a look-up in the module's dict per query
_UNKNOWN: Final[Found | None] = ("", "")  # type: ignore[assignment]  # no lookup returns it
_BLOCK: Final = Action.BLOCK  # a global: reading a member off the enum class costs ~70 ns
_BLOCKED: Final = BLOCKED


class _Known:
    """What the per-query path needs of one deciding rule, read once off the rule (an
    interpreted object, whose every attribute read is a generic call when compiled)."""

    __slots__ = ("audience", "blocks", "only", "rule", "source", "template")

    def __init__(self, rule: AnyRule) -> None:
        self.rule = rule
        self.blocks = rule.action is _BLOCK
        self.audience: Audience | None = rule.audience
        self.only = bool(rule.audience is not None and rule.audience.only)
        self.source = isinstance(rule, SourceRules)
        self.template: BlockedTemplate | None = None
        """The rule's template for clients of no group of its audience, once made."""


def ede_parts(rule: AnyRule, timezone: str, via: str = "", group: str = ""
              ) -> tuple[str, str]:
    """The EDE extra text around the matched pattern: one pair per rule, reused for every
    name a source rule matches. `via` names the alias chain that led to the name
    ('CNAME www.example.com → v16.tiktokcdn.com') when the question itself is not blocked;
    `group` the client group through which the list applied, if it applies only to some."""
    if isinstance(rule, SourceRules):
        before, after = "", f", from {rule.source}"
    elif isinstance(rule, RegexRule):
        before, after = "regex ", ""
    else:
        before, after = "", ""
    suffix = f"{after})"
    if group:
        suffix += f" for group {group}"
    if via:
        suffix += f" via {via}"
    start = rule.window.effective
    if start is not None:
        local = start.astimezone(ZoneInfo(timezone))
        shown = local.strftime("%Y-%m-%d") if local.time() == local.time().min \
            else local.isoformat(timespec="minutes")
        suffix += f" since {shown}"
    return f"blocked by list {rule.list_name} ({before}", suffix


def ede_text(rule: AnyRule, pattern: str, timezone: str, via: str = "", group: str = ""
             ) -> str:
    """'blocked by list tiktok (tiktok.com) since 2023-03-20' for the EDE extra text."""
    before, after = ede_parts(rule, timezone, via, group)
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

    __slots__ = ("_below", "_blocked", "_decided", "_decided_in", "_decided_of_groups", "_ede",
                 "_holder", "_index", "_known", "_last_bound", "_named_templates",
                 "_negative_ttl", "_observed_now", "_observing", "_observing_in", "_policy",
                 "_templates", "_udp_size", "_until")

    COUNTERS = (BLOCKED.counter,)

    def __init__(self, setup: StageSetup) -> None:
        self._holder = setup.policy
        # keyed by the matched pattern; the rule is kept to tell lists with the same pattern apart
        # (a pattern and, for a list of some groups only, " " and the client's group)
        self._templates: dict[str, tuple[AnyRule, BlockedTemplate]] = {}
        self._ede: dict[tuple[int, str], tuple[AnyRule, tuple[str, str]]] = {}
        self._named_templates: dict[tuple[int, str],
                                    tuple[SourceRules, NamedBlockedTemplate]] = {}
        self._policy = setup.policy.policy
        # Decisions already taken in this period (between two transitions a name's
        # decision cannot change), per set of client groups: the hot set of an office
        # skips the index walk. Beside them, what names below one parent share (the
        # index's `below` memo): a new name below a known parent skips most of the walk.
        self._decided: dict[str, Found | None] = {}  # of clients in no group
        self._below: dict[str, Below] = {}
        self._decided_of_groups: dict[Groups, tuple[dict[str, Found | None],
                                                    dict[str, Below]]] = {}
        self._decided_in: PolicyPeriod | None = None
        # what the per-query path reads of `_decided_in` (an interpreted object), read once
        self._index: PolicyIndex | None = None
        self._last_bound = 0.0
        self._until = 0.0
        self._observed_now = False
        # by matched pattern: the deciding rule as the per-query path needs it
        self._known: dict[str, _Known] = {}
        self._observing: dict[Groups, dict[str, Found | None]] = {}  # for warning periods
        self._observing_in: PolicyPeriod | None = None
        self._blocked = 0
        self.reconfigure(setup.config)

    def handle(self, request: Request) -> bytes | None:
        period = request.period
        now = request.now
        query = request.query
        qname = query.qname
        if self._decided_in is not period:
            self._new_period(period)
        # None unless this name's verdict changes at a known instant (then: seconds left)
        ttl_cap = request.ttl_cap = period.ttl_cap(qname, now) \
            if now < self._last_bound else None
        groups = request.groups
        if groups:
            memos = self._decided_of_groups.get(groups)
            if memos is None:
                memos = self._decided_of_groups[groups] = ({}, {})
            decided = memos[0]
            found = decided.get(qname, _UNKNOWN)
            below = memos[1]
        else:
            decided = self._decided
            found = decided.get(qname, _UNKNOWN)
            below = self._below
        if found is _UNKNOWN:
            index = self._index
            assert index is not None
            found = index.lookup(qname, now, groups, below)
            if len(decided) >= _DECIDED_MAX:
                decided.clear()  # bounded: a flood of random names cannot grow it
            decided[qname] = found
            repeat = False
        else:
            repeat = True
        if found is None:
            if self._observed_now:
                request.observed = self._observed(period, qname, groups)
            return None
        rule, pattern = found
        known = self._known.get(pattern)
        if known is None or known.rule is not rule:
            known = self._know(rule, pattern)
        if not known.blocks:
            if self._observed_now:
                request.observed = self._observed(period, qname, groups)
            return None
        if repeat and ttl_cap is None:
            # a name decided before in this period is worth repeating; a flood of new ones
            # is not
            request.same_until = self._until
        self._blocked += 1
        request.kind = _BLOCKED
        request.found = found
        # the group through which the list applies: none for a list of every client, or of
        # every client but some (`except_clients`), without a call
        audience = known.audience
        group = audience.group_for(groups) if known.only and audience is not None else ""
        if known.source:
            assert isinstance(rule, SourceRules)
            return self._named(rule, group).render(query, self._udp_size, ttl_cap, pattern)
        if not group:
            template = known.template
            if template is None:
                # the same template as `_templates` holds (a regex's names its first one)
                cached = self._templates.get(pattern)
                template = cached[1] if cached is not None and cached[0] is rule \
                    else self._template(rule, pattern, qname, group)
                known.template = template
                self._known[pattern] = known  # again, if `_template` emptied the memo
            return template.render(query, self._udp_size, ttl_cap)
        cached = self._templates.get(f"{pattern} {group}")
        if cached is not None and cached[0] is rule:
            return cached[1].render(query, self._udp_size, ttl_cap)
        return self._template(rule, pattern, qname, group).render(query, self._udp_size,
                                                                   ttl_cap)

    def _new_period(self, period: PolicyPeriod) -> None:
        """Memos of another period's decisions dropped; what handle reads of the period
        kept where it reads natively."""
        self._decided.clear()
        self._below.clear()
        self._decided_of_groups.clear()
        self._decided_in = period
        self._index = period.index
        self._last_bound = period.last_bound
        self._until = period.until
        self._observed_now = bool(period.observing)

    def _know(self, rule: AnyRule, pattern: str) -> _Known:
        if len(self._known) > _TEMPLATES_MAX:
            self._known.clear()
        known = self._known[pattern] = _Known(rule)
        return known

    def _observed(self, period: PolicyPeriod, qname: str, groups: Groups) -> Found | None:
        """The rule that will block `qname` for this client when a list in its warning
        period starts."""
        if self._observing_in is not period:
            self._observing.clear()
            self._observing_in = period
        memo = self._observing.get(groups)
        if memo is None:
            memo = self._observing[groups] = {}
        if qname in memo:
            return memo[qname]
        found = None
        for list_name, effective in period.observing:
            at_start = period.index.lookup(qname, effective, groups)
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
        self._known.clear()  # holds some of them
        self._named_templates.clear()

    def _named(self, rule: SourceRules, group: str) -> NamedBlockedTemplate:
        """The shared template of a source's names (one per source's rules and client
        group)."""
        key = (id(rule), group)
        known = self._named_templates.get(key)
        if known is not None and known[0] is rule:
            return known[1]
        blocklist = self._holder.policy.list_named(rule.list_name)
        before, after = ede_parts(rule, blocklist.timezone if blocklist else "UTC",
                                  group=group)
        template = NamedBlockedTemplate(self._negative_ttl, before, after, self._udp_size)
        if len(self._named_templates) > 1000:
            self._named_templates.clear()
        self._named_templates[key] = (rule, template)
        return template

    def _template(self, rule: AnyRule, pattern: str, qname: str, group: str
                  ) -> BlockedTemplate:
        if len(self._templates) > _TEMPLATES_MAX or self._policy is not self._holder.policy:
            self._templates.clear()  # bounded, and no templates of a replaced policy
            self._known.clear()  # holds some of them
            self._ede.clear()
            self._policy = self._holder.policy
        known = self._ede.get((id(rule), group))
        if known is not None and known[0] is rule:
            before, after = known[1]
        else:
            blocklist = self._holder.policy.list_named(rule.list_name)
            before, after = ede_parts(rule, blocklist.timezone if blocklist else "UTC",
                                      group=group)
            self._ede[(id(rule), group)] = (rule, (before, after))
        template = BlockedTemplate(answer_zone(rule, pattern, qname), self._negative_ttl,
                                   f"{before}{pattern}{after}", self._udp_size)
        self._templates[f"{pattern} {group}" if group else pattern] = (rule, template)
        return template
