"""The status stage alone: the CHAOS status answer for the host, REFUSED for anyone else."""

from __future__ import annotations

from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from resolver.stages.contract import Request, ResponseKind
from resolver.stages.status import StatusStage, decode_status, encode_status
from tests.stages.fakes import (
    STRANGER,
    T0,
    assert_kind,
    assert_rcode,
    assert_refused,
    query_wire,
    request_for,
    setup_of,
)

REPORT = {"workers": 2, "queries": 1234, "lists": ["office", "tiktok"]}


def stage_with(report: dict[str, Any] | None) -> StatusStage:
    return StatusStage(setup_of(status_report=None if report is None else lambda: report))


def ask(stage: StatusStage, wire: bytes, client: str = "127.0.0.1"
        ) -> tuple[bytes | None, Request]:
    request = request_for(setup_of(), wire, now=T0, client=client)
    return stage.handle(request), request


def status_query(qid: int = 1, name: str = "status.dnsfence", rdtype: str = "TXT") -> bytes:
    return query_wire(name, rdtype, qid, rdclass="CH", edns=False)


def txt_strings(message: dns.message.Message) -> list[bytes]:
    assert len(message.answer) == 1
    rrset = message.answer[0]
    assert (rrset.rdclass, rrset.rdtype) == (dns.rdataclass.CH, dns.rdatatype.TXT)
    assert rrset.name.to_text() == "status.dnsfence."
    return list(rrset[0].strings)


@pytest.mark.parametrize("client", ["127.0.0.1", "::1", "127.0.0.53", "::ffff:127.0.0.1"])
def test_the_host_gets_the_status_report(client: str) -> None:
    answer, request = ask(stage_with(REPORT), status_query(qid=99), client)
    message = assert_rcode(answer, dns.rcode.NOERROR, qid=99)
    assert message.flags & dns.flags.AA
    assert decode_status(txt_strings(message)) == REPORT
    assert_kind(request, ResponseKind.LOCAL)


def test_a_report_longer_than_one_string_is_answered_whole() -> None:
    report = {"lists": [f"list-{n:03}" for n in range(100)]}
    answer, _ = ask(stage_with(report), status_query())
    strings = txt_strings(assert_rcode(answer, dns.rcode.NOERROR))
    assert len(strings) > 1
    assert decode_status(strings) == report


@pytest.mark.parametrize("client", [STRANGER, "10.0.0.1", "fe80::1%eth0", "garbage"])
def test_anyone_but_the_host_is_refused(client: str) -> None:
    answer, request = ask(stage_with(REPORT), status_query(qid=3), client)
    assert_refused(answer, ede=None, qid=3)  # the query had no EDNS: no room for an EDE
    assert_kind(request, ResponseKind.REFUSED)


def test_refused_carries_ede_18_when_the_query_has_edns() -> None:
    wire = query_wire("status.dnsfence", "TXT", 3, rdclass="CH")
    answer, _ = ask(stage_with(REPORT), wire, STRANGER)
    assert_refused(answer, ede=18, qid=3)


@pytest.mark.parametrize(("name", "rdtype"), [("version.bind", "TXT"),
                                              ("status.dnsfence", "A"),
                                              ("www.status.dnsfence", "TXT")])
def test_other_chaos_questions_are_refused(name: str, rdtype: str) -> None:
    answer, request = ask(stage_with(REPORT), status_query(name=name, rdtype=rdtype))
    assert_refused(answer, ede=None)
    assert_kind(request, ResponseKind.REFUSED)


def test_class_in_passes_on() -> None:
    answer, request = ask(stage_with(REPORT), query_wire("status.dnsfence", "TXT"))
    assert answer is None
    assert_kind(request, None)


def test_without_a_status_report_chaos_passes_on() -> None:
    answer, request = ask(stage_with(None), status_query(), STRANGER)
    assert answer is None
    assert_kind(request, None)


def test_encode_and_decode_round_trip_a_long_report() -> None:
    report = {"text": "x" * 700, "n": 1, "nested": {"a": [1, 2, 3]}}
    strings = encode_status(report)
    assert len(strings) == 3 and all(len(s) <= 255 for s in strings)
    assert decode_status(strings) == report
    assert decode_status(encode_status({})) == {}
