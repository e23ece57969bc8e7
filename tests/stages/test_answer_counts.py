"""The answer-counts stage: every answer once, by verdict and transport, blocked by list.

It is tested in a real chain: it must count answers whichever stage made them, the
repeat stage's included, and answers that came back from the upstream."""

from __future__ import annotations

from pathlib import Path

from resolver.dns.query import parse_query
from resolver.pipeline import CHAIN, Pipeline
from resolver.policy.period import PolicyHolder
from resolver.stages.answer_counts import AnswerCountsStage
from resolver.stages.cache import CacheStage
from resolver.stages.contract import Done, Request, ResponseKind, Stage
from resolver.stages.upstream import UpstreamStage
from tests.policy.assertions import load_lists
from tests.stages.fakes import OFFICE, STRANGER, T0, office_config, query_wire, upstream_message

LISTS = """
    name: office
    effective: 2023-03-20
    timezone: UTC
    domains: [tiktok.com]
"""
OTHER = """
    name: press
    effective: 2023-03-20
    timezone: UTC
    domains: [bytedance.com]
"""


class Upstream(Stage):
    """A tail that answers every question at once."""

    next = None

    def forward(self, request: Request, done: Done) -> None:
        done(upstream_message(request.data))


def chain(tmp_path: Path) -> Pipeline:
    result = load_lists(tmp_path, {"office.yaml": LISTS, "press.yaml": OTHER}, "UTC")
    policy = result.policy
    assert policy is not None
    stages = tuple(Upstream if stage is UpstreamStage else stage for stage in CHAIN)
    return Pipeline.from_config(office_config(), PolicyHolder(policy, clock=lambda: T0),
                                chain=stages)


def answer(pipeline: Pipeline, name: str, *, qid: int = 1, client: str = OFFICE,
           tcp: bool = False) -> None:
    result = pipeline.handle(query_wire(name, qid=qid), client, T0 + qid, tcp)
    if isinstance(result, Request):
        pipeline.forward(result, lambda _answer: None)


def test_each_answer_is_counted_once_by_verdict_and_transport(tmp_path: Path) -> None:
    pipeline = chain(tmp_path)
    for qid in range(1, 5):  # the first from the policy, then repeats
        answer(pipeline, "www.tiktok.com", qid=qid)
    answer(pipeline, "www.tiktok.com", qid=5, tcp=True)
    answer(pipeline, "cdn.bytedance.com")
    answer(pipeline, "example.org")  # forwarded
    cached = parse_query(query_wire("cached.example"))
    assert cached is not None
    pipeline.stage(CacheStage).store(cached, upstream_message(query_wire("cached.example")), T0)
    answer(pipeline, "cached.example", qid=2)  # from the cache
    answer(pipeline, "example.org", client=STRANGER)  # refused
    queries = pipeline.series()["queries"]
    assert queries[("blocked", "udp")] == 5
    assert queries[("blocked", "tcp")] == 1
    assert queries[("forwarded", "udp")] == 1
    assert queries[("cached", "udp")] == 1
    assert queries[("refused", "udp")] == 1
    assert sum(queries.values()) == 9
    assert pipeline.counters()["repeats"] >= 2  # repeats were counted like the first
    assert pipeline.series()["blocked"] == {("office",): 4 + 1, ("press",): 1}
    assert pipeline.stage(AnswerCountsStage).blocked_by_list() == {"office": 5, "press": 1}


def test_every_verdict_and_transport_is_reported_even_at_zero(tmp_path: Path) -> None:
    queries = chain(tmp_path).series()["queries"]
    assert set(queries) == {(kind.verdict, proto) for kind in ResponseKind
                            for proto in ("udp", "tcp")}
    assert not any(queries.values())


def test_a_malformed_packet_is_counted_as_rejected(tmp_path: Path) -> None:
    pipeline = chain(tmp_path)
    pipeline.handle(b"\x00\x01\x01\x00\x00\x01", OFFICE, T0)  # a header cut short
    queries = pipeline.series()["queries"]
    assert queries[("rejected", "udp")] == 1
    assert sum(queries.values()) == 1
