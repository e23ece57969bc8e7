"""Pi-hole regex lists (the `regex` source format)."""

from __future__ import annotations

import pytest

from resolver.lists.formats import parse_source, regex
from resolver.lists.formats.parsed import ParsedSource
from resolver.lists.sources import Format
from resolver.policy.model import Action
from resolver.policy.regexes import compile_pattern

from .lists import BLOCK, list_text


def test_one_pattern_a_line_with_comments() -> None:
    parsed = parse_source("# mmotti\n\n^ad([sxv]?[0-9]*|system)[_.-]\n  ^mads\\.  \n", Format.REGEX)
    assert parsed.regexes == [(BLOCK, "^ad([sxv]?[0-9]*|system)[_.-]", 3), (BLOCK, "^mads\\.", 4)]
    assert parsed.names == {} and parsed.considered == 2


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("abc;querytype=AAAA", "Pi-hole option ;querytype"),
        (".*;querytype=!A", "Pi-hole option ;querytype"),
        ("^abc$;querytype=AAAA;invert", "Pi-hole option ;querytype"),
        ("^abc$;invert", "Pi-hole option ;invert"),
        ("myregex;reply=nodata", "Pi-hole option ;reply"),
        ("myregex;reply=1.2.3.4;reply=fe80::1234", "Pi-hole option ;reply"),
    ],
)
def test_pihole_options_are_skipped_by_option(line: str, reason: str) -> None:
    parsed = parse_source(line + "\n", Format.REGEX)
    assert parsed.skipped == {reason: 1}
    assert parsed.regexes == [] and parsed.considered == 1


def test_patterns_python_cannot_compile_are_errors_with_the_reason() -> None:
    parsed = parse_source("ok\\.example\n(unclosed\n*bad\n", Format.REGEX)
    assert [n for n, _ in parsed.invalid] == [2, 3]
    assert "missing )" in parsed.invalid[0][1]
    assert "nothing to repeat" in parsed.invalid[1][1]
    assert parsed.invalid_share == pytest.approx(2 / 3)


def test_slash_delimited_patterns_are_read_without_the_slashes() -> None:
    parsed = parse_source("/^(.+?\\.)?amemv\\.com$/\n", Format.REGEX)
    assert parsed.regexes == [(BLOCK, "^(.+?\\.)?amemv\\.com$", 1)]


def test_pihole_comment_syntax_inside_a_pattern() -> None:
    pattern = "(^|\\.)doubleclick\\.(?#TODO: more than .net)net$"
    parsed = parse_source(pattern + "\n", Format.REGEX)
    assert parsed.regexes == [(BLOCK, pattern, 1)]
    assert compile_pattern(pattern).search("ad.doubleclick.net")


def test_mmotti_list_reads_as_pihole_matches_it() -> None:
    parsed = parse_source(list_text("pihole-regex/mmotti-regex.list"), Format.REGEX)
    assert len(parsed.regexes) == 14 and not parsed.invalid
    first = compile_pattern(parsed.regexes[0][1])
    # [^.[:space:]] is a POSIX class inside a bracket expression, not a nested set.
    assert first.search("ads.example.com")
    assert first.search("tracker.adserver.example.com") is None
    assert first.search("x.ad-x.example")


def test_parse_fills_the_record_it_is_given() -> None:
    out = ParsedSource(Format.REGEX)
    regex.parse("# c\n/ads\\./\n^track;querytype=A\n(unclosed\n", out)
    assert out.regexes == [(Action.BLOCK, "ads\\.", 2)]
    assert out.skipped == {"Pi-hole option ;querytype": 1}
    assert [number for number, _ in out.invalid] == [4]
    assert out.considered == 3


def test_option_reason_names_the_pihole_option() -> None:
    assert regex.option_reason("^ads;invert") == "Pi-hole option ;invert"
    assert regex.option_reason("^ads;reply=nx") == "Pi-hole option ;reply"
    assert regex.option_reason("^a;b") is None
