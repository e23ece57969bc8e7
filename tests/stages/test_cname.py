"""CNAME inspection in the real chain: forwarded answers and cache hits whose alias chain
passes through a blocked name get the blocked answer, from the instant the name is blocked.

The pipeline is built as a worker builds it, with a scripted tail in place of the upstream
(it answers each question with a message made here); the clocks the forward path reads are
set by each test. Answers are read back with dnspython.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest

from resolver.dns.aliases import chain_of
from resolver.dns.query import parse_query
from resolver.lists.load import load_policy
from resolver.pipeline import CHAIN, Pipeline
from resolver.policy.index import Found
from resolver.policy.loaded import Policy
from resolver.policy.period import PolicyHolder
from resolver.stages import cname as cname_module
from resolver.stages.cache import CacheStage
from resolver.stages.cname import ChainInspection
from resolver.stages.contract import Done, Request, ResponseKind, Stage, StageSetup
from resolver.stages.repeat import RepeatStage
from resolver.stages.upstream import UpstreamStage
from tests.policy.assertions import policy_of, write_lists
from tests.stages.fakes import (
    CHANGE,
    GUEST,
    OFFICE,
    PRESS,
    T0,
    assert_nxdomain,
    assert_rcode,
    ede_of,
    grouped_config,
    message_of,
    office_config,
    query_wire,
)

LISTS = """
    name: tiktok
    effective: 2023-03-20
    timezone: UTC
    domains:
      - tiktok.com
      - tiktokcdn.com
      - domain: later.example
        effective: 2030-01-01
    allow:
      - newsroom.tiktok.com
"""
"""later.example becomes blocked at CHANGE (T0 + 100.25)."""

CHAINS = {
    "www.example.com": ("www.example.com 300 CNAME v16.tiktokcdn.com.",
                        "v16.tiktokcdn.com 300 A 192.0.2.9"),
    "a.example.test": ("a.example.test 300 CNAME b.example.test.",
                       "b.example.test 300 CNAME www.tiktok.com.",
                       "www.tiktok.com 300 A 192.0.2.41"),
    "www.mirror.test": ("mirror.test 300 DNAME tiktok.com.",
                        "www.mirror.test 300 CNAME www.tiktok.com.",
                        "www.tiktok.com 300 A 192.0.2.41"),
    "alias.example.test": ("alias.example.test 300 CNAME www.example.test.",
                           "www.example.test 300 A 192.0.2.10"),
    "soon.example.test": ("soon.example.test 300 CNAME cdn.later.example.",
                          "cdn.later.example 300 A 192.0.2.60"),
    "newsroom.tiktok.com": ("newsroom.tiktok.com 300 CNAME www.tiktok.com.",
                            "www.tiktok.com 300 A 192.0.2.41"),
    "plain.example.test": ("plain.example.test 300 A 192.0.2.12",),
    "guests.alias.test": ("guests.alias.test 300 CNAME www.example.test.",
                          "www.example.test 300 A 192.0.2.10"),
}
"""What the scripted upstream answers, by question name (answer records)."""


def upstream_answer(request: Request) -> bytes:
    query = dns.message.from_wire(request.data)
    response = dns.message.make_response(query)
    response.use_edns(False)  # the forwarder hands messages on without their OPT
    for text in CHAINS[request.query.qname]:
        owner, ttl, kind, data = text.split(" ", 3)
        response.answer.append(dns.rrset.from_text(owner + ".", int(ttl), "IN", kind, data))
    return response.to_wire()


class ScriptedUpstream(Stage):
    """The tail: answers from CHAINS at once, and counts what it was asked."""

    next = None

    def __init__(self, setup: StageSetup) -> None:
        self.asked: list[str] = []

    def forward(self, request: Request, done: Done) -> None:
        self.asked.append(request.query.qname)
        done(upstream_answer(request))


@dataclass(frozen=True)
class Seen:
    """What an observer (the query log, the metrics) was told about an answer."""

    kind: ResponseKind | None
    found: Found | None


class Observer(Stage):
    """Keeps what every answer's request said when observers were shown it."""

    def __init__(self, setup: StageSetup) -> None:
        self.seen: list[tuple[Seen, bytes]] = []

    def observe(self, request: Request, answer: bytes) -> None:
        found = request.found if request.kind is ResponseKind.BLOCKED else None
        self.seen.append((Seen(request.kind, found), answer))


class Clock:
    """What `time.time()` says on the forward path (the cache stores at it)."""

    def __init__(self) -> None:
        self.now = T0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    monkeypatch.setattr(time, "time", clock.time)  # where compiled code reads it too
    yield clock


def office_policy(text: str = LISTS) -> Policy:
    with tempfile.TemporaryDirectory() as directory:
        return policy_of(Path(directory), text)


def build(**overrides: object) -> Pipeline:
    chain = (*(ScriptedUpstream if stage is UpstreamStage else stage for stage in CHAIN),
             Observer)
    holder = PolicyHolder(office_policy(), clock=lambda: T0)
    return Pipeline.from_config(office_config(**overrides), holder, chain=chain)


def ask(pipeline: Pipeline, clock: Clock, name: str, now: float = T0, qid: int = 1,
        edns: int | bool = 0) -> tuple[bytes, Seen]:
    """The answer to `name` at `now` (forwarded when it must be), and what the chain's
    observers were shown with it."""
    clock.now = now
    result = pipeline.handle(query_wire(name, qid=qid, edns=edns), OFFICE, now)
    if isinstance(result, Request):
        answers: list[bytes] = []
        pipeline.forward(result, answers.append)
        assert len(answers) == 1
        result = answers[0]
    assert result
    seen = pipeline.stage(Observer).seen
    assert len(seen) == 1 and seen[0][1] == result, "observers see each answer once"
    return result, seen.pop()[0]


def asked(pipeline: Pipeline) -> list[str]:
    return pipeline.stage(ScriptedUpstream).asked


TIKTOKCDN_TEXT = ("blocked by list tiktok (tiktokcdn.com) via CNAME www.example.com → "
                  "v16.tiktokcdn.com since 2023-03-20")


def test_a_forwarded_answer_whose_chain_is_blocked_gets_the_blocked_answer(
        clock: Clock) -> None:
    pipeline = build()
    answer, request = ask(pipeline, clock, "www.example.com", qid=77)
    message = assert_nxdomain(answer, soa_owner="www.example.com", ttl=60, qid=77)
    assert ede_of(message) == (15, TIKTOKCDN_TEXT)
    assert request.kind is ResponseKind.BLOCKED
    assert request.found is not None
    assert (request.found[0].list_name, request.found[1]) == ("tiktok", "tiktokcdn.com")
    counters = pipeline.counters()
    assert counters["blocked"] == counters["cname_blocked"] == 1
    series = pipeline.series()
    assert series["blocked"] == {("tiktok",): 1.0}  # the metrics count it under its list
    assert series["queries"][("blocked", "udp")] == 1
    assert series["queries"][("forwarded", "udp")] == 0


def test_the_cached_answer_is_blocked_too_without_asking_again(clock: Clock) -> None:
    pipeline = build()
    ask(pipeline, clock, "www.example.com")
    answer, request = ask(pipeline, clock, "www.example.com", T0 + 20, qid=5)
    message = assert_nxdomain(answer, soa_owner="www.example.com", ttl=60, qid=5)
    assert ede_of(message) == (15, TIKTOKCDN_TEXT)
    assert request.kind is ResponseKind.BLOCKED
    assert asked(pipeline) == ["www.example.com"]  # stored once, checked on each hit
    assert len(pipeline.stage(CacheStage)) == 1
    assert pipeline.counters()["cname_blocked"] == 2


def test_a_two_step_chain_and_a_dname_are_named_in_the_text(clock: Clock) -> None:
    pipeline = build()
    for name, text in (
        ("a.example.test", "blocked by list tiktok (tiktok.com) via CNAME a.example.test → "
                           "b.example.test → www.tiktok.com since 2023-03-20"),
        ("www.mirror.test", "blocked by list tiktok (tiktok.com) via DNAME mirror.test → "
                            "tiktok.com since 2023-03-20"),
    ):
        for now in (T0, T0 + 1):  # forwarded, then from the cache
            answer, _ = ask(pipeline, clock, name, now)
            assert ede_of(assert_nxdomain(answer, soa_owner=name, ttl=60)) == (15, text)


def test_an_unrelated_chain_and_a_plain_answer_are_untouched(clock: Clock) -> None:
    inspected, plain = build(), build(**{"blocking.cname": False})
    for name in ("alias.example.test", "plain.example.test"):
        for now in (T0, T0 + 3.5):
            answer, request = ask(inspected, clock, name, now)
            assert answer == ask(plain, clock, name, now)[0]
            assert request.kind in (ResponseKind.FORWARDED, ResponseKind.CACHED)
            message = assert_rcode(answer, dns.rcode.NOERROR)
            assert message.answer[-1].ttl == (300 if now == T0 else 297)
    assert inspected.counters()["cname_blocked"] == 0


def test_blocking_cname_false_turns_inspection_off(clock: Clock) -> None:
    pipeline = build(**{"blocking.cname": False})
    for now in (T0, T0 + 1):
        answer, request = ask(pipeline, clock, "www.example.com", now)
        assert [str(r.name) for r in message_of(answer).answer] == \
            ["www.example.com.", "v16.tiktokcdn.com."]
        assert request.kind in (ResponseKind.FORWARDED, ResponseKind.CACHED)
    assert pipeline.counters()["cname_blocked"] == 0


def test_a_reconfiguration_turns_it_on_and_off_and_empties_the_cache(clock: Clock) -> None:
    pipeline = build(**{"blocking.cname": False})
    assert message_of(ask(pipeline, clock, "www.example.com")[0]).rcode() == dns.rcode.NOERROR
    assert message_of(ask(pipeline, clock, "www.example.com", T0 + 0.5)[0]).rcode() == \
        dns.rcode.NOERROR  # from the cache, unread
    assert asked(pipeline) == ["www.example.com"]
    pipeline.reconfigure(office_config(**{"blocking.negative_ttl": 30}))
    answer, _ = ask(pipeline, clock, "www.example.com", T0 + 1)
    assert_nxdomain(answer, soa_owner="www.example.com", ttl=30)
    assert asked(pipeline) == ["www.example.com"] * 2  # stored unread: asked again
    answer, _ = ask(pipeline, clock, "www.example.com", T0 + 1.5)
    assert_nxdomain(answer, soa_owner="www.example.com", ttl=30)
    assert asked(pipeline) == ["www.example.com"] * 2  # and kept, with its chain
    pipeline.reconfigure(office_config(**{"blocking.cname": False}))
    answer, _ = ask(pipeline, clock, "www.example.com", T0 + 2)
    assert message_of(answer).rcode() == dns.rcode.NOERROR
    assert pipeline.counters()["cname_blocked"] == 2  # counts carry over


def test_without_a_cache_the_forwarded_chain_is_read_and_blocked(clock: Clock) -> None:
    pipeline = build(**{"cache.max_entries": 0})
    for now in (T0, T0 + 1):
        answer, request = ask(pipeline, clock, "www.example.com", now)
        assert ede_of(assert_nxdomain(answer, soa_owner="www.example.com", ttl=60)) == \
            (15, TIKTOKCDN_TEXT)
        assert request.kind is ResponseKind.BLOCKED
    assert asked(pipeline) == ["www.example.com"] * 2


def test_an_explicitly_allowed_question_is_not_blocked_by_its_chain(clock: Clock) -> None:
    pipeline = build()
    for now in (T0, T0 + 1):
        answer, request = ask(pipeline, clock, "newsroom.tiktok.com", now)
        assert message_of(answer).rcode() == dns.rcode.NOERROR
        assert request.kind in (ResponseKind.FORWARDED, ResponseKind.CACHED)


def test_a_query_without_edns_gets_the_blocked_answer_without_opt(clock: Clock) -> None:
    pipeline = build()
    answer, _ = ask(pipeline, clock, "www.example.com", edns=False)
    message = assert_rcode(answer, dns.rcode.NXDOMAIN)
    assert message.edns < 0 and message.answer == [] and len(message.authority) == 1


def test_a_chain_that_becomes_blocked_is_capped_before_and_blocked_from_the_instant(
        clock: Clock) -> None:
    pipeline = build()
    repeat = pipeline.stage(RepeatStage)
    answer, request = ask(pipeline, clock, "soon.example.test")
    assert request.kind is ResponseKind.FORWARDED
    assert [r.ttl for r in message_of(answer).answer] == [100, 100]  # floor(CHANGE - T0)
    for offset in (40.0, 40.2, 99.9):  # from the cache, capped, never repeated
        answer, request = ask(pipeline, clock, "soon.example.test", T0 + offset)
        assert request.kind is ResponseKind.CACHED
        left = int(CHANGE - (T0 + offset))
        assert [r.ttl for r in message_of(answer).answer] == [left, left]
    assert len(repeat) == 0
    answer, request = ask(pipeline, clock, "soon.example.test", CHANGE + 0.01, qid=9)
    message = assert_nxdomain(answer, soa_owner="soon.example.test", ttl=60, qid=9)
    assert ede_of(message) == (15, "blocked by list tiktok (later.example) via CNAME "
                                    "soon.example.test → cdn.later.example since 2030-01-01")
    assert request.kind is ResponseKind.BLOCKED
    assert asked(pipeline) == ["soon.example.test"]  # the entry answered throughout


def test_repeats_of_a_chain_blocked_hit_stay_inside_its_period(clock: Clock) -> None:
    pipeline = build()
    repeat = pipeline.stage(RepeatStage)
    ask(pipeline, clock, "www.example.com")
    first, _ = ask(pipeline, clock, "www.example.com", T0 + 10.1, qid=1)
    second, request = ask(pipeline, clock, "www.example.com", T0 + 10.2, qid=2)
    assert len(repeat) == 1 and pipeline.counters()["repeats"] == 1
    assert second[2:] == first[2:] and second[:2] == b"\x00\x02"
    assert request.kind is ResponseKind.BLOCKED and request.found is not None
    # a reload that drops the CDN name from the list: the next hit is the upstream's again
    pipeline.policy.replace(office_policy(LISTS.replace("      - tiktokcdn.com\n", "")),
                            T0 + 10.3)
    answer, request = ask(pipeline, clock, "www.example.com", T0 + 10.4, qid=3)
    assert message_of(answer).rcode() == dns.rcode.NOERROR
    assert request.kind is ResponseKind.CACHED


def test_the_chain_of_an_answer_blocked_by_question_is_not_read_again(clock: Clock) -> None:
    pipeline = build()
    answer, request = ask(pipeline, clock, "www.tiktok.com")
    assert request.kind is ResponseKind.BLOCKED
    assert asked(pipeline) == [] and pipeline.counters()["cname_blocked"] == 0
    assert ede_of(message_of(answer)) == (15, "blocked by list tiktok (tiktok.com) "
                                              "since 2023-03-20")



def test_a_flood_of_distinct_chains_keeps_the_memo_bounded_and_the_verdicts_right(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cname_module, "_DECIDED_MAX", 8)
    holder = PolicyHolder(office_policy(), clock=lambda: T0)
    inspection = ChainInspection(holder, 60, 1232)
    period = holder.current(T0)
    for number in range(40):
        blocked = number % 3 == 0
        name = f"q{number}.example.test"
        target = f"n{number}.tiktokcdn.com." if blocked else f"n{number}.cdn.example."
        wire = query_wire(name)
        response = dns.message.make_response(dns.message.from_wire(wire))
        response.answer.append(dns.rrset.from_text(name + ".", 300, "IN", "CNAME", target))
        chain = chain_of(response.to_wire())
        query = parse_query(wire)
        assert chain is not None and query is not None
        request = Request(wire, OFFICE, T0, False, period)
        request.query = query
        request.ttl_cap = None
        answer = inspection.check(request, chain, period, T0)
        assert (answer is not None) is blocked, name
        assert (request.kind is ResponseKind.BLOCKED) is blocked, name
    assert inspection.blocked == 14
    assert len(inspection._decided) <= 8  # bounded under the flood


def test_a_chain_found_clear_is_checked_again_after_a_reload(clock: Clock) -> None:
    pipeline = build()
    for now in (T0, T0 + 1, T0 + 2):  # forwarded, then twice from the cache: clear
        assert ask(pipeline, clock, "alias.example.test", now)[1].kind in (
            ResponseKind.FORWARDED, ResponseKind.CACHED)
    pipeline.policy.replace(office_policy(LISTS.replace(
        "      - tiktokcdn.com\n", "      - tiktokcdn.com\n      - www.example.test\n")), T0 + 3)
    answer, seen = ask(pipeline, clock, "alias.example.test", T0 + 4)
    assert seen.kind is ResponseKind.BLOCKED
    assert ede_of(assert_nxdomain(answer, soa_owner="alias.example.test", ttl=60)) == (
        15, "blocked by list tiktok (www.example.test) via CNAME alias.example.test → "
            "www.example.test since 2023-03-20")
    assert asked(pipeline) == ["alias.example.test"]


# --- client groups -------------------------------------------------------------------------

GROUPED_LISTS = {
    "tiktok.yaml": """
        name: tiktok
        effective: 2023-03-20
        timezone: UTC
        except_clients: [press-office]
        domains: [tiktok.com, tiktokcdn.com]
    """,
    "guests.yaml": """
        name: guest-rules
        effective: 2023-03-20
        timezone: UTC
        clients: [guests]
        domains: [example.test]
        allow: [a.example.test]
    """,
}


def grouped_pipeline() -> Pipeline:
    chain = (*(ScriptedUpstream if stage is UpstreamStage else stage for stage in CHAIN),
             Observer)
    config = grouped_config()
    with tempfile.TemporaryDirectory() as directory:
        result = load_policy(write_lists(Path(directory), GROUPED_LISTS),
                             groups=config.group_names)
    assert result.policy is not None, result.problems
    holder = PolicyHolder(result.policy, clock=lambda: T0)
    return Pipeline.from_config(config, holder, chain=chain)


def ask_as(pipeline: Pipeline, clock: Clock, client: str, name: str, now: float = T0
           ) -> bytes:
    clock.now = now
    result = pipeline.handle(query_wire(name, qid=9), client, now)
    if isinstance(result, Request):
        answers: list[bytes] = []
        pipeline.forward(result, answers.append)
        result = answers[0]
    assert isinstance(result, bytes)
    pipeline.stage(Observer).seen.clear()
    return result


def test_a_chain_is_decided_for_each_clients_groups_forwarded_and_cached(
        clock: Clock) -> None:
    pipeline = grouped_pipeline()
    for step in range(3):  # forwarded the first time, from the cache after
        now = T0 + step
        # the press office is exempt from the ban the chain runs into
        assert_rcode(ask_as(pipeline, clock, PRESS, "www.example.com", now), dns.rcode.NOERROR)
        office = assert_nxdomain(ask_as(pipeline, clock, OFFICE, "www.example.com", now),
                                 soa_owner="www.example.com", ttl=60)
        assert ede_of(office) == (15, TIKTOKCDN_TEXT)
        # an exception of the guests' own list wins over the chain, for the guests only
        assert_rcode(ask_as(pipeline, clock, GUEST, "a.example.test", now), dns.rcode.NOERROR)
        assert_nxdomain(ask_as(pipeline, clock, OFFICE, "a.example.test", now),
                        soa_owner="a.example.test", ttl=60, text="via CNAME")
        # a chain into a name of a guests-only list: blocked for them, naming the group
        guest = assert_nxdomain(ask_as(pipeline, clock, GUEST, "guests.alias.test", now),
                                soa_owner="guests.alias.test", ttl=60)
        assert ede_of(guest) == (15, "blocked by list guest-rules (example.test) for group "
                                     "guests via CNAME guests.alias.test → www.example.test "
                                     "since 2023-03-20")
        assert_rcode(ask_as(pipeline, clock, PRESS, "guests.alias.test", now),
                     dns.rcode.NOERROR)
    assert asked(pipeline).count("www.example.com") == 1  # one upstream answer, shared
