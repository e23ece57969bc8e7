"""The `dnsfence` command line: usage errors, --version and the installed entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from resolver.cli import build_parser, main
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
    assert "2 list(s), 67 entries" in run.out


def test_the_parser_reads_serve_options() -> None:
    args = build_parser().parse_args(["serve", "--listen", "[::1]:5300", "--upstream",
                                      "192.0.2.1", "--upstream", "tls://192.0.2.2#dns.test",
                                      "--workers", "auto"])
    assert args.command == "serve"
    assert [str(e) for e in args.listen] == ["[::1]:5300"]
    assert [str(e) for e in args.upstream] == ["192.0.2.1:53", "tls://192.0.2.2:853#dns.test"]
    assert args.workers == "auto"
    assert build_parser().parse_args(["serve", "--workers", "3"]).workers == 3


def test_main_in_process_returns_the_commands_status(site: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(site)
    assert main(["lint"]) == 0
    assert main(["check", "a..b"]) == 1
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--workers", "0"])
    assert stopped.value.code == 2
