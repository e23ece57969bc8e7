"""name -> deciding rule: specificity, exceptions, ties, wildcards; the brute-force reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.policy.index import PolicyIndex, decide_by_scan
from resolver.policy.model import Action, Location, Rule, Window
from resolver.policy.names import normalise_query_name

from .assertions import assert_allowed, assert_blocked, policy_of

AT = datetime(2024, 1, 1, tzinfo=UTC)


def index_of(tmp_path: Path, text: str) -> PolicyIndex:
    return PolicyIndex(policy_of(tmp_path, text).rules)


@pytest.fixture
def tiktok(tmp_path: Path) -> PolicyIndex:
    return index_of(tmp_path, """
        effective: 2023-03-20
        domains:
          - tiktok.com
          - "*.byteoversea.com"
          - "v*.tiktokcdn-eu.com"
          - live.newsroom.tiktok.com
          - bücher.example
          - client_monitor.example
        allow:
          - newsroom.tiktok.com
    """)


def test_apex_and_every_name_below(tiktok: PolicyIndex) -> None:
    for name in ("tiktok.com", "www.tiktok.com", "a.b.c.tiktok.com"):
        assert_blocked(tiktok, name, AT, by="tiktok.com")


def test_not_a_sibling_that_merely_ends_with_the_same_text(tiktok: PolicyIndex) -> None:
    for name in ("nottiktok.com", "tiktok.com.evil.example", "com", "tiktok.co"):
        assert_allowed(tiktok, name, AT)


def test_a_star_label_blocks_below_only(tiktok: PolicyIndex) -> None:
    assert_blocked(tiktok, "www.byteoversea.com", AT, by="*.byteoversea.com")
    assert_blocked(tiktok, "a.b.byteoversea.com", AT, by="*.byteoversea.com")
    assert_allowed(tiktok, "byteoversea.com", AT)


def test_a_glob_label_matches_within_that_label(tiktok: PolicyIndex) -> None:
    assert_blocked(tiktok, "v16.tiktokcdn-eu.com", AT, by="v*.tiktokcdn-eu.com")
    assert_blocked(tiktok, "a.v16.tiktokcdn-eu.com", AT, by="v*.tiktokcdn-eu.com")
    assert_allowed(tiktok, "tiktokcdn-eu.com", AT)
    assert_allowed(tiktok, "x16.tiktokcdn-eu.com", AT)


def test_an_exception_punches_a_hole_and_a_deeper_block_re_blocks(tiktok: PolicyIndex) -> None:
    assert_allowed(tiktok, "newsroom.tiktok.com", AT, by="newsroom.tiktok.com")
    assert_allowed(tiktok, "img.newsroom.tiktok.com", AT, by="newsroom.tiktok.com")
    assert_blocked(tiktok, "live.newsroom.tiktok.com", AT, by="live.newsroom.tiktok.com")
    assert_blocked(tiktok, "x.live.newsroom.tiktok.com", AT, by="live.newsroom.tiktok.com")


def test_case_trailing_dot_idn_and_underscores(tiktok: PolicyIndex) -> None:
    assert_blocked(tiktok, normalise_query_name("WWW.TikTok.COM."), AT, by="tiktok.com")
    assert_blocked(tiktok, normalise_query_name("www.BÜCHER.example"), AT,
                   by="xn--bcher-kva.example")
    assert_blocked(tiktok, "xn--bcher-kva.example", AT)
    assert_blocked(tiktok, "_dmarc.client_monitor.example", AT, by="client_monitor.example")


def test_before_the_list_starts_nothing_is_blocked(tiktok: PolicyIndex) -> None:
    assert_allowed(tiktok, "tiktok.com", datetime(2023, 3, 19, 23, 59, tzinfo=UTC))
    assert_blocked(tiktok, "tiktok.com", datetime(2023, 3, 20, tzinfo=UTC))


def test_a_tie_between_block_and_allow_goes_to_allow(tmp_path: Path) -> None:
    index = index_of(tmp_path, """
        effective: 2023-03-20
        domains:
          - www.example.com
          - "*.cdn.example"
        allow:
          - www.example.com
          - "x*.cdn.example"
    """)
    assert_allowed(index, "www.example.com", AT, by="www.example.com")
    assert_allowed(index, "x1.cdn.example", AT, by="x*.cdn.example")
    assert_blocked(index, "y1.cdn.example", AT, by="*.cdn.example")


def test_most_specific_wins_across_lists(tmp_path: Path) -> None:
    policy = policy_of(tmp_path / "a", """
        effective: 2023-03-20
        domains: [example.com, deep.shop.example.com]
    """, file="ban.yaml")
    other = policy_of(tmp_path / "b", """
        effective: 2023-03-20
        allow: [shop.example.com]
    """, file="shop.yaml")
    index = PolicyIndex(policy.rules + other.rules)
    assert_blocked(index, "www.example.com", AT, list_name="ban")
    assert_allowed(index, "shop.example.com", AT, by="shop.example.com")
    assert_blocked(index, "deep.shop.example.com", AT, list_name="ban")


def test_a_tie_across_lists_goes_to_allow(tmp_path: Path) -> None:
    ban = policy_of(tmp_path / "a", "effective: 2023-03-20\ndomains: [example.com]\n")
    keep = policy_of(tmp_path / "b", "effective: 2023-03-20\nallow: [example.com]\n")
    for rules in (ban.rules + keep.rules, keep.rules + ban.rules):
        assert_allowed(PolicyIndex(rules), "www.example.com", AT, by="example.com")


def test_a_deeper_glob_beats_a_shallower_plain_rule(tmp_path: Path) -> None:
    index = index_of(tmp_path, """
        effective: 2023-03-20
        domains: ["*.*.example.com"]
        allow: [b.example.com]
    """)
    assert_blocked(index, "a.b.example.com", AT, by="*.*.example.com")
    assert_allowed(index, "b.example.com", AT, by="b.example.com")


def test_a_glob_in_the_last_label(tmp_path: Path) -> None:
    index = index_of(tmp_path, """
        effective: 2023-03-20
        domains: ["tiktok.*"]
    """)
    assert_blocked(index, "tiktok.in", AT, by="tiktok.*")
    assert_blocked(index, "www.tiktok.com", AT, by="tiktok.*")
    assert_allowed(index, "tiktok", AT)
    assert_allowed(index, "tiktok.co.uk", AT)


def test_without_an_instant_every_indexed_rule_counts(tiktok: PolicyIndex) -> None:
    assert_blocked(tiktok, "tiktok.com", None)
    assert len(tiktok) == 7


def test_lookups_never_look_at_rules_under_other_suffixes(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = [Rule(f"v*.n{i}.example", Action.BLOCK, "big", Window(), Location("big.yaml"))
             for i in range(5000)]
    index = PolicyIndex(rules)
    tried: list[str] = []
    original = Rule.matches

    def counting(self: Rule, name: str) -> bool:
        tried.append(self.pattern)
        return original(self, name)

    monkeypatch.setattr(Rule, "matches", counting)
    assert index.decide("www.tiktok.com", AT) is None
    assert index.decide("v1.n42.example", AT) is not None
    assert tried == ["v*.n42.example"]


# --- the index agrees with the brute-force reference ----------------------------------------

_LABELS = ["a", "b", "ab", "c"]
_INSTANTS = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in range(4)]

_plain_label = st.sampled_from(_LABELS)
_glob_label = st.sampled_from(["*", "a*", "*b", "a*b"])


@st.composite
def _patterns(draw: st.DrawFn) -> str:
    labels = draw(st.lists(_plain_label, min_size=1, max_size=4))
    kind = draw(st.sampled_from(["plain", "plain", "wildcard", "glob"]))
    if kind == "wildcard":
        labels = ["*", *labels]
    elif kind == "glob":
        position = draw(st.integers(0, len(labels) - 1))
        labels[position] = draw(_glob_label)
    return ".".join(labels)


@st.composite
def _windows(draw: st.DrawFn) -> Window:
    start = draw(st.none() | st.sampled_from(_INSTANTS))
    end = draw(st.none() | st.sampled_from(_INSTANTS))
    return Window(start, end)


_rules = st.builds(
    lambda pattern, action, window, n: Rule(pattern, action, f"list{n}", window,
                                            Location("x.yaml", n + 1)),
    _patterns(), st.sampled_from(Action), _windows(), st.integers(0, 3),
)
_names = st.lists(_plain_label, min_size=1, max_size=6).map(".".join)
_at = st.none() | st.sampled_from(_INSTANTS) | st.sampled_from(_INSTANTS).map(
    lambda t: t + timedelta(hours=12)) | st.sampled_from(_INSTANTS).map(
    lambda t: t - timedelta(microseconds=1))


def _verdict(rule: Rule | None) -> tuple[bool, int, Action | None]:
    if rule is None:
        return (False, 0, None)
    return (rule.action is Action.BLOCK, rule.depth, rule.action)


@settings(max_examples=400, deadline=None)
@given(st.lists(_rules, max_size=12), st.lists(_names, min_size=1, max_size=8), _at)
def test_the_index_decides_as_a_scan_over_every_rule_would(
    rules: list[Rule], names: list[str], at: datetime | None
) -> None:
    index = PolicyIndex(rules)
    for name in names:
        assert _verdict(index.decide(name, at)) == _verdict(decide_by_scan(rules, name, at)), name
