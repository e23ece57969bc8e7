"""Weekly windows (`schedule:`): when, inside its dates, a list or an entry is in force.

A window belongs to the day it starts on; one whose end is not after its start runs
into the next day ("fri 22:00-06:00" ends on Saturday at 06:00). Each edge happens the
first time the wall clock of the list's zone shows that time on that day: a time that
a spring-forward skips is the instant of the jump (02:30 on 2026-03-29 in Brussels is
03:00 CEST), and a time that a fall-back repeats is its first occurrence (02:30 on
2026-10-25 is 02:30 CEST). Edges become concrete epoch seconds day by day, so the policy
index keeps comparing floats and the server switches at them like at any `effective`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SECONDS = 86_400
_SPAN_DAYS = 16
"""Days of windows made concrete at once: two weeks and the days around them, so that the
next edge is always among them (a week always has one, unless a window is emptied by DST)."""
_FOREVER_DAYS = 8
"""A merged interval longer than a week means the schedule covers every instant (24/7)."""

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """One window of one weekday: seconds after local midnight, end <= start runs overnight."""

    day: int    # 0 = Monday
    start: int  # 0 .. 86399
    end: int    # 1 .. 86400 (24:00); not after `start` means the next day

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


def edge(day: date, seconds: int, tz: ZoneInfo) -> float:
    """The first instant at which the wall clock in `tz` shows `seconds` past midnight of
    `day` or later: the jump of a spring-forward for a skipped time, the first occurrence
    of a repeated one."""
    wall = datetime.combine(day, time()) + timedelta(seconds=seconds)
    first = wall.replace(tzinfo=tz).timestamp()  # fold=0: the first of two occurrences
    if datetime.fromtimestamp(first, tz).replace(tzinfo=None) == wall:
        return first
    # `wall` lies in a gap: fold=1 maps it before the jump, fold=0 after; find the jump
    low = math.floor(min(first, wall.replace(tzinfo=tz, fold=1).timestamp()))
    high = math.ceil(max(first, wall.replace(tzinfo=tz, fold=1).timestamp()))
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return float(high)


def merge(intervals: list[Interval]) -> list[Interval]:
    """Sorted, with overlapping and touching intervals joined."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue  # emptied, e.g. both edges inside one skipped hour
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def intersect(first: list[Interval], second: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    i = j = 0
    while i < len(first) and j < len(second):
        start = max(first[i][0], second[j][0])
        end = min(first[i][1], second[j][1])
        if start < end:
            out.append((start, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return out


@dataclass(frozen=True, slots=True)
class WeeklyPattern:
    """One `schedule:` as written: its windows, in the zone of its list."""

    timezone: str
    windows: tuple[DailyWindow, ...]
    text: str  # "mon-fri 09:00-12:30, 13:30-17:30; sat 10:00-12:00", for people

    def intervals(self, first: date, last: date) -> list[Interval]:
        """Merged instants of the windows that start on the days first-1 .. last."""
        tz = ZoneInfo(self.timezone)
        found: list[Interval] = []
        day = first - timedelta(days=1)
        while day <= last:
            weekday = day.weekday()
            for window in self.windows:
                if window.day != weekday:
                    continue
                end_day = day + timedelta(days=1) if window.overnight else day
                found.append((edge(day, window.start, tz), edge(end_day, window.end, tz)))
            day += timedelta(days=1)
        return merge(found)


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    """When an entry is in force within its dates: inside every pattern at once (an entry's
    own schedule narrows its list's, as its own dates do).

    `active` is on the per-query path of names it covers: the answer is memoised with the
    span over which it holds, so between two edges it costs one comparison.
    """

    patterns: tuple[WeeklyPattern, ...]
    _memo: tuple[float, float, bool] = field(default=(math.inf, -math.inf, False),
                                             compare=False, repr=False)

    @property
    def text(self) -> str:
        return " and ".join(p.text for p in self.patterns)

    @property
    def timezone(self) -> str:
        return self.patterns[0].timezone

    def narrowed(self, other: WeeklySchedule) -> WeeklySchedule:
        return WeeklySchedule(self.patterns + tuple(p for p in other.patterns
                                                    if p not in self.patterns))

    def intervals(self, start: float, end: float) -> list[Interval]:
        """The merged windows (as epoch seconds) that overlap [start, end), whole."""
        tz = ZoneInfo(self.timezone)
        first = datetime.fromtimestamp(start, tz).date()
        last = datetime.fromtimestamp(end, tz).date()
        found: list[Interval] | None = None
        for pattern in self.patterns:
            mine = pattern.intervals(first, last)
            found = mine if found is None else intersect(found, mine)
        return [(s, e) for s, e in found or [] if e > start and s < end]

    def state(self, now: float) -> tuple[float, float, bool]:
        """(since, until, inside): whether `now` is inside a window, and the span around it
        over which that holds (until = the next edge; math.inf when there is none)."""
        since, until, inside = self._memo
        if since <= now < until:
            return since, until, inside
        low, high = now - 2 * DAY_SECONDS, now + _SPAN_DAYS * DAY_SECONDS
        since, until, inside = low, math.inf, False
        for start, end in self.intervals(low, high):
            if end <= now:
                since = end
            elif start <= now:
                since, until, inside = start, end, True
                break
            else:
                until = start
                break
        if until - now > _FOREVER_DAYS * DAY_SECONDS:
            until = math.inf
        result = (since, until, inside)
        object.__setattr__(self, "_memo", result)
        return result

    def active(self, now: float) -> bool:
        since, until, inside = self._memo
        if since <= now < until:
            return inside
        return self.state(now)[2]

    def next_edge(self, after: float) -> float | None:
        """The first instant strictly after `after` at which a window opens or closes."""
        until = self.state(after)[1]
        return None if until == math.inf else until

    def edges(self, start: float, end: float) -> list[tuple[float, bool]]:
        """(instant, opens) for every edge in [start, end), in order."""
        found: list[tuple[float, bool]] = []
        low = start
        while low < end:
            high = min(end, low + 7 * DAY_SECONDS)
            for s, e in self.intervals(low, high):
                found.extend((t, opens) for t, opens in ((s, True), (e, False))
                             if low <= t < high)
            low = high
        return sorted(set(found))
