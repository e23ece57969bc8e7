"""The "Attempts" section as JSON values and its two charts: blocked (and observed) per list
per hour for the last 24 hours and per day for the last 30 days, the top names and clients
(as logged), and how far the log was read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from resolver.dashboard.attempts import Attempts
from resolver.dashboard.charts import Marker, Series, bars
from resolver.dashboard.log_watch import LogState
from resolver.policy.instants import iso, show
from resolver.report.chart import day_offset
from resolver.report.local_days import LocalDays


@dataclass(frozen=True, slots=True)
class Dates:
    """A list's start and end (the charts' dashed lines)."""

    name: str
    effective: datetime | None
    expires: datetime | None
    timezone: tzinfo


def attempts_section(attempts: Attempts, state: LogState, colours: dict[str, str],
                     tz: tzinfo, clients: str) -> dict[str, Any]:
    """`clients`: how the log keeps client addresses (`querylog.clients`)."""
    return {
        "hours": [iso(hour, tz) for hour in attempts.hours],
        "days": list(attempts.days),
        "lists": [{"name": entry.name, "colour": colours.get(entry.name, "#777777"),
                   "hourly": list(entry.hourly), "hourly_observed": list(entry.hourly_observed),
                   "daily": list(entry.daily), "daily_observed": list(entry.daily_observed),
                   "daily_clients": list(entry.daily_clients), "total": entry.total,
                   "last_24_hours": sum(entry.hourly)}
                  for entry in attempts.lists],
        "top_names": [{"name": name, "list": list_name, "attempts": count}
                      for name, list_name, count in attempts.top_names],
        "top_clients": [{"client": client, "attempts": count}
                        for client, count in attempts.top_clients],
        "approximate": attempts.approximate,
        "clients_logged_as": clients,
        "log": {"path": state.path, "files": state.files, "read_bytes": state.read_bytes,
                "behind_bytes": state.behind_bytes, "records": state.records,
                "skipped_lines": state.skipped, "error": state.error,
                "read_at": None if state.read_at is None
                else iso(datetime.fromtimestamp(state.read_at, UTC), tz)},
    }


def _series(section: dict[str, Any], kind: str) -> list[Series]:
    return [Series(entry["name"], entry["colour"], entry[kind], entry[f"{kind}_observed"])
            for entry in section["lists"]]


def hourly_chart(section: dict[str, Any], dates: Sequence[Dates], tz: tzinfo) -> str:
    hours = [datetime.fromisoformat(text) for text in section["hours"]]
    if not hours:
        return ""
    ticks = [(i, hour.astimezone(tz).strftime("%H:%M")) for i, hour in enumerate(hours)
             if i % 3 == 0]
    names = [show(hour, tz) for hour in hours]
    start, end = hours[0], hours[-1] + timedelta(hours=1)
    markers = [Marker((moment - start) / timedelta(hours=1), f"{d.name} {what} "
                      f"{show(moment, d.timezone)}")
               for d in dates for what, moment in (("starts", d.effective),
                                                   ("ends", d.expires))
               if moment is not None and start <= moment < end]
    return bars("Blocked attempts per hour, last 24 hours", names, ticks,
                _series(section, "hourly"), markers)


def daily_chart(section: dict[str, Any], dates: Sequence[Dates], tz: tzinfo) -> str:
    days = [date.fromisoformat(text) for text in section["days"]]
    if not days:
        return ""
    ticks = [(i, day.strftime("%m-%d")) for i, day in enumerate(days)
             if (len(days) - 1 - i) % 5 == 0]
    local = LocalDays(tz)
    start, end = local.instant(days[0]), local.instant(days[-1] + timedelta(days=1))
    markers = [Marker(day_offset(local, days[0], moment),
                      f"{d.name} {what} {show(moment, d.timezone)}")
               for d in dates for what, moment in (("starts", d.effective),
                                                   ("ends", d.expires))
               if moment is not None and start <= moment < end]
    return bars("Blocked attempts per day, last 30 days", section["days"], ticks,
                _series(section, "daily"), markers)
