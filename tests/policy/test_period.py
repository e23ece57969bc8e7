"""resolver.policy.period: the policy in force between two transitions, and TTL caps."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from resolver.policy.index import PolicyIndex
from resolver.policy.loaded import Policy
from resolver.policy.period import PolicyHolder, index_of, period_at
from tests.policy.assertions import policy_of, utc

# tiktok.com is blocked from 2024-03-01 until 2024-04-01; a.example always from 2024-01-01.
DATED = """
    reference: r
    effective: 2024-01-01
    domains:
      - a.example
      - {domain: tiktok.com, effective: 2024-03-01, expires: 2024-04-01}
    """
JAN = utc(2024, 1, 1).timestamp()
FEB = utc(2024, 2, 1).timestamp()
MAR = utc(2024, 3, 1).timestamp()
APR = utc(2024, 4, 1).timestamp()


def dated(tmp_path: Path) -> Policy:
    return policy_of(tmp_path, DATED)


def test_a_period_lasts_until_the_next_transition(tmp_path: Path) -> None:
    period = period_at(dated(tmp_path), FEB)
    assert period.since == FEB
    assert period.until == MAR
    assert period.active == 1  # a.example only
    assert period.last_bound == APR
    during = period_at(dated(tmp_path), MAR + 60)
    assert during.until == APR
    assert during.active == 2


def test_after_the_last_transition_a_period_lasts_forever(tmp_path: Path) -> None:
    period = period_at(dated(tmp_path), APR + 1)
    assert period.until == math.inf
    assert period.active == 1


def test_ttl_cap_is_the_time_left_until_the_names_policy_changes(tmp_path: Path) -> None:
    period = period_at(dated(tmp_path), FEB)
    assert period.ttl_cap("tiktok.com", FEB) == int(MAR - FEB)
    assert period.ttl_cap("www.tiktok.com", MAR - 10.5) == 10  # whole seconds, rounded down
    assert period.ttl_cap("tiktok.com", MAR + 5) == int(APR - MAR - 5)  # the ban's end


def test_ttl_cap_is_none_for_names_whose_policy_never_changes(tmp_path: Path) -> None:
    period = period_at(dated(tmp_path), FEB)
    assert period.ttl_cap("a.example", FEB) is None  # in force with no end
    assert period.ttl_cap("other.example", FEB) is None  # no rule at all
    assert period.ttl_cap("tiktok.com", APR) is None  # past the last bound of the policy


def test_a_policy_made_by_hand_gets_an_index(tmp_path: Path) -> None:
    loaded = dated(tmp_path)
    assert index_of(loaded) is loaded.index
    by_hand = Policy(loaded.lists, loaded.default_timezone)
    assert by_hand.index is None
    index = index_of(by_hand)
    assert index.lookup("tiktok.com", utc(2024, 3, 15)) is not None
    assert index.lookup("tiktok.com", utc(2024, 2, 15)) is None


def test_the_holder_moves_to_the_next_period_when_it_is_due(tmp_path: Path) -> None:
    holder = PolicyHolder(dated(tmp_path), clock=lambda: FEB)
    first = holder.current(FEB + 1)
    assert first is holder.period
    assert holder.current(MAR - 1) is first  # same period: nothing recomputed
    second = holder.current(MAR)
    assert second is not first
    assert (second.since, second.until) == (MAR, APR)
    assert second.index is first.index  # a transition needs no new index
    assert holder.current(JAN) is not second  # the clock went back: recomputed
    assert holder.period.until == MAR


def test_replace_swaps_in_a_new_policy_and_its_period(tmp_path: Path) -> None:
    holder = PolicyHolder(dated(tmp_path / "old"), clock=lambda: FEB)
    new = policy_of(tmp_path / "new", """
        reference: r
        effective: 2024-02-15
        domains: [b.example]
        """)
    holder.replace(new, FEB)
    assert holder.policy is new
    assert holder.period.index is new.index
    assert holder.period.until == utc(2024, 2, 15).timestamp()
    assert holder.current(FEB).active == 0


WEEKLY = """
    reference: r
    effective: 2026-01-01
    timezone: Europe/Brussels
    schedule: {mon-fri: ["09:00-12:30", "13:30-17:30"]}
    domains:
      - tiktok.com
    """
MONDAY_0900 = utc(2026, 1, 5, 8).timestamp()  # 09:00 CET


def test_window_edges_end_periods_and_cap_ttls(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, WEEKLY)
    holder = PolicyHolder(policy, clock=lambda: MONDAY_0900 - 100)
    period = holder.current(MONDAY_0900 - 100)
    assert period.until == MONDAY_0900
    assert period.last_bound == math.inf  # the windows never stop
    assert period.active == 0
    assert period.index.lookup("tiktok.com", MONDAY_0900 - 1) is None
    assert period.ttl_cap("www.tiktok.com", MONDAY_0900 - 100) == 100
    assert period.ttl_cap("example.com", MONDAY_0900 - 100) is None
    inside = holder.current(MONDAY_0900)
    assert inside is not period and inside.active == 1
    assert inside.until == MONDAY_0900 + 3.5 * 3600  # 12:30
    assert inside.ttl_cap("tiktok.com", MONDAY_0900 + 3.5 * 3600 - 7) == 7
    found = inside.index.lookup("tiktok.com", MONDAY_0900)
    assert found is not None and found[1] == "tiktok.com"
    friday_close = utc(2026, 1, 9, 16, 30).timestamp()
    weekend = holder.current(friday_close)
    assert weekend.active == 0
    assert weekend.until == utc(2026, 1, 12, 8).timestamp()  # monday 09:00 CET


def test_a_schedule_inside_dates_ends_with_them(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, WEEKLY.replace("effective: 2026-01-01",
                                                "effective: 2026-01-01\n    expires: 2026-01-06"))
    period = period_at(policy, MONDAY_0900)
    assert period.last_bound == utc(2026, 1, 5, 23).timestamp()
    after = period_at(policy, utc(2026, 1, 5, 23).timestamp())
    assert after.until == math.inf and after.active == 0


def test_each_names_next_change_is_looked_up_once_per_period(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    period = period_at(dated(tmp_path), FEB)
    asked: list[str] = []
    real = PolicyIndex.next_change

    def counted(index: PolicyIndex, name: str, after: float) -> float | None:
        asked.append(name)
        return real(index, name, after)

    monkeypatch.setattr(PolicyIndex, "next_change", counted)
    for offset in (0.0, 1.5, 3600.0, MAR - FEB - 0.5):
        assert period.ttl_cap("tiktok.com", FEB + offset) == math.floor(MAR - FEB - offset)
        assert period.ttl_cap("a.example", FEB + offset) is None
    assert asked == ["tiktok.com", "a.example"]  # the rest came from the period's memo
    # an instant outside the period is worked out afresh, and not remembered
    assert period.ttl_cap("tiktok.com", MAR + 5) == int(APR - MAR - 5)
    assert period.ttl_cap("tiktok.com", FEB + 7) == int(MAR - FEB - 7)
    assert asked == ["tiktok.com", "a.example", "tiktok.com"]


WARNED = """
    reference: r
    observe_from: 2024-02-01
    effective: 2024-03-01
    domains: [tiktok.com]
"""


def test_a_warning_period_is_a_period_of_its_own_that_knows_its_lists(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, WARNED)
    before = period_at(policy, JAN)
    assert before.until == FEB and before.observing == ()
    during = period_at(policy, FEB)
    assert during.until == MAR
    assert during.observing == (("list", MAR),)
    assert during.index.lookup("www.tiktok.com", FEB) is None  # answered as usual ...
    assert during.ttl_cap("www.tiktok.com", FEB) == int(MAR - FEB)  # ... until the ban
    after = period_at(policy, MAR)
    assert after.observing == () and after.index.lookup("www.tiktok.com", MAR) is not None
