"""YAML read with the line of every value: syntax errors and duplicate keys at file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from resolver.lists.marks import YamlSyntaxError, compose, location, mapping_items, scalar_text
from resolver.lists.problems import Problem
from resolver.policy.model import Location
from tests.policy.assertions import (
    assert_problem,
    load_lists,
)

# --- one test per error class -------------------------------------------------------------

def test_yaml_syntax_error(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-20
        domains:
          - tiktok.com
         - tiktokv.com
    """})
    assert_problem(result, "a.yaml:4:2", "YAML syntax error", "indentation")


def test_yaml_syntax_error_names_where_an_unclosed_quote_began(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-20
        domains:
          - "tiktok.com
          - tiktokv.com
    """})
    assert_problem(result, "a.yaml:5:1", "YAML syntax error", "quoted scalar",
                   "started at line 3, column 5")


def test_yaml_syntax_errors_explain_tabs_and_unquoted_stars(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {
        "tabs.yaml": "effective: 2023-03-20\ndomains:\n\t- tiktok.com\n",
        "star.yaml": "effective: 2023-03-20\ndomains:\n  - *.tiktok.com\n",
    })
    assert_problem(result, "tabs.yaml:3:1", "YAML syntax error", "indent with spaces")
    assert_problem(result, "star.yaml:3:6", "YAML syntax error", "quote an entry",
                   '"*.example.com"')


def test_duplicate_yaml_keys(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-20
        domains: [a.example]
        effective: 2023-04-01
    """})
    assert_problem(result, "a.yaml:3:1", "key 'effective' is given twice", "first on line 1")


def test_duplicate_keys_in_an_entry(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-20
        domains:
          - domain: a.example
            domain: b.example
    """})
    assert_problem(result, "a.yaml:4:5", "key 'domain' is given twice", "first on line 3")


def test_compose_keeps_every_value_with_its_line_and_column() -> None:
    root = compose("a.yaml", "name: social\ndomains:\n  - tiktok.com\n")
    assert isinstance(root, yaml.MappingNode)
    problems: list[Problem] = []
    items = mapping_items("a.yaml", root, problems)
    assert [key for key, _, _ in items] == ["name", "domains"] and problems == []
    (_, _, domains) = items[1]
    assert isinstance(domains, yaml.SequenceNode)
    assert location("a.yaml", domains.value[0]) == Location("a.yaml", 3, 5)
    assert scalar_text(domains.value[0]) == "tiktok.com"
    assert scalar_text(domains) is None


def test_an_empty_document_is_none_and_dates_stay_as_written() -> None:
    assert compose("a.yaml", "") is None
    root = compose("a.yaml", "effective: 2023-03-20\nexpires: ~\n")
    assert isinstance(root, yaml.MappingNode)
    (_, effective), (_, expires) = root.value
    assert scalar_text(effective) == "2023-03-20"
    assert scalar_text(expires) is None


def test_keys_that_are_not_words_are_reported() -> None:
    root = compose("a.yaml", "[a, b]: 1\nok: 2\n")
    assert isinstance(root, yaml.MappingNode)
    problems: list[Problem] = []
    assert [key for key, _, _ in mapping_items("a.yaml", root, problems)] == ["ok"]
    assert [str(p) for p in problems] == ["a.yaml:1:1: error: keys must be plain words"]


def test_a_syntax_error_carries_its_problem() -> None:
    with pytest.raises(YamlSyntaxError) as failed:
        compose("a.yaml", "domains: [a\n")
    assert failed.value.problem.location.file == "a.yaml"
    assert failed.value.problem.message.startswith("YAML syntax error: ")
    assert str(failed.value) == str(failed.value.problem)
