"""The attempts window: blocked and observed records per list per hour and per local day,
kept for 30 days, with the top names and clients, counted by the report's tally."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from resolver.dashboard import attempts
from resolver.dashboard.attempts import DAYS, HOURS, AttemptWindow, HourOf
from tests.report.ban_log import record

NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)


def test_an_hour_is_the_stamps_first_13_characters() -> None:
    assert HourOf.day("2026-12-05T04:59:59.999Z") == "2026-12-05T04"


def test_hours_and_local_days_count_each_record_once() -> None:
    window = AttemptWindow("Europe/Brussels")
    # 23:30 UTC on the 4th is 00:30 on the 5th in Brussels: today, in the last hour bar of
    # the 4th's UTC hour 23
    late = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    window.add([record(late, list_name="tiktok", client="198.51.100.0"),
                record(late, list_name="tiktok", client="198.51.100.1"),
                record(NOW - timedelta(minutes=5), list_name="ads", name="ads.example"),
                record(NOW, verdict="forwarded"),
                {**record(NOW - timedelta(hours=1)), "verdict": "observed", "list": "soon"}])
    snapshot = window.snapshot(NOW)
    assert len(snapshot.hours) == HOURS and snapshot.hours[-1] == NOW.replace(minute=0)
    assert len(snapshot.days) == DAYS and snapshot.days[-1] == "2026-12-05"
    by_list = {entry.name: entry for entry in snapshot.lists}
    assert set(by_list) == {"tiktok", "ads", "soon"}
    tiktok = by_list["tiktok"]
    hour = snapshot.hours.index(late.replace(minute=0))
    assert tiktok.hourly[hour] == 2 and sum(tiktok.hourly) == 2
    assert tiktok.daily[-1] == 2 and tiktok.daily_clients[-1] == 2 and tiktok.total == 2
    assert by_list["ads"].hourly[-1] == 1
    assert by_list["soon"].hourly_observed[-2] == 1 and by_list["soon"].total == 0
    assert snapshot.top_names[0] == ("tiktok.com", "tiktok", 2)
    assert dict(snapshot.top_clients)["198.51.100.0"] == 1


def test_days_older_than_the_window_are_dropped() -> None:
    window = AttemptWindow("UTC")
    old = NOW - timedelta(days=DAYS)
    window.add([record(old, list_name="tiktok"), record(NOW, list_name="tiktok")])
    assert window.start(NOW) == datetime(2026, 11, 6, tzinfo=UTC)
    assert window.snapshot(NOW).lists[0].total == 1  # the old day is outside the days shown
    window.drop_before(NOW)
    assert len(window._chunks) == 1


def test_a_flood_of_names_keeps_memory_bounded_and_says_so() -> None:
    window = AttemptWindow("UTC")
    window.add([record(NOW, list_name="tiktok", name=f"n{i}.tiktok.com")
                for i in range(attempts.CHUNK_LIMIT + 10)])
    snapshot = window.snapshot(NOW)
    assert snapshot.approximate and len(snapshot.top_names) == attempts.TOP
    assert snapshot.lists[0].total == attempts.CHUNK_LIMIT + 10  # counts stay exact
