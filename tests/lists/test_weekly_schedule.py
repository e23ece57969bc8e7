"""`schedule:` in a list file: what it reads, and each mistake at its file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.lists.weekly_schedule import days_of
from tests.policy.assertions import assert_clean, assert_problem, load_lists, utc

LIST = """
    reference: r
    effective: 2026-01-01
    timezone: Europe/Brussels
    schedule: {SCHEDULE}
    domains:
      - tiktok.com
    """


def with_schedule(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    return load_lists(tmp_path, {"office.yaml": LIST.replace("{SCHEDULE}", text)})


def test_a_schedule_is_read_into_every_rule(tmp_path: Path) -> None:
    policy = assert_clean(with_schedule(
        tmp_path, '{mon-fri: ["09:00-12:30", "13:30-17:30"], sat: "10:00-12:00"}'))
    blocklist = policy.lists[0]
    assert blocklist.schedule is not None
    assert blocklist.schedule.text == "mon-fri 09:00-12:30, 13:30-17:30; sat 10:00-12:00"
    assert blocklist.rules[0].weekly is blocklist.schedule
    assert len(blocklist.schedule.patterns[0].windows) == 5 * 2 + 1
    index = policy.index
    assert index is not None
    monday = utc(2026, 1, 5, 8, 30)  # 09:30 CET
    assert index.decide("tiktok.com", monday) is not None
    assert index.decide("tiktok.com", utc(2026, 1, 5, 11, 45)) is None  # lunch
    assert index.decide("tiktok.com", utc(2026, 1, 10, 9, 30)) is not None  # sat 10:30
    assert index.decide("tiktok.com", utc(2026, 1, 11, 9, 30)) is None  # sunday


@pytest.mark.parametrize(("key", "days"), [
    ("mon", [0]), ("mon-fri", [0, 1, 2, 3, 4]), ("sat,sun", [5, 6]), ("Fri-Mon", [4, 5, 6, 0]),
    ("mon-wed, fri", [0, 1, 2, 4]),
])
def test_day_keys(key: str, days: list[int]) -> None:
    assert days_of(key) == days


@pytest.mark.parametrize(("text", "at", "words"), [
    ('{mnday: "09:00-10:00"}', "office.yaml:4:12", ("unknown day 'mnday'", "'mon'")),
    ('{mon: "9h-10h"}', "office.yaml:4:17", ("cannot read '9h'", "HH:MM")),
    ('{mon: "25:00-26:00"}', "office.yaml:4:17", ("'25:00' is not a time of day",)),
    ('{mon: "09:60-10:00"}', "office.yaml:4:17", ("'09:60'",)),
    ('{mon: "09:00"}', "office.yaml:4:17", ("not a window", "START-END")),
    ('{mon: "09:00-09:00"}', "office.yaml:4:17", ("is empty",)),
    ('{mon: []}', "office.yaml:4:17", ("'mon' has no window",)),
    ("{}", "office.yaml:4:11", ("must map days to windows",)),
    ('"09:00-17:00"', "office.yaml:4:11", ("must map days to windows",)),
    ('{mon-fri: "09:00-17:00", fri: "18:00-19:00"}', "office.yaml:4:36",
     ("fri is given twice", "'mon-fri'")),
])
def test_malformed_schedules_are_errors_at_their_line(tmp_path: Path, text: str, at: str,
                                                      words: tuple[str, ...]) -> None:
    assert_problem(with_schedule(tmp_path, text), at, *words)


def test_an_end_before_the_start_runs_overnight_and_24_00_ends_the_day(tmp_path: Path) -> None:
    policy = assert_clean(with_schedule(tmp_path, '{fri: "22:00-06:00", sun: "00:00-24:00"}'))
    index = policy.index
    assert index is not None
    assert index.decide("tiktok.com", utc(2026, 1, 10, 4)) is not None  # sat 05:00 CET
    assert index.decide("tiktok.com", utc(2026, 1, 10, 5)) is None      # sat 06:00
    assert index.decide("tiktok.com", utc(2026, 1, 11, 22, 59)) is not None  # sun 23:59
    assert index.decide("tiktok.com", utc(2026, 1, 11, 23)) is None     # mon 00:00


def test_an_entry_schedule_narrows_its_list_schedule(tmp_path: Path) -> None:
    policy = assert_clean(load_lists(tmp_path, {"office.yaml": """
        reference: r
        effective: 2026-01-01
        schedule: {mon-fri: "09:00-17:00"}
        domains:
          - tiktok.com
          - domain: youtube.com
            schedule: {mon: "12:00-20:00"}
          - regex: '^ads\\.'
            schedule: {tue: "00:00-24:00"}
        """}))
    index = policy.index
    assert index is not None
    assert index.decide("youtube.com", utc(2026, 1, 5, 13)) is not None   # both: mon 13:00
    assert index.decide("youtube.com", utc(2026, 1, 5, 18)) is None       # list closed
    assert index.decide("youtube.com", utc(2026, 1, 5, 10)) is None       # entry closed
    assert index.decide("youtube.com", utc(2026, 1, 6, 13)) is None       # tuesday
    assert index.decide("tiktok.com", utc(2026, 1, 6, 13)) is not None
    assert index.decide("ads.example", utc(2026, 1, 6, 10)) is not None
    assert index.decide("ads.example", utc(2026, 1, 5, 10)) is None


def test_a_bad_entry_schedule_is_an_error_at_its_line(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"office.yaml": """
        reference: r
        effective: 2026-01-01
        domains:
          - domain: youtube.com
            schedule: {funday: "12:00-20:00"}
        """})
    assert_problem(result, "office.yaml:5:16", "unknown day 'funday'")

