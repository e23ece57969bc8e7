"""RPZ zone files, read as draft-vixie-dnsop-dns-rpz and RFC 1035 master files define them."""

from __future__ import annotations

import pytest

from resolver.lists.formats import parse_source
from resolver.lists.formats.parsed import ParsedSource
from resolver.lists.formats.rpz import NODATA_REASON
from resolver.lists.sources import Format

from .lists import ALLOW, BLOCK, EXACT, SUBTREE, entries, only


def parse(text: str) -> ParsedSource:
    return parse_source(text, Format.RPZ)


HAGEZI_HEAD = """\
$TTL 300
@ SOA localhost. root.localhost. 1764957780 43200 3600 86400 300
  NS  localhost.
;
; Title: HaGeZi's TikTok Fingerprinting DNS Blocklist
;
"""


def test_cname_to_root_is_nxdomain_for_that_name() -> None:
    parsed = parse(HAGEZI_HEAD + "frontier.byteoversea.com CNAME .\n")
    assert only(parsed, BLOCK, EXACT) == ["frontier.byteoversea.com"]
    assert parsed.considered == 1  # SOA, NS and directives are structure


def test_wildcard_owner_is_the_names_below() -> None:
    parsed = parse(HAGEZI_HEAD + "x.example CNAME .\n*.x.example CNAME .\n")
    assert entries(parsed) == {
        ("block", "exact"): ["x.example"], ("block", "subtree"): ["*.x.example"],
    }


def test_origin_relative_owners_and_apex_stripping() -> None:
    text = """\
$ORIGIN rpz.example.net.
$TTL 1h
@ IN SOA ns.example.net. hostmaster.example.net. ( 2024010101 ; serial
        3600   ; refresh
        600 86400 60 )
  IN NS ns.example.net.
bad.example.com           CNAME .
*.bad.example.com  300 IN CNAME .
ads.example.org.rpz.example.net. IN 300 CNAME .
$ORIGIN example.com.rpz.example.net.
tracker                   CNAME .
@                         CNAME rpz-passthru.
"""
    parsed = parse(text)
    assert entries(parsed) == {
        ("block", "exact"): ["bad.example.com", "ads.example.org", "tracker.example.com"],
        ("block", "subtree"): ["*.bad.example.com"],
        ("allow", "exact"): ["example.com"],
    }
    assert parsed.invalid == [] and parsed.considered == 5


def test_a_blank_owner_repeats_the_previous_one() -> None:
    parsed = parse("ads.example CNAME .\n   A 10.0.0.1\n")
    assert only(parsed, BLOCK, EXACT) == ["ads.example"]
    assert parsed.skipped == {"RPZ action local data A": 1}


def test_passthru_allows() -> None:
    text = (
        "ok.example CNAME rpz-passthru.\n*.ok.example CNAME rpz-passthru.\n"
        "old.example CNAME old.example.\n"
    )
    parsed = parse(text)
    assert entries(parsed) == {
        ("allow", "exact"): ["ok.example", "old.example"],
        ("allow", "subtree"): ["*.ok.example"],
    }


def test_nodata_is_read_as_a_block_and_counted() -> None:
    parsed = parse("nodata.example CNAME *.\n*.nodata.example CNAME *.\n")
    assert entries(parsed) == {
        ("block", "exact"): ["nodata.example"], ("block", "subtree"): ["*.nodata.example"],
    }
    assert parsed.skipped == {NODATA_REASON: 2}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("drop.example CNAME rpz-drop.", "RPZ action rpz-drop"),
        ("tcp.example CNAME rpz-tcp-only.", "RPZ action rpz-tcp-only"),
        ("garden.example CNAME walled.garden.example.", "RPZ action CNAME to a name"),
        ("garden.example CNAME *.walled.garden.example.", "RPZ action CNAME to a name"),
        ("relative.example CNAME rpz-passthru", "RPZ action CNAME to a name"),
        ("local.example A 192.0.2.1", "RPZ action local data A"),
        ("local.example 60 IN AAAA 2001:db8::1", "RPZ action local data AAAA"),
        ('local.example TXT "blocked; by policy"', "RPZ action local data TXT"),
        ("32.1.2.0.192.rpz-ip CNAME .", "RPZ trigger rpz-ip"),
        ("24.0.2.0.192.rpz-client-ip CNAME rpz-drop.", "RPZ trigger rpz-client-ip"),
        ("ns.bad.example.rpz-nsdname CNAME .", "RPZ trigger rpz-nsdname"),
        ("32.1.2.0.192.rpz-nsip CNAME .", "RPZ trigger rpz-nsip"),
        ("$INCLUDE other.zone", "RPZ $INCLUDE not followed"),
    ],
)
def test_other_actions_and_triggers_are_skipped_by_reason(record: str, reason: str) -> None:
    parsed = parse(HAGEZI_HEAD + record + "\n")
    assert parsed.skipped == {reason: 1}
    assert parsed.taken == 0 and parsed.invalid == [] and parsed.considered == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("$ORIGIN rpz.example.\nother.zone.example. CNAME .\n", "outside the policy zone"),
        ("$ORIGIN rpz.example.\n@ CNAME .\n", "zone apex"),
        ("* CNAME .\n", "every name"),
        ("ad*.example CNAME .\n", "leftmost '*' label"),
        ("bad!.example CNAME .\n", "contains '!'"),
        ("0.0.0.0 ads.example\n", "no record type"),
        ("x.example CNAME\n", "no target"),
        ("   CNAME .\n", "no owner"),
        ("$FOO bar\n", "unknown directive"),
    ],
)
def test_records_that_are_errors(text: str, words: str) -> None:
    parsed = parse(text)
    [(number, message)] = parsed.invalid
    assert words in message
    assert number == text.count("\n")


def test_soa_parentheses_and_comments_do_not_shift_line_numbers() -> None:
    text = "@ SOA ns. host. (\n 1 ; serial\n 2 3 4 5 )\nok.example CNAME .\nbad!.example CNAME .\n"
    parsed = parse(text)
    assert only(parsed, BLOCK, EXACT) == ["ok.example"]
    assert [number for number, _ in parsed.invalid] == [5]


def test_names_are_normalised() -> None:
    parsed = parse("Ads.Example CNAME .\nbücher.example CNAME .\n")
    assert only(parsed, BLOCK, EXACT) == ["ads.example", "xn--bcher-kva.example"]


def test_match_does_not_change_rpz_owners() -> None:
    parsed = parse_source("ads.example CNAME .\n", Format.RPZ, match=SUBTREE)
    assert only(parsed, BLOCK, EXACT) == ["ads.example"]
    assert parsed.names_for(ALLOW, EXACT) == []
