"""Repeats: a UDP query whose bytes, all but the ID, were answered moments ago gets the
same answer bytes again under its own ID.

An office asks the same few hundred names over and over; for those, parsing the question,
walking the policy index and rebuilding the answer from cache segments gives, within the
same second, the same bytes every time. This stage remembers those bytes, keyed by the query
from its flags on (flags, counts, question as sent, OPT), so a repeat costs one dict lookup.

It only stores answers that are a pure function of the query bytes, the policy period and
the second: blocked answers for names asked before in this period (a flood of new names
would only churn it) and cache hits, when their TTLs are not being capped before a policy
change. Measured in process: a repeat costs ~0.6 µs, against ~3.7 µs for a cache hit and
3-5 µs for a blocked name. Each entry holds until the first instant its bytes could differ
(a cached TTL ticking down, an entry expiring) and only within the period it was made in:
a transition or a reload makes a new period, and a config change clears the stage.
Access control is still decided for every query by the caller, so a refused client never
gets a repeat.
"""

from __future__ import annotations

from resolver.policy.period import PolicyPeriod

BLOCKED = 0
CACHED = 1

_LIMIT = 20_000
"""Entries at most; when full the stage starts again empty (a flood of distinct names
cannot grow it, and the hot set is back within a second)."""

Entry = tuple[bytes, float, int, PolicyPeriod]
"""(answer from byte 2 on, valid until, BLOCKED or CACHED, period it belongs to)"""


class RepeatStage:
    """Answer bytes of recent UDP queries, keyed by the query without its ID."""

    __slots__ = ("_entries", "hits")

    def __init__(self) -> None:
        self._entries: dict[bytes, Entry] = {}
        self.hits = 0

    def get(self, key: bytes, now: float, period: PolicyPeriod) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None or now >= entry[1] or entry[3] is not period:
            return None
        self.hits += 1
        return entry

    def remember(self, key: bytes, answer: bytes, until: float, kind: int,
                 period: PolicyPeriod) -> None:
        entries = self._entries
        if len(entries) >= _LIMIT:
            entries.clear()
        entries[key] = (answer[2:], until, kind, period)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
