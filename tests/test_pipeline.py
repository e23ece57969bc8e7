"""The pipeline in process: the repeat stage must never change an answer, only its cost.

Each test builds the real chain (access, policy, cache, upstream) around a policy loaded
from YAML; nothing is sent on the network (a cache miss returns the forwarding coroutine,
which is not sent).
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import replace
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.config.settings import Config
from resolver.dns.query import parse_query
from resolver.pipeline import CHAIN, Pipeline, counter_names
from resolver.policy.loaded import Policy
from resolver.policy.period import PolicyHolder
from resolver.stages.cache import CacheStage
from resolver.stages.contract import Done, Request, Stage
from resolver.stages.repeat import RepeatStage
from resolver.stages.upstream import UpstreamStage
from tests.policy.assertions import policy_of
from tests.stages.fakes import (
    CHANGE,
    GUEST,
    OFFICE,
    PRESS,
    STRANGER,
    T0,
    grouped_config,
    grouped_policy,
    office_config,
)

LISTS = """
    name: office
    effective: 2023-03-20
    timezone: UTC
    domains:
      - tiktok.com
      - domain: later.example
        effective: 2030-01-01
"""
CACHED_NAMES = ("www.example.com", "mail.example.com", "www.later.example", "cdn.example.net")


def build(policy: Policy, *, repeat: bool, chain: tuple[type[Stage], ...] = CHAIN,
          config: Config | None = None, cached: tuple[str, ...] = CACHED_NAMES) -> Pipeline:
    active = PolicyHolder(policy, clock=lambda: T0)
    if not repeat:
        chain = tuple(stage for stage in chain if stage is not RepeatStage)
    pipeline = Pipeline.from_config(config or office_config(), active, chain=chain)
    cache = pipeline.stage(CacheStage)
    for name in cached:  # the same upstream answers, stored at T0
        for rdtype in ("A", "AAAA"):
            query = dns.message.make_query(name, rdtype, use_edns=False)
            response = dns.message.make_response(query)
            rdata = "192.0.2.1" if rdtype == "A" else "2001:db8::1"
            owner = name + "."
            if name in ALIASES:  # a CNAME to another name, and that name's address
                response.answer.append(dns.rrset.from_text(owner, 300, "IN", "CNAME",
                                                           ALIASES[name] + "."))
                owner = ALIASES[name] + "."
            response.answer.append(dns.rrset.from_text(owner, 300, "IN", rdtype, rdata))
            wire = response.to_wire()
            parsed = parse_query(query.to_wire())
            assert parsed is not None
            cache.store(parsed, wire, T0)
    return pipeline


ALIASES = {"alias.example": "v16.tiktokcdn.com"}


def counted(pipeline: Pipeline, name: str) -> int:
    return pipeline.counters().get(name, 0)


def ask(pipeline: Pipeline, wire: bytes, now: float, client: str = OFFICE,
        tcp: bool = False) -> bytes | str:
    """The answer bytes, or "forwarded" when the query would go upstream."""
    result = pipeline.handle(wire, client, now, tcp)
    if isinstance(result, Request):
        return "forwarded"
    assert result is not None
    return result


def query(name: str, rdtype: str = "A", qid: int = 1, edns: bool = True) -> bytes:
    message = dns.message.make_query(name, rdtype, use_edns=0 if edns else False)
    message.id = qid
    return message.to_wire()


def test_a_repeated_blocked_query_gets_the_same_answer_under_its_own_id(tmp_path: Path) -> None:
    pipeline = build(policy_of(tmp_path, LISTS), repeat=True)
    repeat = pipeline.stage(RepeatStage)
    first = ask(pipeline, query("www.tiktok.com", qid=1), T0)
    assert len(repeat) == 0  # a name seen once is not remembered (floods of new
    second = ask(pipeline, query("www.tiktok.com", qid=2), T0 + 5)  # names would churn)
    third = ask(pipeline, query("www.tiktok.com", qid=3), T0 + 6)
    assert isinstance(first, bytes) and isinstance(second, bytes) and isinstance(third, bytes)
    assert third[:2] == b"\x00\x03" and third[2:] == second[2:] == first[2:]
    assert dns.message.from_wire(third).rcode() == dns.rcode.NXDOMAIN
    assert counted(pipeline, "repeats") == 1
    assert counted(pipeline, "blocked") == 3  # repeats are counted like any answer


def test_a_repeated_cache_hit_keeps_its_ttl_counting_down(tmp_path: Path) -> None:
    pipeline = build(policy_of(tmp_path, LISTS), repeat=True)
    ttls = []
    for offset in (0.1, 0.5, 0.9, 1.1, 1.6, 2.2):
        answer = ask(pipeline, query("www.example.com"), T0 + offset)
        assert isinstance(answer, bytes)
        ttls.append(dns.message.from_wire(answer).answer[0].ttl)
    assert ttls == [300, 300, 300, 299, 299, 298]
    assert counted(pipeline, "repeats") == 3
    assert counted(pipeline, "cache_hits") == 6


def test_a_refused_client_never_gets_a_repeat(tmp_path: Path) -> None:
    pipeline = build(policy_of(tmp_path, LISTS), repeat=True)
    for _ in range(2):
        ask(pipeline, query("www.tiktok.com"), T0)
    assert len(pipeline.stage(RepeatStage)) == 1
    refused = ask(pipeline, query("www.tiktok.com"), T0, client=STRANGER)
    assert isinstance(refused, bytes)
    assert dns.message.from_wire(refused).rcode() == dns.rcode.REFUSED
    assert counted(pipeline, "refused") == 1


def test_a_reload_is_in_force_for_the_very_next_query(tmp_path: Path) -> None:
    pipeline = build(policy_of(tmp_path / "a", LISTS), repeat=True)
    for _ in range(3):
        assert isinstance(ask(pipeline, query("www.tiktok.com"), T0), bytes)
    assert counted(pipeline, "repeats") == 1
    lifted = policy_of(tmp_path / "b", LISTS.replace("tiktok.com", "tiktok.invalid"))
    pipeline.policy.replace(lifted, T0 + 1)
    assert ask(pipeline, query("www.tiktok.com"), T0 + 1) == "forwarded"


def test_answers_capped_before_a_change_are_not_repeated_and_the_change_applies(
        tmp_path: Path) -> None:
    pipeline = build(policy_of(tmp_path, LISTS), repeat=True)
    for offset in (0, 0.2):  # 100.25 and 100.05 s before the change
        answer = ask(pipeline, query("www.later.example"), T0 + offset)
        assert isinstance(answer, bytes)
        assert dns.message.from_wire(answer).answer[0].ttl == 100  # capped to the change
    assert counted(pipeline, "repeats") == 0
    blocked = ask(pipeline, query("www.later.example"), CHANGE + 0.01)
    assert isinstance(blocked, bytes)
    assert dns.message.from_wire(blocked).rcode() == dns.rcode.NXDOMAIN


def test_what_was_remembered_belongs_to_its_snapshot(tmp_path: Path) -> None:
    lists = LISTS.replace("- tiktok.com", "- domain: tiktok.com\n        expires: 2030-01-01")
    pipeline = build(policy_of(tmp_path, lists), repeat=True)
    before = pipeline.policy.current(CHANGE - 0.2)
    # cached at T0 = CHANGE - 100.25: its TTL ticks at CHANGE - 0.25 and CHANGE + 0.75
    for moment in (CHANGE - 0.2, CHANGE - 0.1):  # no rule covers it: remembered, repeated
        assert isinstance(ask(pipeline, query("cdn.example.net"), moment), bytes)
    assert counted(pipeline, "repeats") == 1
    blocked = ask(pipeline, query("www.tiktok.com"), CHANGE - 0.05)
    assert isinstance(blocked, bytes)
    assert dns.message.from_wire(blocked).rcode() == dns.rcode.NXDOMAIN
    assert ask(pipeline, query("www.tiktok.com"), CHANGE + 0.4) == "forwarded"
    assert pipeline.policy.current(CHANGE + 0.4) is not before  # the transition's snapshot
    again = ask(pipeline, query("cdn.example.net"), CHANGE + 0.5)
    assert isinstance(again, bytes)
    assert counted(pipeline, "repeats") == 1  # made again, not repeated
    assert dns.message.from_wire(again).answer[0].ttl == 300 - 100


def test_tcp_queries_are_not_repeated(tmp_path: Path) -> None:
    pipeline = build(policy_of(tmp_path, LISTS), repeat=True)
    for _ in range(3):
        ask(pipeline, query("www.tiktok.com"), T0, tcp=True)
    assert len(pipeline.stage(RepeatStage)) == 0 and counted(pipeline, "repeats") == 0


_NAMES = (*CACHED_NAMES, "www.tiktok.com", "TikTok.com", "x.y.tiktok.com", "uncached.example")


@st.composite
def traffic(draw: st.DrawFn) -> list[tuple[bytes, float, str, bool]]:
    steps = draw(st.lists(st.tuples(
        st.sampled_from(_NAMES), st.sampled_from(("A", "AAAA", "MX")),
        st.integers(0, 65535), st.sampled_from(("none", "plain", "do", "small")),
        st.floats(0, 0.7), st.sampled_from((OFFICE, OFFICE, STRANGER)), st.booleans(),
        st.booleans()), min_size=1, max_size=60))
    now = T0 - 5
    out = []
    for name, rdtype, qid, edns, gap, client, tcp, cd in steps:
        now += gap * (40 if draw(st.integers(0, 9)) == 0 else 1)  # now and then a long gap
        message = dns.message.make_query(
            name, rdtype, use_edns=False if edns == "none" else 0,
            want_dnssec=edns == "do", payload=512 if edns == "small" else 1232)
        message.id = qid
        if cd:
            message.flags |= dns.flags.CD
        out.append((message.to_wire(), now, client, tcp))
    return out


@settings(max_examples=150, deadline=None)
@given(traffic())
def test_with_or_without_repeats_every_answer_is_the_same(
        stream: list[tuple[bytes, float, str, bool]]) -> None:
    policy = office_policy()
    plain, repeating = build(policy, repeat=False), build(policy, repeat=True)
    for wire, now, client, tcp in stream:
        assert ask(repeating, wire, now, client, tcp) == ask(plain, wire, now, client, tcp)
    assert counted(repeating, "blocked") == counted(plain, "blocked")
    assert counted(repeating, "refused") == counted(plain, "refused")
    assert counted(repeating, "cache_hits") == counted(plain, "cache_hits")


@functools.cache
def office_policy() -> Policy:
    with tempfile.TemporaryDirectory() as directory:
        return policy_of(Path(directory), LISTS)


def test_a_config_change_is_in_force_for_the_very_next_query(tmp_path: Path) -> None:
    pipeline = build(policy_of(tmp_path, LISTS), repeat=True)
    old = office_config()
    for _ in range(3):
        answer = ask(pipeline, query("www.tiktok.com"), T0)
        assert isinstance(answer, bytes)
        assert dns.message.from_wire(answer).authority[0].ttl == 60
    new = replace(old, blocking=replace(old.blocking, negative_ttl=30))
    pipeline.reconfigure(new)
    answer = ask(pipeline, query("www.tiktok.com"), T0)
    assert isinstance(answer, bytes)
    assert dns.message.from_wire(answer).authority[0].ttl == 30


class BrokenCheck(Stage):
    """A bug in building the client's answer: it raises on every upstream message."""

    def check_forwarded(self, request: Request, response: bytes, period: object,
                        now: float) -> bytes | None:
        raise RuntimeError("a bug in building the client's answer")


def test_an_internal_error_after_forwarding_still_answers_servfail(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    chain = (*(AnsweringUpstreamWithMessage if stage is UpstreamStage else stage
               for stage in CHAIN), BrokenCheck)
    pipeline = build(policy_of(tmp_path, LISTS), repeat=True, chain=chain)
    pending = pipeline.handle(query("uncached.example"), OFFICE, T0)
    assert isinstance(pending, Request)
    answers: list[bytes] = []
    pipeline.forward(pending, answers.append)
    assert len(answers) == 1
    reply = dns.message.from_wire(answers[0])
    assert reply.rcode() == dns.rcode.SERVFAIL and reply.id == 1
    assert "internal error while answering a forwarded query" in caplog.text


def test_every_counter_a_worker_keeps_is_shared_with_the_others(tmp_path: Path) -> None:
    pipeline = build(policy_of(tmp_path, LISTS), repeat=True)
    assert sorted(pipeline.counters()) == sorted(counter_names())


def test_every_stage_of_the_chain_and_the_contract_have_their_own_test_module() -> None:
    stage_tests = Path(__file__).parent / "stages"
    modules = [stage.__module__ for stage in CHAIN] + ["resolver.stages.contract"]
    missing = [module for module in modules
               if not (stage_tests / f"test_{module.rsplit('.', 1)[-1]}.py").is_file()]
    assert not missing, f"no tests/stages/test_<name>.py for {missing}"


def test_building_or_reconfiguring_the_chain_leaves_the_policy_period_alone(
        tmp_path: Path) -> None:
    holder = PolicyHolder(policy_of(tmp_path, LISTS), clock=lambda: T0)
    before = holder.period
    pipeline = Pipeline.from_config(office_config(), holder)
    pipeline.reconfigure(office_config(**{"blocking.negative_ttl": 30}))
    assert holder.period is before  # no period of another instant was made (and logged)


# --- client groups: one group's answer never reaches another -------------------------------

GROUPED_CACHED = ("www.tiktok.com", "games.example", "alias.example", "www.example.com")
EXPECTED = {  # (name, client) -> "blocked", "address" or "forwarded"
    **{("www.tiktok.com", c): "blocked" for c in (OFFICE, GUEST)},
    ("www.tiktok.com", PRESS): "address",
    **{("alias.example", c): "blocked" for c in (OFFICE, GUEST)},  # via its CNAME
    ("alias.example", PRESS): "address",
    **{("games.example", c): "address" for c in (OFFICE, PRESS)},
    ("games.example", GUEST): "blocked",
    **{("www.example.com", c): "address" for c in (OFFICE, PRESS, GUEST)},
    **{("streaming.example", c): "forwarded" for c in (OFFICE, PRESS, GUEST)},
}


def outcome(answer: bytes | str) -> str:
    if answer == "forwarded":
        return "forwarded"
    assert isinstance(answer, bytes)
    message = dns.message.from_wire(answer)
    if message.rcode() == dns.rcode.NXDOMAIN:
        return "blocked"
    assert message.rcode() == dns.rcode.NOERROR
    assert [rd.address for rrset in message.answer if rrset.rdtype == dns.rdatatype.A
            for rd in rrset] == ["192.0.2.1"]
    return "address"


def test_the_same_query_bytes_from_three_groups_alternating_get_each_their_own_answer(
        ) -> None:
    pipeline = build(grouped_policy(), repeat=True, config=grouped_config(),
                     cached=GROUPED_CACHED)
    for step in range(5):
        for name in ("www.tiktok.com", "alias.example", "games.example", "www.example.com",
                     "streaming.example"):
            for client in (OFFICE, PRESS, GUEST, PRESS, OFFICE):
                answer = ask(pipeline, query(name, qid=7), T0 + step * 0.1, client)
                assert outcome(answer) == EXPECTED[(name, client)], (step, name, client)
    assert counted(pipeline, "repeats") > 0  # the repeat stage took part, group by group


_GROUPED_NAMES = (*GROUPED_CACHED, "newsroom.tiktok.com", "streaming.example", "x.games.example")


@st.composite
def grouped_traffic(draw: st.DrawFn) -> list[tuple[bytes, float, str]]:
    steps = draw(st.lists(st.tuples(
        st.sampled_from(_GROUPED_NAMES), st.sampled_from(("A", "AAAA")),
        st.integers(0, 65535), st.floats(0, 0.7),
        st.sampled_from((OFFICE, PRESS, GUEST, STRANGER))), min_size=1, max_size=60))
    now = T0 - 5
    out = []
    for name, rdtype, qid, gap, client in steps:
        now += gap
        message = dns.message.make_query(name, rdtype, use_edns=0)
        message.id = qid
        out.append((message.to_wire(), now, client))
    return out


@settings(max_examples=100, deadline=None)
@given(grouped_traffic())
def test_with_groups_and_with_or_without_repeats_every_answer_is_the_same(
        stream: list[tuple[bytes, float, str]]) -> None:
    policy, config = grouped_policy(), grouped_config()
    plain = build(policy, repeat=False, config=config, cached=GROUPED_CACHED)
    repeating = build(policy, repeat=True, config=config, cached=GROUPED_CACHED)
    for wire, now, client in stream:
        assert ask(repeating, wire, now, client) == ask(plain, wire, now, client)
    assert counted(repeating, "blocked") == counted(plain, "blocked")


class BrokenObserver(Stage):
    """An observer with a bug: it raises on every answer."""

    def observe(self, request: Request, answer: bytes) -> None:
        raise RuntimeError("a bug in an observer")


def test_a_broken_observer_costs_a_forwarded_query_nothing_but_a_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    chain = (*(AnsweringUpstreamWithMessage if stage is UpstreamStage else stage
               for stage in CHAIN), BrokenObserver)
    pipeline = build(policy_of(tmp_path, LISTS), repeat=True, chain=chain)
    pending = pipeline.handle(query("uncached.example"), OFFICE, T0)
    assert isinstance(pending, Request)
    answers: list[bytes] = []
    pipeline.forward(pending, answers.append)
    [answer] = answers
    reply = dns.message.from_wire(answer)
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer  # the upstream's answer
    assert "while observing a forwarded answer" in caplog.text


class AnsweringUpstreamWithMessage(Stage):
    """A tail that answers every question at once with an address."""

    next = None

    def forward(self, request: Request, done: Done) -> None:
        message = dns.message.from_wire(request.data)
        response = dns.message.make_response(message)
        response.use_edns(False)
        response.answer.append(dns.rrset.from_text(request.query.qname + ".", 60, "IN", "A",
                                                   "192.0.2.8"))
        done(response.to_wire())
