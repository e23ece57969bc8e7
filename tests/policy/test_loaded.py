"""Policy: every list of a blocklist directory, looked up by name, its rules, entries and size."""

from __future__ import annotations

from pathlib import Path

from resolver.lists.load import load_policy
from resolver.policy.loaded import Policy
from resolver.policy.model import Action
from tests.policy.assertions import write_lists


def two_lists(tmp_path: Path) -> Policy:
    (tmp_path / "a.txt").write_text("x.example\ny.example\n", encoding="utf-8")
    write_lists(tmp_path, {
        "social.yaml": """
            reference: r
            effective: 2023-03-20
            domains: [tiktok.com]
            allow: [newsroom.tiktok.com]
        """,
        "ads.yaml": """
            reference: r
            effective: 2023-03-20
            sources:
              - path: a.txt
            domains:
              - regex: ^track
        """,
    })
    result = load_policy(tmp_path, "UTC")
    assert result.policy is not None, result.errors
    return result.policy


def test_list_named(tmp_path: Path) -> None:
    policy = two_lists(tmp_path)
    social = policy.list_named("social")
    assert social is not None and social.name == "social"
    assert policy.list_named("video") is None


def test_rules_are_the_yaml_entries_of_every_list(tmp_path: Path) -> None:
    policy = two_lists(tmp_path)
    assert sorted((r.pattern, r.action) for r in policy.rules) == [
        ("newsroom.tiktok.com", Action.ALLOW), ("tiktok.com", Action.BLOCK)]


def test_entries_add_source_groups_and_regexes(tmp_path: Path) -> None:
    policy = two_lists(tmp_path)
    kinds = sorted(type(entry).__name__ for entry in policy.entries)
    assert kinds == ["RegexRule", "Rule", "Rule", "SourceRules"]


def test_size_counts_every_entry_and_the_source_names(tmp_path: Path) -> None:
    policy = two_lists(tmp_path)
    assert policy.size == 2 + 1 + 2  # two YAML entries, one regex, two source names
    assert Policy(()).size == 0 and Policy(()).rules == () and Policy(()).entries == ()


def test_the_index_and_source_paths_do_not_count_in_equality(tmp_path: Path) -> None:
    policy = two_lists(tmp_path)
    assert policy.index is not None
    assert Policy(policy.lists, policy.default_timezone) == policy
