"""The report's content, whatever it is rendered as: per list, the dated decision beside
the attempts it blocked, day by day, so that the trend around a ban's effective date shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from resolver.policy.loaded import Policy
from resolver.policy.model import Action, AnyRule, BlockList
from resolver.report.tally import ListTally

TOP = 10  # names and clients shown per list


@dataclass(frozen=True, slots=True)
class DayCount:
    day: str          # YYYY-MM-DD in the organisation's time zone
    attempts: int
    clients: int      # distinct, as logged (anonymised)
    observed: int = 0  # answers of the warning period that the ban will block


@dataclass(frozen=True, slots=True)
class ListSummary:
    name: str
    in_policy: bool               # False: seen in the log, no longer in the blocklists
    timezone: str | None          # the list's, for its instants
    effective: datetime | None    # None: always (or unknown when not in the policy)
    expires: datetime | None
    attempts: int
    clients: int                  # distinct over the whole period
    first_seen: str | None        # logged stamps (RFC 3339 UTC)
    last_seen: str | None
    days: tuple[DayCount, ...]    # every day of the report, zero days included
    top_names: tuple[tuple[str, int], ...]
    top_clients: tuple[tuple[str, int], ...]
    approximate: bool             # the name or client counters dropped rare keys
    observed: int = 0             # answered in its warning period (observe_from)


@dataclass(frozen=True, slots=True)
class ReadFigures:
    """What reading the log found, for the reader of the report to trust it or not."""

    log: str
    files: tuple[str, ...]
    lines: int
    records: int       # in the period
    skipped: int       # lines that were not records
    outside: int       # records outside the period


@dataclass(frozen=True, slots=True)
class Report:
    timezone: str                  # the organisation's: days are its days
    since: datetime | None
    until: datetime | None
    generated: datetime
    read: ReadFigures
    first_day: str | None          # the days with data span first_day..last_day
    last_day: str | None
    lists: tuple[ListSummary, ...]

    @property
    def blocked(self) -> int:
        return sum(entry.attempts for entry in self.lists)


def blocks(blocklist: BlockList) -> bool:
    """Whether the list blocks anything (a list of exceptions only never shows in the log)."""
    entries: tuple[AnyRule, ...] = (*blocklist.rules, *blocklist.sources, *blocklist.regexes)
    return any(entry.action is Action.BLOCK for entry in entries)


def day_range(first: str, last: str) -> list[str]:
    """Every day from `first` to `last`, both included."""
    day, end = date.fromisoformat(first), date.fromisoformat(last)
    found = []
    while day <= end:
        found.append(day.isoformat())
        day += timedelta(days=1)
    return found


def summarise(tallies: dict[str, ListTally], policy: Policy | None, *, timezone: str,
              since: datetime | None, until: datetime | None, generated: datetime,
              read: ReadFigures, only: str | None = None) -> Report:
    """The report: every blocking list of the policy (or `only`), and every list in the log."""
    known = {b.name: b for b in (policy.lists if policy is not None else ()) if blocks(b)}
    names = set(tallies) | (set(known) if only is None else ({only} & set(known)))
    if only is not None:
        names.add(only)
    seen = [day for t in tallies.values() for day in (*t.day_attempts, *t.day_observed)]
    first_day, last_day = (min(seen), max(seen)) if seen else (None, None)
    every_day = day_range(first_day, last_day) if first_day and last_day else []
    return Report(timezone, since, until, generated, read, first_day, last_day,
                  tuple(_list(name, tallies.get(name), known.get(name), every_day)
                        for name in sorted(names)))


def _list(name: str, counted: ListTally | None, blocklist: BlockList | None,
          every_day: list[str]) -> ListSummary:
    counted = counted if counted is not None else ListTally()
    clients = set[str]().union(*counted.day_clients.values())
    days = tuple(DayCount(day, counted.day_attempts.get(day, 0),
                          len(counted.day_clients.get(day, ())),
                          counted.day_observed.get(day, 0)) for day in every_day)
    return ListSummary(
        name=name, in_policy=blocklist is not None,
        timezone=blocklist.timezone if blocklist is not None else None,
        effective=blocklist.window.effective if blocklist is not None else None,
        expires=blocklist.window.expires if blocklist is not None else None,
        attempts=counted.attempts, clients=len(clients),
        first_seen=counted.first or None, last_seen=counted.last or None, days=days,
        top_names=tuple(counted.names.top(TOP)), top_clients=tuple(counted.clients.top(TOP)),
        approximate=counted.approximate, observed=counted.observed)
