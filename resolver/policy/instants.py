"""Reading and showing instants: dates are local midnight in a list's time zone.

All instants are timezone-aware datetimes; comparisons between lists in
different zones are therefore exact, and DST is zoneinfo's job.
"""

from __future__ import annotations

import difflib
from datetime import UTC, date, datetime, time, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


class InstantError(ValueError):
    """A date, datetime or time zone the admin wrote that cannot be read."""


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or InstantError saying so."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        close = difflib.get_close_matches(name, sorted(available_timezones()), n=1)
        hint = f"did you mean {close[0]}?" if close else \
            "use an IANA name such as Europe/Brussels or UTC"
        raise InstantError(f"unknown time zone {name!r}; {hint}") from exc


def parse_instant(text: str, tz: ZoneInfo) -> datetime:
    """ISO 8601 date (local midnight in tz) or datetime (offset optional, else tz).

    The result carries a fixed UTC offset (see `fixed_offset`).
    """
    raw = text.strip()
    if not raw:
        raise InstantError("empty date")
    try:
        if len(raw) == 10 and raw[4] == "-":
            day = date.fromisoformat(raw)
            # fold=0 on a day whose midnight does not exist (DST gap) maps to the
            # first instant of that day (01:00), which is what "from that day" means.
            return fixed_offset(datetime.combine(day, time(0), tzinfo=tz))
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InstantError(
            f"cannot read {raw!r} as a date or time; write 2023-03-20 or 2023-03-20T08:00 "
            "(optionally with an offset such as +01:00)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return fixed_offset(moment)


def fixed_offset(moment: datetime) -> datetime:
    """The same instant with a fixed UTC offset instead of a ZoneInfo.

    A ZoneInfo datetime in a DST gap or fold compares unequal to every other
    zone, and two of them compare by wall clock; an offset has neither problem
    and still shows the local time (2023-03-20T00:00:00+01:00).
    """
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone")
    if not isinstance(moment.tzinfo, ZoneInfo):
        return moment
    local = moment.astimezone(UTC).astimezone(moment.tzinfo)  # resolves gaps and folds
    offset = local.utcoffset()
    assert offset is not None
    return local.replace(tzinfo=timezone(offset), fold=0)


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
