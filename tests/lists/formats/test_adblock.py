"""Adblock-style network rules, as AdGuard Home's DNS filtering syntax defines them."""

from __future__ import annotations

import re

import pytest

from resolver.lists.formats import parse_source
from resolver.lists.formats.adblock import (
    AS_REGEX_NOTE,
    NO_END_NOTE,
    SPANNING_GLOB_NOTE,
    modifier_reason,
)
from resolver.lists.formats.parsed import ParsedSource
from resolver.lists.sources import Format
from resolver.policy.model import Action, Location, Rule, Window
from resolver.policy.regexes import compile_pattern

from .lists import ALLOW, BLOCK, EXACT, SUBTREE, entries, only


def parse(text: str) -> ParsedSource:
    return parse_source(text, Format.ADBLOCK)


def one(rule: str) -> ParsedSource:
    return parse(rule + "\n")


def rule_matches(pattern: str, name: str) -> bool:
    """What dnsfence's index does with a SUBTREE pattern (the model's reference semantics)."""
    return Rule(pattern, Action.BLOCK, "t", Window(), Location("t")).matches(name)


VALID_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def adguard_matches(rule: str, name: str) -> bool:
    """AdGuard's meaning of a hostname pattern, from its docs: `||` a label start, `^` the
    end, `|` an end, `*` any characters; a valid bare name is that name only."""
    if VALID_NAME.fullmatch(rule):
        return name == rule
    body = rule
    head = ".*"
    if body.startswith("||"):
        head, body = r"(?:^|.*\.)", body[2:]
    elif body.startswith("|"):
        head, body = "^", body[1:]
    tail = ".*$"
    if body.endswith(("^", "|")):
        tail, body = "$", body[:-1]
    regex = head + "".join(".*" if c == "*" else re.escape(c) for c in body) + tail
    return re.match(regex, name) is not None


# --- the basic rules ------------------------------------------------------------------------


def test_double_pipe_blocks_the_name_and_below() -> None:
    assert only(one("||tiktok.com^"), BLOCK, SUBTREE) == ["tiktok.com"]


def test_exception_rules_allow() -> None:
    assert only(one("@@||tiktok.com^"), ALLOW, SUBTREE) == ["tiktok.com"]
    assert only(one("@@||tiktok.com^|"), ALLOW, SUBTREE) == ["tiktok.com"]
    assert only(one("@@|www.tiktok.com^|"), ALLOW, EXACT) == ["www.tiktok.com"]


def test_single_pipe_is_that_name_only() -> None:
    assert only(one("|p16-tiktokcdn-com.akamaized.net^"), BLOCK, EXACT) == [
        "p16-tiktokcdn-com.akamaized.net"
    ]
    assert only(one("://jhf.ru^"), BLOCK, EXACT) == ["jhf.ru"]
    assert only(one("|https://jhf.ru^"), BLOCK, EXACT) == ["jhf.ru"]


def test_a_bare_hostname_is_adguards_simple_domain_rule() -> None:
    # "example.org: a simple domain rule. Blocks the example.org domain but not its subdomains."
    assert only(one("example.org"), BLOCK, EXACT) == ["example.org"]
    widened = parse_source("example.org\n", Format.ADBLOCK, match=SUBTREE)
    assert only(widened, BLOCK, SUBTREE) == ["example.org"]
    # match does not change what the syntax says explicitly
    explicit = parse_source("|a.example^\n||b.example^\n", Format.ADBLOCK, match=SUBTREE)
    assert entries(explicit) == {
        ("block", "exact"): ["a.example"], ("block", "subtree"): ["b.example"],
    }


def test_comments_and_headers_are_not_considered() -> None:
    parsed = parse("[Adblock Plus 2.0]\n! Title: x\n# also a comment\n# >> A <<\n\n||a.example^\n")
    assert only(parsed, BLOCK, SUBTREE) == ["a.example"]
    assert parsed.considered == 1


def test_case_and_internationalised_names() -> None:
    assert only(one("||Free-4paid.COM^"), BLOCK, SUBTREE) == ["free-4paid.com"]
    assert only(one("||bücher.example^"), BLOCK, SUBTREE) == ["xn--bcher-kva.example"]


# --- wildcards ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "pattern"),
    [
        ("||*-go.kelkoogroup.net^", "*-go.kelkoogroup.net"),
        ("||*cdn.exponea.com^", "*cdn.exponea.com"),
        ("||*.example.org^", "*.example.org"),
        (".bbelements.com^", "*.bbelements.com"),
        ("*ad.durasite.net^", "*ad.durasite.net"),
        ("ad.durasite.net^", "*ad.durasite.net"),
        ("://*.a-akamaihd.com^", "*.a-akamaihd.com"),
    ],
)
def test_leading_wildcards_map_exactly_to_globs(rule: str, pattern: str) -> None:
    parsed = one(rule)
    assert only(parsed, BLOCK, SUBTREE) == [pattern]
    assert not parsed.skipped  # no approximation note
    for name in (
        "fr-go.kelkoogroup.net", "a.b-go.kelkoogroup.net", "kelkoogroup.net",
        "x.go.kelkoogroup.net",
        "cdn.exponea.com", "mycdn.exponea.com", "a.mycdn.exponea.com", "exponea.com",
        "example.org", "a.example.org", "a.b.example.org", "bbelements.com", "x.bbelements.com",
        "ad.durasite.net", "bad.durasite.net", "x.ad.durasite.net", "durasite.net",
        "a-akamaihd.com", "x.a-akamaihd.com",
    ):
        adguard = adguard_matches(rule.replace("://", "|"), name)
        assert rule_matches(pattern, name) == adguard, (rule, name)


def test_a_star_inside_is_kept_as_a_one_label_glob_and_noted() -> None:
    parsed = one("||ad*.nexage.com^")
    assert only(parsed, BLOCK, SUBTREE) == ["ad*.nexage.com"]
    assert parsed.skipped == {SPANNING_GLOB_NOTE: 1}
    assert rule_matches("ad*.nexage.com", "adx.nexage.com")
    assert rule_matches("ad*.nexage.com", "x.ad1.nexage.com")
    # AdGuard's * also spans dots; dnsfence's glob does not (documented, narrower).
    assert adguard_matches("||ad*.nexage.com^", "ad.foo.nexage.com")
    assert not rule_matches("ad*.nexage.com", "ad.foo.nexage.com")


def test_rules_without_the_end_mark_are_read_as_ending_there() -> None:
    parsed = parse("||banner.kiev.ua\n*.example.net\n.doublepimp.com\n")
    assert only(parsed, BLOCK, SUBTREE) == ["banner.kiev.ua", "*.example.net", "*.doublepimp.com"]
    assert parsed.skipped == {NO_END_NOTE: 3}


@pytest.mark.parametrize(
    ("rule", "regex", "matching", "not_matching"),
    [
        ("||admulti.", r"(?:^|\.)admulti\.", ["admulti.com", "x.admulti.co.uk"], ["xadmulti.com"]),
        ("||buzzer.xhamster*", r"(?:^|\.)buzzer\.xhamster",
         ["buzzer.xhamster.com", "buzzer.xhamster2.org"], ["buzzer.xhamste.com"]),
        ("-ad123-", r"\-ad123\-", ["x-ad123-y.example"], ["ad123.example"]),
        ("://sportframe*.co^", r"^sportframe.*\.co$", ["sportframe1.co", "sportframe.x.co"],
         ["a.sportframe1.co", "sportframe.com"]),
        ("||adservice.google.co.*", r"(?:^|\.)adservice\.google\.co\.", ["adservice.google.co.uk"],
         ["adservice.google.com"]),
        ("||aan.amazon.*^", r"(?:^|\.)aan\.amazon\..*$", ["aan.amazon.com", "aan.amazon.co.uk"],
         ["aan.amazon", "aan.amazonx.com"]),
        ("|ad*.example^", r"^ad.*\.example$", ["ad1.example", "ad.x.example"], ["x.ad1.example"]),
        ("analytics-*.aasaam.com", r"analytics\-.*\.aasaam\.com", ["analytics-1.aasaam.com"],
         ["analytics.aasaam.com"]),
    ],
)
def test_other_hostname_patterns_become_adguards_regex(
    rule: str, regex: str, matching: list[str], not_matching: list[str]
) -> None:
    parsed = one(rule)
    assert parsed.names == {}
    assert parsed.regexes == [(BLOCK, regex, 1)]
    assert parsed.skipped == {AS_REGEX_NOTE: 1}
    compiled = compile_pattern(regex)
    for name in matching:
        assert compiled.search(name), name
        assert adguard_matches(rule.replace("://", "|"), name), name
    for name in not_matching:
        assert not compiled.search(name), name
        assert not adguard_matches(rule.replace("://", "|"), name), name


# --- regex rules ----------------------------------------------------------------------------


def test_regex_rules() -> None:
    parsed = parse("/^(.+?\\.)?amemv\\.com$/\n@@/^ok\\./\n/^[a-z]+$/$important\n/(unclosed/\n")
    assert parsed.regexes == [(BLOCK, r"^(.+?\.)?amemv\.com$", 1), (ALLOW, r"^ok\.", 2)]
    assert parsed.skipped == {"modifier $important": 1}
    [(number, message)] = parsed.invalid
    assert number == 4 and "not a valid regular expression" in message


# --- what is skipped, and why ---------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    ["##.ad-banner", "example.com##.ad", "example.com#@#.ad", "example.com#$#body { x: y }",
     "example.com#?#div:has(> a)", "example.com#%#//scriptlet('x')", "example.com$$script[tag]",
     "#@#.banner"],
)
def test_cosmetic_rules_are_skipped(rule: str) -> None:
    parsed = one(rule)
    assert parsed.skipped == {"cosmetic rule": 1} and parsed.taken == 0 and not parsed.invalid
    assert parsed.considered == 1


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("||doubleclick.net^$third-party", "modifier $third-party"),
        ("||x.example^$script,domain=a.example", "modifier $script"),
        ("||x.example^$important,third-party", "modifier $third-party"),
        ("||x.example^$important", "modifier $important"),
        ("@@||x.example^$important", "modifier $important"),
        ("||x.example^$denyallow=a.example|b.example", "modifier $denyallow"),
        ("@@||*^$client=127.0.0.1", "modifier $client"),
        ("||x.example^$client='Frank\\'s laptop'", "modifier $client"),
        ("||x.example^$ctag=device_pc|device_phone", "modifier $ctag"),
        ("||x.example^$dnstype=AAAA", "modifier $dnstype"),
        ("||x.example^$dnstype=~A|~CNAME", "modifier $dnstype"),
        ("||x.example^$dnsrewrite=NOERROR;A;1.2.3.4", "modifier $dnsrewrite"),
        ("*$denyallow=com|net", "modifier $denyallow"),
        ("||x.example^$badfilter", "modifier $badfilter"),
        ("||x.example/ads/*", "rule with a path"),
        ("/banner.gif", "rule with a path"),
        ("||x.example:8080^", "rule for URL parts other than a name"),
        ("?ad_id=", "rule for URL parts other than a name"),
        ("|167.206.10.148^", "IP address rule"),
        ("188.72.219.36^", "IP address rule"),
        ("||158.247.208.", "IP address rule"),
        ("localhost", "localhost entry"),
    ],
)
def test_skipped_rules_are_counted_by_reason(rule: str, reason: str) -> None:
    parsed = one(rule)
    assert parsed.skipped == {reason: 1}, parsed.skipped
    assert parsed.taken == 0 and not parsed.invalid


def test_modifier_reason_prefers_the_modifier_that_makes_adguard_ignore_the_rule() -> None:
    assert modifier_reason("important,~third-party") == "modifier $third-party"
    assert modifier_reason("client=1.2.3.4,dnstype=A") == "modifier $client"
    assert modifier_reason("Domain=x.example") == "modifier $domain"


def test_badfilter_disables_the_rule_it_repeats() -> None:
    text = (
        "||linksprf.com^\n||keep.example^\n||linksprf.com^$badfilter\n"
        "@@||b.example^$important\n@@||b.example^$important,badfilter\n"
    )
    parsed = parse(text)
    assert only(parsed, BLOCK, SUBTREE) == ["keep.example"]
    assert parsed.skipped == {"disabled by $badfilter": 2, "modifier $badfilter": 2}


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ('<a href="/x">ads</a>', "not an adblock rule"),
        ("||ex ample.com^", "not an adblock rule"),
        ("||*^", "matches every name"),
        ("@@", "empty rule"),
        ("||-bad.example^", "hyphen"),
        ("||" + "a" * 64 + ".example^", "at most 63"),
    ],
)
def test_invalid_rules(rule: str, words: str) -> None:
    parsed = one(rule)
    [(number, message)] = parsed.invalid
    assert number == 1 and words in message, message


def test_fast_block_and_careful_lines_agree() -> None:
    names = [f"a{i}.example" for i in range(5000)]
    fast = parse("\n".join(f"||{n}^" for n in names))
    careful = parse("\n".join(f"||{n}^" for n in names) + "\n||x.example^$important\n")
    assert careful.skipped == {"modifier $important": 1}
    assert fast.names == careful.names
    allow = parse("\n".join(f"@@||{n}^" for n in names))
    assert only(allow, ALLOW, SUBTREE) == names
