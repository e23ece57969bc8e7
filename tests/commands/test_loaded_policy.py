"""The blocklists a read-only command works on, or every error and exit status 1."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from resolver.commands.exit_codes import CommandFailed
from resolver.commands.loaded_policy import policy_or_fail
from resolver.config.load import defaults
from tests.commands.cli_runner import write_tree


def test_a_clean_directory_gives_its_policy(site: Path) -> None:
    policy, result = policy_or_fail(defaults().with_overrides(blocklists=site / "blocklists"))
    assert [b.name for b in policy.lists] == ["social"]
    assert result.policy is policy and result.errors == ()


def test_errors_are_all_printed_then_the_command_fails(tmp_path: Path) -> None:
    write_tree(tmp_path, {"lists/a.yaml": "effective: 2023-03-20\ndomains: [a..b, c..d]\n"})
    lists = tmp_path / "lists"
    err = io.StringIO()
    with pytest.raises(CommandFailed) as failed:
        policy_or_fail(defaults().with_overrides(blocklists=lists), err)
    assert failed.value.status == 1
    lines = err.getvalue().splitlines()
    assert len([line for line in lines if ": error: " in line]) == 2  # both names
    assert lines[-1] == f"dnsfence: 2 error(s) in {lists}; fix them (see `dnsfence lint`)"


def test_a_source_never_downloaded_is_said_beside_the_answer_or_fails_under_fail(
        tmp_path: Path) -> None:
    url = "https://lists.example/ban.txt"
    write_tree(tmp_path, {"lists/a.yaml": "reference: r\neffective: 2023-03-20\n"
                          f"domains: [a.example]\nsources:\n  - url: {url}\n"})
    config = defaults().with_overrides(blocklists=tmp_path / "lists",
                                       **{"lists.cache_dir": tmp_path / "cache"})
    err = io.StringIO()
    policy, _ = policy_or_fail(config, err)
    assert policy.size == 1
    [line] = err.getvalue().splitlines()
    assert line.startswith(f"{tmp_path / 'lists' / 'a.yaml'}:5:5: warning: source {url} has "
                           "not been downloaded yet; list a is served without it")
    with pytest.raises(CommandFailed):
        policy_or_fail(config.with_overrides(**{"lists.on_missing": "fail"}), io.StringIO())
