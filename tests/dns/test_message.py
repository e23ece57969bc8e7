"""Tests for resolver.dns.message: the record walker, name skipping, the header helpers."""

from __future__ import annotations

import itertools
import struct

import dns.message
import dns.rcode
import pytest
from message_builders import A_IN, WWW_EXAMPLE, header, opt_rr, response_with, rr

from resolver.dns.message import (
    HEADER,
    RR_FIXED,
    TYPE_OPT,
    MalformedMessage,
    Rcode,
    records,
    response_rcode,
    skip_name,
    skip_questions,
)


def test_records_frames_every_record_of_a_real_answer() -> None:
    original = response_with(edns=True, extra=2)
    wire = original.to_wire()
    _, _, qdcount, ancount, nscount, arcount = HEADER.unpack_from(wire)
    start = skip_questions(wire, qdcount)
    found = records(wire, start, ancount + nscount + arcount)
    assert len(found) == 1 + 2 + 1 + 2 + 1  # CNAME, 2 A, NS, 2 A, OPT
    assert found[0][0] == start
    assert found[-1][4] == len(wire)
    for (_, _, _, _, end), (next_start, _, _, _, _) in itertools.pairwise(found):
        assert end == next_start
    types = [rtype for _, rtype, _, _, _ in found]
    assert types == [5, 1, 1, 2, 1, 1, TYPE_OPT]
    ttls = [ttl for _, rtype, ttl, _, _ in found if rtype != TYPE_OPT]
    assert ttls == [300, 60, 60, 300, 300, 300]
    for _, rtype, ttl, rdata, end in found:
        fixed = RR_FIXED.unpack_from(wire, rdata - 10)
        assert fixed[0] == rtype and fixed[2] == ttl and fixed[3] == end - rdata


def test_records_reads_owners_with_labels_and_with_a_pointer_alike() -> None:
    head = header(flags=0x8180, an=2) + WWW_EXAMPLE + A_IN
    first = rr(b"\x01a\xc0\x0c", 1, b"\xc0\x00\x02\x01", ttl=7)  # labels, then a pointer
    second = rr(b"\xc0\x0c", 1, b"\xc0\x00\x02\x02", ttl=9)  # a pointer alone
    wire = head + first + second
    found = records(wire, len(head), 2)
    assert found == [
        (len(head), 1, 7, len(head) + 4 + 10, len(head) + len(first)),
        (len(head) + len(first), 1, 9, len(head) + len(first) + 12, len(wire)),
    ]


def test_records_stops_after_count_and_leaves_what_follows_to_the_caller() -> None:
    wire = header(flags=0x8180, ar=1) + WWW_EXAMPLE + A_IN + opt_rr() + b"junk"
    found = records(wire, 12 + len(WWW_EXAMPLE) + 4, 1)
    assert found[0][1] == TYPE_OPT and found[0][4] == len(wire) - 4
    assert records(wire, 12, 0) == []


@pytest.mark.parametrize(
    "tail",
    [
        opt_rr()[:-1],  # RDLENGTH cut short
        b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + b"\x01\x02",  # RDATA cut short
        b"\xc0\xff" + struct.pack(">HHIH", 1, 1, 60, 0),  # owner pointer outside
        b"\x40" + struct.pack(">HHIH", 1, 1, 60, 0),  # extended label type
        b"\x05abc",  # owner runs past the end
    ],
)
def test_records_raises_on_a_record_that_cannot_be_framed(tail: bytes) -> None:
    wire = header(flags=0x8180, ar=1) + WWW_EXAMPLE + A_IN + tail
    with pytest.raises(MalformedMessage):
        records(wire, 12 + len(WWW_EXAMPLE) + 4, 1)


def test_skip_name_does_not_follow_pointers() -> None:
    wire = header() + WWW_EXAMPLE + b"\x01a\xc0\x0c"
    after_question_name = 12 + len(WWW_EXAMPLE)
    assert skip_name(wire, 12) == after_question_name
    assert skip_name(wire, after_question_name) == len(wire)
    with pytest.raises(MalformedMessage):
        skip_name(wire + b"\xc0", len(wire))


def test_skip_questions_checks_the_question_fits() -> None:
    wire = header(qd=1) + WWW_EXAMPLE + A_IN
    assert skip_questions(wire, 1) == len(wire)
    with pytest.raises(MalformedMessage):
        skip_questions(wire[:-1], 1)


def test_response_rcode_is_the_header_rcode() -> None:
    query = dns.message.make_query("www.example.com", "A", use_edns=0)
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.NXDOMAIN)
    assert response_rcode(response.to_wire()) == Rcode.NXDOMAIN
    response.set_rcode(dns.rcode.BADVERS)  # 16: the header holds only its low 4 bits
    assert response_rcode(response.to_wire()) == Rcode.NOERROR
