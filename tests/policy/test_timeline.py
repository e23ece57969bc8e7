"""Time: when lists and entries are in force, DST, and the timeline of transitions."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from resolver.policy.index import PolicyIndex
from resolver.policy.loaded import Policy
from resolver.policy.timeline import active_rules, next_transition, transitions, upcoming_block

from .assertions import assert_allowed, assert_blocked, policy_of, utc

US = timedelta(microseconds=1)


def starts_at(tmp_path: Path, effective: str, timezone: str) -> datetime:
    policy = policy_of(tmp_path, f"""
        effective: {effective}
        timezone: {timezone}
        domains: [example.com]
    """)
    start = policy.lists[0].window.effective
    assert start is not None
    index = PolicyIndex(policy.rules)
    assert_allowed(index, "example.com", start - US)
    assert_blocked(index, "example.com", start)
    return start


@pytest.mark.parametrize(
    ("effective", "timezone", "first_instant"),
    [
        ("2023-03-20", "Europe/Brussels", utc(2023, 3, 19, 23)),
        ("2023-07-04", "America/New_York", utc(2023, 7, 4, 4)),
        ("2023-01-04", "America/New_York", utc(2023, 1, 4, 5)),
        ("2023-03-20", "Asia/Kolkata", utc(2023, 3, 19, 18, 30)),
        ("2023-03-20", "UTC", utc(2023, 3, 20)),
        ("2023-03-20T08:00", "Europe/Brussels", utc(2023, 3, 20, 7)),
        ("2023-03-20T08:00-04:00", "Europe/Brussels", utc(2023, 3, 20, 12)),
        ("2023-03-20T08:00:00.000001Z", "Asia/Kolkata", utc(2023, 3, 20, 8, 0, 0, 1)),
    ],
    ids=["date-brussels", "date-new-york-summer", "date-new-york-winter", "date-kolkata",
         "date-utc", "datetime-local", "datetime-offset", "datetime-utc-microsecond"],
)
def test_a_list_starts_at_the_exact_instant(tmp_path: Path, effective: str, timezone: str,
                                            first_instant: datetime) -> None:
    assert starts_at(tmp_path, effective, timezone) == first_instant


@pytest.mark.parametrize(
    ("effective", "timezone", "first_instant"),
    [
        # spring forward at 02:00 that night, but midnight is still 00:00 CET
        ("2023-03-26", "Europe/Brussels", utc(2023, 3, 25, 23)),
        # fall back at 03:00 that night; midnight is 00:00 CEST
        ("2023-10-29", "Europe/Brussels", utc(2023, 10, 28, 22)),
        # a time in the skipped hour: 02:30 means 03:30 CEST
        ("2023-03-26T02:30", "Europe/Brussels", utc(2023, 3, 26, 1, 30)),
        # a time in the repeated hour without an offset: its first occurrence (CEST)
        ("2023-10-29T02:30", "Europe/Brussels", utc(2023, 10, 29, 0, 30)),
        # days whose midnight does not exist start at 01:00 local time
        ("2022-09-11", "America/Santiago", utc(2022, 9, 11, 4)),
        ("2023-03-12", "America/Havana", utc(2023, 3, 12, 5)),
    ],
    ids=["brussels-spring", "brussels-autumn", "skipped-hour", "repeated-hour",
         "santiago-no-midnight", "havana-no-midnight"],
)
def test_dst_change_days(tmp_path: Path, effective: str, timezone: str,
                         first_instant: datetime) -> None:
    assert starts_at(tmp_path, effective, timezone) == first_instant


def test_a_skipped_hour_start_is_judged_by_real_time_not_wall_clock(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, """
        effective: 2023-03-26T02:30
        timezone: Europe/Brussels
        domains: [example.com]
    """)
    index = PolicyIndex(policy.rules)
    brussels = ZoneInfo("Europe/Brussels")
    # 03:15 CEST is after 02:30 on the wall clock but before 03:30 CEST in real time
    assert_allowed(index, "example.com", datetime(2023, 3, 26, 3, 15, tzinfo=brussels))
    assert_blocked(index, "example.com", datetime(2023, 3, 26, 3, 30, tzinfo=brussels))


def test_expires_is_exclusive_to_the_microsecond(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, """
        effective: 2023-03-20
        expires: 2023-06-01T12:00:00.5+02:00
        domains: [example.com]
    """)
    index = PolicyIndex(policy.rules)
    end = utc(2023, 6, 1, 10, 0, 0, 500_000)
    assert_blocked(index, "example.com", end - US)
    assert_allowed(index, "example.com", end)


def test_entry_windows_are_intersected_with_the_list_window(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, """
        effective: 2023-03-20
        expires: 2023-12-01
        timezone: Europe/Brussels
        domains:
          - domain: early.example
            effective: 2023-01-01
          - domain: late.example
            effective: 2023-04-01
          - domain: longer.example
            expires: 2024-06-01
          - domain: shorter.example
            expires: 2023-05-01
    """)
    index = PolicyIndex(policy.rules)
    march_20, april_1 = utc(2023, 3, 19, 23), utc(2023, 3, 31, 22)
    may_1, december_1 = utc(2023, 4, 30, 22), utc(2023, 11, 30, 23)
    assert_allowed(index, "early.example", march_20 - US)  # the list's date governs
    assert_blocked(index, "early.example", march_20)
    assert_allowed(index, "late.example", april_1 - US)
    assert_blocked(index, "late.example", april_1)
    assert_blocked(index, "longer.example", december_1 - US)
    assert_allowed(index, "longer.example", december_1)  # the list's expiry governs
    assert_blocked(index, "shorter.example", may_1 - US)
    assert_allowed(index, "shorter.example", may_1)


def test_an_exception_can_end_before_the_block(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, """
        effective: 2023-03-20
        domains: [tiktok.com]
        allow:
          - domain: newsroom.tiktok.com
            expires: 2023-06-01
    """)
    index = PolicyIndex(policy.rules)
    assert_allowed(index, "newsroom.tiktok.com", utc(2023, 5, 31), by="newsroom.tiktok.com")
    assert_blocked(index, "newsroom.tiktok.com", utc(2023, 6, 1), by="tiktok.com")


@pytest.fixture
def staged(tmp_path: Path) -> Policy:
    """A list in Brussels with entries starting and ending on their own dates."""
    return policy_of(tmp_path, """
        name: staged
        effective: 2023-03-20
        expires: 2024-03-20
        timezone: Europe/Brussels
        domains:
          - tiktok.com
          - tiktokv.com
          - domain: tiktokcdn.com
            effective: 2023-03-27
          - domain: musical.ly
            expires: 2023-09-01
        allow:
          - domain: newsroom.tiktok.com
            effective: 2023-01-01
            expires: 2023-06-01
    """)


def test_transitions_of_a_list_and_its_entries(staged: Policy) -> None:
    shown = [(t.instant, t.blocklist.name, t.rule.pattern if t.rule else None, t.change, t.names)
             for t in transitions(staged)]
    assert shown == [
        (utc(2023, 3, 19, 23), "staged", None, "starts", 4),  # all but tiktokcdn.com
        (utc(2023, 3, 26, 22), "staged", "tiktokcdn.com", "starts", 1),
        (utc(2023, 5, 31, 22), "staged", "newsroom.tiktok.com", "ends", 1),
        (utc(2023, 8, 31, 22), "staged", "musical.ly", "ends", 1),
        (utc(2024, 3, 19, 23), "staged", None, "ends", 3),  # all but musical.ly, newsroom
    ]


def test_transitions_across_lists_are_in_time_order(tmp_path: Path) -> None:
    policy = policy_of(tmp_path / "x", "effective: 2023-03-20\ndomains: [a.example]\n")
    other = policy_of(tmp_path / "y", """
        effective: 2023-03-20
        timezone: Asia/Kolkata
        domains: [b.example]
    """, file="india.yaml")
    both = Policy(policy.lists + other.lists)
    assert [(t.instant, t.blocklist.name) for t in transitions(both)] == [
        (utc(2023, 3, 19, 18, 30), "india"), (utc(2023, 3, 20), "list")]


def test_an_entry_that_never_applies_has_no_transitions(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, """
        effective: 2023-03-20
        expires: 2023-06-01
        domains:
          - a.example
          - domain: never.example
            effective: 2023-07-01
    """)
    assert [(t.rule, t.change, t.names) for t in transitions(policy)] == [
        (None, "starts", 1), (None, "ends", 1)]


def test_next_transition(staged: Policy) -> None:
    rules = staged.rules
    assert next_transition(rules, utc(2023, 1, 1)) == utc(2023, 3, 19, 23)
    # strictly after: at a transition, the next one is the one after it
    assert next_transition(rules, utc(2023, 3, 19, 23)) == utc(2023, 3, 26, 22)
    assert next_transition(rules, utc(2023, 3, 19, 23) - US) == utc(2023, 3, 19, 23)
    assert next_transition(rules, utc(2024, 3, 19, 23)) is None


def test_active_rules(staged: Policy) -> None:
    def active(at: datetime) -> list[str]:
        return sorted(r.pattern for r in active_rules(staged, at))

    assert active(utc(2023, 3, 1)) == []
    assert active(utc(2023, 3, 20)) == ["musical.ly", "newsroom.tiktok.com", "tiktok.com",
                                        "tiktokv.com"]
    assert active(utc(2023, 10, 1)) == ["tiktok.com", "tiktokcdn.com", "tiktokv.com"]


def test_upcoming_block(staged: Policy) -> None:
    index = PolicyIndex(staged.rules)
    before = utc(2023, 3, 1)
    found = upcoming_block(index, staged.rules, "tiktokcdn.com", before)
    assert found is not None and found[0] == utc(2023, 3, 26, 22)
    assert found[1].pattern == "tiktokcdn.com"
    # the exception holds until June, then the parent's block applies
    found = upcoming_block(index, staged.rules, "newsroom.tiktok.com", utc(2023, 4, 1))
    assert found is not None and found[0] == utc(2023, 5, 31, 22)
    assert found[1].pattern == "tiktok.com"
    assert upcoming_block(index, staged.rules, "example.org", before) is None
    assert upcoming_block(index, staged.rules, "tiktok.com", utc(2024, 3, 20)) is None
