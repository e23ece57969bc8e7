"""`dnsfence check`: why a name is blocked or allowed, as text and JSON."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from resolver.commands import check
from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.commands.loaded_policy import policy_or_fail
from resolver.config.load import defaults
from tests.commands.cli_runner import dnsfence, write_tree

JSON_KEYS = {"name", "blocked", "list", "rule", "effective", "expires"}


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



def test_check_refuses_a_policy_with_errors(tmp_path: Path) -> None:
    write_tree(tmp_path, {"blocklists/a.yaml": "effective: 2023-03-20\ndomains: [a..b]\n"})
    run = dnsfence("check", "a.example", cwd=tmp_path)
    assert run.status == 1
    assert run.out == ""
    assert "blocklists/a.yaml:2:11: error: 'a..b' has an empty label" in run.err
    assert "see `dnsfence lint`" in run.err


def test_run_in_process_answers_each_name_and_fails_for_an_invalid_one(site: Path) -> None:
    policy, _ = policy_or_fail(defaults().with_overrides(blocklists=site / "blocklists"))
    at = datetime(2023, 4, 2, tzinfo=UTC)
    out = io.StringIO()
    assert check.run(policy, ["tiktok.com", "later.example"], at, as_json=True,
                     out=out) == EXIT_OK
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["name"], line["blocked"]) for line in lines] == [
        ("tiktok.com", True), ("later.example", True)]
    out = io.StringIO()
    assert check.run(policy, ["a..b", "tiktok.com"], at, as_json=False, out=out) == EXIT_PROBLEMS
    assert out.getvalue().splitlines()[-4] == "tiktok.com: BLOCKED by list social, rule tiktok.com"


def test_check_honours_weekly_windows(tmp_path: Path) -> None:
    write_tree(tmp_path, {"blocklists/office.yaml": """
        name: office
        reference: r
        effective: 2026-03-01
        timezone: Europe/Brussels
        schedule: {mon-fri: "09:00-17:30", sun: "01:30-03:30"}
        domains:
          - tiktok.com
        """})
    inside = dnsfence("check", "tiktok.com", "--at", "2026-03-30T09:00:00+02:00", cwd=tmp_path)
    assert inside.out.splitlines() == [
        "tiktok.com: BLOCKED by list office, rule tiktok.com",
        "  rule at:   blocklists/office.yaml:7:5",
        "  reference: r",
        "  in force:  from 2026-03-01 00:00 CET, no expiry",
        "  schedule:  mon-fri 09:00-17:30; sun 01:30-03:30 (Europe/Brussels)",
    ]
    before = dnsfence("check", "tiktok.com", "--at", "2026-03-30T08:59:59+02:00", "--json",
                      cwd=tmp_path).json_lines()[0]
    assert before["blocked"] is False
    assert before["upcoming"]["instant"] == "2026-03-30T09:00:00+02:00"
    assert before["upcoming"]["schedule"] == "mon-fri 09:00-17:30; sun 01:30-03:30"
    # the spring-forward night: 03:29 CEST is inside, 03:30 CEST is not
    night = [dnsfence("check", "tiktok.com", "--at", at, "--json",
                      cwd=tmp_path).json_lines()[0]["blocked"]
             for at in ("2026-03-29T00:29:59Z", "2026-03-29T00:30:00Z",
                        "2026-03-29T01:29:59Z", "2026-03-29T01:30:00Z")]
    assert night == [False, True, True, False]


GROUPED_SITE = {
    "dnsfence.yaml": """
        blocklists: lists
        timezone: Europe/Brussels
        groups:
          press-office: [10.1.20.0/24]
          guests: [10.9.0.0/16, "fd00:9::/48"]
    """,
    "lists/tiktok.yaml": """
        name: tiktok
        reference: EP decision
        effective: 2023-03-20
        except_clients: [press-office]
        domains:
          - tiktok.com
    """,
    "lists/guests.yaml": """
        name: guest-ban
        reference: guest policy
        effective: 2023-03-20
        clients: [guests]
        domains:
          - streaming.example
    """,
}


def test_check_client_explains_for_the_clients_groups(tmp_path: Path) -> None:
    site = write_tree(tmp_path, GROUPED_SITE)
    at = ("--at", "2024-01-01", "--config", "dnsfence.yaml")
    press = dnsfence("check", "www.tiktok.com", "--client", "10.1.20.5", *at, cwd=site)
    assert (press.status, press.err) == (0, "")
    assert press.out.splitlines() == [
        "www.tiktok.com: allowed for client 10.1.20.5 (groups: press-office) "
        "(no rule applies)",
        "  not here:  list tiktok (lists/tiktok.yaml:6:5) is not for this client "
        "(everyone except press-office)",
    ]
    guest = dnsfence("check", "streaming.example", "--client", "fd00:9::7", *at, cwd=site)
    assert guest.out.splitlines() == [
        "streaming.example: BLOCKED for client fd00:9::7 (groups: guests) by list "
        "guest-ban, rule streaming.example",
        "  rule at:   lists/guests.yaml:6:5",
        "  reference: guest policy",
        "  in force:  from 2023-03-20 00:00 CET, no expiry",
        "  clients:   only guests; here through group guests",
    ]
    nobody = dnsfence("check", "streaming.example", *at, cwd=site)
    assert nobody.out.splitlines() == [
        "streaming.example: allowed (no rule applies)",
        "  not here:  list guest-ban (lists/guests.yaml:6:5) is not for this client "
        "(only guests)",
        "  note:      some lists here apply only to some client groups; shown for a client "
        "in no group (see --client IP)",
    ]
    stranger = dnsfence("check", "tiktok.com", "--client", "192.0.2.1", "--json", *at,
                        cwd=site)
    (line,) = stranger.json_lines()
    assert {k: line[k] for k in ("client", "groups", "refused", "blocked", "list", "group",
                                 "clients", "depends_on_client")} == {
        "client": "192.0.2.1", "groups": [], "refused": True, "blocked": True,
        "list": "tiktok", "group": None, "clients": "everyone except press-office",
        "depends_on_client": True}
    guest_json = dnsfence("check", "streaming.example", "--client", "10.9.1.1", "--json", *at,
                          cwd=site).json_lines()[0]
    assert (guest_json["group"], guest_json["groups"]) == ("guests", ["guests"])


def test_check_client_must_be_an_address(tmp_path: Path) -> None:
    site = write_tree(tmp_path, GROUPED_SITE)
    run = dnsfence("check", "tiktok.com", "--client", "press", "--config", "dnsfence.yaml",
                   cwd=site)
    assert run.status == 2 and run.out == ""
    assert "--client: 'press' is not an IP address" in run.err
