"""The special-use stage alone: resolver.arpa (RFC 9462) answered here, nothing else."""

from __future__ import annotations

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from resolver.pipeline import CHAIN
from resolver.stages.access import AccessStage
from resolver.stages.blocking import BlockingStage
from resolver.stages.contract import LOCAL
from resolver.stages.special_use import SpecialUseStage
from tests.stages.fakes import (
    T0,
    assert_kind,
    assert_rcode,
    office_config,
    query_wire,
    request_for,
    setup_of,
)

SETUP = setup_of()


def answer_of(name: str, rdtype: str = "SVCB", *, edns: int | bool = 0
              ) -> tuple[bytes | None, SpecialUseStage, object]:
    stage = SpecialUseStage(SETUP)
    request = request_for(SETUP, query_wire(name, rdtype, qid=77, edns=edns))
    return stage.handle(request), stage, request


def soa_only(message: dns.message.Message) -> None:
    assert message.answer == []
    [soa] = message.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.name.to_text(omit_final_dot=True) == "resolver.arpa"
    assert soa.ttl == soa[0].minimum == 60  # blocking.negative_ttl of the office config


@pytest.mark.parametrize("name", ["_dns.resolver.arpa", "_DNS.Resolver.ARPA", "resolver.arpa"])
def test_the_ddr_name_and_the_apex_exist_with_no_data(name: str) -> None:
    answer, stage, request = answer_of(name)
    message = assert_rcode(answer, dns.rcode.NOERROR, qid=77)
    soa_only(message)
    assert_kind(request, LOCAL)  # type: ignore[arg-type]
    assert request.same_until == request.period.until  # type: ignore[attr-defined]
    assert stage.counters() == {"local": 1}


@pytest.mark.parametrize("name", ["_dns.example.resolver.arpa", "x._dns.resolver.arpa",
                                  "anything.resolver.arpa"])
def test_every_other_name_below_it_does_not_exist(name: str) -> None:
    answer, _, request = answer_of(name, "A")
    soa_only(assert_rcode(answer, dns.rcode.NXDOMAIN, qid=77))
    assert request.same_until == 0.0  # type: ignore[attr-defined]  # not worth repeating


def test_every_type_gets_the_same_answer_and_no_edns_works_too() -> None:
    for rdtype in ("A", "AAAA", "HTTPS", "TXT"):
        answer, _, _ = answer_of("_dns.resolver.arpa", rdtype, edns=False)
        message = assert_rcode(answer, dns.rcode.NOERROR)
        assert message.edns < 0
        soa_only(message)


@pytest.mark.parametrize("name", ["example.com", "resolver.arpa.example.com",
                                  "notresolver.arpa", "arpa", "in-addr.arpa"])
def test_other_names_pass_on(name: str) -> None:
    answer, stage, request = answer_of(name, "A")
    assert answer is None
    assert_kind(request, None)  # type: ignore[arg-type]
    assert stage.counters() == {"local": 0}


def test_the_negative_ttl_follows_the_config() -> None:
    stage = SpecialUseStage(SETUP)
    stage.reconfigure(office_config(**{"blocking.negative_ttl": 900}))
    answer = stage.handle(request_for(SETUP, query_wire("_dns.resolver.arpa", "SVCB"),
                                      now=T0))
    [soa] = assert_rcode(answer, dns.rcode.NOERROR).authority
    assert soa.ttl == 900


def test_it_sits_after_access_control_and_before_the_policy() -> None:
    assert CHAIN.index(AccessStage) < CHAIN.index(SpecialUseStage) < CHAIN.index(BlockingStage)
