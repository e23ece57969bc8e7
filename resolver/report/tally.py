"""One pass over the log's records: blocked attempts counted per list, per day, per name
and per client, in memory bounded by the lists, days and clients, not by the log.

Names and clients are counted in bounded counters: a log of random names (a scan, a
misbehaving client) would otherwise grow the count without limit.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any, Protocol

# Keys a counter keeps before it drops its smaller half (and says its figures are approximate).
COUNTER_LIMIT = 100_000


class BoundedCounter:
    """Counts per key, at most `limit` keys. When over it, the keys with the smallest
    counts (half of them) are dropped: a top 10 then stays right unless the log is
    dominated by names seen only a few times each, and `approximate` says so."""

    __slots__ = ("approximate", "counts", "limit")

    def __init__(self, limit: int = COUNTER_LIMIT) -> None:
        self.limit = limit
        self.counts: dict[str, int] = {}
        self.approximate = False

    def add(self, key: str) -> None:
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        if len(counts) > self.limit:
            kept = heapq.nlargest(self.limit // 2, counts.items(), key=lambda item: item[1])
            self.counts = dict(kept)
            self.approximate = True

    def top(self, n: int) -> list[tuple[str, int]]:
        """The `n` largest counts, ties by key, so that the same log gives the same report."""
        return heapq.nsmallest(n, self.counts.items(), key=lambda item: (-item[1], item[0]))


class ListTally:
    """What one list blocked: attempts and distinct clients per local day, names, clients."""

    __slots__ = ("attempts", "clients", "day_attempts", "day_clients", "day_observed", "first",
                 "last", "names", "observed")

    def __init__(self, limit: int = COUNTER_LIMIT) -> None:
        self.attempts = 0
        self.day_attempts: dict[str, int] = {}
        self.day_clients: dict[str, set[str]] = {}
        self.names = BoundedCounter(limit)
        self.clients = BoundedCounter(limit)
        self.first = ""   # logged stamps: they sort as text
        self.last = ""
        self.observed = 0  # answered in the list's warning period (observe_from)
        self.day_observed: dict[str, int] = {}

    def add(self, ts: str, day: str, client: str, name: str) -> None:
        self.attempts += 1
        day_attempts = self.day_attempts
        if day in day_attempts:
            day_attempts[day] += 1
            self.day_clients[day].add(client)
        else:
            day_attempts[day] = 1
            self.day_clients[day] = {client}
        self.names.add(name)
        self.clients.add(client)
        if not self.first or ts < self.first:
            self.first = ts
        if ts > self.last:
            self.last = ts

    def add_observed(self, day: str) -> None:
        """An answer of the warning period that the ban will block (the baseline)."""
        self.observed += 1
        self.day_observed[day] = self.day_observed.get(day, 0) + 1

    @property
    def approximate(self) -> bool:
        return self.names.approximate or self.clients.approximate


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


class Buckets(Protocol):
    """Which bucket a logged stamp counts in: a local day (`LocalDays`), or an hour."""

    def day(self, ts: str) -> str: ...


def tally(records: Iterable[dict[str, Any]], days: Buckets, only: str | None = None,
          limit: int = COUNTER_LIMIT, into: dict[str, ListTally] | None = None
          ) -> dict[str, ListTally]:
    """Blocked (and observed) records per list (only the list `only` when given), in one
    pass; added to `into` when given (a dashboard adds what the log gained since)."""
    lists: dict[str, ListTally] = {} if into is None else into
    day = days.day
    for record in records:
        verdict = record.get("verdict")
        if verdict != "blocked" and verdict != "observed":
            continue
        name = _text(record.get("list"))
        if only is not None and name != only:
            continue
        found = lists.get(name)
        if found is None:
            found = lists[name] = ListTally(limit)
        ts = record["ts"]
        if verdict == "observed":
            found.add_observed(day(ts))
            continue
        found.add(ts, day(ts), _text(record.get("client")), _text(record.get("name")))
    return lists
