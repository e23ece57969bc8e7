"""The hosts format: `IP name [name...]`, as AdGuard Home, Pi-hole and Blocky read it."""

from __future__ import annotations

import pytest

from resolver.lists.formats import hosts, parse_source
from resolver.lists.formats.parsed import ParsedSource
from resolver.lists.sources import Format, Scope
from resolver.policy.model import Action

from .lists import BLOCK, EXACT, SUBTREE, only


@pytest.mark.parametrize(
    "address", ["0.0.0.0", "127.0.0.1", "::", "::1", "192.168.1.10", "fe80::1%lo0"]
)
def test_any_address_then_a_name_blocks_that_name(address: str) -> None:
    parsed = parse_source(f"{address} ads.example\n", Format.HOSTS)
    assert only(parsed, BLOCK, EXACT) == ["ads.example"]


def test_tabs_several_names_and_inline_comments() -> None:
    text = "0.0.0.0\tone.example\ttwo.example  three.example # why\n127.0.0.1 four.example#tight\n"
    parsed = parse_source(text, Format.HOSTS)
    assert only(parsed, BLOCK, EXACT) == [
        "one.example", "two.example", "three.example", "four.example"
    ]
    assert parsed.considered == 2


def test_the_machines_own_names_are_not_blocked() -> None:
    # The head of StevenBlack's unified hosts file.
    text = """\
127.0.0.1 localhost
127.0.0.1 localhost.localdomain
127.0.0.1 local
255.255.255.255 broadcasthost
::1 localhost ip6-localhost ip6-loopback
fe80::1%lo0 localhost
ff00::0 ip6-localnet
ff00::0 ip6-mcastprefix
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
ff02::3 ip6-allhosts
0.0.0.0 0.0.0.0
0.0.0.0 ad-assets.futurecdn.net
"""
    parsed = parse_source(text, Format.HOSTS)
    assert only(parsed, BLOCK, EXACT) == ["ad-assets.futurecdn.net"]
    assert parsed.skipped == {"localhost entry": 13, "IP address, not a name": 1}
    assert parsed.invalid == []


def test_addresses_written_as_names_are_skipped() -> None:
    parsed = parse_source("0.0.0.0\t161.117.70.136\n0.0.0.0\tapi.tiktokv.com\n", Format.HOSTS)
    assert only(parsed, BLOCK, EXACT) == ["api.tiktokv.com"]
    assert parsed.skipped == {"IP address, not a name": 1}


def test_a_lone_name_is_accepted_as_adguard_home_and_blocky_do() -> None:
    assert only(parse_source("ads.example\n", Format.HOSTS), BLOCK, EXACT) == ["ads.example"]


def test_names_are_normalised() -> None:
    parsed = parse_source("0.0.0.0 Ads.Example. bücher.example\n", Format.HOSTS)
    assert only(parsed, BLOCK, EXACT) == ["ads.example", "xn--bcher-kva.example"]


def test_match_subtree() -> None:
    parsed = parse_source("0.0.0.0 ads.example\n", Format.HOSTS, match=SUBTREE)
    assert only(parsed, BLOCK, SUBTREE) == ["ads.example"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("0.0.0.0", "no names"),
        ("block ads.example", "not an IP address"),
        ("<a href='x'>link</a> text", "not an IP address"),
        ("0.0.0.0 *.ads.example", "wildcards are not allowed"),
    ],
)
def test_lines_that_are_errors(line: str, words: str) -> None:
    parsed = parse_source(f"# head\n{line}\n0.0.0.0 ok.example\n", Format.HOSTS)
    [(number, message)] = parsed.invalid
    assert number == 2 and words in message
    assert parsed.names_for(BLOCK, EXACT) == ["ok.example"]


def test_a_bad_name_does_not_lose_the_good_names_of_its_line() -> None:
    parsed = parse_source("0.0.0.0 good.example bad!name.example other.example\n", Format.HOSTS)
    assert only(parsed, BLOCK, EXACT) == ["good.example", "other.example"]
    [(number, message)] = parsed.invalid
    assert number == 1 and "'!'" in message
    assert parsed.invalid_share == 1.0


def test_fast_block_and_careful_lines_agree() -> None:
    names = [f"h{i}.example" for i in range(5000)]
    fast = parse_source("\n".join(f"0.0.0.0 {n}" for n in names), Format.HOSTS)
    careful = parse_source("\n".join(f"0.0.0.0\t{n}" for n in names), Format.HOSTS)
    assert fast.names == careful.names
    assert fast.considered == careful.considered == 5000


def test_parse_fills_the_record_it_is_given() -> None:
    out = ParsedSource(Format.HOSTS)
    hosts.parse("0.0.0.0 a.example b.example # two\n127.0.0.1 localhost\n"
                "0.0.0.0\nnot-an-ip c.example\n", out, Scope.EXACT)
    assert out.names_for(Action.BLOCK, Scope.EXACT) == ["a.example", "b.example"]
    assert out.skipped["localhost entry"] == 1
    assert [number for number, _ in out.invalid] == [3, 4]
    assert out.considered == 4
