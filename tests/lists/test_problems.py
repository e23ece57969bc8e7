"""Problems at a file:line, and unknown keys answered with the known one."""

from __future__ import annotations

from pathlib import Path

from resolver.lists.problems import Problem, unknown_key_message
from resolver.policy.model import Location
from tests.policy.assertions import (
    assert_problem,
    load_lists,
)


def test_unknown_list_key_suggests_the_known_one(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-20
        domians:
          - tiktok.com
    """})
    assert_problem(result, "a.yaml:2:1", "unknown key 'domians'", "did you mean 'domains'?")


def test_unknown_key_without_a_close_match_lists_the_known_keys(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-20
        colour: blue
        domains: [a.example]
    """})
    assert_problem(result, "a.yaml:2:1", "unknown key 'colour'", "known keys:", "domains")


def test_a_problem_reads_file_line_severity_message() -> None:
    assert str(Problem(Location("a.yaml", 4, 5), "bad")) == "a.yaml:4:5: error: bad"
    assert str(Problem(Location("a.yaml", 2), "hm", "warning")) == "a.yaml:2: warning: hm"
    assert Problem(Location("a.yaml"), "bad").severity == "error"


def test_unknown_key_message_suggests_or_lists() -> None:
    known = ["effective", "expires", "domains"]
    assert unknown_key_message("efective", known, "a list") == \
        "unknown key 'efective' in a list; did you mean 'effective'?"
    assert unknown_key_message("zzz", known, "`cache`") == \
        "unknown key 'zzz' in `cache` (known keys: effective, expires, domains)"
