"""Tests for resolver.dns.reply: an upstream answer fitted to the client that asked.

The upstream answer is built with dnspython as the forwarder keeps it (OPT removed, our own
ID, AA and AD as the upstream set them); each result is read back with dnspython.
"""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.message
import dns.rrset
import pytest
from message_builders import make_query

from resolver.dns.answers import EdeCode, ede_option
from resolver.dns.message import DEFAULT_UDP_SIZE, MalformedMessage
from resolver.dns.query import Query, parse_query
from resolver.dns.reply import fit, for_client
from resolver.dns.rewrite import strip_opt, truncate

UPSTREAM_ID = 0xBEEF


def client_query(name: str = "www.example.com", **options: object) -> Query:
    query = parse_query(make_query(name, **options))  # type: ignore[arg-type]
    assert query is not None
    return query


def upstream_answer(addresses: int = 2, *, aa: bool = True, ad: bool = True) -> bytes:
    """A forwarder-style stored answer: our ID, RD=1, OPT already removed."""
    query = dns.message.make_query("www.example.com", "A", use_edns=0, payload=1232)
    query.id = UPSTREAM_ID
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA | (dns.flags.AA if aa else 0) | (dns.flags.AD if ad else 0)
    response.answer.append(
        dns.rrset.from_text("www.example.com.", 60, "IN", "A",
                            *[f"10.0.{i // 250}.{i % 250}" for i in range(addresses)])
    )
    return strip_opt(response.to_wire(max_size=65_535))[0]


def test_the_client_gets_its_id_its_question_and_its_rd_bit() -> None:
    for flags in (dns.flags.RD, 0):
        query = client_query("WwW.ExAmple.com", qid=0x1234, flags=flags)
        answer = dns.message.from_wire(for_client(upstream_answer(), query, 1232, tcp=False))
        assert answer.id == 0x1234
        assert bool(answer.flags & dns.flags.RD) == bool(flags)
        assert answer.flags & dns.flags.QR and answer.flags & dns.flags.RA
        assert answer.question[0].name.to_text() == "WwW.ExAmple.com."
        assert len(answer.answer[0]) == 2


def test_aa_is_always_cleared() -> None:
    wire = for_client(upstream_answer(aa=True), client_query(), 1232, False)
    answer = dns.message.from_wire(wire)
    assert not answer.flags & dns.flags.AA


def test_ad_goes_only_to_clients_that_asked_for_it() -> None:
    stored = upstream_answer(ad=True)
    plain = dns.message.from_wire(for_client(stored, client_query(), 1232, False))
    assert not plain.flags & dns.flags.AD
    asked_ad = client_query(flags=dns.flags.RD | dns.flags.AD)
    assert dns.message.from_wire(for_client(stored, asked_ad, 1232, False)).flags & dns.flags.AD
    asked_do = client_query(edns=0, do=True)
    assert dns.message.from_wire(for_client(stored, asked_do, 1232, False)).flags & dns.flags.AD
    not_do = client_query(edns=0, do=False)
    assert not dns.message.from_wire(for_client(stored, not_do, 1232, False)).flags & dns.flags.AD
    unset = upstream_answer(ad=False)
    assert not dns.message.from_wire(for_client(unset, asked_do, 1232, False)).flags & dns.flags.AD


def test_an_edns_client_gets_our_opt_with_our_size_and_its_do_bit() -> None:
    for do in (False, True):
        query = client_query(edns=0, do=do, payload=4096)
        answer = dns.message.from_wire(for_client(upstream_answer(), query, 1400, False))
        assert answer.edns == 0 and answer.payload == 1400
        assert bool(answer.ednsflags & dns.flags.DO) == do
        assert not answer.options
    without = dns.message.from_wire(for_client(upstream_answer(), client_query(), 1400, False))
    assert without.edns == -1


def test_options_go_into_our_opt_and_count_towards_the_size() -> None:
    ede = ede_option(EdeCode.STALE_ANSWER, "kept past its TTL")
    query = client_query(edns=0, do=True, payload=4096)
    answer = dns.message.from_wire(for_client(upstream_answer(), query, 1232, False, ede))
    [option] = answer.options
    assert isinstance(option, dns.edns.EDEOption)
    assert (int(option.code), option.text) == (3, "kept past its TTL")
    assert answer.payload == 1232 and answer.ednsflags & dns.flags.DO
    assert len(answer.answer[0]) == 2
    without = dns.message.from_wire(for_client(upstream_answer(), client_query(), 1232, False,
                                               ede))
    assert without.edns == -1 and not without.options, "no OPT for a client without EDNS"
    stored = upstream_answer(addresses=60)
    plain = for_client(stored, query, 1232, False)
    just_fits = client_query(edns=0, payload=len(plain))
    assert not dns.message.from_wire(for_client(stored, just_fits, 65_535, False)).flags \
        & dns.flags.TC
    cut = dns.message.from_wire(for_client(stored, just_fits, 65_535, False, ede))
    assert cut.flags & dns.flags.TC and cut.answer == [], "the option made it too big"
    assert [int(o.code) for o in cut.options if isinstance(o, dns.edns.EDEOption)] == [3]


def test_without_edns_the_answer_is_truncated_to_512() -> None:
    stored = upstream_answer(addresses=40)  # 40 A records: far above 512 octets
    wire = for_client(stored, client_query(), DEFAULT_UDP_SIZE, tcp=False)
    assert len(wire) <= 512
    answer = dns.message.from_wire(wire)
    assert answer.flags & dns.flags.TC and answer.answer == [] and answer.edns == -1
    small = for_client(upstream_answer(addresses=2), client_query(), DEFAULT_UDP_SIZE, False)
    assert not dns.message.from_wire(small).flags & dns.flags.TC


def test_with_edns_the_limit_is_the_clients_size_capped_by_ours() -> None:
    stored = upstream_answer(addresses=60)  # about 1 KB
    size = len(for_client(stored, client_query(edns=0, payload=4096), 65_535, False))
    assert 900 < size < 1200
    fits = client_query(edns=0, payload=4096)
    assert not dns.message.from_wire(for_client(stored, fits, 1232, False)).flags & dns.flags.TC
    cut_by_ours = dns.message.from_wire(for_client(stored, fits, 600, False))
    assert cut_by_ours.flags & dns.flags.TC and cut_by_ours.answer == []
    assert cut_by_ours.edns == 0 and cut_by_ours.payload == 600, "our OPT stays on a cut answer"
    cut_by_theirs = client_query(edns=0, payload=700)
    cut = dns.message.from_wire(for_client(stored, cut_by_theirs, 1232, False))
    assert cut.flags & dns.flags.TC and cut.payload == 1232
    tiny = client_query(edns=0, payload=100)  # below 512 means 512: this answer does not fit
    wire = for_client(upstream_answer(addresses=30), tiny, 1232, False)
    assert 512 < len(upstream_answer(addresses=30)) + 11 < 700
    assert dns.message.from_wire(wire).flags & dns.flags.TC
    fits_512 = for_client(upstream_answer(addresses=2), tiny, 1232, False)
    assert not dns.message.from_wire(fits_512).flags & dns.flags.TC


def test_over_tcp_the_limit_is_the_tcp_message_size() -> None:
    stored = upstream_answer(addresses=200)  # about 3 KB
    for query in (client_query(), client_query(edns=0, payload=512)):
        answer = dns.message.from_wire(for_client(stored, query, 1232, tcp=True))
        assert not answer.flags & dns.flags.TC and len(answer.answer[0]) == 200
    record = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes(4)
    huge = stored[:6] + struct.pack(">H", 200 + 4000) + stored[8:] + record * 4000
    assert len(huge) > 65_535
    cut = dns.message.from_wire(for_client(huge, client_query(), 1232, tcp=True))
    assert cut.flags & dns.flags.TC


def test_fit_builds_the_same_answer_from_the_stored_parts() -> None:
    stored = upstream_answer()
    for query in (client_query(), client_query(edns=0, do=True)):
        question_end = 12 + len(query.question)
        for tcp in (False, True):
            assert fit(stored[2:12], stored[question_end:], query, 1232, tcp) == for_client(
                stored, query, 1232, tcp
            )


def test_a_cut_answer_is_what_truncate_makes_without_walking_the_records() -> None:
    stored = upstream_answer(addresses=60)
    for query in (client_query(), client_query(edns=0, payload=700, do=True)):
        whole = for_client(stored, query, 1232, tcp=True)
        limit = 512 if query.edns is None else 700
        assert for_client(stored, query, 1232, tcp=False) == truncate(whole, limit)
    # an upstream's record whose owner points past the message's end: relayed as it is when
    # it fits, cut without reading it when it does not (walking it would raise)
    record = b"\xff\xf0" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes(4)
    broken = stored[:6] + struct.pack(">H", 61) + stored[8:] + record
    with pytest.raises(MalformedMessage):
        truncate(broken, 512)
    cut = dns.message.from_wire(for_client(broken, client_query(), 1232, tcp=False))
    assert cut.flags & dns.flags.TC and cut.answer == [] and cut.id == client_query().id
    assert for_client(broken, client_query(), 1232, tcp=True).endswith(record)
