"""`dnsfence lint`: the summary line, problems with file:line, and exit codes."""

from __future__ import annotations

import io
from pathlib import Path

from resolver.commands import lint
from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.config.load import defaults
from tests.commands.cli_runner import dnsfence, write_tree


def test_lint_clean_exits_0(site: Path) -> None:
    run = dnsfence("lint", cwd=site)
    assert (run.status, run.err) == (0, "")
    assert run.out == "blocklists: 0 error(s), 0 warning(s); 1 list(s), 3 entries\n"


def test_lint_with_errors_exits_1_naming_file_and_line(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "lists/a.yaml": """
            reference: r
            effective: 2023-03-20
            domains:
              - https://tiktok.com/
        """,
        "lists/b.yaml": "reference: r\nefective: 2023-03-20\ndomains: [b.example]\n",
    })
    run = dnsfence("lint", "--blocklists", "lists", cwd=tmp_path)
    assert run.status == 1
    assert run.err.splitlines() == [
        "lists/a.yaml:4:5: error: 'https://tiktok.com/' looks like a URL; did you mean "
        "tiktok.com? (write the domain name only)",
        "lists/b.yaml:2:1: error: unknown key 'efective' in a list; did you mean 'effective'?",
        "lists/b.yaml:1: error: missing `effective:`; write the first day of the ban, "
        "e.g. effective: 2023-03-20",
    ]
    assert run.out == "lists: 3 error(s), 0 warning(s); nothing loaded\n"


def test_lint_warnings_exit_0_unless_strict(tmp_path: Path) -> None:
    write_tree(tmp_path, {"blocklists/a.yaml": """
        reference: r
        effective: 2023-03-20
        domains: [tiktok.com, www.tiktok.com]
    """})
    run = dnsfence("lint", cwd=tmp_path)
    assert run.status == 0
    assert "blocklists/a.yaml:3:23: warning: 'www.tiktok.com' is already covered" in run.err
    assert "0 error(s), 1 warning(s)" in run.out
    assert dnsfence("lint", "--strict", cwd=tmp_path).status == 1



def test_a_missing_blocklist_directory_is_an_error(tmp_path: Path) -> None:
    run = dnsfence("lint", cwd=tmp_path)
    assert run.status == 1
    assert "blocklists: error: blocklist directory not found" in run.err


def test_run_in_process_reports_warnings_and_fails_on_them_only_when_strict(
        tmp_path: Path) -> None:
    write_tree(tmp_path, {"lists/a.yaml": """
        reference: r
        effective: 2023-03-20
        domains: [tiktok.com, www.tiktok.com]
    """})
    config = defaults().with_overrides(blocklists=tmp_path / "lists")
    out, err = io.StringIO(), io.StringIO()
    assert lint.run(config, strict=False, out=out, err=err) == EXIT_OK
    assert "warning: 'www.tiktok.com' is already covered" in err.getvalue()
    assert out.getvalue() == f"{tmp_path / 'lists'}: 0 error(s), 1 warning(s); 1 list(s), " \
        "2 entries\n"
    assert lint.run(config, strict=True, out=io.StringIO(), err=io.StringIO()) == EXIT_PROBLEMS


def test_lint_checks_group_names_against_the_configs_groups(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "dnsfence.yaml": "blocklists: lists\ngroups:\n  press-office: [10.1.20.0/24]\n",
        "lists/a.yaml": """
            reference: r
            effective: 2023-03-20
            except_clients: [press-ofice]
            domains: [tiktok.com]
        """,
    })
    run = dnsfence("lint", "--config", "dnsfence.yaml", cwd=tmp_path)
    assert run.status == EXIT_PROBLEMS
    assert "lists/a.yaml:3:18: error: unknown group 'press-ofice' in `except_clients`; " \
        "did you mean 'press-office'?" in run.err
    (tmp_path / "lists/a.yaml").write_text(
        "reference: r\neffective: 2023-03-20\nexcept_clients: [press-office]\n"
        "domains: [tiktok.com]\n")
    assert dnsfence("lint", "--config", "dnsfence.yaml", cwd=tmp_path).status == EXIT_OK
