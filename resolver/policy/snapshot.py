"""The rules in force now, indexed, and when that stops being true.

The server asks `current(now)` on every query; between transitions that is one
float comparison, and at a transition the active set is re-indexed once.

A snapshot also knows, for names whose verdict may change later, the first instant
of that change: answers for such names carry TTLs that end by then, so no client
or office resolver keeps serving an old answer past a ban's start (or its end).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from resolver.policy.index import PolicyIndex
from resolver.policy.model import Policy, Rule
from resolver.policy.timeline import active_rules, next_transition


class UpcomingChanges:
    """For every name some rule will start or stop covering: the first such instant.

    Holds only rules with a bound still ahead, so with no scheduled change (the
    usual case) the server never consults it.
    """

    __slots__ = ("_globs", "_plain")

    def __init__(self, rules: Iterable[Rule], now: float) -> None:
        plain: dict[str, float] = {}
        globs: dict[str, list[tuple[Rule, float]]] = {}
        for rule in rules:
            instant = _first_bound_after(rule, now)
            if instant is None:
                continue
            if rule.is_glob:
                globs.setdefault(rule.suffix, []).append((rule, instant))
            elif instant < plain.get(rule.pattern, math.inf):
                plain[rule.pattern] = instant
        self._plain = plain
        self._globs = globs

    def __bool__(self) -> bool:
        return bool(self._plain or self._globs)

    def first_change(self, name: str) -> float | None:
        """Epoch seconds of the first change for `name` (or a parent), if any."""
        first = math.inf
        plain, globs = self._plain, self._globs
        suffix = name
        while True:
            instant = plain.get(suffix)
            if instant is not None and instant < first:
                first = instant
            if globs:
                for rule, at in globs.get(suffix, ()):
                    if at < first and rule.matches(name):
                        first = at
            dot = suffix.find(".")
            if dot < 0:
                break
            suffix = suffix[dot + 1:]
        return None if first == math.inf else first


def _first_bound_after(rule: Rule, now: float) -> float | None:
    bounds = [t.timestamp() for t in (rule.window.effective, rule.window.expires)
              if t is not None]
    future = [t for t in bounds if t > now]
    return min(future) if future else None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The index of rules active from `since` until `until` (epoch seconds)."""

    index: PolicyIndex
    since: float
    until: float  # math.inf when nothing changes any more
    active: int
    upcoming: UpcomingChanges

    def ttl_cap(self, name: str, now: float) -> int | None:
        """Whole seconds left before `name`'s policy may change; None if it never will."""
        if not self.upcoming:
            return None
        change = self.upcoming.first_change(name)
        if change is None:
            return None
        return max(0, math.floor(change - now))


def snapshot_at(policy: Policy, now: float) -> Snapshot:
    moment = datetime.fromtimestamp(now, UTC)
    rules = active_rules(policy, moment)
    upcoming = next_transition(policy.rules, moment)
    until = upcoming.timestamp() if upcoming is not None else math.inf
    return Snapshot(PolicyIndex(rules), now, until, len(rules),
                    UpcomingChanges(policy.rules, now))


class ActivePolicy:
    """Holds the loaded policy and keeps a snapshot valid for the current instant."""

    __slots__ = ("_clock", "policy", "snapshot")

    def __init__(self, policy: Policy, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.policy = policy
        self.snapshot = snapshot_at(policy, clock())

    def current(self, now: float) -> Snapshot:
        snapshot = self.snapshot
        if now >= snapshot.until or now < snapshot.since:
            snapshot = self.snapshot = snapshot_at(self.policy, now)
        return snapshot

    def replace(self, policy: Policy, now: float) -> None:
        """Swap in a new policy (a reload) in one assignment each."""
        self.snapshot = snapshot_at(policy, now)
        self.policy = policy
