"""Tests for resolver.dns.names: reading, scanning and encoding names."""

from __future__ import annotations

import pytest

from resolver.dns.names import name_to_wire


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
