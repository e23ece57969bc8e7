"""The rules in force now, indexed, and the instant at which that stops being true.

The server asks `current(now)` on every query; between transitions that is one
float comparison, and at a transition the active set is re-indexed once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from resolver.policy.index import PolicyIndex
from resolver.policy.model import Policy
from resolver.policy.timeline import active_rules, next_transition


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The index of rules active from `since` until `until` (epoch seconds)."""

    index: PolicyIndex
    since: float
    until: float  # math.inf when nothing changes any more
    active: int


def snapshot_at(policy: Policy, now: float) -> Snapshot:
    moment = datetime.fromtimestamp(now, UTC)
    rules = active_rules(policy, moment)
    upcoming = next_transition(policy.rules, moment)
    until = upcoming.timestamp() if upcoming is not None else float("inf")
    return Snapshot(PolicyIndex(rules), now, until, len(rules))


class ActivePolicy:
    """Holds the loaded policy and keeps a snapshot valid for the current instant."""

    __slots__ = ("_clock", "policy", "snapshot")

    def __init__(self, policy: Policy, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.policy = policy
        self.snapshot = snapshot_at(policy, self._now())

    def _now(self) -> float:
        return self._clock()

    def current(self, now: float) -> Snapshot:
        snapshot = self.snapshot
        if now >= snapshot.until or now < snapshot.since:
            snapshot = self.snapshot = snapshot_at(self.policy, now)
        return snapshot

    def replace(self, policy: Policy, now: float) -> None:
        """Swap in a new policy (a reload) in one assignment."""
        self.snapshot = snapshot_at(policy, now)
        self.policy = policy
