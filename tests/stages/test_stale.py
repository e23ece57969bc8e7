"""Serve-stale: the cache stage over a stage below that answers when the test says, then the
whole chain over an upstream that never answers. An expired answer goes up with TTL 30 when
nothing comes back, marked STALE (EDE 3, or 19 for an NXDOMAIN); one refresh per question
is asked below, and its answer replaces the stale one; policy still comes first. And
prefetch: an answer asked for in the last tenth of its TTL is asked for again below."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from resolver.pipeline import CHAIN, Pipeline
from resolver.policy.period import PolicyHolder
from resolver.stages import stale as stale_module
from resolver.stages.cache import CacheStage
from resolver.stages.contract import Done, Request, ResponseKind, Stage
from resolver.stages.stale import own_query, stale_ede
from resolver.stages.upstream import UpstreamStage
from tests.stages.fakes import (
    OFFICE,
    T0,
    Replies,
    assert_addresses,
    assert_kind,
    assert_nxdomain,
    ede_of,
    message_of,
    office_config,
    office_policy,
    query_wire,
    request_for,
    setup_of,
    upstream_message,
)

NAME = "www.example.com"
QUESTION = query_wire(NAME, qid=7)
FRESH = upstream_message(QUESTION, "192.0.2.99", ttl=300)
TEXT = "no upstream answered; an answer kept past its TTL"


@dataclass
class Clock:
    """time.time() for the cache stage and the stale answers (when answers are stored)."""

    now: float = T0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    at = Clock()
    monkeypatch.setattr(time, "time", at.time)  # where compiled code reads it too
    return at


@dataclass
class HeldBelow:
    """The stage below, holding each question until the test answers it."""

    waiting: list[tuple[Request, Done]] = field(default_factory=list)

    def forward(self, request: Request, done: Done) -> None:
        self.waiting.append((request, done))

    def answer(self, response: bytes | None) -> Request:
        """Answer the newest question held (a refresh comes after the query it serves)."""
        request, done = self.waiting.pop()
        done(response)
        return request


def cache_over_held(clock: Clock, **settings: object) -> tuple[CacheStage, HeldBelow]:
    stage = CacheStage(setup_of(office_config(**settings)))
    below = HeldBelow()
    stage.next = below.forward
    return stage, below


def forward(stage: CacheStage, wire: bytes = QUESTION, *, now: float) -> tuple[Request, Replies]:
    request = request_for(setup_of(), wire, now=now)
    assert stage.handle(request) is None, "a miss"
    replies = Replies()
    stage.forward(request, replies)
    return request, replies


def cached_then_expired(clock: Clock, stage: CacheStage, below: HeldBelow,
                        response: bytes = FRESH, wire: bytes = QUESTION) -> float:
    """Store `response` at T0 through a forward; the instant 100 s after it expired."""
    forward(stage, wire, now=T0)
    below.answer(response)
    clock.now = T0 + 400
    return clock.now


def test_the_ede_says_stale_and_stale_nxdomain() -> None:
    answer = upstream_message(QUESTION)
    nxdomain = answer[:3] + bytes([answer[3] | int(dns.rcode.NXDOMAIN)]) + answer[4:]
    assert stale_ede(answer)[4:6] == b"\x00\x03"
    assert stale_ede(nxdomain)[4:6] == b"\x00\x13"
    assert stale_ede(answer)[6:].decode() == TEXT


def test_nothing_from_below_brings_the_expired_answer_with_ttl_30(clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    now = cached_then_expired(clock, stage, below)
    request, replies = forward(stage, now=now)
    assert request.stale_ready, "the upstream stage may skip servers held down"
    below.answer(None)
    [stale] = replies.calls
    assert_kind(request, ResponseKind.STALE)
    assert request.aliases is None
    message = assert_addresses(stale, "192.0.2.99", ttl=30)
    assert message.id == 0, "an upstream message: the pipeline fits it to the client"
    counters = stage.counters()
    assert counters["stale"] == 1 and counters["refreshes"] == 1
    assert len(below.waiting) == 1, "a refresh was asked"
    refresh = below.waiting[0][0]
    assert refresh.query.question == request.query.question and refresh.tcp
    assert not refresh.stale_ready, "a refresh really asks"


def test_the_client_has_its_stale_answer_before_the_refresh_is_asked(clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    now = cached_then_expired(clock, stage, below)
    replies = Replies()
    answered_when_asked: list[int] = []

    def noting(request: Request, done: Done) -> None:
        answered_when_asked.append(len(replies.calls))
        below.forward(request, done)

    stage.next = noting
    request = request_for(setup_of(), QUESTION, now=now)
    stage.forward(request, replies)
    below.answer(None)
    assert answered_when_asked == [0, 1], "the client's question, then the refresh"


def test_a_refresh_that_finds_the_upstream_closed_is_dropped(clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    now = cached_then_expired(clock, stage, below)
    asked: list[Request] = []

    def closing(request: Request, done: Done) -> None:
        asked.append(request)
        if len(asked) > 1:  # the upstream closed while the client's question was out
            raise RuntimeError("Forwarder used after close()")
        below.forward(request, done)

    stage.next = closing
    request = request_for(setup_of(), QUESTION, now=now)
    replies = Replies()
    stage.forward(request, replies)
    below.answer(None)
    assert replies.calls[0] is not None and len(asked) == 2
    stage.next = below.forward
    forward(stage, now=now)
    below.answer(None)
    assert len(below.waiting) == 1, "not left marked as refreshing: asked again"


def test_the_refresh_replaces_the_stale_answer(clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    now = cached_then_expired(clock, stage, below)
    forward(stage, now=now)
    below.answer(None)
    below.answer(upstream_message(QUESTION, "192.0.2.100", ttl=600))  # the refresh
    hit = request_for(setup_of(), QUESTION, now=now + 1)
    assert_addresses(stage.handle(hit), "192.0.2.100", ttl=599)  # stored a second ago
    assert_kind(hit, ResponseKind.CACHED)


def test_one_refresh_per_question_at_a_time(clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    now = cached_then_expired(clock, stage, below)
    for _ in range(3):
        forward(stage, now=now)
        below.answer(None)
    assert len(below.waiting) == 1 and stage.counters()["stale"] == 3
    below.answer(None)  # the refresh failed too: the next stale answer tries again
    forward(stage, now=now)
    below.answer(None)
    assert len(below.waiting) == 1 and stage.counters()["refreshes"] == 2


def test_refreshes_are_bounded_in_all(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stale_module, "MAX_REFRESHES", 2)
    stage, below = cache_over_held(clock)
    names = [f"n{i}.example" for i in range(3)]
    for name in names:
        wire = query_wire(name)
        forward(stage, wire, now=T0)
        below.answer(upstream_message(wire))
    clock.now = T0 + 400
    for name in names:
        _, replies = forward(stage, query_wire(name), now=clock.now)
        below.answer(None)
        assert replies.calls[0] is not None, "served stale all the same"
    assert [request.query.qname for request, _ in below.waiting] == names[:2]


def test_a_forwarded_answer_is_passed_up_as_before(clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    now = cached_then_expired(clock, stage, below)
    request, replies = forward(stage, now=now)
    below.answer(upstream_message(QUESTION, "192.0.2.101"))
    assert replies.calls == [upstream_message(QUESTION, "192.0.2.101")]
    assert_kind(request, None)
    assert below.waiting == [] and stage.counters()["stale"] == 0


def test_an_answer_expired_longer_than_serve_stale_ago_is_not_served(clock: Clock) -> None:
    stage, below = cache_over_held(clock, **{"cache.serve_stale": 60})
    forward(stage, now=T0)
    below.answer(FRESH)
    clock.now = T0 + 359  # expired 59 s ago
    request, replies = forward(stage, now=clock.now)
    below.answer(None)
    assert_kind(request, ResponseKind.STALE)
    clock.now = T0 + 361
    request, replies = forward(stage, now=clock.now)
    assert not request.stale_ready
    below.answer(None)
    assert replies.calls == [None]
    assert_kind(request, None)


def test_serve_stale_0_passes_none_up(clock: Clock) -> None:
    stage, below = cache_over_held(clock, **{"cache.serve_stale": 0})
    now = cached_then_expired(clock, stage, below)
    request, replies = forward(stage, now=now)
    assert not request.stale_ready
    below.answer(None)
    assert replies.calls == [None]
    assert below.waiting == [], "no refresh"
    assert len(stage) == 0, "the expired entry went when it was met"


def test_a_stale_nxdomain_has_its_soa_at_30_minimum_included(clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    wire = query_wire("nx.example.com")
    response = dns.message.make_response(dns.message.from_wire(wire))
    response.set_rcode(dns.rcode.NXDOMAIN)
    response.authority.append(dns.rrset.from_text(
        "example.com.", 3_600, "IN", "SOA", "ns.example.com. h.example.com. 1 2 3 4 300"))
    now = cached_then_expired(clock, stage, below, response.to_wire(), wire)
    _, replies = forward(stage, wire, now=now)
    below.answer(None)
    message = message_of(replies.calls[0])
    assert message.rcode() == dns.rcode.NXDOMAIN
    [soa] = message.authority
    assert soa.ttl == 30 and soa[0].minimum == 30


def test_reconfiguring_serve_stale_alone_keeps_the_answers(clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    now = cached_then_expired(clock, stage, below)
    forward(stage, now=now)
    below.answer(None)
    stage.reconfigure(office_config(**{"cache.serve_stale": 3_600}))
    assert len(stage) == 1
    request, _ = forward(stage, now=now)
    below.answer(None)
    assert_kind(request, ResponseKind.STALE)
    assert stage.counters()["stale"] == 2, "counts carry over"
    stage.reconfigure(office_config(**{"cache.serve_stale": 3_600, "cache.max_ttl": 600}))
    assert len(stage) == 0, "another cache section: a new cache"
    stage.reconfigure(office_config(**{"cache.serve_stale": 0}))
    request, replies = forward(stage, now=now)
    below.answer(None)
    assert replies.calls == [None] and stage.counters()["stale"] == 2


# --- prefetch: asked again before expiry ------------------------------------------------


def hit(stage: CacheStage, now: float, wire: bytes = QUESTION) -> bytes | None:
    return stage.handle(request_for(setup_of(), wire, now=now))


def test_own_query_asks_the_keys_question_with_its_bits() -> None:
    plain = own_query(("www.example.com", 28, 1, False, False), 1232)
    assert plain.question == b"\3www\7example\3com\0\0\x1c\0\1"
    assert (plain.qname, plain.qtype, plain.qclass, plain.id) == ("www.example.com", 28, 1, 0)
    assert plain.rd and not plain.cd and not plain.do and plain.edns is None
    signed = own_query(("example.com", 1, 1, True, True), 1232)
    assert signed.do and signed.cd and signed.edns is not None


def test_a_hit_near_expiry_asks_again_from_the_next_loop_turn(clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    forward(stage, now=T0)
    below.answer(FRESH)  # TTL 300: due in its last 30 s

    async def scenario() -> None:
        assert_addresses(hit(stage, T0 + 200), "192.0.2.99", ttl=100)
        await asyncio.sleep(0)
        assert below.waiting == [], "not due yet"
        assert_addresses(hit(stage, T0 + 275), "192.0.2.99", ttl=25)
        assert below.waiting == [], "the hit goes on at once; the question waits a turn"
        await asyncio.sleep(0)
        [(asked, _done)] = below.waiting
        assert asked.query.qname == NAME and asked.tcp and not asked.stale_ready
        assert_addresses(hit(stage, T0 + 276), "192.0.2.99", ttl=24)
        await asyncio.sleep(0)
        assert len(below.waiting) == 1, "one at a time per question"
        clock.now = T0 + 276
        below.answer(upstream_message(QUESTION, "192.0.2.102", ttl=300))
        assert_addresses(hit(stage, T0 + 277), "192.0.2.102", ttl=299)
        await asyncio.sleep(0)
        assert below.waiting == []

    asyncio.run(scenario())
    assert stage.counters()["prefetches"] == 1 and stage.counters()["refreshes"] == 1


def test_prefetch_false_never_asks_before_expiry(clock: Clock) -> None:
    stage, below = cache_over_held(clock, **{"cache.prefetch": False})
    forward(stage, now=T0)
    below.answer(FRESH)

    async def scenario() -> None:
        for second in range(270, 300):
            hit(stage, T0 + second)
            await asyncio.sleep(0)

    asyncio.run(scenario())
    assert below.waiting == [] and stage.counters()["prefetches"] == 0


def test_without_an_event_loop_a_due_hit_is_answered_and_nothing_is_asked(
        clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    forward(stage, now=T0)
    below.answer(FRESH)
    assert_addresses(hit(stage, T0 + 290), "192.0.2.99", ttl=10)
    assert below.waiting == []


def test_a_closed_stage_prefetches_nothing_more(clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    forward(stage, now=T0)
    below.answer(FRESH)

    async def scenario() -> None:
        hit(stage, T0 + 290)  # due: the question would go on the next turn
        stage.close()
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert below.waiting == [] and stage.counters()["prefetches"] == 0


def test_reconfiguring_prefetch_alone_keeps_the_answers(clock: Clock) -> None:
    stage, below = cache_over_held(clock)
    forward(stage, now=T0)
    below.answer(FRESH)
    stage.reconfigure(office_config(**{"cache.prefetch": False}))
    assert len(stage) == 1

    async def scenario() -> None:
        hit(stage, T0 + 290)
        await asyncio.sleep(0)
        assert below.waiting == []
        stage.reconfigure(office_config())
        hit(stage, T0 + 291)
        await asyncio.sleep(0)
        assert len(below.waiting) == 1

    asyncio.run(scenario())


# --- the whole chain over an upstream that never answers ----------------------------------


class DeadUpstream(Stage):
    """A tail that never gets an answer: every server failed, or all are held down."""

    next = None

    def __init__(self, *args: object) -> None:
        self.asked: list[Request] = []

    def forward(self, request: Request, done: Done) -> None:
        self.asked.append(request)
        done(None)


def chain_with_stale(names: dict[str, bytes], *, expired_ago: float = 100.0,
                     **settings: object) -> Pipeline:
    """The real chain over a dead upstream, its cache holding `names`' answers (query
    wire -> upstream message) stored so that they expired `expired_ago` seconds ago."""
    chain = tuple(DeadUpstream if stage is UpstreamStage else stage for stage in CHAIN)
    holder = PolicyHolder(office_policy(), clock=time.time)
    pipeline = Pipeline.from_config(office_config(**settings), holder, chain=chain)
    cache = pipeline.stage(CacheStage)
    for wire, response in names.items():
        query = request_for(setup_of(), wire).query
        ttl = dns.message.from_wire(response).answer[0].ttl \
            if dns.message.from_wire(response).answer else 300
        cache.store(query, response, time.time() - ttl - expired_ago)
    return pipeline


def answered(pipeline: Pipeline, wire: bytes) -> tuple[bytes, Request | None]:
    """The client's answer: now, or after the (dead) upstream; and the forwarded request."""
    result = pipeline.handle(wire, OFFICE, time.time())
    if isinstance(result, bytes):
        return result, None
    assert isinstance(result, Request)
    replies: list[bytes] = []
    pipeline.forward(result, replies.append)
    [answer] = replies
    return answer, result


def test_the_client_gets_the_stale_answer_with_ede_3_and_it_is_counted_stale() -> None:
    wire = query_wire(NAME, qid=4242)
    pipeline = chain_with_stale({wire: upstream_message(wire, "192.0.2.7")})
    answer, request = answered(pipeline, wire)
    message = assert_addresses(answer, "192.0.2.7", ttl=30, qid=4242)
    assert ede_of(message) == (3, TEXT)
    assert request is not None and request.kind is ResponseKind.STALE
    assert pipeline.counters()["stale"] == 1
    assert pipeline.series()["queries"][("stale", "udp")] == 1
    without_edns = query_wire(NAME, qid=5, edns=False)
    message = assert_addresses(answered(pipeline, without_edns)[0], "192.0.2.7", ttl=30)
    assert message.edns == -1, "no OPT for a client that sent none"


def test_without_serve_stale_the_client_gets_servfail() -> None:
    wire = query_wire(NAME)
    pipeline = chain_with_stale({wire: upstream_message(wire)}, **{"cache.serve_stale": 0})
    message = message_of(answered(pipeline, wire)[0])
    assert message.rcode() == dns.rcode.SERVFAIL
    assert ede_of(message) == (22, "no upstream answered in time")


def test_a_stale_nxdomain_carries_ede_19() -> None:
    wire = query_wire("gone.example.com")
    response = dns.message.make_response(dns.message.from_wire(wire))
    response.use_edns(False)
    response.set_rcode(dns.rcode.NXDOMAIN)
    response.authority.append(dns.rrset.from_text(
        "example.com.", 300, "IN", "SOA", "ns.example.com. h.example.com. 1 2 3 4 300"))
    pipeline = chain_with_stale({wire: response.to_wire()})
    message = message_of(answered(pipeline, wire)[0])
    assert message.rcode() == dns.rcode.NXDOMAIN
    assert ede_of(message) == (19, TEXT)
    assert [(rrset.ttl, rrset[0].minimum) for rrset in message.authority] == [(30, 30)]


def test_a_blocked_name_is_never_served_stale() -> None:
    wire = query_wire("www.tiktok.com")  # blocked by the office's list
    pipeline = chain_with_stale({wire: upstream_message(wire, "192.0.2.41")})
    answer, request = answered(pipeline, wire)
    assert request is None, "answered by the blocking stage, above the cache"
    assert_nxdomain(answer, soa_owner="tiktok.com", ttl=60)
    assert pipeline.counters()["stale"] == 0


def test_a_stale_answer_whose_chain_is_blocked_is_answered_as_blocked() -> None:
    wire = query_wire("cloaked.example")
    response = dns.message.make_response(dns.message.from_wire(wire))
    response.use_edns(False)
    response.answer.append(dns.rrset.from_text("cloaked.example.", 300, "IN", "CNAME",
                                               "www.tiktok.com."))
    response.answer.append(dns.rrset.from_text("www.tiktok.com.", 300, "IN", "A",
                                               "192.0.2.41"))
    pipeline = chain_with_stale({wire: response.to_wire()})
    answer, request = answered(pipeline, wire)
    assert request is not None and request.kind is ResponseKind.BLOCKED
    message = assert_nxdomain(answer, soa_owner="cloaked.example", ttl=60)
    assert not any(rrset.rdtype == dns.rdatatype.A for rrset in message.answer)
    assert pipeline.counters()["cname_blocked"] == 1
