"""The local-records stage alone and in the real chain: local names answered here with AA,
NODATA, static zones, TTL caps, CNAME chains cut before a blocked name, blocking first,
repeats, and new records at once on a reload."""

from __future__ import annotations

from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from resolver.config.local import LocalConfig, local_zones, parse_records
from resolver.config.settings import Config
from resolver.pipeline import CHAIN, Pipeline
from resolver.policy.period import PolicyHolder
from resolver.stages.blocking import BlockingStage
from resolver.stages.cache import CacheStage
from resolver.stages.contract import BLOCKED, LOCAL, Request
from resolver.stages.local_records import LocalRecordsStage
from resolver.stages.repeat import RepeatStage
from tests.stages.fakes import (
    OFFICE,
    T0,
    assert_kind,
    assert_rcode,
    ede_of,
    office_config,
    office_policy,
    query_wire,
    request_for,
    setup_of,
)

RECORDS: dict[str, Any] = {
    "intranet.corp.example.eu": "10.0.0.80",
    "printer.corp.example.eu": ["10.0.0.90", "fd00::90"],
    "wiki.corp.example.eu": {"CNAME": "intranet.corp.example.eu"},
    "corp.example.eu": {"MX": "10 mail.corp.example.eu", "TXT": "v=spf1 -all"},
    "tiktok.com": "10.0.0.66",  # blocked by the office's list: the block wins
    "clips.corp.example.eu": {"CNAME": "tiktok.com"},
    "later.example": "10.0.0.67",  # blocked from CHANGE, 100.25 s after T0
    "soon.corp.example.eu": {"CNAME": "later.example"},
    "a.lab.corp.example.eu": "10.1.1.1",
}


def local_config(records: dict[str, Any] = RECORDS, **overrides: Any) -> Config:
    local = LocalConfig(300, True, local_zones({"lab.corp.example.eu": "static"}),
                        parse_records(records))
    return office_config(local=local, **overrides)


SETUP = setup_of(local_config())


def answer_of(name: str, rdtype: str = "A", *, ttl_cap: int | None = None,
              rdclass: str = "IN", stage: LocalRecordsStage | None = None
              ) -> tuple[bytes | None, Request]:
    stage = stage or LocalRecordsStage(SETUP)
    request = request_for(SETUP, query_wire(name, rdtype, qid=9, edns=0, rdclass=rdclass),
                          ttl_cap=ttl_cap)
    return stage.handle(request), request


def records(answer: bytes | None) -> list[str]:
    message = dns.message.from_wire(answer) if answer else None
    assert message is not None
    return [f"{rrset.name.to_text(omit_final_dot=True)} {rrset.ttl} "
            f"{dns.rdatatype.to_text(rrset.rdtype)} {rd.to_text()}"
            for rrset in message.answer for rd in rrset]


def test_a_local_name_is_answered_here_with_aa_and_may_be_repeated() -> None:
    stage = LocalRecordsStage(SETUP)
    answer, request = answer_of("Intranet.corp.example.eu", stage=stage)
    message = assert_rcode(answer, dns.rcode.NOERROR, qid=9)
    assert message.flags & dns.flags.AA and message.flags & dns.flags.RA
    assert records(answer) == ["Intranet.corp.example.eu 300 A 10.0.0.80"]
    assert_kind(request, LOCAL)
    assert request.same_until == request.period.until
    assert ede_of(message) is None
    assert stage.counters() == {"local": 1}


@pytest.mark.parametrize(("name", "rdtype", "expected"), [
    ("printer.corp.example.eu", "AAAA", ["printer.corp.example.eu 300 AAAA fd00::90"]),
    ("corp.example.eu", "MX", ["corp.example.eu 300 MX 10 mail.corp.example.eu."]),
    ("corp.example.eu", "TXT", ['corp.example.eu 300 TXT "v=spf1 -all"']),
    ("wiki.corp.example.eu", "A", ["wiki.corp.example.eu 300 CNAME intranet.corp.example.eu.",
                                   "intranet.corp.example.eu 300 A 10.0.0.80"]),
    ("90.0.0.10.in-addr.arpa", "PTR",
     ["90.0.0.10.in-addr.arpa 300 PTR printer.corp.example.eu."]),
])
def test_each_type(name: str, rdtype: str, expected: list[str]) -> None:
    answer, _ = answer_of(name, rdtype)
    assert records(answer) == expected


def test_nodata_and_nxdomain_carry_the_zones_soa() -> None:
    answer, request = answer_of("intranet.corp.example.eu", "AAAA")
    message = assert_rcode(answer, dns.rcode.NOERROR)
    assert message.answer == [] and message.authority[0].name.to_text() == "corp.example.eu."
    assert request.same_until == request.period.until
    answer, request = answer_of("nothing.lab.corp.example.eu")
    message = assert_rcode(answer, dns.rcode.NXDOMAIN)
    assert message.flags & dns.flags.AA
    assert message.authority[0].name.to_text() == "lab.corp.example.eu."
    assert_kind(request, LOCAL)
    assert request.same_until == 0.0  # made-up names are not worth repeating


@pytest.mark.parametrize(("name", "rdclass"), [
    ("www.example.com", "IN"), ("x.intranet.corp.example.eu", "IN"),
    ("other.corp.example.eu", "IN"), ("intranet.corp.example.eu", "CH"),
    ("nothing.lab.corp.example.eu", "CH"),
])
def test_other_names_and_classes_pass_on(name: str, rdclass: str) -> None:
    stage = LocalRecordsStage(SETUP)
    answer, request = answer_of(name, rdclass=rdclass, stage=stage)
    assert answer is None
    assert_kind(request, None)
    assert stage.counters() == {"local": 0}


def test_a_ttl_cap_lowers_every_ttl_and_the_answer_is_not_repeated() -> None:
    answer, request = answer_of("intranet.corp.example.eu", ttl_cap=42)
    assert records(answer) == ["intranet.corp.example.eu 42 A 10.0.0.80"]
    assert request.same_until == 0.0


def test_a_chain_is_cut_before_a_blocked_name_and_capped_by_its_names_changes() -> None:
    answer, request = answer_of("clips.corp.example.eu")
    assert records(answer) == ["clips.corp.example.eu 300 CNAME tiktok.com."]
    assert request.same_until == request.period.until
    # later.example is blocked 100.25 s after T0: nothing in the answer may outlive that
    answer, request = answer_of("soon.corp.example.eu")
    assert records(answer) == ["soon.corp.example.eu 100 CNAME later.example.",
                               "later.example 100 A 10.0.0.67"]
    assert request.same_until == 0.0


def test_new_records_apply_at_once_on_reconfigure() -> None:
    stage = LocalRecordsStage(SETUP)
    assert records(answer_of("intranet.corp.example.eu", stage=stage)[0]) == [
        "intranet.corp.example.eu 300 A 10.0.0.80"]
    stage.reconfigure(_with_records({"intranet.corp.example.eu": "10.0.0.81",
                                     "new.corp.example.eu": "10.0.0.82"}))
    assert records(answer_of("intranet.corp.example.eu", stage=stage)[0]) == [
        "intranet.corp.example.eu 60 A 10.0.0.81"]
    assert records(answer_of("new.corp.example.eu", stage=stage)[0]) == [
        "new.corp.example.eu 60 A 10.0.0.82"]
    assert answer_of("wiki.corp.example.eu", stage=stage)[0] is None  # removed
    assert answer_of("nothing.lab.corp.example.eu", stage=stage)[0] is None  # zone gone


def _with_records(records: dict[str, Any]) -> Config:
    return office_config(local=LocalConfig(60, True, (), parse_records(records)))


# --- in the real chain ---------------------------------------------------------------------


def chain(config: Config) -> Pipeline:
    return Pipeline.from_config(config, PolicyHolder(office_policy(), clock=lambda: T0))


def test_it_sits_below_blocking_and_above_the_cache() -> None:
    assert CHAIN.index(BlockingStage) + 1 == CHAIN.index(LocalRecordsStage) \
        < CHAIN.index(CacheStage)


def test_in_the_chain_a_blocked_name_stays_blocked_and_local_answers_repeat() -> None:
    pipeline = chain(local_config())
    blocked = pipeline.handle(query_wire("tiktok.com", edns=0), OFFICE, T0)
    assert isinstance(blocked, bytes)
    message = assert_rcode(blocked, dns.rcode.NXDOMAIN)
    assert ede_of(message) is not None and ede_of(message)[0] == 15  # type: ignore[index]
    assert not message.flags & dns.flags.AA
    answers = []
    for qid in (1, 2, 3):
        answer = pipeline.handle(query_wire("intranet.corp.example.eu", qid=qid), OFFICE,
                                 T0 + qid)
        assert isinstance(answer, bytes)
        answers.append(answer)
    assert all(a[2:] == answers[0][2:] for a in answers)
    assert records(answers[2]) == ["intranet.corp.example.eu 300 A 10.0.0.80"]
    counters = pipeline.counters()
    assert counters["local"] == 3 and counters["repeats"] == 2
    assert counters[BLOCKED.counter] == 1
    assert len(pipeline.stage(RepeatStage)) == 1


def test_in_the_chain_a_reload_replaces_repeated_answers_at_once() -> None:
    pipeline = chain(local_config())
    for qid in (1, 2):
        pipeline.handle(query_wire("intranet.corp.example.eu", qid=qid), OFFICE, T0)
    pipeline.reconfigure(_with_records({"intranet.corp.example.eu": "10.0.0.81"}))
    answer = pipeline.handle(query_wire("intranet.corp.example.eu", qid=3), OFFICE, T0)
    assert isinstance(answer, bytes)
    assert records(answer) == ["intranet.corp.example.eu 60 A 10.0.0.81"]
