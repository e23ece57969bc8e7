"""Tests for resolver.dns.rewrite: OPT removal and addition, truncation, TTL capping.

Results are read back with dnspython and checked by meaning.
"""

from __future__ import annotations

import contextlib
import struct

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from message_builders import (
    A_IN,
    WWW_EXAMPLE,
    corpus_messages,
    header,
    make_query,
    needs_corpora,
    opt_rr,
    response_with,
    rr,
)

from resolver.dns import rewrite
from resolver.dns.message import TC, MalformedMessage, records, skip_questions
from resolver.dns.rewrite import cap_ttls, edns_option, truncate, with_opt


def strip_opt(wire: bytes) -> bytes:
    """The message `rewrite.strip_opt` leaves (its extended-RCODE bits are tested below)."""
    return rewrite.strip_opt(wire)[0]


@needs_corpora
def test_corpora_responses_survive_strip_opt_and_truncate() -> None:
    checked = 0
    for _name, data in corpus_messages():
        try:
            original = dns.message.from_wire(data)
        except Exception:  # dnspython refuses most fuzz input: then only "no surprise" is required
            for edit in (strip_opt, lambda d: truncate(d, 100)):
                with contextlib.suppress(ValueError):
                    edit(data)
            continue
        after = dns.message.from_wire(strip_opt(data))
        assert after.edns == -1
        assert after.answer == original.answer
        assert after.authority == original.authority
        assert after.additional == original.additional
        cut = dns.message.from_wire(truncate(data, 100))
        assert cut.question == original.question
        if len(data) > 100:
            assert cut.flags & dns.flags.TC and not cut.answer
        checked += 1
    assert checked > 3


def test_strip_opt_removes_the_opt_and_keeps_every_record() -> None:
    original = response_with(edns=True)
    wire = original.to_wire()
    stripped = strip_opt(wire)
    assert len(stripped) == len(wire) - 11
    after = dns.message.from_wire(stripped)
    assert after.edns == -1
    assert (after.answer, after.authority, after.additional) == (
        original.answer,
        original.authority,
        original.additional,
    )


def test_strip_opt_returns_message_without_opt_unchanged() -> None:
    wire = response_with(edns=False).to_wire()
    assert strip_opt(wire) is wire
    bare = make_query("example.com")
    assert strip_opt(bare) is bare


def test_strip_opt_removes_every_opt() -> None:
    wire = header(flags=0x8180, ar=3) + WWW_EXAMPLE + A_IN + opt_rr() + opt_rr(udp=512)
    wire += rr(b"\xc0\x0c", 1, b"\x01\x02\x03\x04")
    # Count fixed up: everything from the first OPT on is gone.
    stripped = strip_opt(wire)
    assert struct.unpack_from(">H", stripped, 10)[0] == 0
    after = dns.message.from_wire(stripped)
    assert after.edns == -1 and len(after.additional) == 0


def test_strip_opt_drops_bytes_after_the_last_record() -> None:
    """Our OPT goes after the last record: junk left before it would be read as records."""
    answer = rr(b"\xc0\x0c", 1, b"\x01\x02\x03\x04")
    plain = header(flags=0x8180, an=1) + WWW_EXAMPLE + A_IN + answer
    assert strip_opt(plain + b"\x00\x40junk") == plain
    extra = header(flags=0x8180, an=1, ar=1) + WWW_EXAMPLE + A_IN + answer + answer
    assert strip_opt(extra + b"\xff") == extra
    bare = header(flags=0x8180) + WWW_EXAMPLE + A_IN
    assert strip_opt(bare + b"\x00\x00") == bare
    with_junk = with_opt(strip_opt(plain + b"\x00\x40junk"), 1232, False)
    assert dns.message.from_wire(with_junk).edns == 0
    assert truncate(with_junk, 40).startswith(plain[:2])


@pytest.mark.parametrize(
    "wire",
    [
        b"\x00" * 5,
        header(ar=1) + WWW_EXAMPLE + A_IN + opt_rr()[:-1],
        header(ar=1, qd=2) + WWW_EXAMPLE + A_IN,
        header(flags=0x8180, an=1) + WWW_EXAMPLE + A_IN + opt_rr(),  # OPT as an answer
        header(flags=0x8180, an=1, ns=1) + WWW_EXAMPLE + A_IN
        + rr(b"\xc0\x0c", 1, b"\x01\x02\x03\x04") + opt_rr(),  # OPT in the authority
    ],
)
def test_strip_opt_raises_value_error_on_malformed_input(wire: bytes) -> None:
    with pytest.raises(ValueError):
        strip_opt(wire)


def test_with_opt_adds_our_opt() -> None:
    wire = strip_opt(response_with(edns=True).to_wire())
    cookie = edns_option(10, b"\x01" * 8)
    after = dns.message.from_wire(with_opt(wire, 1400, True, cookie))
    assert after.edns == 0 and after.payload == 1400
    assert after.ednsflags & dns.flags.DO
    assert [(o.otype, o.to_wire()) for o in after.options] == [(10, b"\x01" * 8)]
    assert len(after.answer) == 2 and len(after.additional) == 1


def test_with_opt_extended_rcode_makes_badvers() -> None:
    wire = header(flags=0x8180, qd=0)
    after = dns.message.from_wire(with_opt(wire, 1232, False, ext_rcode=1))
    assert after.rcode() == dns.rcode.BADVERS


def test_with_opt_rejects_overflow_and_short_input() -> None:
    with pytest.raises(ValueError):
        with_opt(header(qd=0, ar=0xFFFF), 1232, False)
    with pytest.raises(ValueError):
        with_opt(b"\x00" * 3, 1232, False)


def test_truncate_leaves_a_message_that_fits_alone() -> None:
    wire = response_with(edns=False).to_wire()
    assert truncate(wire, len(wire)) is wire


def test_truncate_keeps_header_question_and_opt() -> None:
    original = response_with(edns=False, extra=40)
    wire = with_opt(original.to_wire(), 1232, True, edns_option(15, b"\x00\x0fblocked"))
    assert len(wire) > 512
    cut = truncate(wire, 512)
    assert len(cut) <= 512
    after = dns.message.from_wire(cut)
    assert after.flags & dns.flags.TC and after.flags & dns.flags.QR
    assert after.id == original.id and after.question == original.question
    assert (after.answer, after.authority, after.additional) == ([], [], [])
    assert after.edns == 0 and after.payload == 1232 and after.ednsflags & dns.flags.DO
    assert [o.otype for o in after.options] == [15]


def test_truncate_without_opt_has_none() -> None:
    wire = response_with(edns=False, extra=40).to_wire()
    cut = truncate(wire, 512)
    after = dns.message.from_wire(cut)
    assert after.edns == -1 and after.flags & dns.flags.TC
    assert struct.unpack_from(">H", cut, 2)[0] & TC
    assert len(cut) == 12 + len(WWW_EXAMPLE) + 4


@settings(max_examples=200)
@given(
    st.integers(1, 60),
    st.booleans(),
    st.integers(12, 2000),
)
def test_truncate_then_strip_opt_round_trip(extra: int, edns: bool, limit: int) -> None:
    original = response_with(edns=edns, extra=extra)
    wire = original.to_wire()
    cut = truncate(wire, limit)
    after = dns.message.from_wire(cut)
    assert after.question == original.question
    assert after.edns == original.edns
    if len(wire) <= limit:
        assert cut == wire
    else:
        assert after.flags & dns.flags.TC and not after.answer
    assert dns.message.from_wire(strip_opt(cut)).edns == -1


# ----------------------------------------------- strip_opt: the extended RCODE, what follows


def test_strip_opt_reports_the_extended_rcode_bits_of_the_opt() -> None:
    query = dns.message.make_query("www.example.com", "A", use_edns=0)
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.BADVERS)
    wire = response.to_wire()
    stripped, ext_rcode = rewrite.strip_opt(wire)
    assert ext_rcode == 1
    assert dns.message.from_wire(stripped).edns == -1
    assert rewrite.strip_opt(response_with(edns=False).to_wire())[1] == 0


def test_strip_opt_drops_the_opt_and_what_follows() -> None:
    answer = rr(b"\xc0\x0c", 1, b"\xc0\x00\x02\x01")
    head = header(flags=0x8180, an=1, ar=3) + WWW_EXAMPLE + A_IN + answer
    wire = head + rr(b"\xc0\x0c", 1, b"\xc0\x00\x02\x02") + opt_rr() + rr(b"\xc0\x0c", 1, b"\x01")
    stripped, ext_rcode = rewrite.strip_opt(wire)
    assert ext_rcode == 0
    after = dns.message.from_wire(stripped)
    assert after.edns == -1
    additional = [rrset.to_text() for rrset in after.additional]
    assert additional == ["www.example.com. 300 IN A 192.0.2.2"]
    assert len(after.answer) == 1
    # what follows the OPT is not even read: here the last record's RDATA is not an address
    assert stripped == head[:10] + b"\x00\x01" + head[12:] + rr(b"\xc0\x0c", 1, b"\xc0\x00\x02\x02")


def test_strip_opt_with_the_question_end_given_reads_the_same() -> None:
    wire = response_with(edns=True).to_wire()
    question_end = 12 + len(WWW_EXAMPLE) + 4
    assert rewrite.strip_opt(wire, question_end) == rewrite.strip_opt(wire)


def test_strip_opt_without_an_opt_returns_the_message_itself() -> None:
    wire = response_with(edns=False).to_wire()
    assert rewrite.strip_opt(wire)[0] is wire
    with pytest.raises(MalformedMessage):
        rewrite.strip_opt(wire[:-1])


# ---------------------------------------------------------------- cap_ttls


def negative_answer(soa_ttl: int, minimum: int) -> bytes:
    query = dns.message.make_query("gone.example.com", "A", use_edns=0)
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.NXDOMAIN)
    response.authority.append(
        dns.rrset.from_text(
            "example.com.", soa_ttl, "IN", "SOA",
            f"ns.example.com. h.example.com. 1 2 3 4 {minimum}",
        )
    )
    return response.to_wire()


def test_cap_ttls_lowers_every_ttl_above_the_cap_and_leaves_the_opt_alone() -> None:
    original = response_with(edns=True, extra=1)
    wire = with_opt(strip_opt(original.to_wire()), 1232, True)
    capped = dns.message.from_wire(cap_ttls(wire, 100))
    assert [rrset.ttl for rrset in capped.answer] == [100, 60]
    assert [rrset.ttl for rrset in capped.authority + capped.additional] == [100, 100]
    assert capped.edns == 0 and capped.payload == 1232 and capped.ednsflags & dns.flags.DO
    assert len(cap_ttls(wire, 100)) == len(wire)


def test_cap_ttls_caps_the_soa_minimum_too() -> None:
    capped = dns.message.from_wire(cap_ttls(negative_answer(3600, 900), 30))
    soa = capped.authority[0]
    assert soa.ttl == 30 and soa[0].minimum == 30
    kept = dns.message.from_wire(cap_ttls(negative_answer(20, 10), 30)).authority[0]
    assert kept.ttl == 20 and kept[0].minimum == 10


def test_cap_ttls_treats_a_negative_cap_as_zero() -> None:
    capped = dns.message.from_wire(cap_ttls(response_with(edns=False).to_wire(), -5))
    assert {rrset.ttl for rrset in capped.answer + capped.authority + capped.additional} == {0}


@pytest.mark.parametrize("cut", [1, 5, 11])
def test_cap_ttls_returns_a_message_it_cannot_walk_unchanged(cut: int) -> None:
    wire = response_with(edns=True).to_wire()[:-cut]
    assert cap_ttls(wire, 10) is wire
    assert cap_ttls(b"\x00" * 5, 10) == b"\x00" * 5


def _framing_cases() -> list[bytes]:
    question = WWW_EXAMPLE + A_IN
    answer = rr(b"\xc0\x0c", 1, b"\xc0\x00\x02\x01")
    extra = rr(b"\xc0\x0c", 28, bytes(16))
    return [
        header(flags=0x8180, an=1) + question + answer,  # no OPT
        header(flags=0x8180, an=1, ar=1) + question + answer + opt_rr(),  # OPT first
        header(flags=0x8180, an=1, ar=3) + question + answer + extra + extra + opt_rr(),
        header(flags=0x8180, an=1, ar=2) + question + answer + extra + extra,  # none
        header(flags=0x8180, an=1, ar=2) + question + answer + opt_rr() + extra,  # cut after
        header(flags=0x8180, an=1) + question + answer + b"\x00\x40junk",  # bytes after
        header(flags=0x8183, ns=1, ar=1) + question + rr(b"\xc0\x10", 6, bytes(22)) + opt_rr(),
        response_with(edns=True).to_wire(), response_with(edns=False, extra=0).to_wire(),
    ]


def _assert_framing_is_a_fresh_walk(message: bytes) -> None:
    stripped, extended, (framed, question_end, found) = rewrite.strip_opt_framed(message)
    assert (stripped, extended) == rewrite.strip_opt(message)
    assert framed is stripped  # the cache takes a framing only for the very same bytes
    counts = struct.unpack_from(">HHHH", stripped, 4)
    assert question_end == skip_questions(stripped, counts[0])
    assert found == records(stripped, question_end, sum(counts[1:]))
    assert (found[-1][4] if found else question_end) == len(stripped)


@pytest.mark.parametrize("message", _framing_cases())
def test_the_framing_of_a_stripped_message_is_what_a_walk_of_it_finds(message: bytes) -> None:
    _assert_framing_is_a_fresh_walk(message)


@needs_corpora
def test_the_framing_agrees_with_a_fresh_walk_on_the_corpora() -> None:
    framed = 0
    for _name, data in corpus_messages():
        try:
            rewrite.strip_opt_framed(data)
        except (ValueError, IndexError, struct.error):
            continue
        _assert_framing_is_a_fresh_walk(data)
        framed += 1
    assert framed > 50
