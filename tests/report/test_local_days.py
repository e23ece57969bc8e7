"""Days in the organisation's zone, from logged stamps, across midnight and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from resolver.querylog.reader import timestamp
from resolver.report.local_days import LocalDays


def expected(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


@pytest.mark.parametrize("zone", ["Europe/Brussels", "UTC", "Asia/Kolkata",
                                  "America/St_Johns", "Pacific/Chatham", "America/Santiago"])
def test_every_quarter_hour_of_a_year_lands_on_its_local_day(zone: str) -> None:
    days = LocalDays(ZoneInfo(zone))
    moment = datetime(2023, 1, 1, tzinfo=UTC)
    while moment.year == 2023:
        assert days.day(timestamp(moment)) == expected(moment, zone), moment
        moment += timedelta(minutes=15)


def test_stamps_out_of_order_are_right_too() -> None:
    days = LocalDays(ZoneInfo("Europe/Brussels"))
    for ts, day in [("2023-03-19T23:30:00.000Z", "2023-03-20"),
                    ("2023-03-19T22:59:59.999Z", "2023-03-19"),
                    ("2023-03-19T23:00:00.000Z", "2023-03-20"),
                    ("2023-01-01T00:00:00.000Z", "2023-01-01"),
                    ("2023-03-20T22:59:59.999Z", "2023-03-20"),
                    ("2023-03-25T23:00:00.000Z", "2023-03-26"),  # the day with 23 hours
                    ("2023-03-26T21:59:59.999Z", "2023-03-26"),
                    ("2023-03-26T22:00:00.000Z", "2023-03-27")]:
        assert days.day(ts) == day, ts


def test_instant_is_the_first_instant_of_the_local_day() -> None:
    days = LocalDays(ZoneInfo("Europe/Brussels"))
    assert days.instant(date(2023, 3, 20)) == datetime(2023, 3, 19, 23, tzinfo=UTC)
    assert days.instant(date(2023, 3, 27)) - days.instant(date(2023, 3, 26)) == \
        timedelta(hours=23)
    # Santiago skips midnight on 2023-09-03: the day starts at 01:00 local
    santiago = LocalDays(ZoneInfo("America/Santiago"))
    first = santiago.instant(date(2023, 9, 3))
    assert first.astimezone(ZoneInfo("America/Santiago")).hour == 1
    assert santiago.day(timestamp(first - timedelta(milliseconds=1))) == "2023-09-02"
