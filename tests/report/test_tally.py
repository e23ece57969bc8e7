"""Counting in one pass: per list, per local day, names and clients, in bounded memory."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from resolver.querylog.reader import QueryLogReader
from resolver.report.local_days import LocalDays
from resolver.report.tally import BoundedCounter, ListTally, tally
from tests.report.ban_log import (
    PLAN,
    ZONE,
    ban_records,
    line,
    planned,
    planned_names,
    record,
)


def test_the_ban_log_counts_what_the_plan_says() -> None:
    tallies = tally(ban_records(), LocalDays(ZoneInfo(ZONE)))
    assert set(tallies) == {name for name, *_ in PLAN}  # forwarded records are not counted
    for name, counted in tallies.items():
        plan = planned(name)
        assert counted.day_attempts == {day: a for day, (a, _) in plan.items()}
        assert {day: len(c) for day, c in counted.day_clients.items()} == \
            {day: c for day, (_, c) in plan.items()}
        assert counted.attempts == sum(a for a, _ in plan.values())
        assert counted.names.counts == planned_names(name)
        assert not counted.approximate
    tiktok = tallies["tiktok"]
    # the first record of 20 March (Brussels) was logged on 19 March in UTC
    assert tiktok.first == "2023-03-19T23:05:00.000Z"
    # the last: the third record of 23 March, 00:05 + 2 x 47 min = 01:39 local
    assert tiktok.last == "2023-03-23T00:39:00.000Z"


def test_one_list_only() -> None:
    tallies = tally(ban_records(), LocalDays(ZoneInfo(ZONE)), only="ads")
    assert list(tallies) == ["ads"]
    assert tally(ban_records(), LocalDays(ZoneInfo(ZONE)), only="nope") == {}


def test_first_and_last_whatever_the_order() -> None:
    counted = ListTally()
    for ts in ("2023-03-20T10:00:00.000Z", "2023-03-19T10:00:00.000Z",
               "2023-03-21T10:00:00.000Z", "2023-03-20T11:00:00.000Z"):
        counted.add(ts, ts[:10], "c", "n")
    assert (counted.first, counted.last) == ("2023-03-19T10:00:00.000Z",
                                             "2023-03-21T10:00:00.000Z")


def test_odd_field_types_count_as_empty_text() -> None:
    entry = record(datetime(2023, 3, 20, 10, tzinfo=UTC), list_name="ads")
    entry.update(client=None, name=17)
    tallies = tally([entry], LocalDays(UTC))
    assert tallies["ads"].clients.counts == {"": 1} and tallies["ads"].names.counts == {"": 1}


def test_a_bounded_counter_keeps_the_largest_and_says_it_is_approximate() -> None:
    counter = BoundedCounter(limit=10)
    for key, times in (("big", 50), ("second", 20)):
        for _ in range(times):
            counter.add(key)
    assert not counter.approximate
    for n in range(100):  # a scan: names seen once
        counter.add(f"rare{n}")
    assert counter.approximate
    assert len(counter.counts) <= 10
    assert counter.top(2) == [("big", 50), ("second", 20)]


def test_top_breaks_ties_by_key() -> None:
    counter = BoundedCounter()
    for key in ("b", "a", "c", "a", "b", "d"):
        counter.add(key)
    assert counter.top(3) == [("a", 2), ("b", 2), ("c", 1)]


def test_memory_stays_bounded_over_200k_records_of_random_names(tmp_path: Path) -> None:
    live = tmp_path / "querylog.jsonl"
    start = datetime(2023, 3, 1, tzinfo=UTC)
    with live.open("w", encoding="utf-8") as out:
        for n in range(200_000):
            out.write(line(record(start + timedelta(seconds=13 * n), list_name=f"l{n % 3}",
                                  client=f"10.0.{n % 200}.0", name=f"n{n}.example")))
    tracemalloc.start()
    try:
        tallies = tally(QueryLogReader(live), LocalDays(ZoneInfo(ZONE)), limit=2_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(t.attempts for t in tallies.values()) == 200_000
    assert all(t.approximate and len(t.names.counts) <= 2_000 for t in tallies.values())
    # 3 lists x 31 days x 200 clients in sets, and 3 x 2,000 names: well under 8 MB
    assert peak < 8_000_000, f"peak {peak} bytes"


def test_observed_answers_are_counted_apart_from_blocked_ones() -> None:
    records = [
        {"ts": "2023-03-18T09:00:00.000Z", "verdict": "observed", "list": "tiktok",
         "client": "192.0.2.0", "name": "www.tiktok.com"},
        {"ts": "2023-03-18T10:00:00.000Z", "verdict": "observed", "list": "tiktok",
         "client": "192.0.2.0", "name": "www.tiktok.com"},
        {"ts": "2023-03-20T09:00:00.000Z", "verdict": "blocked", "list": "tiktok",
         "client": "192.0.2.0", "name": "www.tiktok.com"},
        {"ts": "2023-03-20T09:00:01.000Z", "verdict": "forwarded", "list": "",
         "client": "192.0.2.0", "name": "example.org"},
    ]
    [(name, counted)] = tally(records, LocalDays(ZoneInfo("Europe/Brussels"))).items()
    assert name == "tiktok"
    assert (counted.attempts, counted.observed) == (1, 2)
    assert counted.day_observed == {"2023-03-18": 2}
    assert counted.day_attempts == {"2023-03-20": 1}
