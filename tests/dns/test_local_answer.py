"""resolver.dns.local_answer: a local answer encoded once, rendered per query, read back
with dnspython."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
from message_builders import make_query

from resolver.dns.local_answer import QUESTION_NAME, LocalAnswer, record, soa_record
from resolver.dns.message import Rcode
from resolver.dns.names import name_to_wire
from resolver.dns.query import parse_query
from resolver.dns.rdata import TYPE_A, TYPE_TXT, txt

ADDRESS = bytes((10, 0, 0, 80))


def render(answer: LocalAnswer, wire: bytes, *, udp_size: int = 1232, tcp: bool = False
           ) -> dns.message.Message:
    query = parse_query(wire)
    assert query is not None
    return dns.message.from_wire(answer.render(query, udp_size, tcp))


def one_address() -> LocalAnswer:
    return LocalAnswer(Rcode.NOERROR, 1, 0, record(QUESTION_NAME, TYPE_A, 300, ADDRESS), 300)


def test_an_answer_is_authoritative_and_keeps_the_clients_spelling_id_and_flags() -> None:
    wire = make_query("InTraNet.corp.example.eu", flags=dns.flags.RD | dns.flags.CD, qid=4242)
    reply = render(one_address(), wire)
    assert reply.id == 4242
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.AA
    assert reply.flags & dns.flags.RA and reply.flags & dns.flags.RD
    assert reply.flags & dns.flags.CD and not reply.flags & dns.flags.TC
    assert reply.rcode() == dns.rcode.NOERROR
    [rrset] = reply.answer
    assert rrset.name.to_text() == "InTraNet.corp.example.eu."  # owned by the question
    assert (rrset.ttl, [r.address for r in rrset]) == (300, ["10.0.0.80"])
    assert reply.edns < 0  # no OPT to a query without one


def test_rd_is_copied_not_set() -> None:
    reply = render(one_address(), make_query("intranet.corp.example.eu", flags=0))
    assert not reply.flags & dns.flags.RD and reply.flags & dns.flags.AA


def test_edns_gets_our_payload_size_and_the_do_bit_back() -> None:
    for do in (False, True):
        reply = render(one_address(), make_query("x.example", edns=0, do=do), udp_size=1400)
        assert reply.edns == 0 and reply.payload == 1400
        assert bool(reply.ednsflags & dns.flags.DO) is do


def test_a_negative_answer_carries_the_zones_soa() -> None:
    body = soa_record(name_to_wire("corp.example.eu"), 60)
    reply = render(LocalAnswer(Rcode.NXDOMAIN, 0, 1, body, 60),
                   make_query("gone.corp.example.eu", edns=0))
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.flags & dns.flags.AA
    assert reply.answer == []
    [soa] = reply.authority
    assert soa.name.to_text() == "corp.example.eu." and soa.rdtype == dns.rdatatype.SOA
    assert soa.ttl == 60 and soa[0].minimum == 60
    assert soa[0].mname.to_text() == "dnsfence.invalid."


def big() -> LocalAnswer:
    texts = [record(QUESTION_NAME, TYPE_TXT, 300, txt(f"record {i:02d} " + "x" * 60))
             for i in range(12)]
    return LocalAnswer(Rcode.NOERROR, len(texts), 0, b"".join(texts), 300)


def test_too_big_for_udp_is_truncated_and_tcp_gets_it_whole() -> None:
    plain = make_query("big.example", dns.rdatatype.TXT)
    reply = render(big(), plain)
    assert reply.flags & dns.flags.TC and reply.answer == []
    assert reply.question[0].name.to_text() == "big.example."
    assert not render(big(), plain, tcp=True).flags & dns.flags.TC
    assert len(render(big(), plain, tcp=True).answer[0]) == 12
    # with EDNS the smaller of the client's size and ours decides; the OPT stays
    with_edns = make_query("big.example", dns.rdatatype.TXT, edns=0)
    whole = render(big(), with_edns)
    assert not whole.flags & dns.flags.TC and len(whole.answer[0]) == 12
    cut = render(big(), with_edns, udp_size=512)
    assert cut.flags & dns.flags.TC and cut.edns == 0 and cut.payload == 512
