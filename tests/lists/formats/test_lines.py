"""Reading a list's lines and telling fast whether they are normalised names."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.lists.formats.lines import (
    check_name,
    is_ip_address,
    is_local_name,
    plain_block,
    source_lines,
)
from resolver.policy.names import InvalidName, normalise_pattern


def test_source_lines_numbers_lines_by_position() -> None:
    assert source_lines("a\n\nb\n") == ["a", "", "b"]
    assert source_lines("a\r\nb") == ["a", "b"]
    assert source_lines("") == []


def test_plain_block_refuses_what_needs_a_careful_look() -> None:
    for bad in (
        ["a.example", "B.example"],
        ["a.example", ""],
        ["a.example."],
        ["-a.example"],
        ["a-.example"],
        ["a..example"],
        ["a" * 64],
        [("a" * 60 + ".") * 5 + "com"],  # 308 octets
        ["localhost"],
        ["ip6-loopback"],
        ["1.2.3.4"],
        ["a.example # c"],
        ["*.a.example"],
    ):
        assert not plain_block("\n".join(bad), bad), bad
    good = ["a.example", "xn--bcher-kva.example", "_dmarc.x", "com", "a-b--c.example", "0.example"]
    assert plain_block("\n".join(good), good)


LABEL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789-_.*", min_size=1, max_size=70
)


@settings(max_examples=400)
@given(st.one_of(LABEL, st.text(max_size=40)), st.booleans())
def test_check_name_agrees_with_normalise_pattern(text: str, allow_glob: bool) -> None:
    try:
        expected = normalise_pattern(text, allow_glob=allow_glob)
    except InvalidName:
        expected = None
    try:
        got = check_name(text, allow_glob=allow_glob)
    except InvalidName:
        got = None
    if got is not None and expected is None:
        raise AssertionError(f"check_name accepted {text!r} as {got!r}")
    assert got == expected


def test_a_byte_order_mark_and_old_mac_line_endings() -> None:
    assert source_lines("\ufeffa\rb\r\nc\n") == ["a", "b", "c"]
    many = "".join(f"n{i}\n" for i in range(300_000))  # more than one megabyte piece
    lines = source_lines(many)
    assert len(lines) == 300_000 and lines[-1] == "n299999" and lines[131_072] == "n131072"


def test_local_names_and_ip_addresses() -> None:
    assert is_local_name("localhost") and is_local_name("ip6-whatever")
    assert not is_local_name("ip6-x.example") and not is_local_name("local.example")
    assert is_ip_address("192.0.2.1") and is_ip_address("fe80::1%lo0")
    assert not is_ip_address("1.2.3") and not is_ip_address("a.example") and not is_ip_address("")
