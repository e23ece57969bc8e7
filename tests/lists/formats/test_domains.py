"""The domains format: one name a line, as Pi-hole, AdGuard Home and Blocky read it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolver.lists.formats import domains, parse_source
from resolver.lists.formats.lines import BLOCK as BLOCK_LINES
from resolver.lists.formats.parsed import ParsedSource
from resolver.lists.sources import Format, Scope
from resolver.policy.model import Action

from .lists import BLOCK, EXACT, SUBTREE, only


def test_a_name_blocks_that_exact_name() -> None:
    parsed = parse_source("tiktok.com\nads.example.org\n", Format.DOMAINS)
    assert only(parsed, BLOCK, EXACT) == ["tiktok.com", "ads.example.org"]
    assert parsed.considered == 2 and parsed.taken == 2


def test_match_subtree_widens_plain_names() -> None:
    parsed = parse_source("tiktok.com\n", Format.DOMAINS, match=SUBTREE)
    assert only(parsed, BLOCK, SUBTREE) == ["tiktok.com"]


def test_a_leading_wildcard_is_the_names_below() -> None:
    parsed = parse_source("*.byteoversea.com\ntiktok.com\n", Format.DOMAINS)
    assert parsed.names_for(BLOCK, SUBTREE) == ["*.byteoversea.com"]
    assert parsed.names_for(BLOCK, EXACT) == ["tiktok.com"]


def test_comments_blank_lines_and_inline_comments() -> None:
    text = "# Title: a list\n\n   \nexample.com # why\n#example.net\nexample.org#tight\n"
    parsed = parse_source(text, Format.DOMAINS)
    assert only(parsed, BLOCK, EXACT) == ["example.com", "example.org"]
    assert parsed.considered == 2


@pytest.mark.parametrize(
    ("line", "stored"),
    [
        ("TikTok.COM", "tiktok.com"),
        ("tiktok.com.", "tiktok.com"),
        ("  tiktok.com\t", "tiktok.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_names_are_normalised(line: str, stored: str) -> None:
    assert only(parse_source(line + "\n", Format.DOMAINS), BLOCK, EXACT) == [stored]


def test_line_endings_and_byte_order_mark() -> None:
    parsed = parse_source("\ufeffa.example\r\nb.example\rc.example\n", Format.DOMAINS)
    assert only(parsed, BLOCK, EXACT) == ["a.example", "b.example", "c.example"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("<html><body>", "contains '<'"),
        ("a" * 64 + ".example", "at most 63"),
        ("bad_name!.example", "contains '!'"),
        ("two names.example", "2 fields"),
        ("ad*.example.com", "leading '*.'"),
        ("*.*.example.com", "leading '*.'"),
        ("-bad.example", "hyphen"),
        ("a..example", "empty label"),
        ("https://example.com/x", "looks like a URL"),
    ],
)
def test_invalid_lines_are_reported_with_their_number(line: str, words: str) -> None:
    parsed = parse_source(f"# header\ngood.example\n{line}\n", Format.DOMAINS)
    assert only(parsed, BLOCK, EXACT) == ["good.example"]
    [(number, message)] = parsed.invalid
    assert number == 3
    assert words in message


def test_localhost_names_and_addresses_are_skipped_by_reason() -> None:
    text = "localhost\nip6-allnodes\nlocal\n1.2.3.4\n::1\nx.example\n"
    parsed = parse_source(text, Format.DOMAINS)
    assert only(parsed, BLOCK, EXACT) == ["x.example"]
    assert parsed.skipped == {"localhost entry": 3, "IP address, not a name": 2}
    assert parsed.invalid == []


def test_invalid_share_counts_lines_that_are_errors() -> None:
    parsed = parse_source("a.example\nb.example\nc d\n<p>\n# comment\n\n", Format.DOMAINS)
    assert parsed.considered == 4
    assert parsed.invalid_share == pytest.approx(0.5)
    assert parse_source("# nothing\n", Format.DOMAINS).invalid_share == 0.0


def test_line_numbers_stay_right_across_blocks() -> None:
    lines = [f"n{i}.example" for i in range(BLOCK_LINES * 2 + 10)]
    lines[BLOCK_LINES + 5] = "bad name"
    parsed = parse_source("\n".join(lines), Format.DOMAINS)
    assert [number for number, _ in parsed.invalid] == [BLOCK_LINES + 6]
    assert parsed.taken == len(lines) - 1


NAMES = st.lists(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?){0,3}\.[a-z]{2,6}",
                  fullmatch=True),
    min_size=1,
    max_size=50,
)


@given(NAMES, st.integers(min_value=0, max_value=49))
def test_fast_and_careful_paths_give_the_same_entries(names: list[str], at: int) -> None:
    fast = parse_source("\n".join(names), Format.DOMAINS)
    # A comment line forces the whole block through the line-by-line path.
    careful_lines = [*names]
    careful_lines.insert(min(at, len(names)), "# comment")
    careful = parse_source("\n".join(careful_lines), Format.DOMAINS)
    assert fast.names == careful.names
    assert fast.considered == careful.considered == len(names)


def test_parse_fills_the_record_it_is_given() -> None:
    out = ParsedSource(Format.DOMAINS)
    domains.parse("a.example\n*.b.example\nbad name\n", out, Scope.EXACT)
    assert out.names_for(Action.BLOCK, Scope.EXACT) == ["a.example"]
    assert out.names_for(Action.BLOCK, Scope.SUBTREE) == ["*.b.example"]
    assert [number for number, _ in out.invalid] == [3]
    assert out.considered == 3
