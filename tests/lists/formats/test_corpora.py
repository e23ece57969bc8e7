"""Every real list in the corpora, parsed and checked against an independent reading.

The expected entries come from simple regexes over the raw lines, written for
each file's shape, and from the counts the lists state in their own headers;
they share no code with the parsers. Small lists are read from the test copies
in tests/data/formats, big ones from the corpora (skipped when absent).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml

from resolver.lists.formats import parse_source
from resolver.lists.formats.adblock import AS_REGEX_NOTE, NO_END_NOTE, SPANNING_GLOB_NOTE
from resolver.lists.formats.parsed import ParsedSource
from resolver.lists.sources import Format
from resolver.policy.regexes import RegexMatcher, compile_pattern

from .lists import ALLOW, BLOCK, EXACT, SUBTREE, entries, list_text

NAME = r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*"
IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def grab(pattern: str, text: str) -> list[str]:
    return [m.lower() for m in re.findall(pattern, text, re.MULTILINE)]


def header_count(text: str, label: str = "Number of entries") -> int:
    found = re.search(rf"^[#!;] {label}: ([\d,]+)$", text, re.MULTILINE)
    assert found, label
    return int(found.group(1).replace(",", ""))


def clean(parsed: ParsedSource) -> None:
    assert parsed.invalid == [], parsed.invalid[:5]
    assert parsed.invalid_share == 0.0


# --- domains --------------------------------------------------------------------------------

DOMAINS = [
    ("hagezi/domains/light.txt", True),
    ("hagezi/domains/whitelist-referral.txt", False),
    ("hagezi/wildcard/pro-onlydomains.txt", True),
    ("tiktok/hagezi-native.tiktok.domains.txt", True),
    ("tiktok/hagezi-native.tiktok.extended.domains.txt", True),
    ("tiktok/aao-fyi-bytedance-domains.txt", False),
    ("pihole-regex/mmotti-whitelist.list", False),
    ("stevenblack/unified-hosts-trimmed.txt", False),
]


@pytest.mark.parametrize(("relative", "has_count"), DOMAINS)
def test_domains_lists(relative: str, has_count: bool) -> None:
    text = list_text(relative)
    parsed = parse_source(text, Format.DOMAINS)
    expected = grab(rf"^({NAME})[ \t]*$", text)
    assert parsed.names_for(BLOCK, EXACT) == expected
    assert set(parsed.names) == {(BLOCK, EXACT)}
    assert parsed.considered == len(expected)
    clean(parsed)
    if has_count:
        assert len(expected) == header_count(text)


def test_stevenblack_unique_domain_count() -> None:
    text = list_text("stevenblack/unified-hosts-trimmed.txt")
    parsed = parse_source(text, Format.DOMAINS)
    names = parsed.names_for(BLOCK, EXACT)
    assert len(set(names)) == len(names) == header_count(text, "Number of unique domains")
    assert names[0] == "ad-assets.futurecdn.net"
    assert "nlocalhost.wordtheminer.com" in names  # a name that merely contains "localhost"


def test_onlydomains_with_match_subtree() -> None:
    text = list_text("hagezi/wildcard/pro-onlydomains.txt")
    parsed = parse_source(text, Format.DOMAINS, match=SUBTREE)
    assert parsed.names_for(BLOCK, SUBTREE) == grab(rf"^({NAME})$", text)
    assert set(parsed.names) == {(BLOCK, SUBTREE)}


@pytest.mark.parametrize(
    "relative",
    ["hagezi/wildcard/pro.txt", "tiktok/hagezi-native.tiktok.wildcard.txt",
     "tiktok/hagezi-native.tiktok.extended.wildcard.txt"],
)
def test_wildcard_lists(relative: str) -> None:
    text = list_text(relative)
    parsed = parse_source(text, Format.DOMAINS)
    expected = grab(rf"^(\*\.{NAME})$", text)
    assert parsed.names_for(BLOCK, SUBTREE) == expected
    assert set(parsed.names) == {(BLOCK, SUBTREE)}
    assert len(expected) == header_count(text)
    clean(parsed)


# --- hosts ----------------------------------------------------------------------------------

HOSTS = [
    "hagezi/hosts/light.txt",
    "hagezi/hosts/native.tiktok-compressed.txt",
    "tiktok/hagezi-native.tiktok.hosts.txt",
    "tiktok/hagezi-native.tiktok.extended.hosts.txt",
    "tiktok/danhorton7-tiktok.hosts.txt",
]


@pytest.mark.parametrize("relative", HOSTS)
def test_hosts_lists(relative: str) -> None:
    text = list_text(relative)
    parsed = parse_source(text, Format.HOSTS)
    fields = [name for line in re.findall(r"^0\.0\.0\.0[ \t]+(.+)$", text, re.MULTILINE)
              for name in line.split()]
    addresses = [f for f in fields if IPV4.fullmatch(f)]
    expected = [f.lower() for f in fields if not IPV4.fullmatch(f)]
    assert parsed.names_for(BLOCK, EXACT) == expected
    assert set(parsed.names) == {(BLOCK, EXACT)}
    assert parsed.skipped == ({"IP address, not a name": len(addresses)} if addresses else {})
    assert parsed.considered == len(re.findall(r"^0\.0\.0\.0", text, re.MULTILINE))
    clean(parsed)


def test_hosts_counts_and_known_names() -> None:
    light = parse_source(list_text("hagezi/hosts/light.txt"), Format.HOSTS)
    assert light.taken == header_count(list_text("hagezi/hosts/light.txt")) == 87391
    compressed_text = list_text("hagezi/hosts/native.tiktok-compressed.txt")
    compressed = parse_source(compressed_text, Format.HOSTS)
    assert compressed.considered == header_count(compressed_text) == 41  # lines of 9 names
    assert compressed.names_for(BLOCK, EXACT)[:2] == [
        "frontier.byteoversea.com", "gplog-sg.byteoversea.com",
    ]
    same = parse_source(list_text("tiktok/hagezi-native.tiktok.hosts.txt"), Format.HOSTS)
    assert compressed.names == same.names
    danhorton = parse_source(list_text("tiktok/danhorton7-tiktok.hosts.txt"), Format.HOSTS)
    assert danhorton.skipped == {"IP address, not a name": 16}  # SOURCES.md: 16 IP "hostnames"
    assert "api.tiktokv.com" in danhorton.names_for(BLOCK, EXACT)


# --- adblock --------------------------------------------------------------------------------

ADBLOCK = [
    ("hagezi/adblock/pro.txt", True),
    ("hagezi/adblock/multi.txt", True),
    ("hagezi/adblock/spam-tlds-adblock.txt", False),
    ("hagezi/adblock/spam-tlds-adblock-allow.txt", False),
    ("hagezi/adblock/whitelist-referral.txt", False),
    ("tiktok/hagezi-native.tiktok.adblock.txt", True),
    ("tiktok/hagezi-native.tiktok.extended.adblock.txt", True),
    ("tiktok/aao-fyi-bytedance-block-adb.txt", False),
    ("tiktok/aao-fyi-bytedance-allow-adb.txt", False),
    ("tiktok/adguardhome-servicelist-tiktok.txt", False),
]


@pytest.mark.parametrize(("relative", "has_count"), ADBLOCK)
def test_adblock_lists(relative: str, has_count: bool) -> None:
    text = list_text(relative)
    parsed = parse_source(text, Format.ADBLOCK)
    blocks = grab(r"^\|\|([a-z0-9_.*-]+)\^$", text)
    allows = grab(r"^@@\|\|([a-z0-9_.*-]+)\^$", text)
    open_allows = grab(r"^@@\|\|([a-z0-9_.-]+)$", text)  # no ^: noted, read as ending there
    # `||google.*^` means any TLD (google.co.uk too): AdGuard's regex, not a one-label glob.
    any_tld = [n for n in blocks + allows if "*" in n.rsplit(".", 1)[-1]]
    blocks = [n for n in blocks if n not in any_tld]
    allows = [n for n in allows if n not in any_tld]
    assert parsed.names_for(BLOCK, SUBTREE) == blocks
    assert sorted(parsed.names_for(ALLOW, SUBTREE)) == sorted(allows + open_allows)
    assert set(parsed.names) <= {(BLOCK, SUBTREE), (ALLOW, SUBTREE)}
    inner_globs = [n for n in blocks + allows if "*" in n[1:]]
    notes = Counter({SPANNING_GLOB_NOTE: len(inner_globs), NO_END_NOTE: len(open_allows),
                     AS_REGEX_NOTE: len(any_tld)})
    assert parsed.skipped == +notes
    assert len(parsed.regexes) == len(any_tld)
    matcher = RegexMatcher([pattern for _action, pattern, _line in parsed.regexes])
    for name in any_tld:
        assert matcher.first_match(name.replace("*", "co.uk")) is not None, name
    clean(parsed)
    if has_count:
        assert len(blocks) == header_count(text)


def test_adblock_known_rules() -> None:
    tlds = parse_source(list_text("hagezi/adblock/spam-tlds-adblock.txt"), Format.ADBLOCK)
    assert tlds.names_for(BLOCK, SUBTREE)[:3] == ["actor", "apartments", "auction"]
    referral = parse_source(list_text("hagezi/adblock/whitelist-referral.txt"), Format.ADBLOCK)
    allowed = referral.names_for(ALLOW, SUBTREE)
    assert allowed[:3] == ["*-go.kelkoogroup.net", "*cdn.exponea.com", "*tagm.tchibo.de"]
    assert "mtpc.se" in allowed
    service = parse_source(list_text("tiktok/adguardhome-servicelist-tiktok.txt"), Format.ADBLOCK)
    assert "p16-tiktok-*.ibyteimg.com" in service.names_for(BLOCK, SUBTREE)
    assert "v*.tiktokcdn-eu.com" in service.names_for(BLOCK, SUBTREE)


def test_adguard_registry_service_rules() -> None:
    # Not copied (licence undetermined); its rules are adblock rules inside YAML.
    service = yaml.safe_load(list_text("tiktok/adguard-hostlistsregistry-services-tiktok.yml"))
    rules = service["rules"]
    parsed = parse_source("\n".join(rules), Format.ADBLOCK)
    assert parsed.invalid == [] and parsed.considered == parsed.taken
    assert parsed.names_for(BLOCK, EXACT) == ["p16-tiktokcdn-com.akamaized.net"]
    subtree = parsed.names_for(BLOCK, SUBTREE)
    assert len(subtree) == len(rules) - 1 == 27
    assert "p16-tiktok-*.ibyteimg.com" in subtree and "tiktok.com" in subtree


def test_aao_regex_rules() -> None:
    text = list_text("tiktok/aao-fyi-bytedance-block-rgx.txt")
    parsed = parse_source(text, Format.ADBLOCK)
    expected = re.findall(r"^/(.+)/$", text, re.MULTILINE)
    assert [p for _a, p, _n in parsed.regexes] == expected and len(expected) == 113
    assert {a for a, _p, _n in parsed.regexes} == {BLOCK}
    assert parsed.names == {} and parsed.skipped == {}
    clean(parsed)
    # The regex list and the ||name^ list of the same project block the same names.
    matcher = RegexMatcher(expected)
    names = parse_source(list_text("tiktok/aao-fyi-bytedance-block-adb.txt"), Format.ADBLOCK)
    for base in names.names_for(BLOCK, SUBTREE):
        assert matcher.first_match(base) is not None
        assert matcher.first_match("www." + base) is not None
        assert matcher.first_match("x" + base) is None


# --- the AdGuard DNS filter: every shape of rule, counted independently ------------------------

HOST = r"[a-z0-9_.*-]"


def adguard_expectations(text: str) -> tuple[Counter[tuple[str, str]], int, Counter[str]]:
    """Entries per (action, scope), regex count and skip reasons, by shape of line."""
    names: Counter[tuple[str, str]] = Counter()
    regexes = 0
    skipped: Counter[str] = Counter()
    rules = [line.strip().lower() for line in text.split("\n")]
    rules = [r for r in rules if r and r[0] != "!" and not (r[0] == "#" and r[:2] != "##")]
    badfilters = {r.replace("$badfilter", "") for r in rules if r.endswith("$badfilter")}
    for rule in rules:
        action = "allow" if rule.startswith("@@") else "block"
        body = rule.removeprefix("@@")
        if rule in badfilters:
            skipped["disabled by $badfilter"] += 1
        elif re.fullmatch(r"/.*/", body):
            regexes += 1
        elif "$" in body:
            skipped["modifier $" + re.findall(r"[$,]~?([a-z-]+)", body)[-1]] += 1
        elif re.fullmatch(r"(\|\||\|)?[0-9.*]+\^?", body):
            skipped["IP address rule"] += 1
        elif re.fullmatch(rf"\|\|(?:{HOST}*\.)?[a-z0-9_-]+\^\|?", body):
            names[(action, "subtree")] += 1  # ||x^, with globs except in the last label
        elif re.fullmatch(rf"\|\|(?:{HOST}*\.)?[a-z0-9_-]*[a-z0-9_]", body):
            names[(action, "subtree")] += 1  # the same without ^
        elif re.fullmatch(r"(\||://)[a-z0-9_.-]+\^\|?", body):
            names[(action, "exact")] += 1
        elif re.fullmatch(r"://\*\.[a-z0-9_.-]+\^", body):
            names[(action, "subtree")] += 1
        elif re.fullmatch(rf"\.?\*?[a-z0-9_-]{HOST}*\.[a-z0-9_-]+\^\|?", body) or re.fullmatch(
            r"\.[a-z0-9_.-]*[a-z0-9_]", body
        ):
            names[(action, "subtree")] += 1  # .x^, x^, *x^, .x
        elif re.fullmatch(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_-]+)+", body):
            names[(action, "exact")] += 1  # a bare hostname
        else:
            regexes += 1  # some other hostname pattern, applied as AdGuard's regex
    return names, regexes, skipped


def test_adguard_dns_filter() -> None:
    text = list_text("adguard/adguard-dns-filter-without-privacy.txt")
    parsed = parse_source(text, Format.ADBLOCK)
    names, regexes, skipped = adguard_expectations(text)
    got = Counter({k: len(v) for k, v in entries(parsed).items()})
    assert got == names
    assert len(parsed.regexes) == regexes
    not_taken = {k: v for k, v in parsed.skipped.items() if not k.endswith("(taken)")}
    assert Counter(not_taken) == skipped
    clean(parsed)
    assert parsed.considered == 71101  # SOURCES.md: 71,101 rules
    block = set(parsed.names_for(BLOCK, SUBTREE))
    assert {"upbeatbut.com", "ksks2.sportsonline.top", "adserver.*.yahoodns.net"} <= block
    assert "linksprf.com" not in block  # ||linksprf.com^$badfilter
    assert "adsrvmedia.adk2.co" not in block  # $important: not implemented, skipped
    assert parsed.names_for(BLOCK, EXACT) == ["o0e.ru", "jhf.ru", "kma.biz", "say.ac"]
    assert "cdn.taboola.com" in parsed.names_for(ALLOW, EXACT)
    assert skipped["modifier $important"] == 4 and skipped["modifier $badfilter"] == 5
    patterns = [p for _a, p, _n in parsed.regexes]
    assert r"(?:^|\.)admulti\." in patterns
    assert r"^(a|c)\.[0-9a-f]{56}\.com$" in patterns
    for pattern in patterns:
        compile_pattern(pattern)


# --- rpz and regex lists --------------------------------------------------------------------

RPZ = ["hagezi/rpz/pro.mini.txt", "tiktok/hagezi-native.tiktok.rpz.txt",
       "tiktok/hagezi-native.tiktok.extended.rpz.txt"]


@pytest.mark.parametrize("relative", RPZ)
def test_rpz_lists(relative: str) -> None:
    text = list_text(relative)
    parsed = parse_source(text, Format.RPZ)
    exact = grab(rf"^({NAME}) CNAME \.$", text)
    below = grab(rf"^(\*\.{NAME}) CNAME \.$", text)
    assert parsed.names_for(BLOCK, EXACT) == exact
    assert parsed.names_for(BLOCK, SUBTREE) == below
    assert set(parsed.names) == {(BLOCK, EXACT), (BLOCK, SUBTREE)}
    assert parsed.considered == len(exact) + len(below) == header_count(text)
    assert [f"*.{n}" for n in exact] == below  # HaGeZi writes each owner twice
    clean(parsed)


REGEX = ["pihole-regex/mmotti-regex.list", "pihole-regex/mmotti-misc-amp.list",
         "pihole-regex/mmotti-social-facebook.list", "pihole-regex/mmotti-social-twitter.list"]


@pytest.mark.parametrize("relative", REGEX)
def test_pihole_regex_lists(relative: str) -> None:
    text = list_text(relative)
    parsed = parse_source(text, Format.REGEX)
    expected = [line for line in text.split("\n") if line.strip() and not line.startswith("#")]
    assert [p for _a, p, _n in parsed.regexes] == expected
    clean(parsed)


def test_pihole_regexes_match_what_they_are_for() -> None:
    facebook = RegexMatcher(
        [p for _a, p, _n in parse_source(list_text(REGEX[2]), Format.REGEX).regexes]
    )
    assert facebook.first_match("www.facebook.com") == 0
    assert facebook.first_match("static.xx.fbcdn.net") == 0
    assert facebook.first_match("notfacebook.com") is None
    amp = RegexMatcher([p for _a, p, _n in parse_source(list_text(REGEX[1]), Format.REGEX).regexes])
    assert amp.first_match("cdn.ampproject.org") == 0
    assert amp.first_match("example.com") is None


def test_the_large_list_is_left_to_the_benchmark() -> None:
    assert "large/" not in " ".join(
        [r for r, _ in DOMAINS] + HOSTS + [r for r, _ in ADBLOCK] + RPZ + REGEX
    )
