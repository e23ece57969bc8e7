"""Tests for resolver.upstream.zones: the longest zone a name equals or lies below."""

from __future__ import annotations

import pytest

from resolver.upstream.zones import ZoneTable

ZONES = ZoneTable({"corp.example.eu": "dc", "eu.corp.example.eu": "dc-eu",
                   "10.in-addr.arpa": "dc-reverse", "2.1.10.in-addr.arpa": "branch",
                   "lan": "router"})


@pytest.mark.parametrize(("qname", "served_by"), [
    ("corp.example.eu", "dc"),  # the zone itself
    ("dc1.corp.example.eu", "dc"),
    ("_ldap._tcp.dc._msdcs.corp.example.eu", "dc"),
    ("eu.corp.example.eu", "dc-eu"),  # the longer zone wins, at its apex ...
    ("host.eu.corp.example.eu", "dc-eu"),  # ... and below it
    ("xeu.corp.example.eu", "dc"),  # not a partial label of the longer zone
    ("3.2.1.10.in-addr.arpa", "branch"),
    ("2.1.10.in-addr.arpa", "branch"),
    ("3.9.1.10.in-addr.arpa", "dc-reverse"),
    ("10.in-addr.arpa", "dc-reverse"),
    ("printer.lan", "router"),
    ("lan", "router"),
])
def test_a_name_goes_to_the_longest_zone_it_equals_or_lies_below(qname: str,
                                                                 served_by: str) -> None:
    assert ZONES.get(qname) == served_by


@pytest.mark.parametrize("qname", [
    "xcorp.example.eu",  # ends like a zone, but not at a label boundary
    "www.xcorp.example.eu",
    "example.eu",  # above the zone
    "eu",
    "110.in-addr.arpa",
    "3.2.1.110.in-addr.arpa",
    "in-addr.arpa",
    "plan",
    "lan.example",
    "www.example.com",
    "",  # the root
])
def test_a_name_in_no_zone_gets_none(qname: str) -> None:
    assert ZONES.get(qname) is None


def test_an_escaped_dot_inside_a_label_is_not_a_label_boundary() -> None:
    # `Query.qname` writes a '.' inside a label as \046: the label "a.corp" is not "corp"
    assert ZONES.get("a\\046corp.example.eu") is None
    assert ZONES.get("a\\046b.corp.example.eu") == "dc"
    assert ZoneTable({"b.lan": 1}).get("a\\046b.lan") is None


def test_the_root_cannot_be_a_zone() -> None:
    with pytest.raises(ValueError, match="root"):
        ZoneTable({"": "everything"})


def test_an_empty_table_holds_no_name() -> None:
    empty: ZoneTable[str] = ZoneTable({})
    assert len(empty) == 0
    assert empty.get("corp.example.eu") is None
    assert len(ZONES) == 5
