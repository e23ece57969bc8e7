"""Domain-specific setup and assertions for the policy tests.

Tests say `assert_problem(result, "a.yaml:4:5", "looks like a URL", "tiktok.com")`
or `assert_blocked(index, "www.tiktok.com", at, by="tiktok.com")` instead of
comparing message strings or rule tuples by hand.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from resolver.lists.load import LoadResult, load_policy
from resolver.lists.problems import Problem
from resolver.policy.index import PolicyIndex
from resolver.policy.loaded import Policy
from resolver.policy.model import Action, Rule


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    """An instant written in UTC, as the policy stores them."""
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def write_lists(directory: Path, files: Mapping[str, str]) -> Path:
    """Write each file (dedented) into `directory`, creating it; return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return directory


def load_lists(directory: Path, files: Mapping[str, str], timezone: str = "UTC") -> LoadResult:
    return load_policy(write_lists(directory, files), timezone)


def policy_of(directory: Path, text: str, *, file: str = "list.yaml",
              timezone: str = "UTC") -> Policy:
    """The policy of one list file, which must load without errors."""
    result = load_lists(directory, {file: text}, timezone)
    assert result.policy is not None, "\n".join(map(str, result.errors))
    return result.policy


def where(problem: Problem) -> str:
    """'a.yaml:4:5': the problem's location with the file's base name."""
    loc = problem.location
    parts = [Path(loc.file).name]
    parts += [str(n) for n in (loc.line, loc.column) if n is not None]
    return ":".join(parts)


def describe(problems: tuple[Problem, ...] | list[Problem]) -> str:
    return "\n".join(f"  {where(p)}: {p.severity}: {p.message}" for p in problems) or "  (none)"


def assert_problem(result: LoadResult, at: str, *words: str,
                   severity: str = "error") -> Problem:
    """Exactly one problem of `severity` at `at` ('file:line[:col]'), holding every word."""
    found = [p for p in result.problems if where(p) == at and p.severity == severity]
    assert len(found) == 1, f"expected one {severity} at {at}; got:\n{describe(result.problems)}"
    problem = found[0]
    missing = [w for w in words if w not in problem.message]
    assert not missing, f"{at}: {problem.message!r} lacks {missing}"
    if severity == "error":
        assert result.policy is None, "a tree with errors must not yield a policy"
    return problem


def assert_only(result: LoadResult, *locations: str, severity: str = "error") -> None:
    """The problems of `severity` are at exactly these locations (in any order)."""
    got = sorted(where(p) for p in result.problems if p.severity == severity)
    assert got == sorted(locations), \
        f"expected {severity}s at {sorted(locations)}; got:\n{describe(result.problems)}"


def assert_clean(result: LoadResult) -> Policy:
    assert result.problems == (), f"expected no problems; got:\n{describe(result.problems)}"
    assert result.policy is not None
    return result.policy


def assert_blocked(index: PolicyIndex, name: str, at: datetime | None = None, *,
                   by: str | None = None, list_name: str | None = None) -> Rule:
    rule = index.decide(name, at)
    assert rule is not None and rule.action is Action.BLOCK, \
        f"{name} at {at}: expected blocked, decided by {_show(rule)}"
    if by is not None:
        assert rule.pattern == by, f"{name}: blocked by {rule.pattern}, expected {by}"
    if list_name is not None:
        assert rule.list_name == list_name, f"{name}: blocked by list {rule.list_name}"
    return rule


def assert_allowed(index: PolicyIndex, name: str, at: datetime | None = None, *,
                   by: str | None = None) -> Rule | None:
    """Not blocked; with `by`, allowed by that exception (else by no rule at all)."""
    rule = index.decide(name, at)
    if by is None:
        assert rule is None, f"{name} at {at}: expected no rule, got {_show(rule)}"
    else:
        assert rule is not None and rule.action is Action.ALLOW and rule.pattern == by, \
            f"{name} at {at}: expected allowed by {by}, decided by {_show(rule)}"
    return rule


def _show(rule: Rule | None) -> str:
    if rule is None:
        return "no rule"
    return f"{rule.action.value} {rule.pattern} (list {rule.list_name}, {rule.location})"
