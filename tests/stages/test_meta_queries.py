"""The meta-query stage alone: zone transfers and meta-classes are answered here as
Unbound answers them; every other question passes on."""

from __future__ import annotations

import dns.flags
import dns.rcode
import pytest

from resolver.stages.contract import ResponseKind
from resolver.stages.meta_queries import MetaQueryStage
from tests.stages.fakes import T0, assert_kind, assert_rcode, query_wire, request_for, setup_of

SETUP = setup_of()


@pytest.mark.parametrize(("rdtype", "rdclass", "rcode", "ra"), [
    ("AXFR", "IN", dns.rcode.REFUSED, False),
    ("IXFR", "IN", dns.rcode.REFUSED, False),
    ("AXFR", "ANY", dns.rcode.REFUSED, False),
    ("A", "NONE", dns.rcode.REFUSED, True),
    ("A", "RESERVED0", dns.rcode.REFUSED, True),
    ("A", "ANY", dns.rcode.NOERROR, True),
])
def test_transfers_and_meta_classes_are_answered_here(rdtype: str, rdclass: str,
                                                      rcode: dns.rcode.Rcode, ra: bool) -> None:
    stage = MetaQueryStage(SETUP)
    request = request_for(SETUP, query_wire("www.example.com", rdtype, qid=9, rdclass=rdclass),
                          now=T0)
    message = assert_rcode(stage.handle(request), rcode, qid=9)
    assert bool(message.flags & dns.flags.RA) is ra
    assert message.answer == [] and message.authority == []
    assert message.edns == 0  # the query had EDNS
    assert_kind(request, ResponseKind.LOCAL)
    assert request.same_until == request.period.until
    assert stage.counters() == {"local": 1}


@pytest.mark.parametrize(("rdtype", "rdclass"), [("A", "IN"), ("ANY", "IN"), ("TXT", "CH"),
                                                 ("SOA", "IN"), ("A", "HS")])
def test_other_questions_pass_on(rdtype: str, rdclass: str) -> None:
    stage = MetaQueryStage(SETUP)
    request = request_for(SETUP, query_wire("version.bind", rdtype, rdclass=rdclass), now=T0)
    assert stage.handle(request) is None
    assert_kind(request, None)
    assert stage.counters() == {"local": 0}
