"""Reading dates and datetimes as instants, and showing them back to people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from resolver.policy.instants import InstantError, iso, parse_instant, show, zone

from .assertions import utc

BRUSSELS = ZoneInfo("Europe/Brussels")


def test_a_date_is_local_midnight_in_the_zone() -> None:
    moment = parse_instant("2023-03-20", BRUSSELS)
    assert moment == utc(2023, 3, 19, 23)
    assert moment.astimezone(BRUSSELS).strftime("%H:%M %Z") == "00:00 CET"


def test_a_datetime_without_offset_is_local_time_in_the_zone() -> None:
    assert parse_instant("2023-03-20T08:30", BRUSSELS) == utc(2023, 3, 20, 7, 30)
    assert parse_instant("2023-03-20 08:30", BRUSSELS) == utc(2023, 3, 20, 7, 30)
    assert parse_instant("2023-07-01T08:30:15.000250", BRUSSELS) == \
        utc(2023, 7, 1, 6, 30, 15, 250)


def test_a_datetime_with_offset_keeps_its_offset_whatever_the_zone() -> None:
    assert parse_instant("2023-03-20T08:30-05:00", BRUSSELS) == utc(2023, 3, 20, 13, 30)
    assert parse_instant("2023-03-20T08:30Z", BRUSSELS) == utc(2023, 3, 20, 8, 30)
    assert parse_instant("2023-03-20T08:30+05:30", ZoneInfo("UTC")) == utc(2023, 3, 20, 3)


@pytest.mark.parametrize(
    ("tz", "day", "first_instant_utc"),
    [
        ("Europe/Brussels", "2023-03-26", utc(2023, 3, 25, 23)),  # spring forward at 02:00
        ("Europe/Brussels", "2023-10-29", utc(2023, 10, 28, 22)),  # fall back at 03:00
        ("America/New_York", "2023-03-12", utc(2023, 3, 12, 5)),
        ("Asia/Kolkata", "2023-03-20", utc(2023, 3, 19, 18, 30)),
        # Days whose midnight does not exist: clocks jump from 00:00 to 01:00, so the
        # day starts at 01:00 local time; "from that day" means from that instant.
        ("America/Santiago", "2022-09-11", utc(2022, 9, 11, 4)),
        ("America/Havana", "2023-03-12", utc(2023, 3, 12, 5)),
    ],
)
def test_a_date_is_the_first_instant_of_that_local_day(
    tz: str, day: str, first_instant_utc: datetime
) -> None:
    moment = parse_instant(day, ZoneInfo(tz))
    assert moment == first_instant_utc
    assert moment.astimezone(ZoneInfo(tz)).date().isoformat() == day
    just_before = (first_instant_utc - timedelta(microseconds=1)).astimezone(ZoneInfo(tz))
    assert just_before.date().isoformat() < day


def test_the_midnights_that_do_not_exist_really_do_not() -> None:
    for tz, day in (("America/Santiago", (2022, 9, 11)), ("America/Havana", (2023, 3, 12))):
        local = datetime(*day, tzinfo=ZoneInfo(tz)).astimezone(UTC).astimezone(ZoneInfo(tz))
        assert (local.hour, local.minute) == (1, 0), tz


def test_a_time_in_the_skipped_hour_means_the_same_time_after_the_jump() -> None:
    # 02:30 does not exist in Brussels on 2023-03-26; it is read with the offset in
    # force before the change (+01:00), i.e. 01:30 UTC = 03:30 CEST.
    moment = parse_instant("2023-03-26T02:30", BRUSSELS)
    assert moment == utc(2023, 3, 26, 1, 30)
    assert moment.astimezone(BRUSSELS).strftime("%H:%M %Z") == "03:30 CEST"


def test_a_repeated_time_without_offset_means_its_first_occurrence() -> None:
    moment = parse_instant("2023-10-29T02:30", BRUSSELS)
    assert moment == utc(2023, 10, 29, 0, 30)  # 02:30 CEST, not 02:30 CET
    assert parse_instant("2023-10-29T02:30+01:00", BRUSSELS) == utc(2023, 10, 29, 1, 30)


@pytest.mark.parametrize(
    "text", ["2023-02-30", "2023-13-01", "20 March 2023", "2023/03/20", "soon", "2023-3-20",
             "2023-03-20T25:00", ""],
)
def test_unreadable_instants_say_how_to_write_one(text: str) -> None:
    with pytest.raises(InstantError) as refused:
        parse_instant(text, BRUSSELS)
    assert "2023-03-20" in str(refused.value) or "empty" in str(refused.value)


def test_unknown_time_zones_suggest_the_closest_name() -> None:
    with pytest.raises(InstantError, match="did you mean Europe/Brussels"):
        zone("Europe/Brusels")
    with pytest.raises(InstantError, match="IANA name"):
        zone("Mars/Olympus_Mons")
    assert zone("Asia/Kolkata") is ZoneInfo("Asia/Kolkata")


def test_show_is_local_time_with_the_zone_abbreviation() -> None:
    assert show(utc(2023, 3, 19, 23), BRUSSELS) == "2023-03-20 00:00 CET"
    assert show(utc(2023, 7, 1, 6, 30, 15), BRUSSELS) == "2023-07-01 08:30:15 CEST"
    assert show(utc(2023, 3, 19, 23), UTC) == "2023-03-19 23:00 UTC"
    assert show(None, BRUSSELS) == "-"


def test_iso_has_an_offset() -> None:
    assert iso(utc(2023, 3, 19, 23), BRUSSELS) == "2023-03-20T00:00:00+01:00"
    assert iso(utc(2023, 3, 19, 23)) == "2023-03-19T23:00:00+00:00"
    assert iso(datetime(2023, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30)))) == \
        "2023-01-01T00:00:00+05:30"
    assert iso(None) is None
