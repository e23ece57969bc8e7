"""The parse stage alone: a usable query passes on parsed; anything else gets its error."""

from __future__ import annotations

import dns.message
import dns.opcode
import dns.rcode
import dns.update
import pytest

from resolver.stages.contract import DROP, Request, ResponseKind
from resolver.stages.parse import ParseStage
from tests.stages.fakes import (
    OFFICE,
    T0,
    assert_kind,
    assert_rcode,
    office_config,
    query_wire,
    setup_of,
)

SETUP = setup_of()


def ask(stage: ParseStage, wire: bytes) -> tuple[bytes | None, Request]:
    request = Request(wire, OFFICE, T0, False, SETUP.policy.current(T0))
    return stage.handle(request), request


def test_a_normal_query_is_parsed_onto_the_request_and_passed_on() -> None:
    answer, request = ask(ParseStage(SETUP), query_wire("WWW.Example.com", "AAAA", qid=77))
    assert answer is None
    assert_kind(request, None)
    query = request.query
    assert (query.id, query.qname, query.qtype, query.qclass) == (77, "www.example.com", 28, 1)
    assert query.question.startswith(b"\x03WWW\x07Example")  # the client's case, as sent


def test_a_malformed_query_gets_formerr_and_is_rejected() -> None:
    answer, request = ask(ParseStage(SETUP), query_wire("www.example.com", qid=9) + b"\x00")
    message = assert_rcode(answer, dns.rcode.FORMERR, qid=9)
    assert message.question[0].name.to_text() == "www.example.com."
    assert_kind(request, ResponseKind.REJECTED)


def test_two_questions_get_formerr() -> None:
    message = dns.message.make_query("www.example.com", "A", use_edns=False)
    wire = bytearray(message.to_wire())
    wire[5] = 2  # QDCOUNT 2, one question present
    answer, request = ask(ParseStage(SETUP), bytes(wire))
    assert_rcode(answer, dns.rcode.FORMERR)
    assert_kind(request, ResponseKind.REJECTED)


def test_a_response_is_dropped() -> None:
    response = dns.message.make_response(dns.message.from_wire(query_wire("www.example.com")))
    answer, request = ask(ParseStage(SETUP), response.to_wire())
    assert answer == DROP and answer is not None
    assert_kind(request, ResponseKind.REJECTED)


def test_a_packet_shorter_than_a_header_is_dropped() -> None:
    answer, _ = ask(ParseStage(SETUP), query_wire("www.example.com")[:5])
    assert answer == DROP and answer is not None


@pytest.mark.parametrize(("opcode", "rcode"), [(dns.opcode.NOTIFY, dns.rcode.REFUSED),
                                               (dns.opcode.UPDATE, dns.rcode.NOTIMP)])
def test_notify_is_refused_and_update_gets_notimp(opcode: dns.opcode.Opcode,
                                                  rcode: dns.rcode.Rcode) -> None:
    if opcode == dns.opcode.UPDATE:
        message: dns.message.Message = dns.update.UpdateMessage("example.com")
    else:
        message = dns.message.make_query("example.com", "SOA", use_edns=False)
        message.set_opcode(opcode)
    message.id = 4242
    answer, request = ask(ParseStage(SETUP), message.to_wire())
    reply = assert_rcode(answer, rcode, qid=4242)
    assert reply.opcode() == opcode
    assert_kind(request, ResponseKind.REJECTED)


def test_edns_version_1_gets_badvers_with_our_udp_size() -> None:
    answer, request = ask(ParseStage(SETUP), query_wire("www.example.com", edns=1, qid=5))
    reply = assert_rcode(answer, dns.rcode.BADVERS, qid=5)
    assert reply.edns == 0 and reply.payload == 1232
    assert_kind(request, ResponseKind.REJECTED)


def test_the_badvers_udp_size_follows_the_config_after_reconfigure() -> None:
    stage = ParseStage(SETUP)
    stage.reconfigure(office_config(**{"server.edns_udp_size": 4096}))
    answer, _ = ask(stage, query_wire("www.example.com", edns=1))
    assert assert_rcode(answer, dns.rcode.BADVERS).payload == 4096
    built = ParseStage(setup_of(office_config(**{"server.edns_udp_size": 1400})))
    answer, _ = ask(built, query_wire("www.example.com", edns=1))
    assert assert_rcode(answer, dns.rcode.BADVERS).payload == 1400
