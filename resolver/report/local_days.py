"""The day, in the organisation's time zone, on which a logged instant falls.

Management asks "how many attempts on 20 March": a day in Brussels, not in UTC. Parsing
every record's stamp would cost more than the rest of the report, so the bounds of the
last day found are kept as logged stamps, and a stamp inside them (the log is in time
order, mostly) costs two string comparisons.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from resolver.querylog.reader import timestamp


class LocalDays:
    __slots__ = ("_day", "_end", "_start", "zone")

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._start = self._end = self._day = ""

    def day(self, ts: str) -> str:
        """`YYYY-MM-DD` of the logged stamp `ts` (the writer's exact form) in the zone."""
        if self._start <= ts < self._end:
            return self._day
        local = datetime.fromisoformat(ts).astimezone(self.zone).date()
        start = timestamp(self.instant(local))
        end = timestamp(self.instant(local + timedelta(days=1)))
        day = local.isoformat()
        if start <= ts < end:  # else a zone whose midnight repeats: do not cache a wrong day
            self._start, self._end, self._day = start, end, day
        return day

    def instant(self, day: date) -> datetime:
        """The first instant of `day` in the zone, in UTC. Where midnight does not exist
        (a DST gap), fold=0 maps it to the first instant that does."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)
