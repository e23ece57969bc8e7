"""Windows of time and what a single rule matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from resolver.policy.below_memo import rank_of
from resolver.policy.model import (
    Action,
    AnyRule,
    Location,
    Rule,
    Scope,
    SourceRules,
    Window,
    precedence,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
T0 = datetime(2023, 3, 19, 23, tzinfo=UTC)
T1 = datetime(2023, 6, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


def rule(pattern: str) -> Rule:
    return Rule(pattern, Action.BLOCK, "test", Window(), Location("test.yaml", 1, 1))


def test_effective_is_inclusive_and_expires_exclusive_to_the_microsecond() -> None:
    window = Window(T0, T1)
    assert not window.contains(T0 - US)
    assert window.contains(T0)
    assert window.contains(T1 - US)
    assert not window.contains(T1)


def test_open_ended_windows() -> None:
    assert Window().contains(T0)
    assert Window(T0, None).contains(datetime(9999, 1, 1, tzinfo=UTC))
    assert Window(None, T1).contains(datetime(1970, 1, 1, tzinfo=UTC))


def test_bounds_are_kept_in_utc_so_dst_wall_clock_comparisons_cannot_bite() -> None:
    # 02:30 in the skipped hour of 2023-03-26 means 01:30 UTC (03:30 CEST) ...
    skipped = datetime(2023, 3, 26, 2, 30, tzinfo=BRUSSELS)
    later_wall_clock = datetime(2023, 3, 26, 3, 15, tzinfo=BRUSSELS)  # 01:15 UTC
    window = Window(skipped, None)
    assert window.effective == datetime(2023, 3, 26, 1, 30, tzinfo=UTC)
    assert window.effective is not None and window.effective.tzinfo is UTC
    # ... so 03:15 CEST is still before it, although 03:15 > 02:30 on the wall clock
    assert not window.contains(later_wall_clock)
    assert window.contains(datetime(2023, 3, 26, 3, 30, tzinfo=BRUSSELS))


def test_naive_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(datetime(2023, 3, 20), None)


def test_intersection_and_emptiness() -> None:
    a = Window(T0, None)
    b = Window(None, T1)
    assert a.intersect(b) == Window(T0, T1)
    assert Window().intersect(Window()) == Window()
    assert Window(T1, None).intersect(Window(None, T0)).empty
    assert Window(T0, T0).empty
    assert not Window(T0, T0 + US).empty
    assert not Window().empty


@pytest.mark.parametrize(
    ("pattern", "matched", "not_matched"),
    [
        ("tiktok.com", ["tiktok.com", "www.tiktok.com", "a.b.tiktok.com"],
         ["nottiktok.com", "tiktok.com.evil", "com", "tiktok.co"]),
        ("*.byteoversea.com", ["www.byteoversea.com", "a.b.byteoversea.com"],
         ["byteoversea.com", "xbyteoversea.com"]),
        ("v*.tiktokcdn-eu.com", ["v16.tiktokcdn-eu.com", "v.tiktokcdn-eu.com",
                                 "a.v16.tiktokcdn-eu.com"],
         ["tiktokcdn-eu.com", "x16.tiktokcdn-eu.com", "v16.x.tiktokcdn-eu.com"]),
        ("p16-tiktok-*.ibyteimg.com", ["p16-tiktok-va.ibyteimg.com"],
         ["p16-tiktokcdn.ibyteimg.com", "ibyteimg.com"]),
        ("a.*.example", ["a.b.example", "x.a.b.example"], ["b.a.example", "a.example"]),
        ("tiktok.*", ["tiktok.com", "www.tiktok.in"], ["tiktok", "tiktok.co.uk"]),
    ],
)
def test_what_a_rule_matches(pattern: str, matched: list[str], not_matched: list[str]) -> None:
    r = rule(pattern)
    assert [n for n in matched if not r.matches(n)] == []
    assert [n for n in not_matched if r.matches(n)] == []


def test_glob_rules_are_keyed_by_their_literal_suffix() -> None:
    assert (rule("v*.tiktokcdn-eu.com").suffix, rule("v*.tiktokcdn-eu.com").depth) == \
        ("tiktokcdn-eu.com", 3)
    assert rule("a.*.example").suffix == "example"
    assert rule("tiktok.*").suffix == ""
    assert rule("tiktok.com").suffix == "tiktok.com" and not rule("tiktok.com").is_glob


def test_rank_orders_rules_as_precedence_does() -> None:
    """Deeper first, then an exception before a block, then a plain rule before a glob."""
    rules: list[AnyRule] = [Rule(p, a, "test", Window(), Location("test.yaml", 1, 1))
             for p in ("a.example", "*.example", "a*.example") for a in Action]
    rules += [SourceRules("s.txt", a, Scope.SUBTREE, "s", Window(), Location("s.yaml", 1), 1)
              for a in Action]
    ranked = [(rule, depth) for rule in rules for depth in (1, 2, 3)]
    for one, one_depth in ranked:
        for other, other_depth in ranked:
            assert (rank_of(one, one_depth) > rank_of(other, other_depth)) == (
                precedence(one, one_depth) > precedence(other, other_depth)), (one, other)
    glob, plain = rule("*.example"), rule("a.example")
    assert rank_of(plain, 2) > rank_of(glob, 2) and rank_of(glob, 3) > rank_of(plain, 2)
