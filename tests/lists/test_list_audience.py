"""`clients:` and `except_clients:` in a list file: read, checked against the config's
groups at file:line, and carried by every rule of the list."""

from __future__ import annotations

from pathlib import Path

import yaml

from resolver.lists.list_audience import parse_audience
from resolver.lists.list_file import parse_list
from resolver.lists.load import LoadResult, load_policy
from resolver.lists.marks import compose
from resolver.lists.problems import Problem
from resolver.policy.audience import Audience
from tests.policy.assertions import assert_only, assert_problem, where, write_lists

GROUPS = ("press-office", "guests")


def load(tmp_path: Path, text: str, groups: tuple[str, ...] | None = GROUPS,
         sources: dict[str, str] | None = None) -> LoadResult:
    directory = write_lists(tmp_path, {"ban.yaml": text})
    for name, body in (sources or {}).items():
        (directory / name).write_text(body, encoding="utf-8")
    return load_policy(directory, groups=groups)


def test_every_rule_of_the_list_carries_its_audience(tmp_path: Path) -> None:
    result = load(tmp_path, """
        name: ban
        effective: 2023-03-20
        clients: guests
        except_clients: [press-office]
        domains: [tiktok.com, "*.tiktokcdn.com", {regex: '^ads\\.'}]
        allow: [newsroom.tiktok.com]
        sources:
          - path: names.txt
            format: domains
    """, sources={"names.txt": "tiktokv.com\n"})
    assert result.errors == (), result.problems
    assert result.policy is not None
    (blocklist,) = result.policy.lists
    expected = Audience(("guests",), ("press-office",))
    assert blocklist.audience == expected
    rules = [*blocklist.rules, *blocklist.regexes, *blocklist.sources]
    assert len(rules) == 5
    assert all(rule.audience == expected for rule in rules)


def test_a_list_without_them_applies_to_every_client(tmp_path: Path) -> None:
    result = load(tmp_path, "effective: 2023-03-20\ndomains: [tiktok.com]\n")
    assert result.policy is not None
    assert result.policy.lists[0].audience is None
    assert all(rule.audience is None for rule in result.policy.rules)


def test_an_unknown_group_is_an_error_at_its_line_with_a_suggestion(tmp_path: Path) -> None:
    result = load(tmp_path, """
        effective: 2023-03-20
        except_clients:
          - press-ofice
          - guests
        domains: [tiktok.com]
    """)
    assert_problem(result, "ban.yaml:3:5", "unknown group 'press-ofice'",
                   "did you mean 'press-office'?", "`groups:` in the config")
    assert_only(result, "ban.yaml:3:5")


def test_naming_a_group_when_none_is_declared_says_so(tmp_path: Path) -> None:
    result = load(tmp_path, "effective: 2023-03-20\nclients: [guests]\ndomains: [a.example]\n",
                  groups=())
    assert_problem(result, "ban.yaml:2:11", "unknown group 'guests'", "none is declared")


def test_a_group_both_applied_to_and_exempted_is_an_error(tmp_path: Path) -> None:
    result = load(tmp_path, """
        effective: 2023-03-20
        clients: [guests]
        except_clients: [guests]
        domains: [a.example]
    """)
    assert_problem(result, "ban.yaml:3:17", "'guests' is in both")


def test_empty_group_names_are_errors(tmp_path: Path) -> None:
    result = load(tmp_path, """
        effective: 2023-03-20
        clients: ["", guests]
        domains: [a.example]
    """)
    assert_problem(result, "ban.yaml:2:11", "`clients` lists group names")


def test_without_the_configs_groups_names_are_not_checked() -> None:
    blocklist, problems = parse_list(
        "ban.yaml", "reference: r\neffective: 2023-03-20\nclients: [anyone]\n"
        "domains: [a.example]\n")
    assert [f"{where(p)}: {p.message}" for p in problems] == []
    assert blocklist is not None
    assert blocklist.audience == Audience(("anyone",))


def test_parse_audience_alone_reads_a_name_or_a_sequence_and_drops_repeats() -> None:
    root = compose("ban.yaml", "clients: guests\nexcept_clients: [press-office, press-office]\n")
    assert isinstance(root, yaml.MappingNode)
    fields = {key.value: value for key, value in root.value}
    problems: list[Problem] = []
    assert parse_audience("ban.yaml", fields, GROUPS, problems) == \
        Audience(("guests",), ("press-office",))
    assert problems == []
    assert parse_audience("ban.yaml", {}, GROUPS, problems) is None
