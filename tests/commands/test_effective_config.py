"""The settings a command runs with: the config file, then the flags over it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from resolver.commands.effective_config import settings
from resolver.commands.exit_codes import CommandFailed
from resolver.config.load import defaults
from tests.commands.cli_runner import STAGED, dnsfence, write_tree


def test_config_blocklists_is_relative_to_the_config_file(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "etc/dnsfence.yaml": "blocklists: lists\ntimezone: Asia/Kolkata\n",
        "etc/lists/social.yaml": STAGED,
        "elsewhere/.keep": "",
    })
    def check(at: str) -> dict[str, Any]:
        run = dnsfence("check", "tiktok.com", "--json", "--at", at,
                       "--config", "../etc/dnsfence.yaml", cwd=tmp_path / "elsewhere")
        (line,) = run.json_lines()
        return line

    # 04:30 in Kolkata is 23:00 UTC on the 19th: midnight in Brussels, when the list starts
    line = check("2023-03-20T04:30")
    assert line["blocked"] is True
    assert line["at"] == "2023-03-20T04:30:00+05:30"
    assert line["location"] == "../etc/lists/social.yaml:6:5"
    assert check("2023-03-20T04:29:59")["blocked"] is False


def test_flags_override_the_config(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "dnsfence.yaml": "blocklists: nowhere\n",
        "mine/social.yaml": STAGED,
    })
    assert dnsfence("lint", "--config", "dnsfence.yaml", cwd=tmp_path).status == 1
    run = dnsfence("lint", "--config", "dnsfence.yaml", "--blocklists", "mine", cwd=tmp_path)
    assert (run.status, run.out) == (0, "mine: 0 error(s), 0 warning(s); 1 list(s), 3 entries\n")


def test_an_unknown_config_key_is_an_error_with_file_and_line(tmp_path: Path) -> None:
    write_tree(tmp_path, {"dnsfence.yaml": "blocklists: lists\ntimezon: UTC\n"})
    for command in (["lint"], ["check", "a.example"], ["schedule"]):
        run = dnsfence(*command, "--config", "dnsfence.yaml", cwd=tmp_path)
        assert run.status == 1
        assert run.err.splitlines()[0] == ("dnsfence.yaml:2:1: error: unknown key 'timezon' in "
                                           "the config; did you mean 'timezone'?")
        assert "nothing was done" in run.err


def test_without_a_file_the_defaults_and_the_flag(tmp_path: Path) -> None:
    assert settings(None, None) == defaults()
    assert settings(None, "mine").blocklists == Path("mine")
    path = write_tree(tmp_path, {"dnsfence.yaml": "timezone: Asia/Kolkata\n"}) / "dnsfence.yaml"
    config = settings(str(path), "elsewhere")
    assert (config.timezone, config.blocklists) == ("Asia/Kolkata", Path("elsewhere"))


def test_a_config_file_with_errors_fails_with_status_1(tmp_path: Path) -> None:
    path = write_tree(tmp_path, {"dnsfence.yaml": "timezon: UTC\n"}) / "dnsfence.yaml"
    err = io.StringIO()
    with pytest.raises(CommandFailed) as failed:
        settings(str(path), None, err)
    assert failed.value.status == 1
    lines = err.getvalue().splitlines()
    assert lines[0].endswith("dnsfence.yaml:1:1: error: unknown key 'timezon' in the config; "
                             "did you mean 'timezone'?")
    assert lines[1] == f"dnsfence: the config file {path} has errors; nothing was done"
