"""Normalising what an admin typed into a domain name, or saying why not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolver.policy.names import (
    MAX_LABEL,
    MAX_NAME,
    InvalidName,
    normalise_pattern,
    normalise_query_name,
)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("tiktok.com", "tiktok.com"),
        ("TikTok.COM", "tiktok.com"),
        ("tiktok.com.", "tiktok.com"),
        ("  tiktok.com  ", "tiktok.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("bücher。example", "xn--bcher-kva.example"),  # ideographic full stop (UTS #46)
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("client_monitor.example", "client_monitor.example"),
        ("_sip._tcp.example.com", "_sip._tcp.example.com"),
        ("*.byteoversea.com", "*.byteoversea.com"),
        ("V*.TikTokCDN-eu.com", "v*.tiktokcdn-eu.com"),
        ("p16-tiktok-*.ibyteimg.com", "p16-tiktok-*.ibyteimg.com"),
        ("com", "com"),
        ("a-b.c-d.example", "a-b.c-d.example"),
        ("0.example", "0.example"),
    ],
)
def test_normalised_form(written: str, stored: str) -> None:
    assert normalise_pattern(written) == stored


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("https://tiktok.com/", ["looks like a URL", "did you mean tiktok.com?"]),
        ("HTTP://www.TikTok.com/@user", ["looks like a URL", "did you mean www.tiktok.com?"]),
        ("tiktok.com:443", ["looks like host:port", "did you mean tiktok.com?"]),
        ("tiktok.com/video", ["looks like a path", "did you mean tiktok.com?"]),
        ("user@tiktok.com", ["e-mail address"]),
        ("tik tok.com", ["' '", "no DNS name holds"]),
        ("tik:tok.com", ["':'", "no DNS name holds"]),
        ("tik!tok.com", ["'!'", "no DNS name holds"]),
        ("a..b", ["empty label"]),
        (".tiktok.com", ["empty label"]),
        ("tiktok.com..", ["empty label"]),
        ("-tiktok.com", ["'-tiktok'", "hyphen"]),
        ("tiktok-.com", ["'tiktok-'", "hyphen"]),
        ("", ["empty"]),
        ("   ", ["empty"]),
        (".", ["root"]),
        ("*", ["every name"]),
        ("bü*.example", ["'*' must be ASCII"]),
        ("*.*", ["every name"]),
    ],
)
def test_refused_with_a_reason(written: str, words: list[str]) -> None:
    with pytest.raises(InvalidName) as refused:
        normalise_pattern(written)
    message = str(refused.value)
    assert all(w in message for w in words), message


def test_label_length_limit_is_63_octets() -> None:
    assert normalise_pattern("a" * MAX_LABEL + ".com") == "a" * 63 + ".com"
    with pytest.raises(InvalidName, match="64 octets long"):
        normalise_pattern("a" * 64 + ".com")


def test_label_length_counts_the_punycode_form() -> None:
    # 30 'ü' encode to far more than 63 octets of punycode.
    with pytest.raises(InvalidName):
        normalise_pattern("ü" * 60 + ".example")


def test_name_length_limit_is_253_octets() -> None:
    longest = ".".join(["a" * 63] * 3 + ["b" * 61])  # 63*3 + 61 + 3 dots = 253
    assert len(longest) == MAX_NAME
    assert normalise_pattern(longest) == longest
    with pytest.raises(InvalidName, match="254 octets long"):
        normalise_pattern(longest + "b")


def test_query_names_take_no_wildcards() -> None:
    assert normalise_query_name("WWW.TikTok.com.") == "www.tiktok.com"
    with pytest.raises(InvalidName, match="wildcards are not allowed"):
        normalise_query_name("*.tiktok.com")


# Labels from a small alphabet of awkward pieces: case, IDN, underscores, hyphens, globs.
_PIECES = ["a", "B", "z9", "_x", "ü", "ß", "xn--bcher-kva", "-", "*", "Ω", "0"]
_label = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=4).map("".join)
_written = st.builds(
    lambda labels, dot: ".".join(labels) + ("." if dot else ""),
    st.lists(_label, min_size=1, max_size=5),
    st.booleans(),
)


@given(_written)
def test_normalising_is_idempotent_and_its_output_is_valid(text: str) -> None:
    try:
        once = normalise_pattern(text)
    except InvalidName:
        return
    assert normalise_pattern(once) == once
    assert once == once.lower() and once.isascii()
    assert not once.endswith(".")
    assert len(once) <= MAX_NAME
    assert all(0 < len(label) <= MAX_LABEL for label in once.split("."))


@given(st.text(max_size=80))
def test_any_text_is_either_a_name_or_an_invalid_name(text: str) -> None:
    try:
        once = normalise_pattern(text)
    except InvalidName:
        return
    assert normalise_pattern(once) == once
