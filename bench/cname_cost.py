"""Per-query cost of CNAME inspection, in process: `Pipeline.handle` for cache hits and
`Pipeline.forward` for forwarded answers, with and without an alias chain, inspection on
(`blocking.cname: true`) and off.

Usage: .venv/bin/python bench/cname_cost.py [--queries N] [--rounds R]

Hits are measured without the repeat stage (its dict lookup would answer most of them and
hide the cache stage) and with it (what a busy office mostly gets). Forwarded answers come
from a tail that answers at once, so the figure is dnsfence's own work on the way back
(store in the cache, inspect, fit to the client), not the network nor the query's way
down; "no cache" is `cache.max_entries: 0`, where the chain is read apart from a store.
Rounds are interleaved and the best of each is kept. A script, not a test.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dns.message
import dns.rrset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults
from resolver.dns.query import parse_query
from resolver.lists.load import load_policy
from resolver.pipeline import CHAIN, Pipeline
from resolver.policy.period import PolicyHolder
from resolver.stages.cache import CacheStage
from resolver.stages.contract import Done, Request, Stage, StageSetup
from resolver.stages.repeat import RepeatStage
from resolver.stages.upstream import UpstreamStage

LIST = """
name: tiktok
effective: 2023-03-20
domains: [tiktok.com, tiktokcdn.com]
"""
ANSWERS = {
    "plain.example.test": ("plain.example.test. 300 A 192.0.2.12",),
    "alias.example.test": ("alias.example.test. 300 CNAME www.example.test.",
                           "www.example.test. 300 A 192.0.2.10"),
    "cloaked.example.test": ("cloaked.example.test. 300 CNAME v16.tiktokcdn.com.",
                             "v16.tiktokcdn.com. 300 A 192.0.2.9"),
}
NOW = time.time()


def upstream_message(wire: bytes) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.use_edns(False)
    for text in ANSWERS[str(query.question[0].name).rstrip(".")]:
        owner, ttl, kind, data = text.split(" ", 3)
        response.answer.append(dns.rrset.from_text(owner, int(ttl), "IN", kind, data))
    return response.to_wire()


class InstantUpstream(Stage):
    """A tail that answers at once with the message made for the question."""

    next = None

    def __init__(self, setup: StageSetup) -> None:
        self.messages = {name: upstream_message(query_wire(name)) for name in ANSWERS}

    def forward(self, request: Request, done: Done) -> None:
        done(self.messages[request.query.qname])


def query_wire(name: str) -> bytes:
    return dns.message.make_query(name, "A", use_edns=0).to_wire()


def pipeline(cname: bool, repeat: bool, cache: bool = True) -> Pipeline:
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "tiktok.yaml").write_text(LIST)
        policy = load_policy(Path(directory), "UTC").policy
    assert policy is not None
    config = defaults().with_overrides(**{
        "server.allow_clients": (ipaddress.ip_network("127.0.0.0/8"),),
        "upstream.servers": (Endpoint("127.0.0.1", 9),), "querylog.mode": "off",
        "blocking.cname": cname, "cache.max_entries": 1000 if cache else 0})
    chain = tuple(InstantUpstream if s is UpstreamStage else s for s in CHAIN
                  if repeat or s is not RepeatStage)
    return Pipeline.from_config(config, PolicyHolder(policy, clock=lambda: NOW), chain=chain)


def hits(name: str, cname: bool, repeat: bool, queries: int) -> Callable[[], float]:
    """A run of `queries` cache hits for `name`; returns microseconds per query."""
    chain = pipeline(cname, repeat)
    wire = query_wire(name)
    cache = chain.stage(CacheStage)
    forwarded = chain.handle(wire, "127.0.0.1", NOW)
    assert isinstance(forwarded, Request)
    chain.forward(forwarded, lambda answer: None)
    assert len(cache) == 1
    handle = chain.handle

    def run() -> float:
        started = time.perf_counter()
        for i in range(queries):
            answer = handle(wire, "127.0.0.1", NOW + i * 1e-6)
            assert answer.__class__ is bytes
        return (time.perf_counter() - started) / queries * 1e6

    return run


def forwards(name: str, cname: bool, queries: int, cache: bool) -> Callable[[], float]:
    """A run of `queries` answers coming back from the upstream for `name` (with a cache,
    each is stored again, as a miss's answer is); microseconds per answer."""
    chain = pipeline(cname, repeat=False, cache=cache)
    wire = query_wire(name)
    query = parse_query(wire)
    assert query is not None
    got: list[bytes] = []
    forward = chain.forward

    def run() -> float:
        started = time.perf_counter()
        for _ in range(queries):
            request = Request(wire, "127.0.0.1", NOW, False, chain.policy.period)
            request.query = query
            request.ttl_cap = None
            forward(request, got.append)
        got.clear()
        return (time.perf_counter() - started) / queries * 1e6

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    cases: dict[tuple[str, str, str], Callable[[], float]] = {}
    for name in ANSWERS:
        for cname in (True, False):
            state = "on" if cname else "off"
            cases[("hit, no repeat", name, state)] = hits(name, cname, False, args.queries)
            cases[("hit, repeat", name, state)] = hits(name, cname, True, args.queries)
            cases[("forwarded", name, state)] = forwards(name, cname, args.queries // 5, True)
            cases[("fwd, no cache", name, state)] = forwards(name, cname, args.queries // 5,
                                                              False)
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(args.rounds):
        for key, run in cases.items():
            best[key] = min(best[key], run())
    print(f"{'path':<16} {'answer':<22} {'on µs':>7} {'off µs':>7} {'off/on':>7}")
    for path in ("hit, no repeat", "hit, repeat", "forwarded", "fwd, no cache"):
        for name in ANSWERS:
            on, off = best[(path, name, "on")], best[(path, name, "off")]
            print(f"{path:<16} {name:<22} {on:7.3f} {off:7.3f} {off / on:7.3f}")


if __name__ == "__main__":
    main()
