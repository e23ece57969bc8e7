"""resolver.policy.regexes: Pi-hole/AdGuard regexes compiled once and matched cheaply.

(It reads the patterns of the format tests' corpora.)
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.lists.formats import parse_source
from resolver.lists.sources import Format
from resolver.policy.regexes import (
    InvalidRegex,
    RegexMatcher,
    alternatives,
    compile_pattern,
    literals,
    translate_posix,
)
from tests.lists.formats.lists import CORPORA, list_text


@pytest.mark.parametrize(
    ("posix", "python"),
    [
        ("[^.[:space:]]+", "[^.\\s]+"),
        ("[[:digit:]]{3}", "[0-9]{3}"),
        ("[[:alpha:][:digit:]_-]", "[a-zA-Z0-9_-]"),
        ("[]a[:digit:]]", "[\\]a0-9]"),
        ("[^]a[:digit:]]", "[^\\]a0-9]"),
        ("[[[:digit:]]", "[\\[0-9]"),
        ("\\[:digit:]", "\\[:digit:]"),
        ("no classes [[]", "no classes [[]"),
    ],
)
def test_translate_posix(posix: str, python: str) -> None:
    assert translate_posix(posix) == python


def test_compile_pattern_matches_case_insensitively_and_reports_errors() -> None:
    assert compile_pattern("^Ads\\.").search("ads.example")
    with pytest.raises(InvalidRegex, match="not a valid regular expression"):
        compile_pattern("(")
    with pytest.raises(InvalidRegex, match="empty"):
        compile_pattern("")


@pytest.mark.parametrize("pattern", [".*", "^.*$", "a*", "(ads)?", "|", "ads|", "$", "^", "(?:)"])
def test_patterns_that_match_every_name_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidRegex, match="matches every name"):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "prefix", "suffix", "inner"),
    [
        ("^(.+?\\.)?amemv\\.com$", "", "amemv.com", "amemv.com"),
        ("^pixels?[-.]", "pixel", "", "pixel"),
        ("^mads\\.", "mads.", "", "mads."),
        ("(?:^|\\.)admulti\\.", "", "", "admulti."),
        ("^(.+[_.-])?adse?rv(er?|ice)?s?[0-9]*[_.-]", "", "", "ads"),
        ("ab+c$", "", "c", "ab"),
        ("a{0,2}bcd", "", "", "bcd"),
        ("a|bcd", "", "", ""),
        ("x\\$", "", "", "x"),
        ("[a-z]+\\.example$", "", ".example", ".example"),
        ("\\x41bc$", "", "bc", "bc"),  # \x41 is one character, not "41"
        ("\\u0041bcd$", "", "bcd", "bcd"),
        ("\\101bcd$", "", "bcd", "bcd"),  # octal
        ("\\N{LATIN SMALL LETTER A}bcd", "", "", "bcd"),
    ],
)
def test_literals(pattern: str, prefix: str, suffix: str, inner: str) -> None:
    found = literals(pattern)
    assert (found.prefix, found.suffix, found.inner) == (prefix, suffix, inner)


def test_escaped_characters_are_matched() -> None:
    matcher = RegexMatcher(["\\x61bc$", "^\\u0064ef", "ghi\\x6a"])
    assert matcher.first_match("abc") == 0
    assert matcher.first_match("def.example") == 1
    assert matcher.first_match("x.ghij") == 2


def test_alternatives_split_only_at_top_level() -> None:
    assert alternatives("a|b(c|d)|[x|y]|\\|") == ["a", "b(c|d)", "[x|y]", "\\|"]


def test_first_match_returns_a_matching_pattern_or_none() -> None:
    patterns = ["^ads?[0-9]*\\.", "(\\.|^)tiktokv\\.com$", "telemetry", "x(a|b)\\1", "(?i)^UPPER$"]
    matcher = RegexMatcher(patterns)
    assert len(matcher) == 5
    assert matcher.first_match("ads1.example") == 0
    assert matcher.first_match("api.tiktokv.com") == 1
    assert matcher.first_match("tiktokv.com") == 1
    assert matcher.first_match("eu.telemetry.example") == 2
    assert matcher.first_match("xaa.example") == 3  # back-reference, matched on its own
    assert matcher.first_match("upper") == 4
    assert matcher.first_match("www.example.com") is None


def test_an_invalid_pattern_fails_at_build_time() -> None:
    with pytest.raises(InvalidRegex):
        RegexMatcher(["ok", "(bad"])


PIECES = st.sampled_from(
    ["ad", "s?", "[0-9]*", "\\.", "^", "$", "(x|y)", "tik", "tok", ".", "+", "[_.-]", "(?:a|b)",
     "com", "-", "(.+\\.)?", "|", "q{2}", "v?", "\\x61", "\\d", "b{1,2}", "\\101", "[[:digit:]]",
     "(?=a)", "(?!t)"]
)
NAMES = st.from_regex(r"[a-z0-9]{1,5}([.-][a-z0-9]{1,5}){0,4}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(PIECES, min_size=1, max_size=6).map("".join), min_size=1, max_size=12),
       st.lists(NAMES, min_size=1, max_size=20))
def test_matcher_agrees_with_trying_every_pattern(patterns: list[str], names: list[str]) -> None:
    valid = []
    for pattern in patterns:
        try:
            compile_pattern(pattern)
        except InvalidRegex:
            continue
        valid.append(pattern)
    matcher = RegexMatcher(valid)
    for name in [*names, "ads.tiktok.com", "x.ad1-tok.com", "qq"]:
        expected = [i for i, p in enumerate(valid) if compile_pattern(p).search(name)]
        got = matcher.first_match(name)
        if expected:
            assert got in expected, (valid, name)
        else:
            assert got is None, (valid, name, got)


def test_real_lists_agree_with_the_naive_loop_on_top_names() -> None:
    toplist = CORPORA / "toplists" / "umbrella-top-100k.txt"
    if not toplist.is_file():
        pytest.skip(f"no toplist at {toplist}")
    names = [n.strip().lower() for n in toplist.read_text().split("\n")[:5000] if n.strip()]
    patterns = [
        p
        for rel, fmt in [
            ("pihole-regex/mmotti-regex.list", Format.REGEX),
            ("pihole-regex/mmotti-social-facebook.list", Format.REGEX),
            ("pihole-regex/mmotti-social-twitter.list", Format.REGEX),
            ("pihole-regex/mmotti-misc-amp.list", Format.REGEX),
            ("tiktok/aao-fyi-bytedance-block-rgx.txt", Format.ADBLOCK),
            ("adguard/adguard-dns-filter-without-privacy.txt", Format.ADBLOCK),
        ]
        for _a, p, _n in parse_source(list_text(rel), fmt).regexes
    ]
    compiled = [compile_pattern(p) for p in patterns]
    matcher = RegexMatcher(patterns)
    matched = 0
    for name in [*names, "log.tiktokv.com", "ads.example.com", "www.facebook.com"]:
        expected = [i for i, c in enumerate(compiled) if c.search(name)]
        got = matcher.first_match(name)
        assert (got in expected) if expected else got is None, name
        matched += bool(expected)
    assert matched > 100


def test_joined_chunks_map_groups_back_to_pattern_indexes() -> None:
    patterns = [f"(a)(b)?x{i}y" for i in range(RegexMatcher.CHUNK + 7)]
    matcher = RegexMatcher(patterns)
    for i in (0, 1, RegexMatcher.CHUNK - 1, RegexMatcher.CHUNK, RegexMatcher.CHUNK + 6):
        assert matcher.first_match(f"zzabx{i}y.example") == i
