"""Warnings about entries that do nothing: duplicates, blocked and allowed, covered by a parent."""

from __future__ import annotations

from pathlib import Path

from resolver.lists.entry_warnings import entry_warnings
from resolver.lists.list_file import parse_list
from resolver.policy.model import Rule
from tests.policy.assertions import (
    assert_only,
    assert_problem,
    load_lists,
)

# --- warnings ------------------------------------------------------------------------------

def test_duplicate_entries_warn(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        reference: r
        effective: 2023-03-20
        domains:
          - a.example
          - b.example
          - A.Example.
    """})
    assert_problem(result, "a.yaml:6:5", "duplicate entry 'a.example'", "also on line 4",
                   severity="warning")
    assert_only(result, "a.yaml:6:5", severity="warning")
    assert result.policy is not None


def test_an_entry_both_blocked_and_allowed_warns(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        reference: r
        effective: 2023-03-20
        domains:
          - a.example
        allow:
          - a.example
    """})
    assert_problem(result, "a.yaml:6:5", "both blocked and allowed", "exception wins",
                   severity="warning")
    assert_only(result, "a.yaml:6:5", severity="warning")
    assert result.policy is not None


def test_an_entry_covered_by_its_parent_warns(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        reference: r
        effective: 2023-03-20
        domains:
          - tiktok.com
          - www.tiktok.com
          - "*.cdn.tiktok.com"
          - "v*.tiktok.com"
          - domain: m.tiktok.com
            effective: 2023-04-01
    """})
    for at in ("a.yaml:5:5", "a.yaml:6:5", "a.yaml:7:5", "a.yaml:8:13"):
        assert_problem(result, at, "already covered by 'tiktok.com'", "line 4",
                       "can be removed", severity="warning")
    assert_only(result, "a.yaml:5:5", "a.yaml:6:5", "a.yaml:7:5", "a.yaml:8:13",
                severity="warning")


def test_an_entry_is_not_redundant_below_an_exception(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        reference: r
        effective: 2023-03-20
        domains:
          - tiktok.com
          - live.newsroom.tiktok.com
          - www.tiktok.com
        allow:
          - newsroom.tiktok.com
    """})
    # live.newsroom re-blocks inside the hole; www is covered, the hole is elsewhere
    assert_only(result, "a.yaml:6:5", severity="warning")
    assert_problem(result, "a.yaml:6:5", "'www.tiktok.com' is already covered",
                   severity="warning")


def test_an_exception_is_not_redundant_below_a_block(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        reference: r
        effective: 2023-03-20
        domains:
          - ads.example.com
        allow:
          - example.com
          - news.ads.example.com
          - cdn.example.com
    """})
    assert_only(result, "a.yaml:8:5", severity="warning")


def test_an_entry_living_longer_than_its_parent_is_not_redundant(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        reference: r
        effective: 2023-03-20
        domains:
          - domain: tiktok.com
            expires: 2023-06-01
          - www.tiktok.com
    """})
    assert_only(result, severity="warning")


def rules_of(text: str) -> list[Rule]:
    blocklist, _ = parse_list("a.yaml", "reference: r\neffective: 2023-03-20\n" + text)
    assert blocklist is not None
    return list(blocklist.rules)


def test_entry_warnings_on_rules_alone() -> None:
    rules = rules_of("domains: [tiktok.com, www.tiktok.com, tiktok.com]\n")
    assert [str(p) for p in entry_warnings(rules)] == [
        "a.yaml:3:39: warning: duplicate entry 'tiktok.com' (also on line 3)",
        "a.yaml:3:23: warning: 'www.tiktok.com' is already covered by 'tiktok.com' (line 3); "
        "it can be removed",
    ]


def test_unrelated_entries_and_no_entries_give_no_warnings() -> None:
    assert entry_warnings(rules_of("domains: [a.example, b.example]\n")) == []
    assert entry_warnings([]) == []
