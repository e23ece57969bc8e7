"""The policy in force now, and when that stops being true.

The index holds every rule with its window, so a transition needs no rebuild:
the server's period only records when the next transition is (to log it on
time) and whether any change lies ahead at all. When one does, answers for the
names it concerns carry TTLs that end by then, so no client or office resolver
keeps an old answer past a ban's start (or its end).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from resolver.policy.index import PolicyIndex
from resolver.policy.loaded import Policy
from resolver.policy.timeline import (
    active_size,
    next_observation,
    next_transition,
    observing,
)

_UNSEEN = -1.0  # no change instant is negative
_CHANGES_MAX = 4_096


def index_of(policy: Policy) -> PolicyIndex:
    """The loader's index, or one built now for a policy made by hand."""
    if policy.index is not None:
        return policy.index
    return PolicyIndex(policy.rules,
                       regexes=[r for b in policy.lists for r in b.regexes])


def _last_bound(policy: Policy) -> float:
    """After this instant nothing changes: the last date, unless a weekly window with no
    end keeps opening and closing for ever."""
    entries = policy.entries
    if any(e.weekly is not None and e.end == math.inf for e in entries):
        return math.inf
    bounds = [t for e in entries for t in (e.start, e.end) if math.isfinite(t)]
    bounds += [b.observe_from.timestamp() for b in policy.lists if b.observe_from is not None]
    return max(bounds, default=-math.inf)


@dataclass(frozen=True, slots=True)
class PolicyPeriod:
    """The policy as it stands between two transitions: valid from `since` until `until`
    (epoch seconds), with the index that decides names meanwhile."""

    index: PolicyIndex
    since: float
    until: float  # the next transition; math.inf when nothing changes any more
    active: int
    last_bound: float  # after this instant no rule of the policy ever changes
    observing: tuple[tuple[str, float], ...] = ()
    """Lists in their warning period: (name, the instant the ban starts)."""
    _changes: dict[str, float | None] = field(default_factory=dict, compare=False,
                                              repr=False)
    """Each name's next change, as found: no rule starts, ends or opens a window between
    two transitions, so within a period it does not depend on the instant asked."""

    def ttl_cap(self, name: str, now: float) -> int | None:
        """Whole seconds left before `name`'s policy may change; None if it never will."""
        if now >= self.last_bound:
            return None
        if not self.since <= now < self.until:  # asked about another period: no memo
            change = self.index.next_change(name, now)
        else:
            changes = self._changes
            change = changes.get(name, _UNSEEN)
            if change == _UNSEEN:
                change = self.index.next_change(name, now)
                if len(changes) >= _CHANGES_MAX:
                    changes.clear()  # bounded: a flood of new names cannot grow it
                changes[name] = change
        if change is None:
            return None
        return max(0, math.floor(change - now))


def period_at(policy: Policy, now: float, index: PolicyIndex | None = None,
                last_bound: float | None = None) -> PolicyPeriod:
    moment = datetime.fromtimestamp(now, UTC)
    upcoming = [t for t in (next_transition(policy.entries, moment),
                            next_observation(policy, moment)) if t is not None]
    until = min(upcoming).timestamp() if upcoming else math.inf
    return PolicyPeriod(index if index is not None else index_of(policy), now, until,
                        active_size(policy, moment),
                        last_bound if last_bound is not None else _last_bound(policy),
                        observing(policy, moment))


class PolicyHolder:
    """Holds the loaded policy and a period valid for the current instant."""

    __slots__ = ("_clock", "period", "policy")

    def __init__(self, policy: Policy, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.policy = policy
        self.period = period_at(policy, clock())

    def current(self, now: float) -> PolicyPeriod:
        period = self.period
        if now >= period.until or now < period.since:
            period = self.period = period_at(self.policy, now, period.index,
                                             period.last_bound)
        return period

    def replace(self, policy: Policy, now: float) -> None:
        """Swap in a new policy (a reload): one assignment for the server's hot path."""
        self.period = period_at(policy, now)
        self.policy = policy
