"""One list file -> a BlockList: its keys, its entries, every error class at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.lists.list_file import parse_list, parse_list_file
from resolver.lists.sources import Format
from resolver.policy.model import Action, Location
from tests.lists.rule_views import by_pattern, where_of
from tests.policy.assertions import (
    assert_clean,
    assert_only,
    assert_problem,
    load_lists,
    policy_of,
    utc,
)

# --- parsing -------------------------------------------------------------------------------

def test_a_complete_list(tmp_path: Path) -> None:
    policy = assert_clean(load_lists(tmp_path, {"tiktok.yaml": """
        name: tiktok
        description: TikTok and other ByteDance video services
        reference: >-
          European Parliament, DG ITEC note to staff:
            TikTok blocked    from 20 March 2023.
        effective: 2023-03-20
        expires: 2024-03-20
        timezone: Europe/Brussels
        domains:
          - tiktok.com
          - domain: tiktokcdn.com
            effective: 2023-03-27
          - "*.byteoversea.com"
          - "v*.tiktokcdn-eu.com"
        allow:
          - newsroom.tiktok.com
    """}))
    (tiktok,) = policy.lists
    assert tiktok.name == "tiktok"
    assert tiktok.description == "TikTok and other ByteDance video services"
    # folded and with runs of white space collapsed, as shown in explanations
    assert tiktok.reference == ("European Parliament, DG ITEC note to staff: "
                                "TikTok blocked from 20 March 2023.")
    assert tiktok.timezone == "Europe/Brussels"
    assert tiktok.window.effective == utc(2023, 3, 19, 23)
    assert tiktok.window.expires == utc(2024, 3, 19, 23)
    rules = by_pattern(tiktok.rules)
    assert list(rules) == ["tiktok.com", "tiktokcdn.com", "*.byteoversea.com",
                           "v*.tiktokcdn-eu.com", "newsroom.tiktok.com"]
    assert [r.action for r in tiktok.rules] == [Action.BLOCK] * 4 + [Action.ALLOW]
    assert {r.list_name for r in tiktok.rules} == {"tiktok"}
    assert where_of(rules["tiktok.com"]) == "tiktok.yaml:10:5"
    assert where_of(rules["tiktokcdn.com"]) == "tiktok.yaml:11:13"
    assert rules["tiktokcdn.com"].own_dates and not rules["tiktok.com"].own_dates
    # an entry's own date narrows the list's window; the list's expiry still applies
    assert rules["tiktokcdn.com"].window.effective == utc(2023, 3, 26, 22)  # CEST by then
    assert rules["tiktokcdn.com"].window.expires == tiktok.window.expires
    assert rules["tiktok.com"].window == tiktok.window


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, """
        effective: 2023-03-20
        domains: [tiktok.com]
    """, file="social-media.yaml")
    assert [b.name for b in policy.lists] == ["social-media"]


def test_scalar_mapping_and_allow_entries_take_the_same_names(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, """
        effective: 2023-03-20
        domains:
          - TikTok.com.
          - domain: bücher.example
          - _dmarc.example
        allow:
          - domain: NewsRoom.TikTok.com
            expires: 2023-06-01
    """)
    rules = by_pattern(policy.rules)
    assert sorted(rules) == ["_dmarc.example", "newsroom.tiktok.com", "tiktok.com",
                             "xn--bcher-kva.example"]
    assert rules["newsroom.tiktok.com"].action is Action.ALLOW
    assert rules["newsroom.tiktok.com"].window.expires == utc(2023, 6, 1)


def test_list_time_zone_defaults_to_the_configured_one(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        reference: r
        effective: 2023-03-20
        domains: [a.example]
    """}, timezone="America/New_York")
    policy = assert_clean(result)
    assert policy.lists[0].timezone == "America/New_York"
    assert policy.lists[0].window.effective == utc(2023, 3, 20, 4)  # EDT since 12 March


@pytest.mark.parametrize(("typo", "meant"), [("efective", "effective"), ("expire", "expires")])
def test_unknown_entry_key_suggests_the_known_one(tmp_path: Path, typo: str, meant: str) -> None:
    result = load_lists(tmp_path, {"a.yaml": f"""
        effective: 2023-03-20
        domains:
          - domain: tiktok.com
            {typo}: 2023-04-01
    """})
    assert_problem(result, "a.yaml:4:5", f"unknown key {typo!r} in an entry of `domains`",
                   f"did you mean {meant!r}?")


def test_a_misspelt_domain_key_is_reported_once(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-20
        allow:
          - domians: tiktok.com
            effective: 2023-04-01
    """})
    assert_problem(result, "a.yaml:3:5", "unknown key 'domians' in an entry of `allow`",
                   "did you mean 'domain'?")
    assert_only(result, "a.yaml:3:5")


def test_an_entry_mapping_without_domain_says_so(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-20
        domains:
          - effective: 2023-04-01
    """})
    assert_problem(result, "a.yaml:3:5", "needs `domain:`")


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("https://tiktok.com/", ["looks like a URL", "did you mean tiktok.com?"]),
        ("tiktok.com:443", ["looks like host:port", "did you mean tiktok.com?"]),
        ("tiktok.com/foryou", ["looks like a path", "did you mean tiktok.com?"]),
    ],
    ids=["url", "host-port", "path"],
)
def test_urls_ports_and_paths_suggest_the_domain(tmp_path: Path, entry: str,
                                                  words: list[str]) -> None:
    result = load_lists(tmp_path, {"a.yaml": f"""
        effective: 2023-03-20
        domains:
          - tiktokv.com
          - "{entry}"
    """})
    assert_problem(result, "a.yaml:4:5", *words)


def test_empty_label(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-20
        domains:
          - tiktok..com
    """})
    assert_problem(result, "a.yaml:3:5", "'tiktok..com'", "empty label")


def test_label_longer_than_63_octets(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": f"""
        effective: 2023-03-20
        domains:
          - {"x" * 64}.com
    """})
    assert_problem(result, "a.yaml:3:5", "64 octets", "at most 63")


def test_name_longer_than_253_octets(tmp_path: Path) -> None:
    long_name = ".".join(["a" * 50] * 5) + ".com"
    result = load_lists(tmp_path, {"a.yaml": f"""
        effective: 2023-03-20
        domains:
          - {long_name}
    """})
    assert_problem(result, "a.yaml:3:5", f"{len(long_name)} octets", "at most 253")


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("tik tok.com", ["' '", "no DNS name holds"]),
        ("user@tiktok.com", ["e-mail address"]),
        ("tik/tok.com", ["looks like a path"]),
        ("tik:tok.com", ["':'", "no DNS name holds"]),
        ("tik$tok.com", ["'$'", "no DNS name holds"]),
    ],
    ids=["space", "at-sign", "slash", "colon", "dollar"],
)
def test_characters_no_dns_name_holds(tmp_path: Path, entry: str, words: list[str]) -> None:
    result = load_lists(tmp_path, {"a.yaml": f"""
        effective: 2023-03-20
        domains:
          - "{entry}"
    """})
    assert_problem(result, "a.yaml:3:5", *words)


@pytest.mark.parametrize("entry", ["-tiktok.com", "tiktok-.com", "www.-tiktok.com"])
def test_leading_or_trailing_hyphen(tmp_path: Path, entry: str) -> None:
    result = load_lists(tmp_path, {"a.yaml": f"""
        effective: 2023-03-20
        domains:
          - {entry}
    """})
    assert_problem(result, "a.yaml:3:5", "hyphen")


def test_unknown_time_zone(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-20
        timezone: Europe/Brusels
        domains: [a.example]
    """})
    assert_problem(result, "a.yaml:2:11", "unknown time zone 'Europe/Brusels'",
                   "did you mean Europe/Brussels?")


def test_unparseable_dates(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-02-30
        expires: next year
        domains:
          - domain: a.example
            effective: 20/03/2023
    """})
    assert_problem(result, "a.yaml:1:12", "`effective`", "cannot read '2023-02-30'",
                   "write 2023-03-20")
    assert_problem(result, "a.yaml:2:10", "`expires`", "cannot read 'next year'")
    assert_problem(result, "a.yaml:5:16", "`effective`", "cannot read '20/03/2023'")
    assert_only(result, "a.yaml:1:12", "a.yaml:2:10", "a.yaml:5:16")


@pytest.mark.parametrize("expires", ["2023-03-19", "2023-03-20", "2023-03-19T23:00:00Z"])
def test_list_expires_not_after_effective(tmp_path: Path, expires: str) -> None:
    # 2023-03-19T23:00Z *is* 2023-03-20 00:00 in Brussels: an empty window.
    result = load_lists(tmp_path, {"a.yaml": f"""
        effective: 2023-03-20
        expires: {expires}
        timezone: Europe/Brussels
        domains: [a.example]
    """})
    assert_problem(result, "a.yaml:2:10", "`expires` must be after `effective`")


def test_entry_expires_not_after_effective(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-20
        domains:
          - domain: a.example
            effective: 2023-05-01
            expires: 2023-04-01
    """})
    assert_problem(result, "a.yaml:5:14", "`expires` must be after `effective`")


def test_expires_not_after_effective_across_a_dst_gap(tmp_path: Path) -> None:
    # 02:30 does not exist that morning and means 03:30 CEST, which is after 03:15 CEST;
    # compared by wall clock the two would look correctly ordered.
    result = load_lists(tmp_path, {"a.yaml": """
        effective: 2023-03-26T02:30
        expires: 2023-03-26T03:15
        timezone: Europe/Brussels
        domains: [a.example]
    """})
    assert_problem(result, "a.yaml:2:10", "`expires` must be after `effective`")


def test_missing_effective(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        timezone: UTC
        domains: [a.example]
    """})
    assert_problem(result, "a.yaml:1", "missing `effective:`", "effective: 2023-03-20")


def test_empty_effective(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": "effective:\ndomains: [a.example]\n"})
    assert_problem(result, "a.yaml:1:11", "`effective` is empty")


@pytest.mark.parametrize("address", ["192.0.2.1", "2001:db8::1", "[2001:db8::1]", "10.0.0.1."])
def test_an_ip_address_is_not_a_domain(tmp_path: Path, address: str) -> None:
    result = load_lists(tmp_path, {"a.yaml": f"""
        effective: 2023-03-20
        domains:
          - "{address}"
    """})
    assert_problem(result, "a.yaml:3:5", "is an IP address", "domain names")


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ("", "a.yaml:1", ["file is empty"]),
        ("- a.example\n", "a.yaml:1:1", ["must be a mapping"]),
        ("effective: 2023-03-20\ndomains: a.example\n", "a.yaml:2:10", ["must be a list"]),
        ("effective: 2023-03-20\ndomains:\n  - [a.example]\n", "a.yaml:3:5",
         ["must be a domain name"]),
        ("effective: [2023-03-20]\ndomains: [a.example]\n", "a.yaml:1:12",
         ["single value"]),
        ("name: ''\neffective: 2023-03-20\ndomains: [a.example]\n", "a.yaml:1:7",
         ["`name` is empty"]),
    ],
    ids=["empty-file", "not-a-mapping", "domains-not-a-list", "entry-not-a-name",
         "effective-not-a-value", "empty-name"],
)
def test_shape_errors(tmp_path: Path, text: str, at: str, words: list[str]) -> None:
    assert_problem(load_lists(tmp_path, {"a.yaml": text}), at, *words)


@pytest.mark.parametrize("entries", ["", "domains:\n", "domains: []\nallow: []\n"])
def test_a_list_with_no_entries_warns(tmp_path: Path, entries: str) -> None:
    result = load_lists(tmp_path, {"a.yaml": "reference: r\neffective: 2023-03-20\n" + entries})
    assert_problem(result, "a.yaml:1", "no entries", "blocks nothing", severity="warning")
    assert result.policy is not None


def test_a_list_without_reference_warns(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": "effective: 2023-03-20\ndomains: [a.example]\n"})
    assert_problem(result, "a.yaml:1", "no `reference:`", severity="warning")


def test_entry_dates_outside_the_list_window_warn(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {"a.yaml": """
        reference: r
        effective: 2023-03-20
        expires: 2023-12-31
        domains:
          - domain: a.example
            effective: 2023-01-01
          - domain: b.example
            effective: 2024-02-01
          - domain: c.example
            expires: 2023-03-01
    """})
    assert_problem(result, "a.yaml:6:16", "before its list's", "list's date governs",
                   severity="warning")
    assert_problem(result, "a.yaml:8:16", "after its list expires", "never apply",
                   severity="warning")
    assert_problem(result, "a.yaml:10:14", "before its list starts", "never apply",
                   severity="warning")


def test_parse_list_reads_one_file_without_touching_the_disk() -> None:
    blocklist, problems = parse_list("lists/social.yaml", """\
name: social
reference: r
effective: 2023-03-20
timezone: Europe/Brussels
domains:
  - TikTok.com.
allow: [newsroom.tiktok.com]
""")
    assert problems == []
    assert blocklist is not None
    assert (blocklist.name, blocklist.timezone) == ("social", "Europe/Brussels")
    assert blocklist.window.effective == utc(2023, 3, 19, 23)
    assert [(r.pattern, r.action) for r in blocklist.rules] == [
        ("tiktok.com", Action.BLOCK), ("newsroom.tiktok.com", Action.ALLOW)]
    assert blocklist.rules[0].location == Location("lists/social.yaml", 6, 5)


def test_parse_list_file_keeps_the_sources_beside_the_list() -> None:
    blocklist, specs, problems = parse_list_file("lists/ads.yaml", """\
reference: r
effective: 2023-03-20
sources:
  - url: https://lists.example/ads.txt
    format: hosts
    refresh: 12h
""")
    assert blocklist is not None and problems == []
    (spec,) = specs
    assert (spec.list_name, spec.url, spec.format, spec.refresh) == (
        "ads", "https://lists.example/ads.txt", Format.HOSTS, 43_200.0)
    assert spec.location.line == 4


def test_a_file_with_an_error_gives_no_list_and_no_sources() -> None:
    blocklist, specs, problems = parse_list_file("a.yaml", "reference: r\neffective: 2023-03-20\n"
                                                 "domains: [a..b]\nsources:\n  - path: x.txt\n")
    assert (blocklist, specs) == (None, ())
    assert [p.severity for p in problems] == ["error"]
    assert parse_list("a.yaml", "domains: [\n")[0] is None


def test_observe_from_starts_a_warning_period_before_effective() -> None:
    blocklist, problems = parse_list("lists/social.yaml", """\
name: social
reference: r
observe_from: 2023-03-06
effective: 2023-03-20
timezone: Europe/Brussels
domains: [tiktok.com]
""")
    assert problems == []
    assert blocklist is not None
    assert blocklist.observe_from == utc(2023, 3, 5, 23)  # midnight in Brussels
    assert blocklist.window.effective == utc(2023, 3, 19, 23)
    assert parse_list("b.yaml", "reference: r\neffective: 2023-03-20\ndomains: [a.example]\n"
                      )[0].observe_from is None  # type: ignore[union-attr]


@pytest.mark.parametrize("when", ["2023-03-20", "2023-04-01"])
def test_observe_from_after_effective_is_an_error_at_its_line(when: str) -> None:
    blocklist, problems = parse_list("lists/social.yaml", f"""\
reference: r
effective: 2023-03-20
observe_from: {when}
domains: [tiktok.com]
""")
    assert blocklist is None
    [problem] = problems
    assert str(problem.location) == "lists/social.yaml:3:15"
    assert "`observe_from` must be before `effective`" in problem.message
