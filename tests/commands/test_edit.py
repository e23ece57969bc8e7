"""`dnsfence block|allow add|remove` and `dnsfence list new`, run as an admin runs them."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from resolver.commands.edit import relative
from tests.commands.edit_runner import (
    dnsfence,
    in_process,
    lint,
    new_lines,
    shipped_site,
    tiktok,
)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return shipped_site(tmp_path)


AGO = r"\(\d+ years? ago\)"


# --- block add / remove ------------------------------------------------------------------------

def test_block_add_appends_the_normalised_names_and_says_when_they_apply(site: Path) -> None:
    before = tiktok(site)
    run = dnsfence("block", "add", "TikTok.NET.", "Bücher.Example", "--list", "tiktok",
                   "--reference", "ticket 4711", cwd=site)
    assert (run.status, run.err) == (0, "")
    assert re.fullmatch(
        rf"tiktok: \+tiktok\.net, blocking from 2023-03-20 00:00 CET {AGO}\n"
        rf"tiktok: \+xn--bcher-kva\.example, blocking from 2023-03-20 00:00 CET {AGO}\n",
        run.out)
    assert new_lines(before, tiktok(site)) == [
        "  - tiktok.net" + " " * 33 + "# ticket 4711",
        "  - xn--bcher-kva.example" + " " * 22 + "# ticket 4711"]
    assert lint(site).status == 0


def test_block_add_with_dates_writes_a_mapping_and_says_when(site: Path) -> None:
    before = tiktok(site)
    run = dnsfence("block", "add", "later.example", "--list", "tiktok",
                   "--effective", "2999-01-01", "--expires", "2999-06-01T08:00", cwd=site)
    assert run.status == 0, run.err
    assert re.fullmatch(r"tiktok: \+later\.example, blocking from 2999-01-01 00:00 CET "
                        r"\(in \d+ years\) until 2999-06-01 08:00 CEST \(in \d+ years\)\n",
                        run.out)
    assert new_lines(before, tiktok(site)) == ["  - domain: later.example",
                                               "    effective: 2999-01-01",
                                               "    expires: 2999-06-01T08:00"]


def test_adding_a_name_already_there_changes_nothing(site: Path) -> None:
    before = tiktok(site)
    run = dnsfence("block", "add", "TIKTOK.COM", "--list", "tiktok", cwd=site)
    assert (run.status, run.err) == (0, "")
    assert run.out == ("tiktok: tiktok.com is already blocked by this list "
                       "(blocklists/tiktok.yaml:41); nothing to do\n")
    assert tiktok(site) == before


def test_adding_a_name_already_there_with_other_dates_is_refused(site: Path) -> None:
    before = tiktok(site)
    run = dnsfence("block", "add", "tiktok.com", "--list", "tiktok", "--expires", "2030-01-01",
                   cwd=site)
    assert run.status == 1
    assert "already in `domains:` of list tiktok (blocklists/tiktok.yaml:41) with other " \
           "dates; remove it first" in run.err
    assert tiktok(site) == before


def test_block_remove_deletes_the_line_and_says_what_is_still_blocked(site: Path) -> None:
    run = dnsfence("block", "add", "www.tiktok.com", "--list", "tiktok", cwd=site)
    assert run.status == 0
    assert "'www.tiktok.com' is already covered by 'tiktok.com'" in run.err  # lint's warning
    before = tiktok(site)
    run = dnsfence("block", "remove", "www.tiktok.com", "tiktok.com", "--list", "tiktok",
                   cwd=site)
    assert (run.status, run.err) == (0, "")
    assert run.out == ("tiktok: -www.tiktok.com (no longer blocked)\n"
                       "tiktok: -tiktok.com (no longer blocked)\n")
    after = tiktok(site).decode()
    gone = [x for x in before.decode().splitlines() if x not in after.splitlines()]
    assert [x.split("#")[0].strip() for x in gone] == ["- tiktok.com", "- www.tiktok.com"]
    assert lint(site).status == 0


def test_removing_a_name_not_there_is_an_error_and_changes_nothing(site: Path) -> None:
    before = tiktok(site)
    run = dnsfence("block", "remove", "tiktok.com", "nothere.example", "--list", "tiktok",
                   cwd=site)
    assert run.status == 1
    assert run.err == ("dnsfence: nothere.example is not in `domains:` of list tiktok "
                       "(blocklists/tiktok.yaml)\ndnsfence: nothing was changed\n")
    assert tiktok(site) == before


# --- allow -------------------------------------------------------------------------------------

def test_allow_add_and_remove(site: Path) -> None:
    before = tiktok(site)
    run = dnsfence("allow", "add", "newsroom.tiktok.com", "--list", "tiktok",
                   "--expires", "2999-01-01", cwd=site)
    assert run.status == 0, run.err
    assert re.fullmatch(rf"tiktok: \+newsroom\.tiktok\.com, exception from 2023-03-20 00:00 CET "
                        rf"{AGO} until 2999-01-01 00:00 CET \(in \d+ years\)\n", run.out)
    assert new_lines(before, tiktok(site)) == ["allow:", "  - domain: newsroom.tiktok.com",
                                               "    expires: 2999-01-01"]
    run = dnsfence("block", "remove", "newsroom.tiktok.com", "--list", "tiktok", cwd=site)
    assert run.status == 1
    assert "(it is in `allow:`: dnsfence allow remove newsroom.tiktok.com --list tiktok)" \
        in run.err
    run = dnsfence("allow", "remove", "newsroom.tiktok.com", "--list", "tiktok", cwd=site)
    assert run.out == ("tiktok: -newsroom.tiktok.com (exception removed; blocked by list "
                       "tiktok, rule tiktok.com)\n")
    assert tiktok(site) == before + b"allow:\n"
    assert lint(site).status == 0


# --- refusals: nothing changes -----------------------------------------------------------------

@pytest.mark.parametrize(("args", "said"), [
    (["block", "add", "https://tiktok.net/x", "tiktok..net", "192.0.2.1", "--list", "tiktok"],
     ["cannot use 'https://tiktok.net/x': 'https://tiktok.net/x' looks like a URL; did you "
      "mean tiktok.net?", "cannot use 'tiktok..net': 'tiktok..net' has an empty label",
      "cannot use '192.0.2.1': '192.0.2.1' is an IP address"]),
    (["block", "add", "ok.example", "--list", "tiktok", "--effective", "2023-02-30"],
     ["--effective: cannot read '2023-02-30' as a date or time"]),
    (["allow", "add", "ok.example", "--list", "tiktok", "--effective", "2024-01-01",
      "--expires", "2023-01-01"], ["--expires must be after --effective"]),
    (["block", "add", "ok.example", "--list", "tiktk"],
     ["no list named 'tiktk' in blocklists; did you mean tiktok? (lists: tiktok; a new one: "
      "dnsfence list new tiktk --effective WHEN --reference TEXT)"]),
    (["list", "new", "video", "--effective", "2023-03-20", "--reference", "r",
      "--timezone", "Europe/Bruxelles"],
     ["--timezone: unknown time zone 'Europe/Bruxelles'; did you mean Europe/Brussels?"]),
    (["list", "new", "tiktok", "--effective", "2023-03-20", "--reference", "r"],
     ["a list named 'tiktok' already exists (blocklists/tiktok.yaml:8:7)"]),
    (["list", "new", "video", "--effective", "20 March", "--reference", "r"],
     ["--effective: cannot read '20 March'"]),
    (["list", "new", "../video", "--effective", "2023-03-20", "--reference", "r"],
     ["'../video' cannot be a list name"]),
])
def test_invalid_input_is_refused_with_the_reason_and_exit_1(site: Path, args: list[str],
                                                             said: list[str]) -> None:
    before = sorted((p.name, p.read_bytes()) for p in (site / "blocklists").iterdir())
    run = in_process(site, *args)
    assert (run.status, run.out) == (1, "")
    for text in said:
        assert f"dnsfence: {text}" in run.err
    assert sorted((p.name, p.read_bytes()) for p in (site / "blocklists").iterdir()) == before


def test_the_real_command_refuses_bad_names_and_bad_usage(site: Path) -> None:
    before = tiktok(site)
    run = dnsfence("block", "add", "tiktok..net", "ok.example", "--list", "tiktok", cwd=site)
    assert (run.status, run.out) == (1, "")
    assert run.err == ("dnsfence: cannot use 'tiktok..net': 'tiktok..net' has an empty label "
                       "(two dots in a row, or a leading dot)\ndnsfence: nothing was changed\n")
    run = dnsfence("block", "add", "ok.example", cwd=site)
    assert run.status == 2
    assert "the following arguments are required: --list" in run.err
    assert tiktok(site) == before


def test_nothing_is_edited_while_another_file_has_errors(site: Path) -> None:
    (site / "blocklists" / "broken.yaml").write_text("effective: someday\n", encoding="utf-8")
    before = tiktok(site)
    run = dnsfence("block", "add", "x.example", "--list", "tiktok", cwd=site)
    assert run.status == 1
    assert "blocklists/broken.yaml:1:12: error: `effective`: cannot read 'someday'" in run.err
    assert "dnsfence: 1 error(s) in blocklists; fix them first" in run.err
    assert tiktok(site) == before


# --- list new ----------------------------------------------------------------------------------

def test_list_new_creates_a_file_that_lints_clean_once_it_has_entries(site: Path) -> None:
    run = dnsfence("list", "new", "video", "--effective", "2999-03-20", "--reference",
                   "Board decision 2023-07", "--timezone", "Europe/Brussels",
                   "--description", "Video sites", cwd=site)
    assert run.status == 0, run.err
    assert re.fullmatch(r"video: created blocklists/video\.yaml, in force from 2999-03-20 00:00 "
                        r"CET \(in \d+ years\); add names with: dnsfence block add NAME\.\.\. "
                        r"--list video\n", run.out)
    assert run.err == ("blocklists/video.yaml:1: warning: list 'video' has no entries; "
                       "it blocks nothing\n")
    assert (site / "blocklists" / "video.yaml").read_text() == textwrap.dedent("""\
        name: video
        description: Video sites
        reference: Board decision 2023-07
        effective: 2999-03-20
        timezone: Europe/Brussels
        domains:
        """)
    assert lint(site).status == 1  # only for the warning above: --strict
    assert lint(site).err == run.err
    run = dnsfence("block", "add", "youtube.com", "--list", "video", cwd=site)
    assert run.status == 0, run.err
    assert (site / "blocklists" / "video.yaml").read_text().endswith(
        "domains:\n  - youtube.com\n")
    assert lint(site).status == 0
    again = dnsfence("list", "new", "video", "--effective", "2023-03-20", "--reference", "r",
                     cwd=site)
    assert again.status == 1 and "already exists" in again.err


def test_list_new_with_a_warning_period(site: Path) -> None:
    run = dnsfence("list", "new", "social", "--observe-from", "2999-03-06", "--effective",
                   "2999-03-20", "--reference", "r", "--timezone", "UTC", cwd=site)
    assert run.status == 0, run.err
    assert (site / "blocklists" / "social.yaml").read_text() == (
        "name: social\nreference: r\nobserve_from: 2999-03-06\neffective: 2999-03-20\n"
        "timezone: UTC\ndomains:\n")
    late = dnsfence("list", "new", "late", "--observe-from", "2999-03-21", "--effective",
                    "2999-03-20", "--reference", "r", "--timezone", "UTC", cwd=site)
    assert late.status == 1 and "observe_from" in late.err
    assert not (site / "blocklists" / "late.yaml").exists()


def test_list_new_refuses_a_name_another_file_uses(site: Path) -> None:
    (site / "blocklists" / "other.yaml").write_text(
        "name: video\nreference: r\neffective: 2023-03-20\ndomains: [a.example]\n")
    run = dnsfence("list", "new", "video", "--effective", "2023-03-20", "--reference", "r",
                   cwd=site)
    assert run.status == 1
    assert "a list named 'video' already exists (blocklists/other.yaml:1:7)" in run.err
    assert not (site / "blocklists" / "video.yaml").exists()


def test_config_gives_the_directory_and_the_default_time_zone(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    (etc / "lists").mkdir(parents=True)
    (etc / "dnsfence.yaml").write_text("blocklists: lists\ntimezone: America/New_York\n")
    run = dnsfence("list", "new", "shop", "--effective", "2023-06-01T08:00", "--expires",
                   "2024-01-01", "--reference", "Procurement rule 12", "--config",
                   str(etc / "dnsfence.yaml"), cwd=tmp_path)
    assert run.status == 0, run.err
    assert re.search(r"in force from 2023-06-01 08:00 EDT \(\d+ years? ago\) until "
                     r"2024-01-01 00:00 EST \(\d+ years? ago\)", run.out)
    assert "timezone: America/New_York\n" in (etc / "lists" / "shop.yaml").read_text()
    run = dnsfence("block", "add", "shop.example", "--list", "shop", "--blocklists",
                   str(etc / "lists"), cwd=tmp_path)
    assert run.status == 0, run.err


# --- atomic writes -----------------------------------------------------------------------------

def test_relative_times() -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert relative(datetime(2023, 3, 19, 23, tzinfo=UTC), now) == "3 years ago"
    assert relative(datetime(2026, 12, 1, 12, tzinfo=UTC), now) == "in 3 days"
    assert relative(datetime(2026, 11, 28, 13, tzinfo=UTC), now) == "in 1 hour"
    assert relative(now, now) == "now"


def test_a_list_is_found_by_its_name_not_its_file_name(site: Path) -> None:
    other = site / "blocklists" / "other.yaml"
    other.write_text("name: video  # not other\nreference: r\neffective: 2023-03-20\n"
                     "domains: [a.example]\n")
    run = in_process(site, "block", "add", "b.example", "--list", "video",
                     "--effective", " 2023-04-01 ")
    assert run.status == 0, run.err
    assert run.out.startswith("video: +b.example, blocking from 2023-04-01 00:00 UTC")
    assert other.read_text().endswith(
        "domains: [a.example, {domain: b.example, effective: 2023-04-01}]\n")
    run = in_process(site, "block", "add", "b.example", "--list", "other")
    assert run.status == 1
    assert "no list named 'other' in blocklists (lists: tiktok, video;" in run.err


