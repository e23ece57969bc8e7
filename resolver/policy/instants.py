"""Reading and showing instants: dates are local midnight in a list's time zone.

All instants are timezone-aware datetimes; comparisons between lists in
different zones are therefore exact, and DST is zoneinfo's job.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class InstantError(ValueError):
    """A date, datetime or time zone the admin wrote that cannot be read."""


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or InstantError saying so."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InstantError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Brussels or UTC"
        ) from exc


def parse_instant(text: str, tz: ZoneInfo) -> datetime:
    """ISO 8601 date (local midnight in tz) or datetime (offset optional, else tz)."""
    raw = text.strip()
    if not raw:
        raise InstantError("empty date")
    try:
        if len(raw) == 10 and raw[4] == "-":
            day = date.fromisoformat(raw)
            # fold=0 on a day whose midnight does not exist (DST gap) maps to the
            # first instant of that day, which is what "from that day" means.
            return datetime.combine(day, time(0), tzinfo=tz)
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InstantError(
            f"cannot read {raw!r} as a date or time; write 2023-03-20 or 2023-03-20T08:00 "
            "(optionally with an offset such as +01:00)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def in_zone(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz)


def show(moment: datetime | None, tz: tzinfo) -> str:
    """'2023-03-20 00:00 CET' for people."""
    if moment is None:
        return "-"
    local = moment.astimezone(tz)
    fmt = "%Y-%m-%d %H:%M:%S %Z" if local.second else "%Y-%m-%d %H:%M %Z"
    return local.strftime(fmt)


def iso(moment: datetime | None, tz: tzinfo | None = None) -> str | None:
    """ISO 8601 with offset (in tz when given), or None."""
    if moment is None:
        return None
    return (moment.astimezone(tz) if tz is not None else moment).isoformat()
