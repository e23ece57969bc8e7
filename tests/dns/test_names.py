"""Tests for resolver.dns.names: reading, scanning and encoding names."""

from __future__ import annotations

import pytest
from message_builders import A_IN, WWW_EXAMPLE, header

from resolver.dns.message import MalformedMessage
from resolver.dns.names import labels_text, labels_wire, name_to_wire, read_name


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("", b"\x00"),
        (".", b"\x00"),
        ("example.com", b"\x07example\x03com\x00"),
        ("example.com.", b"\x07example\x03com\x00"),
        (r"a\046b.c", b"\x03a.b\x01c\x00"),
        (r"a\.b.c.", b"\x03a.b\x01c\x00"),
        (r"\000", b"\x01\x00\x00"),
    ],
)
def test_name_to_wire(text: str, wire: bytes) -> None:
    assert name_to_wire(text) == wire


@pytest.mark.parametrize(
    "text", ["a..b", ".a", "a" * 64, ".".join(["a" * 63] * 4), "ä.com", "a\\", r"\256"]
)
def test_name_to_wire_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        name_to_wire(text)


def test_read_name_follows_pointers_and_returns_the_offset_after_the_first() -> None:
    wire = header() + WWW_EXAMPLE + A_IN + b"\x01a\xc0\x0c"
    at = 12 + len(WWW_EXAMPLE) + 4
    assert read_name(wire, at) == ([b"a", b"www", b"example", b"com"], len(wire))
    assert read_name(wire, 12) == ([b"www", b"example", b"com"], 12 + len(WWW_EXAMPLE))


@pytest.mark.parametrize(
    "name",
    [b"\xc0\x0c", b"\x01a\xc0\x0e\x01b\xc0\x0c"],  # a pointer to itself; two pointing at each other
)
def test_read_name_cuts_pointer_loops(name: bytes) -> None:
    with pytest.raises(MalformedMessage, match="loop"):
        read_name(header() + name, 12)


def test_labels_text_lowers_and_escapes_like_query_names() -> None:
    assert labels_text([b"WwW", b"Ex-Am_ple"]) == "www.ex-am_ple"
    assert labels_text([b"a.b", b"*", b" \x00"]) == r"a\046b.\042.\032\000"
    assert labels_text([]) == ""
    assert labels_wire([b"a", b"bc"]) == b"\x01a\x02bc\x00"
    assert name_to_wire(labels_text([b"a.b", b"c"])) == labels_wire([b"a.b", b"c"])
