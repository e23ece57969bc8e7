"""Blocked (and observed) attempts of the last 30 days, per list, per hour and per day.

Counted with the report's own `tally`, one tally per local day, each keyed by UTC hour, so
the same records give the hourly chart (the last 24 hours), the daily one (the last 30
days in the organisation's time zone) and the top names and clients; a day older than the
window is dropped whole. Records are added as the log grows (`LogFollower`), never read
twice. Names and clients are counted as logged: anonymised as `querylog.clients` says.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from resolver.policy.instants import zone
from resolver.report.local_days import LocalDays
from resolver.report.tally import ListTally, tally

HOURS = 24
DAYS = 30
TOP = 10
CHUNK_LIMIT = 4_096
"""Names (and clients) a list's counter keeps per day: bounds memory against a flood of
random names (then the top is approximate, and says so)."""


class HourOf:
    """The UTC hour a logged stamp falls in: `2026-12-05T04` (the stamp's first 13 chars)."""

    @staticmethod
    def day(ts: str) -> str:
        return ts[:13]


@dataclass(frozen=True, slots=True)
class ListAttempts:
    name: str
    hourly: tuple[int, ...]            # blocked, one per hour of `Attempts.hours`
    hourly_observed: tuple[int, ...]
    daily: tuple[int, ...]             # blocked, one per day of `Attempts.days`
    daily_observed: tuple[int, ...]
    daily_clients: tuple[int, ...]     # distinct clients, as logged

    @property
    def total(self) -> int:
        return sum(self.daily)


@dataclass(frozen=True, slots=True)
class Attempts:
    """The window's figures as plain values (what the page and its JSON show)."""

    hours: tuple[datetime, ...]        # the start of each of the last 24 hours (UTC)
    days: tuple[str, ...]              # the last 30 local days, today last
    lists: tuple[ListAttempts, ...]
    top_names: tuple[tuple[str, str, int], ...]   # (name, list, attempts) over the days
    top_clients: tuple[tuple[str, int], ...]
    approximate: bool


class AttemptWindow:
    """What the log's records say, kept for the last `DAYS` local days in `timezone`."""

    def __init__(self, timezone: str) -> None:
        self.timezone = timezone
        self._local = LocalDays(zone(timezone))
        self._chunks: dict[str, dict[str, ListTally]] = {}  # local day -> list -> tally

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        """Count the blocked and observed ones among `records` (as the reader yields them)."""
        by_day: dict[str, list[dict[str, Any]]] = {}
        day = self._local.day
        for record in records:
            verdict = record.get("verdict")
            if verdict == "blocked" or verdict == "observed":
                by_day.setdefault(day(record["ts"]), []).append(record)
        for local_day, group in by_day.items():
            tally(group, HourOf(), limit=CHUNK_LIMIT,
                  into=self._chunks.setdefault(local_day, {}))

    def first_day(self, now: datetime) -> date:
        """The first local day of the window that ends today."""
        return now.astimezone(self._local.zone).date() - timedelta(days=DAYS - 1)

    def start(self, now: datetime) -> datetime:
        """The first instant the window holds (older records are of no use)."""
        return self._local.instant(self.first_day(now))

    def drop_before(self, now: datetime) -> None:
        first = self.first_day(now).isoformat()
        for old in [day for day in self._chunks if day < first]:
            del self._chunks[old]

    def snapshot(self, now: datetime) -> Attempts:
        first = self.first_day(now)
        days = tuple((first + timedelta(days=i)).isoformat() for i in range(DAYS))
        hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        hours = tuple(hour - timedelta(hours=HOURS - 1 - i) for i in range(HOURS))
        keys = [h.strftime("%Y-%m-%dT%H") for h in hours]
        chunks = {day: self._chunks[day] for day in days if day in self._chunks}
        recent = [lists for day, lists in chunks.items() if day >= days[-3]]
        names = sorted({name for lists in chunks.values() for name in lists})
        found = []
        for name in names:
            tallies = [lists[name] for lists in recent if name in lists]
            per_day = [chunks.get(day, {}).get(name) for day in days]
            found.append(ListAttempts(
                name,
                tuple(sum(t.day_attempts.get(k, 0) for t in tallies) for k in keys),
                tuple(sum(t.day_observed.get(k, 0) for t in tallies) for k in keys),
                tuple(t.attempts if t else 0 for t in per_day),
                tuple(t.observed if t else 0 for t in per_day),
                tuple(len(set[str]().union(*t.day_clients.values())) if t else 0
                      for t in per_day)))
        top_names, top_clients, approximate = _tops(chunks.values())
        return Attempts(hours, days, tuple(found), top_names, top_clients, approximate)


def _tops(chunks: Iterable[dict[str, ListTally]]
          ) -> tuple[tuple[tuple[str, str, int], ...], tuple[tuple[str, int], ...], bool]:
    """The most blocked names (with their list) and the clients that tried most, over every
    day given; ties by name, so that the same log gives the same page."""
    names: dict[tuple[str, str], int] = {}
    clients: dict[str, int] = {}
    approximate = False
    for lists in chunks:
        for list_name, counted in lists.items():
            approximate = approximate or counted.approximate
            for name, count in counted.names.counts.items():
                names[name, list_name] = names.get((name, list_name), 0) + count
            for client, count in counted.clients.counts.items():
                clients[client] = clients.get(client, 0) + count
    top_names = heapq.nsmallest(TOP, names.items(), key=lambda item: (-item[1], item[0]))
    top_clients = heapq.nsmallest(TOP, clients.items(), key=lambda item: (-item[1], item[0]))
    return (tuple((name, list_name, count) for (name, list_name), count in top_names),
            tuple(top_clients), approximate)
