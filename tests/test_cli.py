"""The `dnsfence` command line: usage errors, --version and the installed entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.commands.cli_runner import REPO, dnsfence, stage_site


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return stage_site(tmp_path)


@pytest.mark.parametrize(
    "args",
    [["lint", "--bogus"], [], ["frobnicate"], ["check"], ["check", "x.example", "--at"],
     ["check", "x.example", "--at", "next tuesday"], ["schedule", "--from", "2023-13-01"]],
    ids=["unknown-flag", "no-command", "unknown-command", "check-without-name", "at-without-value",
         "unreadable-at", "unreadable-from"],
)
def test_usage_errors_exit_2(site: Path, args: list[str]) -> None:
    run = dnsfence(*args, cwd=site)
    assert run.status == 2, run
    assert run.out == ""
    assert "dnsfence" in run.err



def test_version(site: Path) -> None:
    run = dnsfence("--version", cwd=site)
    assert (run.status, run.out) == (0, "dnsfence 0.1.0\n")


def test_the_installed_entry_point() -> None:
    program = Path(sys.executable).parent / "dnsfence"
    if not program.exists():
        pytest.skip("the dnsfence entry point is not installed next to this Python")
    run = dnsfence("lint", "--strict", cwd=REPO, program=[str(program)])
    assert (run.status, run.err) == (0, "")
    assert "1 list(s), 42 entries" in run.out
