"""A message cut at its TTL fields: the pieces and TTLs give the message back, and the walk
finds the TTLs a cache's lifetime depends on."""

from __future__ import annotations

import struct

import dns.message
import dns.rcode
import dns.rrset
import pytest

from resolver.dns.message import COUNTS, MalformedMessage
from resolver.dns.ttl_fields import split_at_ttls


def split(wire: bytes, chains: bool = True, qname: str | None = None
          ) -> tuple[int, list[bytes], list[int], int | None, int | None, object]:
    return split_at_ttls(wire, *COUNTS.unpack_from(wire, 4), chains, qname)


def response(*answer: tuple[str, int, str, str], authority: tuple[str, int, str, str] | None
             = None, edns: bool = False) -> bytes:
    query = dns.message.make_query("www.example.com.", "A", use_edns=0 if edns else False)
    message = dns.message.make_response(query)
    for owner, ttl, rtype, rdata in answer:
        message.answer.append(dns.rrset.from_text(owner, ttl, "IN", rtype, rdata))
    if authority is not None:
        owner, ttl, rtype, rdata = authority
        message.authority.append(dns.rrset.from_text(owner, ttl, "IN", rtype, rdata))
    return message.to_wire()


def test_the_pieces_joined_with_the_ttls_are_the_message() -> None:
    wire = response(("www.example.com.", 300, "CNAME", "cdn.example.net."),
                    ("cdn.example.net.", 20, "A", "192.0.2.1"),
                    authority=("example.net.", 7_200, "NS", "ns.example.net."))
    question_end, segments, ttls, answer_min, negative, chain = split(wire)
    assert question_end == 12 + len(b"\3www\7example\3com\0") + 4
    assert ttls == [300, 20, 7_200]
    assert len(segments) == len(ttls) + 1
    rebuilt = segments[0] + b"".join(struct.pack("!I", ttl) + piece
                                     for ttl, piece in zip(ttls, segments[1:], strict=True))
    assert rebuilt == wire[question_end:]
    assert answer_min == 20 and negative is None
    assert chain is not None and chain.names == ("www.example.com", "cdn.example.net")


def test_the_negative_ttl_is_the_smaller_of_soa_ttl_and_minimum() -> None:
    soa = "ns.example.com. hostmaster.example.com. 1 7200 900 1209600"
    assert split(response(authority=("example.com.", 300, "SOA", f"{soa} 60")))[3:5] \
        == (None, 60)
    assert split(response(authority=("example.com.", 30, "SOA", f"{soa} 600")))[3:5] \
        == (None, 30)


def test_an_opt_is_no_ttl_and_a_ttl_with_the_top_bit_set_counts_as_0() -> None:
    wire = bytearray(response(("www.example.com.", 300, "A", "192.0.2.1"), edns=True))
    _, segments, ttls, answer_min, _, _ = split(bytes(wire))
    assert ttls == [300] and answer_min == 300
    assert len(segments) == 2, "the OPT's flags are not a TTL field"
    ttl_at = wire.index(struct.pack("!I", 300))
    wire[ttl_at:ttl_at + 4] = struct.pack("!I", 0x8000_0000)
    assert split(bytes(wire))[2:4] == ([0], 0)


def test_no_chain_is_read_when_not_asked_for() -> None:
    wire = response(("www.example.com.", 300, "CNAME", "cdn.example.net."))
    assert split(wire, chains=False)[5] is None


def test_trailing_bytes_and_a_short_soa_are_malformed() -> None:
    wire = response(("www.example.com.", 300, "A", "192.0.2.1"))
    with pytest.raises(MalformedMessage, match="trailing"):
        split(wire + b"\0")
    nx = dns.message.make_response(dns.message.make_query("nx.example.", "A", use_edns=False))
    nx.set_rcode(dns.rcode.NXDOMAIN)
    nx.authority.append(dns.rrset.from_text("example.", 60, "IN", "TXT", "short"))
    good = nx.to_wire()
    # the TXT made an SOA by its type field: its RDATA is far too short for one
    type_at = good.rindex(struct.pack("!HH", 16, 1))
    bad = good[:type_at] + struct.pack("!H", 6) + good[type_at + 2:]
    with pytest.raises(MalformedMessage, match="SOA"):
        split(bad)


def test_a_framing_of_the_same_message_saves_the_walk_and_gives_the_same_pieces() -> None:
    from resolver.dns.rewrite import strip_opt_framed

    wire = response(("www.example.com.", 300, "CNAME", "cdn.example.net."),
                    ("cdn.example.net.", 20, "A", "192.0.2.1"), edns=True)
    stripped, _, framed = strip_opt_framed(wire)
    walked = split_at_ttls(stripped, *COUNTS.unpack_from(stripped, 4), False, None)
    assert split_at_ttls(stripped, *COUNTS.unpack_from(stripped, 4), False, None,
                         framed) == walked
    # a framing is taken only for the very bytes it was made from: an equal copy is walked
    copy = bytes(bytearray(stripped))
    wrong = (copy, framed[1], framed[2][:1])
    assert split_at_ttls(stripped, *COUNTS.unpack_from(stripped, 4), False, None,
                         wrong) == walked
