"""The cache stage alone, wrapped around a fake next stage: misses pass on, answers coming
back are stored, hits are served with the client's ID and the TTL left."""

from __future__ import annotations

import time

import dns.flags
import pytest

from resolver.config.endpoints import Endpoint
from resolver.config.forward_zones import ForwardZone
from resolver.stages.cache import CacheStage
from resolver.stages.contract import Request, ResponseKind, StageSetup
from tests.stages.fakes import (
    T0,
    FakeNextStage,
    Replies,
    assert_addresses,
    assert_kind,
    message_of,
    office_config,
    query_wire,
    request_for,
    setup_of,
    upstream_message,
)

QUESTION = query_wire("www.example.com", qid=1)
UPSTREAM = upstream_message(QUESTION, "192.0.2.1", ttl=300)


@pytest.fixture(autouse=True)
def stored_at_t0(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers coming back are stored at `time.time()`: make that T0."""
    monkeypatch.setattr(time, "time", lambda: T0)  # the module's own: compiled code reads it too


def cache_over(answer: bytes | None, setup: StageSetup | None = None
               ) -> tuple[CacheStage, FakeNextStage]:
    stage = CacheStage(setup or setup_of())
    below = FakeNextStage(answer)
    stage.next = below.forward
    return stage, below


def ask(stage: CacheStage, wire: bytes = QUESTION, *, now: float = T0,
        ttl_cap: int | None = None, tcp: bool = False) -> tuple[bytes | None, Request]:
    request = request_for(setup_of(), wire, now=now, ttl_cap=ttl_cap, tcp=tcp)
    return stage.handle(request), request


def forwarded(stage: CacheStage, wire: bytes = QUESTION) -> Replies:
    replies = Replies()
    stage.forward(request_for(setup_of(), wire), replies)
    return replies


def test_a_miss_passes_on() -> None:
    stage, below = cache_over(UPSTREAM)
    answer, request = ask(stage)
    assert answer is None
    assert_kind(request, None)
    assert below.asked == []
    assert stage.counters()["cache_misses"] == 1


def test_forward_asks_below_and_stores_the_answer_coming_back() -> None:
    stage, below = cache_over(UPSTREAM)
    ask(stage)
    request = request_for(setup_of(), QUESTION)
    replies = Replies()
    stage.forward(request, replies)
    assert below.asked == [request]
    assert replies.calls == [UPSTREAM]  # passed up unchanged, once
    answer, hit = ask(stage, query_wire("WWW.example.COM", qid=4321), now=T0 + 10.5)
    message = assert_addresses(answer, "192.0.2.1", ttl=290, qid=4321)
    assert message.question[0].name.to_text() == "WWW.example.COM."  # the client's case
    assert message.payload == 1232  # our OPT, since the client spoke EDNS
    assert_kind(hit, ResponseKind.CACHED)
    assert len(below.asked) == 1
    counters = stage.counters()
    assert counters["cache_hits"] == 1 and counters["cache_misses"] == 1
    assert counters["cache_entries"] == 1 and counters["cache_bytes"] > 0
    assert set(counters) == {"cache_hits", "cache_misses", "cache_entries", "cache_bytes",
                             "blocked", "cname_blocked", "stale", "refreshes", "prefetches"}
    assert counters["blocked"] == counters["cname_blocked"] == 0


def test_a_hit_is_for_the_same_question_and_bits_only() -> None:
    stage, _ = cache_over(UPSTREAM)
    forwarded(stage)
    assert ask(stage, query_wire("www.example.com", "AAAA"))[0] is None
    assert ask(stage, query_wire("www.example.com", do=True))[0] is None
    assert ask(stage, query_wire("mail.example.com"))[0] is None
    assert ask(stage, query_wire("www.example.com", qid=8))[0] is not None


def test_none_from_below_is_passed_up_and_nothing_is_stored() -> None:
    stage, below = cache_over(None)
    replies = forwarded(stage)
    assert replies.calls == [None] and len(below.asked) == 1
    assert stage.counters()["cache_entries"] == 0 and len(stage) == 0
    assert ask(stage)[0] is None


def test_ttl_cap_caps_the_ttls_and_then_the_answer_is_not_marked_as_lasting() -> None:
    stage, _ = cache_over(UPSTREAM)
    forwarded(stage)
    answer, request = ask(stage, now=T0 + 0.5, ttl_cap=42)
    assert_addresses(answer, "192.0.2.1", ttl=42)
    assert request.same_until == 0.0
    assert_kind(request, ResponseKind.CACHED)


def test_same_until_is_when_the_ttl_next_drops() -> None:
    stage, _ = cache_over(UPSTREAM)
    forwarded(stage)
    answer, request = ask(stage, now=T0 + 0.5)
    assert_addresses(answer, "192.0.2.1", ttl=300)
    assert request.same_until == T0 + 1
    _, later = ask(stage, now=T0 + 7.25)
    assert later.same_until == T0 + 8


def test_an_expired_answer_is_a_miss() -> None:
    stage, _ = cache_over(upstream_message(QUESTION, ttl=30))
    forwarded(stage)
    assert ask(stage, now=T0 + 29.9)[0] is not None
    assert ask(stage, now=T0 + 30)[0] is None


def test_max_entries_0_turns_the_cache_off() -> None:
    stage, below = cache_over(UPSTREAM, setup_of(office_config(**{"cache.max_entries": 0})))
    assert ask(stage)[0] is None
    replies = forwarded(stage)
    assert replies.calls == [UPSTREAM] and len(below.asked) == 1
    assert ask(stage)[0] is None
    assert len(stage) == 0
    assert stage.counters() == {"cache_hits": 0, "cache_misses": 0, "cache_entries": 0,
                                "cache_bytes": 0, "blocked": 0, "cname_blocked": 0,
                                "stale": 0, "refreshes": 0, "prefetches": 0}


def test_reconfigure_with_another_cache_section_starts_a_new_cache() -> None:
    stage, _ = cache_over(UPSTREAM)
    forwarded(stage)
    stage.reconfigure(office_config(**{"cache.max_ttl": 600}))
    assert len(stage) == 0
    assert ask(stage)[0] is None


def test_reconfigure_with_only_the_udp_size_changed_keeps_the_entries() -> None:
    stage, _ = cache_over(UPSTREAM)
    forwarded(stage)
    stage.reconfigure(office_config(**{"server.edns_udp_size": 1400}))
    assert len(stage) == 1
    answer, _ = ask(stage)
    assert assert_addresses(answer, "192.0.2.1").payload == 1400


def test_reconfigure_with_other_forward_zones_drops_the_entries() -> None:
    """An answer from the upstreams must not outlive a zone that now sends its name to
    other servers (nor one from a zone's servers its removal)."""
    corp = ForwardZone("corp.example.eu", (Endpoint("127.0.0.1", 5300),))
    stage, _ = cache_over(UPSTREAM)
    forwarded(stage)
    stage.reconfigure(office_config(forward_zones=(corp,)))
    assert len(stage) == 0
    assert ask(stage)[0] is None
    forwarded(stage)
    stage.reconfigure(office_config(forward_zones=(corp,), **{"blocking.negative_ttl": 30}))
    assert len(stage) == 1, "the same zones keep the entries"
    stage.reconfigure(office_config())
    assert len(stage) == 0


def test_reconfigure_to_0_entries_then_back_serves_nothing_old() -> None:
    stage, _ = cache_over(UPSTREAM)
    forwarded(stage)
    stage.reconfigure(office_config(**{"cache.max_entries": 0}))
    assert ask(stage)[0] is None
    stage.reconfigure(office_config())
    assert ask(stage)[0] is None


def test_a_hit_too_big_for_a_udp_client_is_truncated() -> None:
    big = upstream_message(QUESTION)
    message = message_of(big)
    rrset = message.answer[0]
    for n in range(2, 60):
        rrset.add(type(rrset[0])(rrset.rdclass, rrset.rdtype, f"192.0.2.{n}"))
    stage, _ = cache_over(message.to_wire())
    forwarded(stage)
    small = query_wire("www.example.com", edns=False)
    answer, _ = ask(stage, small)
    assert answer is not None and len(answer) <= 512
    assert message_of(answer).flags & dns.flags.TC
    whole, _ = ask(stage, small, tcp=True)
    assert len(assert_addresses(whole, *[f"192.0.2.{n}" for n in range(1, 60)]).answer) == 1
