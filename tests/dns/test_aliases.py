"""Tests for resolver.dns.aliases: the CNAME/DNAME chain read from an upstream message.

Messages are built with dnspython (compressed, as servers send them) or by hand where a
case needs bytes dnspython would not write.
"""

from __future__ import annotations

import dns.message
import dns.rrset
import pytest

from resolver.dns.aliases import AliasChain, chain_of


def answer(qname: str, *records: str, rdtype: str = "A") -> bytes:
    """An upstream answer to `qname` with these answer records ("owner TTL TYPE data")."""
    query = dns.message.make_query(qname, rdtype, use_edns=False)
    response = dns.message.make_response(query)
    for text in records:
        owner, ttl, kind, data = text.split(" ", 3)
        response.answer.append(dns.rrset.from_text(owner + ".", int(ttl), "IN", kind, data))
    return response.to_wire()


def test_a_message_without_aliases_has_no_chain() -> None:
    assert chain_of(answer("www.example.com", "www.example.com 300 A 192.0.2.1")) is None
    assert chain_of(answer("www.example.com")) is None  # no answer at all


def test_one_cname_gives_owner_and_target_in_qname_form() -> None:
    chain = chain_of(answer("WWW.Example.com", "WWW.Example.com 300 CNAME V16.TikTokCDN.com.",
                            "V16.TikTokCDN.com 60 A 192.0.2.9"))
    assert chain == chain  # compared by identity, and equal to itself
    assert isinstance(chain, AliasChain)
    assert chain.links == (("CNAME", "www.example.com", "v16.tiktokcdn.com"),)
    assert chain.names == ("www.example.com", "v16.tiktokcdn.com")
    assert chain.path_to("v16.tiktokcdn.com") == "CNAME www.example.com → v16.tiktokcdn.com"


def test_a_two_step_chain_lists_each_name_once_and_reads_as_one_path() -> None:
    chain = chain_of(answer("a.example.test", "a.example.test 300 CNAME b.example.test.",
                            "b.example.test 300 CNAME www.tiktok.com.",
                            "www.tiktok.com 300 A 192.0.2.41"))
    assert chain is not None
    assert chain.names == ("a.example.test", "b.example.test", "www.tiktok.com")
    assert chain.path_to("www.tiktok.com") == \
        "CNAME a.example.test → b.example.test → www.tiktok.com"
    # the path stops at the first link naming the deciding name
    assert chain.path_to("b.example.test") == "CNAME a.example.test → b.example.test"


def test_a_dname_and_its_synthesised_cname() -> None:
    chain = chain_of(answer("www.mirror.test", "mirror.test 300 DNAME tiktok.com.",
                            "www.mirror.test 300 CNAME www.tiktok.com.",
                            "www.tiktok.com 300 A 192.0.2.41"))
    assert chain is not None
    assert chain.links == (("DNAME", "mirror.test", "tiktok.com"),
                           ("CNAME", "www.mirror.test", "www.tiktok.com"))
    assert chain.names == ("mirror.test", "tiktok.com", "www.mirror.test", "www.tiktok.com")
    assert chain.path_to("tiktok.com") == "DNAME mirror.test → tiktok.com"
    assert chain.path_to("www.tiktok.com") == \
        "DNAME mirror.test → tiktok.com, CNAME www.mirror.test → www.tiktok.com"


def test_aliases_outside_the_answer_section_do_not_count() -> None:
    query = dns.message.make_query("www.example.com", "A", use_edns=False)
    response = dns.message.make_response(query)
    response.authority.append(dns.rrset.from_text("x.example.com.", 300, "IN", "CNAME",
                                                  "www.tiktok.com."))
    assert chain_of(response.to_wire()) is None


def test_labels_that_are_not_hostnames_are_escaped_as_qnames_are() -> None:
    chain = chain_of(answer("www.example.com", r"www.example.com 300 CNAME a\.b.tiktok.com."))
    assert chain is not None
    assert chain.names[1] == r"a\046b.tiktok.com"  # never the key of tiktok.com's "a.b"


@pytest.mark.parametrize("cut", [5, 12, 30, -3])
def test_a_message_that_cannot_be_walked_has_no_chain(cut: int) -> None:
    wire = answer("www.example.com", "www.example.com 300 CNAME v16.tiktokcdn.com.")
    assert chain_of(wire[:cut]) is None


def test_a_pointer_loop_in_a_target_is_no_chain() -> None:
    wire = bytearray(answer("www.example.com", "www.example.com 300 CNAME v16.tiktokcdn.com."))
    # the CNAME's RDATA is the last name in the message: make it point at itself
    start = len(wire) - len(b"\x03v16\x0btiktokcdn\xc0\x10")
    assert wire[start:start + 4] == b"\x03v16"
    wire[start:start + 2] = bytes((0xC0 | (start >> 8), start & 0xFF))
    assert chain_of(bytes(wire)) is None


def test_the_question_name_given_gives_the_same_chain() -> None:
    wire = answer("a.example.test", "a.example.test 300 CNAME b.example.test.",
                  "b.example.test 300 CNAME www.tiktok.com.")
    read, given = chain_of(wire), chain_of(wire, "a.example.test")
    assert read is not None and given is not None
    assert (read.links, read.names) == (given.links, given.names)
    assert given.names == ("a.example.test", "b.example.test", "www.tiktok.com")


def test_a_lone_dname_and_look_alike_bytes_are_told_apart() -> None:
    alone = chain_of(answer("x.mirror.test", "mirror.test 300 DNAME tiktok.com."))
    assert alone is not None and alone.links == (("DNAME", "mirror.test", "tiktok.com"),)
    # an address whose bytes read like a CNAME's TYPE and CLASS: walked, and no chain
    wire = answer("www.example.com", "www.example.com 300 A 0.5.0.1")
    assert b"\x00\x05\x00\x01" in wire[12:]
    assert chain_of(wire) is None
