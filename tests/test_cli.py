"""The real `dnsfence` command, run in a subprocess: output, exit codes, and the shipped list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from resolver.lists.load import load_policy
from resolver.policy.model import Action

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "blocklists"
ADGUARD = Path(__file__).resolve().parent / "data" / "adguardhome-servicelist-tiktok.txt"
REGIONAL = ("tiktokv.us", "tiktokv.eu", "tiktokw.us", "tiktokw.eu", "tiktokv-us.com",
            "tiktokv-eu.com", "tiktok.in", "tiktok.tv", "business-tiktok.com")
JSON_KEYS = {"name", "blocked", "list", "rule", "effective", "expires"}


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


def dnsfence(*args: str, cwd: Path, program: list[str] | None = None) -> Run:
    """`dnsfence ARGS` as an admin would run it, from `cwd`."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([*(program or [sys.executable, "-m", "resolver"]), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=30, check=False)
    return Run(done.returncode, done.stdout, done.stderr)


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


STAGED = """
    name: social
    reference: Board decision 2023-07
    effective: 2023-03-20
    timezone: Europe/Brussels
    domains:
      - tiktok.com
      - domain: later.example
        effective: 2023-04-01
    allow:
      - domain: newsroom.tiktok.com
        expires: 2023-06-01
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A working directory with ./blocklists holding one clean list."""
    return write_tree(tmp_path, {"blocklists/social.yaml": STAGED})


# --- lint ----------------------------------------------------------------------------------

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


def test_a_missing_blocklist_directory_is_an_error(tmp_path: Path) -> None:
    run = dnsfence("lint", cwd=tmp_path)
    assert run.status == 1
    assert "blocklists: error: blocklist directory not found" in run.err


def test_version(site: Path) -> None:
    run = dnsfence("--version", cwd=site)
    assert (run.status, run.out) == (0, "dnsfence 0.1.0\n")


# --- check ---------------------------------------------------------------------------------

def test_check_explains_a_block(site: Path) -> None:
    run = dnsfence("check", "www.tiktok.com", "--at", "2023-03-20T00:00:00+01:00", cwd=site)
    assert (run.status, run.err) == (0, "")
    assert run.out.splitlines() == [
        "www.tiktok.com: BLOCKED by list social, rule tiktok.com",
        "  rule at:   blocklists/social.yaml:6:5",
        "  reference: Board decision 2023-07",
        "  in force:  from 2023-03-20 00:00 CET, no expiry",
    ]


def test_check_shows_an_exception_and_the_block_that_follows_it(site: Path) -> None:
    run = dnsfence("check", "newsroom.tiktok.com", "unrelated.example", "--at", "2023-05-01",
                   cwd=site)
    assert run.status == 0
    assert run.out.splitlines() == [
        "newsroom.tiktok.com: allowed by an exception in list social, rule newsroom.tiktok.com",
        "  rule at:   blocklists/social.yaml:10:13",
        "  reference: Board decision 2023-07",
        "  in force:  from 2023-03-20 00:00 CET, until 2023-06-01 00:00 CEST",
        "  upcoming:  blocked from 2023-06-01 00:00 CEST by list social, rule tiktok.com "
        "(blocklists/social.yaml:6:5)",
        "unrelated.example: allowed (no rule applies)",
    ]


def test_check_shows_an_upcoming_block_for_an_allowed_name(site: Path) -> None:
    run = dnsfence("check", "later.example", "--at", "2023-03-25", cwd=site)
    assert run.out.splitlines() == [
        "later.example: allowed (no rule applies)",
        "  upcoming:  blocked from 2023-04-01 00:00 CEST by list social, rule later.example "
        "(blocklists/social.yaml:7:13)",
    ]
    (line,) = dnsfence("check", "later.example", "--at", "2023-03-25", "--json",
                       cwd=site).json_lines()
    assert line["blocked"] is False and line["rule"] is None
    assert line["upcoming"]["instant"] == "2023-04-01T00:00:00+02:00"
    assert line["upcoming"]["rule"] == "later.example"


def test_check_json_is_one_object_per_name_in_input_order(site: Path) -> None:
    names = ["WWW.TikTok.COM.", "Bücher.example", "newsroom.tiktok.com", "later.example"]
    run = dnsfence("check", *names, "--at", "2023-05-01T12:00:00+02:00", "--json", cwd=site)
    assert (run.status, run.err) == (0, "")
    lines = run.json_lines()
    assert [line["name"] for line in lines] == ["www.tiktok.com", "xn--bcher-kva.example",
                                                "newsroom.tiktok.com", "later.example"]
    assert all(line.keys() >= JSON_KEYS for line in lines)
    www, books, newsroom, later = lines
    assert {k: www[k] for k in JSON_KEYS} == {
        "name": "www.tiktok.com", "blocked": True, "list": "social", "rule": "tiktok.com",
        "effective": "2023-03-20T00:00:00+01:00", "expires": None}
    assert {k: books[k] for k in JSON_KEYS} == {
        "name": "xn--bcher-kva.example", "blocked": False, "list": None, "rule": None,
        "effective": None, "expires": None}
    assert newsroom["blocked"] is False and newsroom["rule"] == "newsroom.tiktok.com"
    assert newsroom["expires"] == "2023-06-01T00:00:00+02:00"
    assert later["effective"] == "2023-04-01T00:00:00+02:00" and later["blocked"] is True
    for line in lines:
        for key in ("effective", "expires"):
            if line[key] is not None:
                assert datetime.fromisoformat(line[key]).utcoffset() is not None


def test_check_a_unicode_name_against_a_unicode_entry(tmp_path: Path) -> None:
    write_tree(tmp_path, {"blocklists/books.yaml": """
        reference: r
        effective: 2023-03-20
        domains: [bücher.example]
    """})
    run = dnsfence("check", "bücher.example", "WWW.BÜCHER.EXAMPLE.", "--at", "2023-03-20",
                   cwd=tmp_path)
    assert run.out.splitlines()[0] == \
        "xn--bcher-kva.example: BLOCKED by list books, rule xn--bcher-kva.example"
    assert "www.xn--bcher-kva.example: BLOCKED by list books, rule xn--bcher-kva.example" \
        in run.out


def test_check_an_invalid_name_exits_1_and_still_answers_the_others(site: Path) -> None:
    run = dnsfence("check", "tiktok.com", "https://tiktok.com/", "--at", "2023-04-01", "--json",
                   cwd=site)
    assert run.status == 1
    ok, bad = run.json_lines()
    assert ok["blocked"] is True
    assert bad["name"] == "https://tiktok.com/" and "did you mean tiktok.com?" in bad["error"]
    assert bad.keys() >= JSON_KEYS


def test_at_without_offset_is_in_the_configured_time_zone(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "lists/utc.yaml": "reference: r\neffective: 2023-03-20\ntimezone: UTC\n"
                          "domains: [tiktok.com]\n",
        "newyork.yaml": "blocklists: lists\ntimezone: America/New_York\n",
    })

    def blocked(*args: str) -> bool:
        (line,) = dnsfence("check", "tiktok.com", "--json", *args, cwd=tmp_path).json_lines()
        return bool(line["blocked"])

    # 21:00 in New York on the 19th is 01:00 UTC on the 20th
    assert blocked("--config", "newyork.yaml", "--at", "2023-03-19T21:00")
    assert not blocked("--config", "newyork.yaml", "--at", "2023-03-19T21:00+00:00")
    assert not blocked("--blocklists", "lists", "--at", "2023-03-19T21:00")  # default UTC
    assert blocked("--config", "newyork.yaml", "--at", "2023-03-19T20:00:00-04:00")
    assert not blocked("--config", "newyork.yaml", "--at", "2023-03-19T19:59:59.999999-04:00")


def test_check_refuses_a_policy_with_errors(tmp_path: Path) -> None:
    write_tree(tmp_path, {"blocklists/a.yaml": "effective: 2023-03-20\ndomains: [a..b]\n"})
    run = dnsfence("check", "a.example", cwd=tmp_path)
    assert run.status == 1
    assert run.out == ""
    assert "blocklists/a.yaml:2:11: error: 'a..b' has an empty label" in run.err
    assert "see `dnsfence lint`" in run.err


# --- schedule ------------------------------------------------------------------------------

def test_schedule_text(site: Path) -> None:
    run = dnsfence("schedule", cwd=site)
    assert (run.status, run.err) == (0, "")
    assert run.out.splitlines() == [
        "2023-03-20 00:00 CET   (2023-03-19 23:00 UTC)  social: blocking starts "
        "(1 name, 1 exception)",
        "2023-04-01 00:00 CEST  (2023-03-31 22:00 UTC)  social: block later.example starts "
        "(blocklists/social.yaml:7:13)",
        "2023-06-01 00:00 CEST  (2023-05-31 22:00 UTC)  social: exception newsroom.tiktok.com "
        "ends (blocklists/social.yaml:10:13)",
    ]


def test_schedule_json(site: Path) -> None:
    lines = dnsfence("schedule", "--json", cwd=site).json_lines()
    assert [{k: line[k] for k in ("instant", "utc", "list", "rule", "change", "names")}
            for line in lines] == [
        {"instant": "2023-03-20T00:00:00+01:00", "utc": "2023-03-19T23:00:00+00:00",
         "list": "social", "rule": None, "change": "starts", "names": 2},
        {"instant": "2023-04-01T00:00:00+02:00", "utc": "2023-03-31T22:00:00+00:00",
         "list": "social", "rule": "later.example", "change": "starts", "names": 1},
        {"instant": "2023-06-01T00:00:00+02:00", "utc": "2023-05-31T22:00:00+00:00",
         "list": "social", "rule": "newsroom.tiktok.com", "change": "ends", "names": 1},
    ]


def test_schedule_from_is_inclusive_and_until_exclusive(site: Path) -> None:
    def rules(*args: str) -> list[str | None]:
        return [line["rule"] for line in dnsfence("schedule", "--json", *args,
                                                  cwd=site).json_lines()]

    assert rules("--from", "2023-03-31T22:00:00Z") == ["later.example", "newsroom.tiktok.com"]
    assert rules("--from", "2023-03-31T22:00:01Z") == ["newsroom.tiktok.com"]
    assert rules("--until", "2023-05-31T22:00:00Z") == [None, "later.example"]
    assert rules("--from", "2023-03-21", "--until", "2023-06-02") == ["later.example",
                                                                       "newsroom.tiktok.com"]
    run = dnsfence("schedule", "--from", "2030-01-01", cwd=site)
    assert (run.status, run.out) == (0, "no transitions in that period\n")


# --- config --------------------------------------------------------------------------------

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


# --- the shipped blocklists ----------------------------------------------------------------

def adguard_rules() -> list[str]:
    """`||name^` lines of AdGuard Home's "tiktok" service, as dnsfence patterns."""
    rules = []
    for line in ADGUARD.read_text(encoding="utf-8").splitlines():
        assert line.startswith("||") and line.endswith("^"), line
        rules.append(line[2:-1])
    return rules


def example_of(pattern: str) -> str:
    """A concrete name a pattern blocks (globs filled in)."""
    return pattern.replace("*", "x16")


def test_the_shipped_list_carries_adguards_rules_plus_the_regional_domains() -> None:
    result = load_policy(SHIPPED, "UTC")
    assert result.policy is not None and result.problems == ()
    (tiktok,) = result.policy.lists
    blocked = [r.pattern for r in tiktok.rules if r.action is Action.BLOCK]
    assert len(adguard_rules()) == 33
    assert sorted(blocked) == sorted([*adguard_rules(), *REGIONAL])
    assert len(blocked) == len(set(blocked)) == 42
    assert [r for r in tiktok.rules if r.action is Action.ALLOW] == []
    assert all(not r.own_dates for r in tiktok.rules)
    assert tiktok.window.expires is None and tiktok.timezone == "Europe/Brussels"


def test_every_shipped_entry_names_its_source() -> None:
    entries = [line for line in (SHIPPED / "tiktok.yaml").read_text().splitlines()
               if line.lstrip().startswith("- ")]
    assert len(entries) == 42
    assert [e for e in entries if "#" not in e or not e.split("#", 1)[1].strip()] == []


def test_the_shipped_blocklists_lint_clean_with_strict() -> None:
    run = dnsfence("lint", "--strict", cwd=REPO)
    assert (run.status, run.err) == (0, "")
    assert run.out == "blocklists: 0 error(s), 0 warning(s); 1 list(s), 42 entries\n"


def test_the_shipped_list_starts_at_midnight_in_brussels_not_a_second_earlier() -> None:
    names = [example_of(p) for p in [*adguard_rules(), *REGIONAL]]
    names += ["www." + name for name in names]
    before = dnsfence("check", *names, "--json", "--at", "2023-03-19T23:59:59+01:00", cwd=REPO)
    after = dnsfence("check", *names, "--json", "--at", "2023-03-20T00:00:00+01:00", cwd=REPO)
    assert before.status == after.status == 0
    assert [line["name"] for line in before.json_lines()] == names
    assert [line["name"] for line in before.json_lines() if line["blocked"]] == []
    assert [line["name"] for line in after.json_lines() if not line["blocked"]] == []
    assert {line["upcoming"]["instant"] for line in before.json_lines()} == \
        {"2023-03-20T00:00:00+01:00"}
    assert {line["effective"] for line in after.json_lines()} == {"2023-03-20T00:00:00+01:00"}


def test_the_shipped_list_explained() -> None:
    run = dnsfence("check", "tiktok.com", "--at", "2023-03-19T23:59:59+01:00", cwd=REPO)
    assert run.out.startswith("tiktok.com: allowed (no rule applies)\n"
                              "  upcoming:  blocked from 2023-03-20 00:00 CET by list tiktok")
    run = dnsfence("check", "tiktok.com", "--at", "2023-03-20T00:00:00+01:00", cwd=REPO)
    assert run.out.startswith("tiktok.com: BLOCKED by list tiktok, rule tiktok.com\n")
    assert "European Parliament" in run.out
    assert "in force:  from 2023-03-20 00:00 CET, no expiry" in run.out
    for name in ("nottiktok.com", "tiktokcdn-eu.com", "ibyteimg.com"):
        run = dnsfence("check", name, "--at", "2024-01-01", cwd=REPO)
        assert run.out == f"{name}: allowed (no rule applies)\n"


def test_without_at_the_answer_is_for_now() -> None:
    (line,) = dnsfence("check", "tiktok.com", "--json", cwd=REPO).json_lines()
    assert line["blocked"] is True  # the ban has no expiry and began in 2023
    moment = datetime.fromisoformat(line["at"])
    assert moment.utcoffset() is not None and moment.year >= 2023


def test_the_shipped_schedule() -> None:
    run = dnsfence("schedule", cwd=REPO)
    assert run.status == 0
    assert run.out == ("2023-03-20 00:00 CET   (2023-03-19 23:00 UTC)  "
                       "tiktok: blocking starts (42 names)\n")
    assert "tiktok: blocking starts" in run.out and "2023-03-20 00:00 CET" in run.out


def test_the_installed_entry_point() -> None:
    program = Path(sys.executable).parent / "dnsfence"
    if not program.exists():
        pytest.skip("the dnsfence entry point is not installed next to this Python")
    run = dnsfence("lint", "--strict", cwd=REPO, program=[str(program)])
    assert (run.status, run.err) == (0, "")
    assert "1 list(s), 42 entries" in run.out
