"""The query log stage: one record per answer with the fields its verdict calls for.

It is tested in a real chain (the repeat stage's answers and the upstream's must be
logged like the others), writing real files, and alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dns.message

from resolver.config.load import defaults
from resolver.config.settings import Config
from resolver.pipeline import CHAIN, Pipeline
from resolver.policy.period import PolicyHolder
from resolver.querylog.files import LogFiles
from resolver.stages.cache import CacheStage
from resolver.stages.contract import BLOCKED, FORWARDED, Done, Request, Stage
from resolver.stages.querylog import STANDARD_OUTPUT_FD, QueryLogStage, writer_for
from resolver.stages.upstream import UpstreamStage
from tests.policy.assertions import load_lists
from tests.stages.fakes import (
    GUEST,
    OFFICE,
    PRESS,
    STRANGER,
    T0,
    WARNED,
    grouped_config,
    grouped_policy,
    office_config,
    query_wire,
    request_for,
    setup_of,
    upstream_message,
)

LISTS = """
    name: office
    effective: 2023-03-20
    timezone: UTC
    domains: [tiktok.com]
"""
ANSWERED_BY = "127.0.0.1:5353"


class Upstream(Stage):
    """A tail that answers at once, as the real one would report it (or not at all for
    names under fail.example)."""

    next = None

    def forward(self, request: Request, done: Done) -> None:
        request.ms = 3.2174
        if request.query.qname.endswith("fail.example"):
            done(None)
            return
        request.upstream = ANSWERED_BY
        done(upstream_message(request.data))


def config_of(tmp_path: Path, **querylog: Any) -> Config:
    settings = {"querylog.mode": "blocked", "querylog.clients": "full",
                **{f"querylog.{k}": v for k, v in querylog.items()}}
    return office_config(state_dir=tmp_path, **settings)


def chain(tmp_path: Path, config: Config) -> Pipeline:
    policy = load_lists(tmp_path / "lists", {"office.yaml": LISTS}, "UTC").policy
    assert policy is not None
    assert QueryLogStage in CHAIN
    stages = tuple(Upstream if stage is UpstreamStage else stage for stage in CHAIN)
    return Pipeline.from_config(config, PolicyHolder(policy, clock=lambda: T0),
                                chain=stages,
                                status_report=lambda: {"ok": True})


def ask(pipeline: Pipeline, data: bytes, *, qid: int = 1, client: str = OFFICE,
        tcp: bool = False) -> None:
    result = pipeline.handle(data, client, T0 + qid, tcp)
    if isinstance(result, Request):
        pipeline.forward(result, lambda _answer: None)


def store(pipeline: Pipeline, name: str) -> None:
    query = request_for(setup_of(), query_wire(name)).query
    pipeline.stage(CacheStage).store(query, upstream_message(query_wire(name)), T0)


def logged(path: Path) -> list[dict[str, Any]]:
    files = LogFiles(path, keep=10, retention_days=90)
    return [json.loads(line) for p in files.all_paths() for line in p.read_text().splitlines()]


def fields(record: dict[str, Any], *keys: str) -> tuple[Any, ...]:
    return tuple(record[key] for key in keys)


def test_mode_all_logs_every_verdict_with_its_fields(tmp_path: Path) -> None:
    pipeline = chain(tmp_path, config_of(tmp_path, mode="all"))
    ask(pipeline, query_wire("WWW.TikTok.com", "AAAA"))  # blocked
    ask(pipeline, query_wire("www.tiktok.com", "AAAA", qid=2), qid=2)  # blocked, a repeat
    ask(pipeline, query_wire("example.org"), tcp=True)  # forwarded
    store(pipeline, "cached.example")
    ask(pipeline, query_wire("cached.example", qid=3), tcp=True)  # cached
    ask(pipeline, query_wire("x.fail.example"))  # servfail after forwarding
    ask(pipeline, query_wire("example.org"), client=STRANGER)  # refused
    ask(pipeline, query_wire("status.dnsfence", "TXT", rdclass="CH"))  # local
    ask(pipeline, b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07")  # rejected
    response = dns.message.make_response(dns.message.from_wire(query_wire("a.example")))
    ask(pipeline, response.to_wire())  # rejected: a response gets no answer at all
    pipeline.close()
    records = logged(tmp_path / "querylog.jsonl")
    common = ("verdict", "name", "type", "rcode", "proto", "client")
    assert [fields(r, *common) for r in records] == [
        ("blocked", "www.tiktok.com", "AAAA", "NXDOMAIN", "udp", OFFICE),
        ("blocked", "www.tiktok.com", "AAAA", "NXDOMAIN", "udp", OFFICE),
        ("forwarded", "example.org", "A", "NOERROR", "tcp", OFFICE),
        ("cached", "cached.example", "A", "NOERROR", "tcp", OFFICE),
        ("servfail", "x.fail.example", "A", "SERVFAIL", "udp", OFFICE),
        ("refused", "example.org", "A", "REFUSED", "udp", STRANGER),
        ("local", "status.dnsfence", "TXT", "NOERROR", "udp", OFFICE),
        ("rejected", "", "", "FORMERR", "udp", OFFICE),
        ("rejected", "", "", "", "udp", OFFICE),
    ]
    extra = ("list", "rule", "upstream", "ms", "group")
    assert [fields(r, *extra) for r in records] == [
        ("office", "tiktok.com", "", None, ""),
        ("office", "tiktok.com", "", None, ""),
        ("", "", ANSWERED_BY, 3.217, ""),
        ("", "", "", None, ""),
        ("", "", "", 3.217, ""),
        *[("", "", "", None, "")] * 4,
    ]
    assert [r["ts"] for r in records[:2]] == ["2029-12-31T23:58:20.750Z",
                                              "2029-12-31T23:58:21.750Z"]  # T0 + qid
    assert pipeline.counters()["querylog_written"] == 9


def test_mode_blocked_logs_only_blocked_answers_and_truncates_by_default(
        tmp_path: Path) -> None:
    assert (defaults().querylog.mode, defaults().querylog.clients) == ("blocked", "truncate")
    config = office_config(state_dir=tmp_path, **{"querylog.mode": "blocked"})
    assert config.querylog.clients == "truncate"
    pipeline = chain(tmp_path, config)
    ask(pipeline, query_wire("www.tiktok.com"))
    ask(pipeline, query_wire("example.org"))
    ask(pipeline, query_wire("www.tiktok.com"), client=STRANGER)
    ask(pipeline, query_wire("tiktok.com", "HTTPS"), client="::1")
    pipeline.close()
    records = logged(tmp_path / "querylog.jsonl")
    assert [fields(r, "verdict", "name", "type", "client") for r in records] == [
        ("blocked", "www.tiktok.com", "A", "127.0.0.0"),
        ("blocked", "tiktok.com", "HTTPS", "::")]


def test_mode_off_has_no_writer_and_writes_nothing(tmp_path: Path) -> None:
    pipeline = chain(tmp_path, config_of(tmp_path, mode="off"))
    ask(pipeline, query_wire("www.tiktok.com"))
    pipeline.close()
    assert not (tmp_path / "querylog.jsonl").exists()
    assert not (tmp_path / "querylog.jsonl.lock").exists()
    counters = pipeline.counters()
    assert [counters[name] for name in QueryLogStage.COUNTERS] == [0, 0, 0]


def test_a_reconfigured_log_flushes_the_old_writer_and_counters_carry_over(
        tmp_path: Path) -> None:
    config = config_of(tmp_path, mode="all")
    pipeline = chain(tmp_path, config)
    stage = pipeline.stage(QueryLogStage)
    writer = stage._writer
    pipeline.reconfigure(config)
    assert stage._writer is writer  # nothing changed: the same writer goes on
    ask(pipeline, query_wire("one.example"))
    moved = config_of(tmp_path, mode="all", path=str(tmp_path / "elsewhere" / "q.jsonl"))
    pipeline.reconfigure(moved)
    ask(pipeline, query_wire("two.example"))
    pipeline.reconfigure(config_of(tmp_path, mode="off"))
    ask(pipeline, query_wire("three.example"))
    assert [r["name"] for r in logged(tmp_path / "querylog.jsonl")] == ["one.example"]
    assert [r["name"] for r in logged(tmp_path / "elsewhere" / "q.jsonl")] == ["two.example"]
    assert pipeline.counters()["querylog_written"] == 2
    pipeline.reconfigure(config_of(tmp_path / "state", mode="blocked", clients="hash"))
    ask(pipeline, query_wire("www.tiktok.com"))
    pipeline.close()
    [record] = logged(tmp_path / "state" / "querylog.jsonl")
    assert len(record["client"]) == 16 and (tmp_path / "state" / "querylog.key").exists()
    assert pipeline.counters()["querylog_written"] == 3


def test_the_stage_alone_counts_what_its_writer_drops(tmp_path: Path) -> None:
    setup = setup_of(config_of(tmp_path, mode="all", queue=16))
    stage = QueryLogStage(setup)
    request = request_for(setup, query_wire("www.tiktok.com"))
    request.kind = BLOCKED
    request.found = request.period.index.lookup("www.tiktok.com", T0)
    answer = b"\x00\x01\x81\x83"  # the header up to the RCODE is all it reads
    for _ in range(20_000):  # far faster than the writer's 0.2 s: the queue overflows
        stage.observe(request, answer)
    stage.close()
    counters = stage.counters()
    assert counters["querylog_written"] + counters["querylog_dropped"] == 20_000
    assert counters["querylog_dropped"] >= 10_000  # 16 at a time, every 0.2 s
    [first, *_] = logged(tmp_path / "querylog.jsonl")
    assert fields(first, "verdict", "list", "rule", "rcode") == \
        ("blocked", "office", "tiktok.com", "NXDOMAIN")


def test_a_forwarded_answer_alone(tmp_path: Path) -> None:
    setup = setup_of(config_of(tmp_path, mode="all", clients="none"))
    stage = QueryLogStage(setup)
    request = request_for(setup, query_wire("example.org", "MX"), tcp=True)
    request.kind = FORWARDED
    request.upstream, request.ms = "[::1]:53", 12.0
    stage.observe(request, upstream_message(query_wire("example.org")))
    stage.close()
    stage.close()  # twice is harmless
    [record] = logged(tmp_path / "querylog.jsonl")
    assert fields(record, "client", "type", "upstream", "ms", "proto") == \
        ("", "MX", "[::1]:53", 12.0, "tcp")


def test_paths_are_in_the_state_dir_unless_absolute_and_dash_is_standard_output(
        tmp_path: Path) -> None:
    for path, target in (("q.jsonl", tmp_path / "q.jsonl"),
                         (str(tmp_path / "abs.jsonl"), tmp_path / "abs.jsonl"),
                         ("-", STANDARD_OUTPUT_FD)):
        writer = writer_for(config_of(tmp_path, mode="all", path=path).querylog, tmp_path)
        assert writer is not None
        writer.close()
        assert writer.target == target
    assert writer_for(config_of(tmp_path, mode="off").querylog, tmp_path) is None


def test_the_cache_hit_is_not_taken_for_a_forwarded_answer(tmp_path: Path) -> None:
    """A cache hit answered now runs in the reused Request: no upstream may leak into it."""
    pipeline = chain(tmp_path, config_of(tmp_path, mode="all"))
    store(pipeline, "cached.example")
    ask(pipeline, query_wire("example.org"))
    ask(pipeline, query_wire("cached.example", qid=2))
    pipeline.close()
    assert [fields(r, "verdict", "upstream", "ms") for r in logged(
        tmp_path / "querylog.jsonl")] == [("forwarded", ANSWERED_BY, 3.217),
                                          ("cached", "", None)]


def test_a_warning_periods_answers_are_logged_and_counted_as_observed(tmp_path: Path) -> None:
    policy = load_lists(tmp_path / "lists", {"video.yaml": WARNED}, "UTC").policy
    assert policy is not None
    stages = tuple(Upstream if stage is UpstreamStage else stage for stage in CHAIN)
    pipeline = Pipeline.from_config(config_of(tmp_path), PolicyHolder(policy, clock=lambda: T0),
                                    chain=stages)
    ask(pipeline, query_wire("www.tiktok.com", qid=1), qid=1)  # forwarded
    store(pipeline, "cdn.tiktok.com")
    ask(pipeline, query_wire("cdn.tiktok.com", qid=2), qid=2)  # the cache answers
    ask(pipeline, query_wire("example.org", qid=3), qid=3)  # nothing to observe
    pipeline.close()
    records = logged(tmp_path / "querylog.jsonl")  # mode blocked: only these two
    assert [fields(r, "verdict", "name", "list", "rule", "rcode") for r in records] == [
        ("observed", "www.tiktok.com", "video", "tiktok.com", "NOERROR"),
        ("observed", "cdn.tiktok.com", "video", "tiktok.com", "NOERROR")]
    assert (records[0]["upstream"], records[0]["ms"]) == (ANSWERED_BY, 3.217)
    assert (records[1]["upstream"], records[1]["ms"]) == ("", None)
    series = pipeline.series()
    assert series["observed"] == {("video",): 2}
    assert series["queries"][("forwarded", "udp")] == 2  # what the client got
    assert series["queries"][("cached", "udp")] == 1
    assert series.get("blocked", {}) == {}


def test_the_group_through_which_a_list_decided_is_logged(tmp_path: Path) -> None:
    config = grouped_config(state_dir=tmp_path, **{"querylog.mode": "blocked",
                                                   "querylog.clients": "full"})
    stages = tuple(Upstream if stage is UpstreamStage else stage for stage in CHAIN)
    pipeline = Pipeline.from_config(config, PolicyHolder(grouped_policy(), clock=lambda: T0),
                                    chain=stages)
    for qid in (1, 2):  # the second time from the repeat stage
        ask(pipeline, query_wire("games.example"), qid=qid, client=GUEST)  # guests only
        ask(pipeline, query_wire("www.tiktok.com"), qid=qid, client=GUEST)  # all but press
        ask(pipeline, query_wire("www.tiktok.com"), qid=qid, client=PRESS)  # exempt
        ask(pipeline, query_wire("streaming.example"), qid=qid, client=GUEST)  # observed
    pipeline.close()
    records = logged(tmp_path / "querylog.jsonl")
    assert [fields(r, "verdict", "name", "list", "group", "client") for r in records] == [
        ("blocked", "games.example", "guest-ban", "guests", GUEST),
        ("blocked", "www.tiktok.com", "tiktok", "", GUEST),
        ("observed", "streaming.example", "guest-streaming", "guests", GUEST),
    ] * 2
