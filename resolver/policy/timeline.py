"""What is in force when, and what changes next.

Transitions are the instants at which a list or a single entry starts or ends;
between two transitions the set of active rules is constant, which is what
lets the server decide from one policy period and sleep until the next instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from resolver.policy.index import PolicyIndex
from resolver.policy.loaded import Policy
from resolver.policy.model import Action, AnyRule, BlockList, Rule, SourceRules


@dataclass(frozen=True, slots=True)
class Transition:
    """A list (rule=None) or one entry starting or ending at an instant."""

    instant: datetime
    blocklist: BlockList
    rule: Rule | None
    change: str  # "starts" | "ends"
    names: int


def transitions(policy: Policy) -> list[Transition]:
    """Every transition of every list, in time order."""
    found: list[Transition] = []
    for blocklist in policy.lists:
        start, end = blocklist.window.effective, blocklist.window.expires
        live = [r for r in blocklist.rules if not r.window.empty]
        inherited = sum(s.count for s in blocklist.sources) + len(blocklist.regexes)
        with_list_start = sum(1 for r in live if r.window.effective == start) + inherited
        with_list_end = sum(1 for r in live if r.window.expires == end) + inherited
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


def active_rules(policy: Policy, at: datetime) -> list[Rule]:
    return [rule for rule in policy.rules if rule.window.contains(at)]


def active_size(policy: Policy, at: datetime) -> int:
    """How many entries (names, patterns) are in force at `at`."""
    total = 0
    for entry in policy.entries:
        if entry.window.contains(at):
            total += entry.count if isinstance(entry, SourceRules) else 1
    return total


def next_transition(rules: Iterable[AnyRule], after: datetime) -> datetime | None:
    """The first instant strictly after `after` at which any rule starts or ends."""
    upcoming = [
        t for rule in rules for t in (rule.window.effective, rule.window.expires)
        if t is not None and t > after
    ]
    return min(upcoming, default=None)


def upcoming_block(index: PolicyIndex, rules: Iterable[AnyRule], name: str,
                   after: datetime) -> tuple[datetime, AnyRule, str] | None:
    """When an allowed name will next be blocked: (instant, rule, matched pattern).

    Checked at each future transition, since the verdict only changes there.
    """
    instants = sorted({
        t for rule in rules for t in (rule.window.effective, rule.window.expires)
        if t is not None and t > after
    })
    for instant in instants:
        found = index.lookup(name, instant)
        if found is not None and found[0].action is Action.BLOCK:
            return instant, found[0], found[1]
    return None
