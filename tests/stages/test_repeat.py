"""The repeat stage alone: it repeats only what it was shown, and only while that holds."""

from __future__ import annotations

import ipaddress

import dns.edns
import dns.message
import dns.rcode
import dns.rrset
import pytest

from resolver.stages import repeat as repeat_module
from resolver.stages.contract import Request, ResponseKind
from resolver.stages.repeat import RepeatStage
from tests.stages.fakes import (
    GUEST,
    OFFICE,
    PRESS,
    STRANGER,
    T0,
    assert_kind,
    assert_nxdomain,
    grouped_config,
    grouped_policy,
    office_config,
    query_wire,
    request_for,
    setup_of,
)

SETUP = setup_of()


def blocked_answer(wire: bytes) -> bytes:
    """A blocked answer to `wire`, as the blocking stage makes it (NXDOMAIN + SOA + EDE)."""
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.NXDOMAIN)
    response.authority.append(dns.rrset.from_text(
        "tiktok.com.", 60, "IN", "SOA",
        "dnsfence.invalid. hostmaster.dnsfence.invalid. 1 3600 600 86400 60"))
    ede = dns.edns.EDEOption(dns.edns.EDECode.BLOCKED, "blocked by list office")
    response.use_edns(0, options=[ede])
    return response.to_wire()


def shown(stage: RepeatStage, wire: bytes, *, kind: ResponseKind = ResponseKind.BLOCKED,
          until: float = T0 + 10, now: float = T0, client: str = OFFICE, tcp: bool = False,
          setup_request: Request | None = None) -> bytes:
    """Show the stage an answer made now to `wire`, as the pipeline does; return it."""
    request = setup_request or request_for(SETUP, wire, now=now, client=client, tcp=tcp)
    request.kind = kind
    request.same_until = until
    answer = blocked_answer(wire)
    stage.remember(request, answer)
    return answer


def ask(stage: RepeatStage, wire: bytes, *, now: float = T0 + 1, client: str = OFFICE,
        tcp: bool = False) -> tuple[bytes | None, Request]:
    request = Request(wire, client, now, tcp, SETUP.policy.current(now))
    return stage.handle(request), request


def test_an_answer_is_repeated_under_the_new_querys_id_with_the_same_bytes_after_it() -> None:
    stage = RepeatStage(SETUP)
    answer = shown(stage, query_wire("www.tiktok.com", qid=1))
    repeated, request = ask(stage, query_wire("www.tiktok.com", qid=513))
    assert repeated is not None
    assert repeated[:2] == (513).to_bytes(2, "big") and repeated[2:] == answer[2:]
    assert_nxdomain(repeated, soa_owner="tiktok.com", ttl=60, qid=513)
    assert_kind(request, ResponseKind.BLOCKED)


def test_another_question_is_not_a_repeat() -> None:
    stage = RepeatStage(SETUP)
    shown(stage, query_wire("www.tiktok.com"))
    assert ask(stage, query_wire("www.tiktok.com", "AAAA"))[0] is None
    assert ask(stage, query_wire("www.tiktok.com", do=True))[0] is None


def test_tcp_queries_are_neither_repeated_nor_remembered() -> None:
    stage = RepeatStage(SETUP)
    shown(stage, query_wire("www.tiktok.com"))
    answer, request = ask(stage, query_wire("www.tiktok.com", qid=2), tcp=True)
    assert answer is None and request.kind is None
    other = RepeatStage(SETUP)
    shown(other, query_wire("www.tiktok.com"), tcp=True)
    assert len(other) == 0
    assert ask(other, query_wire("www.tiktok.com", qid=2))[0] is None


def test_nothing_is_repeated_at_or_after_same_until() -> None:
    stage = RepeatStage(SETUP)
    shown(stage, query_wire("www.tiktok.com"), until=T0 + 10)
    assert ask(stage, query_wire("www.tiktok.com"), now=T0 + 9.999)[0] is not None
    assert ask(stage, query_wire("www.tiktok.com"), now=T0 + 10)[0] is None
    assert ask(stage, query_wire("www.tiktok.com"), now=T0 + 11)[0] is None


def test_nothing_is_repeated_in_another_policy_period() -> None:
    setup = setup_of()
    stage = RepeatStage(setup)
    wire = query_wire("www.tiktok.com")
    request = request_for(setup, wire)
    shown(stage, wire, until=T0 + 1000, setup_request=request)
    same = Request(wire, OFFICE, T0 + 1, False, setup.policy.current(T0 + 1))
    assert stage.handle(same) is not None
    setup.policy.replace(setup.policy.policy, T0 + 1)  # a reload: a new period, same instant
    later = Request(wire, OFFICE, T0 + 1, False, setup.policy.current(T0 + 1))
    assert later.period is not request.period
    assert stage.handle(later) is None


def test_a_client_outside_allow_clients_never_gets_a_repeat() -> None:
    stage = RepeatStage(SETUP)
    shown(stage, query_wire("www.tiktok.com"))
    for client in (STRANGER, "::ffff:192.0.2.7", "not an address"):
        answer, request = ask(stage, query_wire("www.tiktok.com"), client=client)
        assert answer is None and request.kind is None, client
    assert ask(stage, query_wire("www.tiktok.com"), client="::1")[0] is not None


def test_repeats_count_as_repeats_and_under_the_answers_own_kind() -> None:
    stage = RepeatStage(SETUP)
    assert stage.counters() == {"repeats": 0}
    shown(stage, query_wire("www.tiktok.com"), kind=ResponseKind.BLOCKED)
    shown(stage, query_wire("www.example.com"), kind=ResponseKind.CACHED)
    for _ in range(3):
        ask(stage, query_wire("www.tiktok.com"))
    ask(stage, query_wire("www.example.com"))
    ask(stage, query_wire("www.example.com"), client=STRANGER)  # refused: not a repeat
    assert stage.counters() == {"repeats": 4, "blocked": 3, "cache_hits": 1}


def test_the_table_starts_again_empty_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(repeat_module, "_LIMIT", 3)
    stage = RepeatStage(SETUP)
    for name in ("a.tiktok.com", "b.tiktok.com", "c.tiktok.com"):
        shown(stage, query_wire(name))
    assert len(stage) == 3
    shown(stage, query_wire("d.tiktok.com"))
    assert len(stage) == 1
    assert ask(stage, query_wire("a.tiktok.com"))[0] is None
    assert ask(stage, query_wire("d.tiktok.com"))[0] is not None


def test_reconfigure_clears_the_table_and_applies_the_new_client_networks() -> None:
    stage = RepeatStage(SETUP)
    shown(stage, query_wire("www.tiktok.com"))
    stage.reconfigure(office_config(**{
        "server.allow_clients": (ipaddress.ip_network("192.0.2.0/24"),)}))
    assert len(stage) == 0
    assert ask(stage, query_wire("www.tiktok.com"))[0] is None
    shown(stage, query_wire("www.tiktok.com"), client=STRANGER)
    assert ask(stage, query_wire("www.tiktok.com"), client=STRANGER)[0] is not None
    assert ask(stage, query_wire("www.tiktok.com"), client=OFFICE)[0] is None


@pytest.mark.parametrize("until", [0.0, T0, T0 - 1])
def test_nothing_is_remembered_unless_it_stays_the_same_for_a_while(until: float) -> None:
    stage = RepeatStage(SETUP)
    shown(stage, query_wire("www.tiktok.com"), until=until)
    assert len(stage) == 0
    assert ask(stage, query_wire("www.tiktok.com"))[0] is None


def test_an_answer_without_a_kind_is_not_remembered() -> None:
    stage = RepeatStage(SETUP)
    wire = query_wire("www.tiktok.com")
    request = request_for(SETUP, wire)
    request.same_until = T0 + 10
    stage.remember(request, blocked_answer(wire))
    assert len(stage) == 0


def test_a_repeat_carries_the_query_the_rule_and_the_warning_period_mark() -> None:
    stage = RepeatStage(SETUP)
    wire = query_wire("www.tiktok.com", qid=1)
    request = request_for(SETUP, wire)
    marker = ("a rule", "tiktok.com")
    request.observed = marker  # type: ignore[assignment]
    shown(stage, wire, kind=ResponseKind.CACHED, setup_request=request)
    repeated, again = ask(stage, query_wire("www.tiktok.com", qid=2))
    assert repeated is not None
    assert_kind(again, ResponseKind.CACHED)
    assert again.observed is marker
    assert again.query.qname == "www.tiktok.com"
    fresh = request_for(SETUP, query_wire("example.org", qid=3))
    shown(stage, query_wire("example.org", qid=3), kind=ResponseKind.CACHED,
          setup_request=fresh)
    assert ask(stage, query_wire("example.org", qid=4))[1].observed is None


GROUPED = setup_of(grouped_config(), grouped_policy())


def test_with_groups_an_answer_is_repeated_only_to_clients_of_the_same_groups() -> None:
    stage = RepeatStage(GROUPED)
    wire = query_wire("games.example", qid=1)
    for client in (GUEST, OFFICE):
        request = request_for(GROUPED, wire, now=T0, client=client)
        request.kind = ResponseKind.BLOCKED if client == GUEST else ResponseKind.CACHED
        request.same_until = T0 + 10
        stage.remember(request, (b"\x00\x01" + client.encode()))
    assert len(stage) == 2
    for client, expected in ((GUEST, GUEST), (OFFICE, OFFICE), (PRESS, None),
                             (STRANGER, None), (GUEST, GUEST)):
        request = Request(query_wire("games.example", qid=2), client, T0 + 1, False,
                          GROUPED.policy.current(T0 + 1))
        answer = stage.handle(request)
        if expected is None:
            assert answer is None, client
        else:
            assert answer == b"\x00\x02" + expected.encode(), client
            assert request.groups == ({"guests"} if client == GUEST else set())
    stage.reconfigure(GROUPED.config)
    assert len(stage) == 0
