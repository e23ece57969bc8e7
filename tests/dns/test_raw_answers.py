"""Answers built from raw packets (FORMERR, NOTIMP, REFUSED for NOTIFY), read back with
dnspython: what Unbound sends, as ISC's EDNS compliance tester compares them."""

from __future__ import annotations

import struct

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.dns.query import Reject, Rejection, classify
from resolver.dns.raw_answers import formerr, notimp, refused, rejection
from tests.dns.test_answers import make_query, parsed


def two_questions(*, edns: bool, do: bool = False, cd: bool = False) -> bytes:
    message = dns.message.make_query("Example.com", "A", use_edns=0 if edns else False,
                                     want_dnssec=do)
    message.question.append(dns.message.make_query("mail.example.com", "MX").question[0])
    message.id = 0xBEEF
    if cd:
        message.flags |= dns.flags.CD
    return message.to_wire()


def test_formerr_echoes_every_question_and_the_opt_without_ra() -> None:
    wire = two_questions(edns=True, do=True, cd=True)
    reply = parsed(formerr(wire, 1232))
    assert reply.rcode() == dns.rcode.FORMERR and reply.id == 0xBEEF
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.RD
    assert reply.flags & dns.flags.CD and not reply.flags & dns.flags.RA
    # dnspython compressed the second name against the first: it reads back as written there
    assert [(q.name.to_text(), q.rdtype) for q in reply.question] == [
        ("Example.com.", dns.rdatatype.A), ("mail.Example.com.", dns.rdatatype.MX)]
    assert reply.edns == 0 and reply.payload == 1232 and reply.ednsflags & dns.flags.DO


def test_without_edns_the_formerr_has_no_opt() -> None:
    reply = parsed(formerr(two_questions(edns=False)))
    assert reply.edns == -1 and len(reply.question) == 2


def test_a_readable_opt_is_answered_even_when_bytes_follow_the_records() -> None:
    wire = make_query("Example.com", edns=0, flags=dns.flags.RD | dns.flags.CD) + b"junk"
    reply = parsed(formerr(wire))
    assert [q.name.to_text() for q in reply.question] == ["Example.com."]
    assert reply.edns == 0


def test_two_opts_or_unframeable_records_get_no_opt() -> None:
    one = dns.message.make_query("example.com", "A", use_edns=0).to_wire()
    header, rest = one[:12], one[12:]
    question_end = len(one) - 11  # the OPT is the last 11 bytes
    opt = one[question_end:]
    two = struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 2) + one[12:question_end] + opt + opt
    assert parsed(formerr(two)).edns == -1
    cut = header[:10] + b"\x00\x01" + rest[:-3]
    assert parsed(formerr(cut)).edns == -1


def test_formerr_without_a_readable_question() -> None:
    loop = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"
    reply = parsed(formerr(loop))
    assert reply.rcode() == dns.rcode.FORMERR and reply.question == [] and reply.id == 7
    two = struct.pack(">HHHHHH", 8, 0, 2, 0, 0, 0)
    assert parsed(formerr(two)).question == []
    many = struct.pack(">HHHHHH", 9, 0, 65535, 0, 0, 0)
    assert parsed(formerr(many)).question == []


def test_notimp_copies_the_opcode_and_cd_and_clears_ra() -> None:
    wire = make_query("example.com", dns.rdatatype.SOA, edns=0,
                      flags=dns.opcode.to_flags(dns.opcode.UPDATE) | dns.flags.CD)
    reply = parsed(notimp(wire))
    assert reply.rcode() == dns.rcode.NOTIMP and reply.opcode() == dns.opcode.UPDATE
    assert reply.flags & dns.flags.CD and not reply.flags & dns.flags.RA
    assert reply.question == dns.message.from_wire(wire).question
    assert reply.edns == 0


def test_notify_is_refused_with_ra() -> None:
    wire = make_query("example.com", dns.rdatatype.SOA, edns=0,
                      flags=dns.opcode.to_flags(dns.opcode.NOTIFY))
    reply = parsed(refused(wire))
    assert reply.rcode() == dns.rcode.REFUSED and reply.opcode() == dns.opcode.NOTIFY
    assert reply.flags & dns.flags.RA and reply.edns == 0


@pytest.mark.parametrize("size", [0, 1, 11])
def test_error_answers_need_a_header(size: int) -> None:
    for build in (formerr, notimp, refused):
        assert build(b"\x00" * size) is None


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_error_answers_never_raise_and_always_parse(data: bytes) -> None:
    for build in (formerr, notimp, refused):
        answer = build(data)
        if answer is not None:
            assert len(answer) >= 12
            reply = dns.message.from_wire(answer)
            assert reply.flags & dns.flags.QR


def test_rejection_dispatch() -> None:
    short = classify(b"\x00")
    assert isinstance(short, Rejection) and rejection(short, b"\x00") is None
    notify = make_query("example.com", flags=dns.opcode.to_flags(dns.opcode.NOTIFY))
    verdict = classify(notify)
    assert isinstance(verdict, Rejection) and verdict.action is Reject.REFUSED
    assert parsed(rejection(verdict, notify)).rcode() == dns.rcode.REFUSED
    status = make_query("example.com", flags=dns.opcode.to_flags(dns.opcode.STATUS))
    verdict = classify(status)
    assert isinstance(verdict, Rejection) and verdict.action is Reject.NOTIMP
    assert parsed(rejection(verdict, status)).rcode() == dns.rcode.NOTIMP
    bad = make_query("example.com") + b"x"
    verdict = classify(bad)
    assert isinstance(verdict, Rejection)
    assert parsed(rejection(verdict, bad)).rcode() == dns.rcode.FORMERR
    future = make_query("example.com", edns=1)
    verdict = classify(future)
    assert isinstance(verdict, Rejection)
    assert parsed(rejection(verdict, future, 1400)).rcode() == dns.rcode.BADVERS
