"""The shipped blocklist: AdGuard's tiktok rules plus regional domains, from Brussels midnight."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from resolver.lists.load import load_policy
from resolver.policy.model import Action
from tests.commands.cli_runner import REPO, dnsfence

SHIPPED = REPO / "blocklists"
ADGUARD = Path(__file__).resolve().parent / "data" / "adguardhome-servicelist-tiktok.txt"
REGIONAL = ("tiktokv.us", "tiktokv.eu", "tiktokw.us", "tiktokw.eu", "tiktokv-us.com",
            "tiktokv-eu.com", "tiktok.in", "tiktok.tv", "business-tiktok.com")


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
    assert [b.name for b in result.policy.lists] == ["encrypted-dns-bypass", "tiktok"]
    tiktok = result.policy.list_named("tiktok")
    assert tiktok is not None
    blocked = [r.pattern for r in tiktok.rules if r.action is Action.BLOCK]
    assert len(adguard_rules()) == 33
    assert sorted(blocked) == sorted([*adguard_rules(), *REGIONAL])
    assert len(blocked) == len(set(blocked)) == 42
    assert [r for r in tiktok.rules if r.action is Action.ALLOW] == []
    assert all(not r.own_dates for r in tiktok.rules)
    assert tiktok.window.expires is None and tiktok.timezone == "Europe/Brussels"


@pytest.mark.parametrize(("file", "count"), [("tiktok.yaml", 42),
                                             ("encrypted-dns-bypass.yaml", 25)])
def test_every_shipped_entry_names_its_source(file: str, count: int) -> None:
    entries = [line for line in (SHIPPED / file).read_text().splitlines()
               if line.lstrip().startswith("- ")]
    assert len(entries) == count
    assert [e for e in entries if "#" not in e or not e.split("#", 1)[1].strip()] == []


def test_the_shipped_blocklists_lint_clean_with_strict() -> None:
    run = dnsfence("lint", "--strict", cwd=REPO)
    assert (run.status, run.err) == (0, "")
    assert run.out == "blocklists: 0 error(s), 0 warning(s); 2 list(s), 67 entries\n"


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
    assert run.out == ("2000-01-01 00:00 CET   (1999-12-31 23:00 UTC)  "
                       "encrypted-dns-bypass: blocking starts (25 names)\n"
                       "2023-03-20 00:00 CET   (2023-03-19 23:00 UTC)  "
                       "tiktok: blocking starts (42 names)\n")
    assert "tiktok: blocking starts" in run.out and "2023-03-20 00:00 CET" in run.out


BYPASS_SIGNALS = ("use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com")


def test_the_bypass_signals_and_doh_endpoints_are_blocked_from_installation() -> None:
    names = [*BYPASS_SIGNALS, "dns.google", "mozilla.cloudflare-dns.com",
             "chrome.cloudflare-dns.com", "dns.quad9.net", "adblock.dns.mullvad.net"]
    run = dnsfence("check", *names, "--json", "--at", "2001-01-01", cwd=REPO)
    assert run.status == 0
    decided = {line["name"]: line for line in run.json_lines()}
    assert [name for name in names if not decided[name]["blocked"]] == []
    assert {decided[name]["list"] for name in names} == {"encrypted-dns-bypass"}
    # what must keep working: the vendors' own services beside the signals
    run = dnsfence("check", "icloud.com", "www.icloud.com", "google.com", "quad9.net",
                   "--json", cwd=REPO)
    assert [line["name"] for line in run.json_lines() if line["blocked"]] == []
