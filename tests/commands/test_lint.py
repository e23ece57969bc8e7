"""`dnsfence lint`: the summary line, problems with file:line, and exit codes."""

from __future__ import annotations

import io
from pathlib import Path

from resolver.commands import lint
from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.config.load import defaults
from resolver.config.local import parse_records
from resolver.lists.load import load_policy
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


def test_lint_warns_of_a_list_blocking_a_local_record_naming_both_lines(tmp_path: Path
                                                                        ) -> None:
    write_tree(tmp_path, {
        "blocklists/social.yaml": """
            reference: r
            effective: 2023-03-20
            domains:
              - tiktok.com
              - corp.example.eu
        """,
        "blocklists/later.yaml": """
            reference: r
            effective: 2031-01-01
            sources:
              - path: names.txt
        """,
        "blocklists/names.txt": "printer.corp.example.eu\n",
        "dnsfence.yaml": """
            local:
              records:
                www.example.org: 10.0.0.1
                intranet.corp.example.eu: 10.0.0.80
                printer.corp.example.eu:
                  A: 10.0.0.90
        """,
    })
    run = dnsfence("lint", "--config", "dnsfence.yaml", cwd=tmp_path)
    assert run.status == 0, run.err
    assert sorted(run.err.splitlines()) == [
        "blocklists/later.yaml:4:5: warning: list later (from blocklists/names.txt) blocks "
        "printer.corp.example.eu, which has local records (dnsfence.yaml:6:10); the block "
        "wins: clients get NXDOMAIN while it is in force",
        "blocklists/social.yaml:5:5: warning: list social blocks intranet.corp.example.eu, "
        "which has local records (dnsfence.yaml:4:31); the block wins: clients get "
        "NXDOMAIN while it is in force",
        "blocklists/social.yaml:5:5: warning: list social blocks printer.corp.example.eu, "
        "which has local records (dnsfence.yaml:6:10); the block wins: clients get "
        "NXDOMAIN while it is in force",
    ]
    assert "0 error(s), 3 warning(s)" in run.out
    assert dnsfence("lint", "--strict", "--config", "dnsfence.yaml", cwd=tmp_path).status == 1
    # without local records, nothing to say
    clean = dnsfence("lint", cwd=tmp_path)
    assert (clean.status, clean.err) == (0, "")


def test_blocked_local_records_skips_allowed_and_unrelated_names(tmp_path: Path) -> None:
    write_tree(tmp_path, {"blocklists/a.yaml": """
        reference: r
        effective: 2023-03-20
        domains:
          - corp.example.eu
          - domain: old.example.org
            expires: 2023-06-01
        allow: [intranet.corp.example.eu]
    """})
    config = defaults().with_overrides(blocklists=tmp_path / "blocklists")
    policy = load_policy(config.blocklists).policy
    assert policy is not None and policy.index is not None
    records = parse_records({"intranet.corp.example.eu": "10.0.0.80",
                             "www.example.org": "10.0.0.1",
                             "old.example.org": "10.0.0.2",
                             "wiki.corp.example.eu": {"CNAME": "intranet.corp.example.eu"}})
    found = lint.blocked_local_records(records, policy.index)
    # the allow entry overrides the block, an expired entry blocks no more; the block of
    # corp.example.eu covers wiki
    assert [(p.severity, p.location.line) for p in found] == [("warning", 4)]
    assert "blocks wiki.corp.example.eu" in found[0].message
