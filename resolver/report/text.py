"""The report for a terminal: per list, its dates, a table of days with a bar, the top
names and clients."""

from __future__ import annotations

from datetime import datetime

from resolver.policy.instants import show, zone
from resolver.report.summary import ListSummary, Report

BAR = 40  # characters of the longest bar


def stamp(ts: str | None, tz_name: str) -> str:
    """A logged stamp as local time, for people."""
    if ts is None:
        return "-"
    return show(datetime.fromisoformat(ts), zone(tz_name))


def period(report: Report) -> str:
    tz = zone(report.timezone)
    start = show(report.since, tz) if report.since else "the start of the log"
    end = show(report.until, tz) if report.until else "its end"
    return f"from {start} to {end}"


def render(report: Report) -> str:
    read = report.read
    files = f"{len(read.files)} file{'s' * (len(read.files) != 1)}"
    lines = [f"Blocked queries in {read.log} ({files}), {period(report)}; "
             f"days in {report.timezone}",
             f"{report.blocked:,} blocked of {read.records:,} records read"
             + (f"; {read.outside:,} outside the period" if read.outside else "")
             + (f"; {read.skipped:,} unreadable line{'s' * (read.skipped != 1)} skipped"
                if read.skipped else "")]
    if not report.lists:
        lines.append("no lists: nothing blocked in this period, and no blocking list loaded")
    for entry in report.lists:
        lines.append("")
        lines.extend(_list(entry, report.timezone))
    return "\n".join(lines) + "\n"


def dates(entry: ListSummary) -> str:
    """When the list blocks, in its own time zone (as its file says it)."""
    if not entry.in_policy or entry.timezone is None:
        return "not in the blocklists now: its dates are unknown"
    tz = zone(entry.timezone)
    effective = show(entry.effective, tz) if entry.effective else "always"
    expires = show(entry.expires, tz) if entry.expires else "never"
    return f"effective {effective}, expires {expires}"


def _list(entry: ListSummary, org_zone: str) -> list[str]:
    who = f"{entry.clients:,} client{'s' * (entry.clients != 1)}"
    attempts = f"{entry.attempts:,} attempt{'s' * (entry.attempts != 1)}"
    lines = [f"{entry.name or '(no list)'}: {attempts} from {who}",
             f"  {dates(entry)}"]
    if entry.observed:
        lines.append(f"  observed before the ban (answered, warning period): "
                     f"{entry.observed:,}")
        lines.extend(f"  {day.day}  {day.observed:>8,} observed"
                     for day in entry.days if day.observed)
    if not entry.attempts:
        lines.append("  no blocked attempts in this period")
        return lines
    lines.append(f"  first {stamp(entry.first_seen, org_zone)}, "
                 f"last {stamp(entry.last_seen, org_zone)}")
    lines.extend(_days(entry, org_zone))
    approx = "  (approximate: rare names or clients were dropped)" if entry.approximate else ""
    for title, rows in (("name", entry.top_names), ("client", entry.top_clients)):
        width = max([len(title) + 4, *(len(key) for key, _ in rows)])
        lines.append(f"  {'top ' + title + 's':<{width}}  attempts{approx}")
        lines.extend(f"  {key or '(empty)':<{width}}  {count:>8,}" for key, count in rows)
    return lines


def _days(entry: ListSummary, org_zone: str) -> list[str]:
    """One row per day; the days on which the list starts and ends are marked."""
    marks = {}
    for what, moment in (("effective", entry.effective), ("expires", entry.expires)):
        if moment is not None:
            marks[moment.astimezone(zone(org_zone)).date().isoformat()] = f"<- {what}"
    most = max(day.attempts for day in entry.days)
    lines = ["  day          attempts   clients"]
    for day in entry.days:
        bar = "#" * max(1, round(BAR * day.attempts / most)) if day.attempts else ""
        lines.append(f"  {day.day}  {day.attempts:>8,}  {day.clients:>8,}  {bar:<{BAR}}  "
                     f"{marks.get(day.day, '')}".rstrip())
    return lines
