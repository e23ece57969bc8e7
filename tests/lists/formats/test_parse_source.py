"""parse_source and ParsedSource: the API the loader and lint use."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.lists.formats import parse_source
from resolver.lists.formats.parsed import ParsedSource
from resolver.lists.sources import Format

from .lists import ALLOW, BLOCK, EXACT, SUBTREE


def test_auto_records_the_detected_format() -> None:
    parsed = parse_source("0.0.0.0 ads.example\n", Format.AUTO)
    assert parsed.format is Format.HOSTS
    assert parsed.names == {(BLOCK, EXACT): ["ads.example"]}


def test_taken_counts_names_and_regexes() -> None:
    text = "||a.example^\n@@||b.example^\n|c.example^\n/^ads\\./\n##.x\n"
    parsed = parse_source(text, Format.ADBLOCK)
    assert parsed.taken == 4
    assert parsed.considered == 5
    assert parsed.names_for(ALLOW, SUBTREE) == ["b.example"]
    assert parsed.names_for(ALLOW, EXACT) == []


def test_invalid_share() -> None:
    parsed = ParsedSource(format=Format.DOMAINS, considered=8, invalid=[(1, "x"), (5, "y")])
    assert parsed.invalid_share == 0.25
    assert ParsedSource(format=Format.DOMAINS).invalid_share == 0.0


def test_no_empty_keys_are_left_behind() -> None:
    assert parse_source("# only a comment\n", Format.DOMAINS).names == {}
    assert parse_source("# only a comment\n", Format.HOSTS).names == {}
    assert parse_source("! only a comment\n", Format.ADBLOCK).names == {}


@pytest.mark.parametrize("fmt", [f for f in Format if f is not Format.AUTO])
def test_every_format_survives_garbage(fmt: Format) -> None:
    garbage = "\x00\x01 \ufffd\n<<<>>>\n((((\n" + "a" * 10_000 + "\n\t\t\n;;;\n$$$\n@@\n||\n|\n*\n"
    parsed = parse_source(garbage, fmt)
    assert parsed.invalid or parsed.skipped
    if fmt is Format.REGEX:
        # Garbage that compiles is a (useless) regex; what would match every name is not.
        assert {n for n, _ in parsed.invalid} == {3, 7, 9, 10, 11}  # ((((, $$$, ||, |, *
    else:
        assert parsed.taken == 0


AWKWARD = st.sampled_from(
    ["a.example", "12345", "1.2.3.4", "a.123", "localhost", "ip6-x", "ip6-x.example", "UP.example",
     "dot.example.", "x--y.example", "_srv.example", "b" * 63 + ".example", "xn--bcher-kva.example"]
)


@settings(max_examples=300)
@given(st.lists(AWKWARD, min_size=1, max_size=30))
def test_fast_blocks_only_defer_to_the_careful_path(names: list[str]) -> None:
    """A block taken whole must read exactly as its lines read one by one."""
    for fmt, render in (
        (Format.DOMAINS, "{}".format),
        (Format.HOSTS, "0.0.0.0 {}".format),
        (Format.ADBLOCK, "||{}^".format),
        (Format.ADBLOCK, "@@||{}^".format),
    ):
        lines = [render(n) for n in names]
        whole = parse_source("\n".join(lines), fmt)
        careful = parse_source("\n".join(["# forces the careful path", *lines]), fmt)
        assert (whole.names, whole.skipped, whole.invalid) == (
            careful.names, careful.skipped, [(n - 1, m) for n, m in careful.invalid]
        ), fmt
