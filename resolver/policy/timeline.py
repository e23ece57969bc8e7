"""What is in force when, and what changes next.

Transitions are the instants at which a list or a single entry starts or ends;
between two transitions the set of active rules is constant, which is what
lets the server decide from one policy period and sleep until the next instant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from resolver.policy.audience import NO_GROUPS, Groups
from resolver.policy.index import PolicyIndex
from resolver.policy.loaded import Policy
from resolver.policy.model import Action, AnyRule, BlockList, Rule, SourceRules, in_force
from resolver.policy.weekly import WeeklySchedule

_UPCOMING_STEPS = 1_000
"""Changes looked at for `upcoming_block`: years of list dates, or weeks of windows."""


@dataclass(frozen=True, slots=True)
class Transition:
    """A list (rule=None) or one entry starting or ending at an instant."""

    instant: datetime
    blocklist: BlockList
    rule: Rule | None
    change: str  # "starts" | "ends" | "opens" | "closes" | "observation starts"
    names: int


def transitions(policy: Policy, start: datetime | None = None,
                until: datetime | None = None) -> list[Transition]:
    """Every transition of every list, in time order; with both bounds, the edges of
    weekly windows in [start, until) too (they repeat for ever, so only within bounds)."""
    found: list[Transition] = []
    if start is not None and until is not None:
        found.extend(window_edges(policy, start, until))
    for blocklist in policy.lists:
        start, end = blocklist.window.effective, blocklist.window.expires
        live = [r for r in blocklist.rules if not r.window.empty]
        inherited = sum(s.count for s in blocklist.sources) + len(blocklist.regexes)
        with_list_start = sum(1 for r in live if r.window.effective == start) + inherited
        with_list_end = sum(1 for r in live if r.window.expires == end) + inherited
        if blocklist.observe_from is not None:
            found.append(Transition(blocklist.observe_from, blocklist, None,
                                    "observation starts", with_list_start))
        if start is not None:
            found.append(Transition(start, blocklist, None, "starts", with_list_start))
        if end is not None:
            found.append(Transition(end, blocklist, None, "ends", with_list_end))
        for rule in blocklist.rules:
            if rule.window.empty:
                continue
            if rule.window.effective is not None and rule.window.effective != start:
                found.append(Transition(rule.window.effective, blocklist, rule, "starts", 1))
            if rule.window.expires is not None and rule.window.expires != end:
                found.append(Transition(rule.window.expires, blocklist, rule, "ends", 1))
    found.sort(key=lambda t: (t.instant, t.blocklist.name, t.rule is not None,
                              t.rule.pattern if t.rule else ""))
    return found


def window_edges(policy: Policy, start: datetime, until: datetime) -> list[Transition]:
    """The weekly windows opening and closing in [start, until), inside their dates: one
    transition per list for a list's `schedule:`, one per entry for an entry's own."""
    found: list[Transition] = []
    low, high = start.timestamp(), until.timestamp()
    for blocklist in policy.lists:
        seen: set[tuple[int, float, float]] = set()
        entries: tuple[AnyRule, ...] = (*blocklist.rules, *blocklist.sources,
                                        *blocklist.regexes)
        for entry in entries:
            weekly = entry.weekly
            key = (id(weekly), entry.start, entry.end)
            if weekly is None or key in seen:
                continue
            seen.add(key)
            whole = weekly is blocklist.schedule
            rule = None if whole or not isinstance(entry, Rule) else entry
            if not whole and rule is None:
                continue  # regexes and sources only ever take the list's schedule
            for instant, opens in weekly.edges(max(low, entry.start), min(high, entry.end)):
                if instant == entry.start:
                    continue  # the entry's (or list's) own start says it
                found.append(Transition(datetime.fromtimestamp(instant, UTC), blocklist, rule,
                                        "opens" if opens else "closes",
                                        _scheduled(blocklist) if rule is None else 1))
    return found


def _scheduled(blocklist: BlockList) -> int:
    """Entries that open and close with the list's own weekly windows."""
    return sum(1 for r in blocklist.rules if r.weekly is blocklist.schedule) + \
        sum(s.count for s in blocklist.sources) + len(blocklist.regexes)


def active_rules(policy: Policy, at: datetime) -> list[Rule]:
    moment = at.timestamp()
    return [rule for rule in policy.rules if in_force(rule, moment)]


def active_size(policy: Policy, at: datetime) -> int:
    """How many entries (names, patterns) are in force at `at`."""
    total = 0
    moment = at.timestamp()
    for entry in policy.entries:
        if in_force(entry, moment):
            total += entry.count if isinstance(entry, SourceRules) else 1
    return total


def next_transition(rules: Iterable[AnyRule], after: datetime) -> datetime | None:
    """The first instant strictly after `after` at which any rule starts or ends, or a
    window of its `schedule:` opens or closes."""
    moment = after.timestamp()
    first = math.inf
    weekly: dict[tuple[int, float, float], WeeklySchedule] = {}
    for rule in rules:
        for bound in (rule.start, rule.end):
            if moment < bound < first:
                first = bound
        if rule.weekly is not None:
            weekly[id(rule.weekly), rule.start, rule.end] = rule.weekly
    for (_, start, end), schedule in weekly.items():
        edge = schedule.next_edge(max(moment, start))
        if edge is not None and moment < edge < min(first, end):
            first = edge
    return None if first == math.inf else datetime.fromtimestamp(first, UTC)


def next_observation(policy: Policy, after: datetime) -> datetime | None:
    """The first warning period (`observe_from`) starting strictly after `after`."""
    later = [b.observe_from for b in policy.lists
             if b.observe_from is not None and b.observe_from > after]
    return min(later, default=None)


def observing(policy: Policy, at: datetime) -> tuple[tuple[str, float], ...]:
    """(list name, its `effective` instant) of every list in its warning period at `at`."""
    return tuple((b.name, b.window.effective.timestamp()) for b in policy.lists
                 if b.observe_from is not None and b.window.effective is not None
                 and b.observe_from <= at < b.window.effective)


def upcoming_block(index: PolicyIndex, rules: Iterable[AnyRule], name: str,
                   after: datetime, groups: Groups = NO_GROUPS
                   ) -> tuple[datetime, AnyRule, str] | None:
    """When an allowed name will next be blocked: (instant, rule, matched pattern).

    Checked at each future change of the rules covering the name, since the verdict only
    changes there (weekly windows included; a bounded number of steps).
    """
    moment = after.timestamp()
    for _ in range(_UPCOMING_STEPS):
        change = index.next_change(name, moment)
        if change is None:
            return None
        found = index.lookup(name, change, groups)
        if found is not None and found[0].action is Action.BLOCK:
            return datetime.fromtimestamp(change, UTC), found[0], found[1]
        moment = change
    return None
