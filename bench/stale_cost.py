"""Serve-stale's cost on the paths every query takes, against an earlier checkout, and the
time to a stale answer when the upstream is dead. In process; a script, not a test.

Usage: PYTHONPATH=. .venv/bin/python bench/stale_cost.py --baseline DIR [--runs 3]
       PYTHONPATH=. .venv/bin/python bench/stale_cost.py --dead | --prefetch

`--baseline`: `Pipeline.handle` for a cache hit (without the repeat stage, which would
answer most of them, and through it), for a miss (the Request that goes upstream), and
`Pipeline.forward` for an answer coming back from a tail that answers at once (stored in
the cache, fitted to the client: what a forwarded query costs dnsfence besides the
network). Each checkout runs in its own process (PYTHONPATH = the checkout), alternately,
`--runs` times; each process keeps the best of 5 rounds per case. µs per query.

`--prefetch`: one name asked every 50 ms for 31 s from an upstream whose answers live
10 s, with `cache.prefetch` off and on: how many queries had to wait for the upstream.

`--dead`: the real upstream stage (default timeout 1 s, deadline 3 s) asking a UDP port
on 127.0.0.1 that reads nothing, and one that refuses (nothing bound): the first stale
answer waits out the deadline (the servers fail and are held down), the next come at once.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import dns.message
import dns.rrset

LIST = "name: tiktok\neffective: 2023-03-20\ndomains: [tiktok.com]\n"
NOW = time.time()
CASES = ("hit, no repeat", "hit, TTLs rendered anew", "hit, repeat", "miss",
         "forwarded way back")


def query_wire(name: str) -> bytes:
    return dns.message.make_query(name, "A", use_edns=0).to_wire()


def upstream_message(wire: bytes, ttl: int = 300) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.use_edns(False)
    response.answer.append(dns.rrset.from_text(query.question[0].name, ttl, "IN", "A",
                                               "192.0.2.12"))
    return response.to_wire()


def chain(*, repeat: bool, tail: type | None, **settings: Any) -> Any:
    """The real chain (shipped stages of whichever checkout is imported) over `tail`."""
    from resolver.config.endpoints import Endpoint
    from resolver.config.load import defaults
    from resolver.lists.load import load_policy
    from resolver.pipeline import CHAIN, Pipeline
    from resolver.policy.period import PolicyHolder
    from resolver.stages.repeat import RepeatStage
    from resolver.stages.upstream import UpstreamStage

    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "tiktok.yaml").write_text(LIST)
        policy = load_policy(Path(directory), "UTC").policy
    assert policy is not None
    config = defaults().with_overrides(**{
        "server.allow_clients": (ipaddress.ip_network("127.0.0.0/8"),),
        "upstream.servers": (Endpoint("127.0.0.1", 9),), "querylog.mode": "off", **settings})
    stages = tuple(tail if s is UpstreamStage and tail is not None else s for s in CHAIN
                   if repeat or s is not RepeatStage)
    return Pipeline.from_config(config, PolicyHolder(policy, clock=time.time), chain=stages)


def hot_paths(queries: int) -> dict[str, float]:
    """Best of 5 rounds per case, µs per query, with the checkout on sys.path."""
    from resolver.dns.query import parse_query
    from resolver.stages.contract import Done, Request, Stage, StageSetup

    answer = upstream_message(query_wire("plain.example.test"), ttl=86_400)

    class InstantUpstream(Stage):
        next = None

        def __init__(self, setup: StageSetup) -> None:
            pass

        def forward(self, request: Request, done: Done) -> None:
            done(answer)

    def hits(repeat: bool, step: float = 1e-6) -> Callable[[], float]:
        """Hits of one answer (TTL 1 day), `step` seconds apart: 1 s renders its TTLs anew
        for every hit (prefetch looks only then), a µs reuses the same second's body."""
        pipeline = chain(repeat=repeat, tail=InstantUpstream)
        wire = query_wire("plain.example.test")
        pending = pipeline.handle(wire, "127.0.0.1", time.time())
        pipeline.forward(pending, lambda _answer: None)
        handle = pipeline.handle

        def run() -> float:
            start = time.time()
            started = time.perf_counter()
            for i in range(queries):
                handle(wire, "127.0.0.1", start + i * step)
            return (time.perf_counter() - started) / queries * 1e6
        return run

    def misses() -> Callable[[], float]:
        pipeline = chain(repeat=True, tail=InstantUpstream)
        wire = query_wire("absent.example.test")
        handle = pipeline.handle

        def run() -> float:
            started = time.perf_counter()
            for i in range(queries):
                handle(wire, "127.0.0.1", NOW + i * 1e-6)
            return (time.perf_counter() - started) / queries * 1e6
        return run

    def way_back() -> Callable[[], float]:
        pipeline = chain(repeat=True, tail=InstantUpstream)
        wire = query_wire("plain.example.test")
        query = parse_query(wire)
        got: list[bytes] = []
        forward = pipeline.forward

        def run() -> float:
            started = time.perf_counter()
            for _ in range(queries):
                request = Request(wire, "127.0.0.1", NOW, False, pipeline.policy.period)
                request.query = query
                request.ttl_cap = None
                forward(request, got.append)
            got.clear()
            return (time.perf_counter() - started) / queries * 1e6
        return run

    runs = dict(zip(CASES, (hits(False), hits(False, 1.0), hits(True), misses(), way_back()),
                    strict=True))
    best = {case: float("inf") for case in CASES}
    for _ in range(5):
        for case, run in runs.items():
            best[case] = min(best[case], run())
    return best


def compare(baseline: Path, runs: int, queries: int) -> None:
    here = Path(__file__).resolve().parents[1]
    checkouts = {"this": here, "baseline": baseline.resolve()}
    figures: dict[str, dict[str, list[float]]] = {k: {c: [] for c in CASES} for k in checkouts}
    for number in range(runs):
        order = list(checkouts) if number % 2 == 0 else list(reversed(checkouts))
        for label in order:
            # run by path: sys.path[0] is then bench/, and `resolver` the checkout's
            done = subprocess.run(
                [sys.executable, __file__, "--worker", "--queries", str(queries)],
                env={**os.environ, "PYTHONPATH": str(checkouts[label])},
                cwd=checkouts[label], capture_output=True, text=True, check=True, timeout=600)
            found = json.loads(done.stdout)
            imported = Path(found.pop("resolver"))
            if not imported.is_relative_to(checkouts[label]):
                raise RuntimeError(f"{label} imported {imported}")
            for case, value in found.items():
                figures[label][case].append(value)
            print(f"run {number + 1} {label}: {done.stdout.strip()}", file=sys.stderr)
    print(f"µs per query, best of 5 per process, {runs} processes each, alternating")
    print("| case | baseline | this | this ÷ baseline (median) |")
    print("| --- | --- | --- | --- |")
    for case in CASES:
        old, new = figures["baseline"][case], figures["this"][case]
        ratio = statistics.median(n / o for n, o in zip(new, old, strict=True))
        print(f"| {case} | {min(old):.2f}–{max(old):.2f} | {min(new):.2f}–{max(new):.2f} "
              f"| {ratio:.3f} |")


async def time_to_stale(silent: bool, answers: int) -> list[float]:
    """Seconds to each of `answers` stale answers, the upstream dead from the start."""
    from resolver.config.endpoints import Endpoint
    from resolver.stages.cache import CacheStage

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead:
        dead.bind(("127.0.0.1", 0))
        port = dead.getsockname()[1]
        if not silent:
            dead.close()  # nothing bound: each try is refused at once
        pipeline = chain(repeat=True, tail=None,
                         **{"upstream.servers": (Endpoint("127.0.0.1", port),)})
        wire = query_wire("plain.example.test")
        query = pipeline.handle(wire, "127.0.0.1", time.time()).query
        pipeline.stage(CacheStage).store(query, upstream_message(wire, ttl=60),
                                         time.time() - 120)
        seconds = []
        loop = asyncio.get_running_loop()
        for _ in range(answers):
            started = time.perf_counter()
            request = pipeline.handle(wire, "127.0.0.1", time.time())
            future: asyncio.Future[bytes] = loop.create_future()
            pipeline.forward(request, future.set_result)
            reply = dns.message.from_wire(await future)
            seconds.append(time.perf_counter() - started)
            assert reply.answer[0].ttl == 30, reply
        pipeline.close()
        return seconds


class TtlTenUpstream(asyncio.DatagramProtocol):
    """A UDP upstream on 127.0.0.1 answering every question with one A record, TTL 10."""

    def __init__(self) -> None:
        self.asked = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.asked += 1
        response = dns.message.make_response(dns.message.from_wire(data))
        response.answer.append(dns.rrset.from_text(response.question[0].name, 10, "IN", "A",
                                                   "192.0.2.12"))
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


async def popular_name(prefetch: bool, seconds: float, every: float) -> tuple[int, int, int]:
    """One name asked every `every` s for `seconds`, its answers living 10 s: (queries,
    those that waited for the upstream, questions the upstream got)."""
    from resolver.config.endpoints import Endpoint

    loop = asyncio.get_running_loop()
    transport, upstream = await loop.create_datagram_endpoint(
        TtlTenUpstream, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    pipeline = chain(repeat=True, tail=None, **{
        "upstream.servers": (Endpoint("127.0.0.1", port),), "cache.prefetch": prefetch})
    asked = waited = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        message = dns.message.make_query("popular.example.test", "A", use_edns=0)
        result = pipeline.handle(message.to_wire(), "127.0.0.1", time.time())
        asked += 1
        if not isinstance(result, bytes):
            waited += 1
            future: asyncio.Future[bytes] = loop.create_future()
            pipeline.forward(result, future.set_result)
            await future
        await asyncio.sleep(every)
    pipeline.close()
    transport.close()
    return asked, waited, upstream.asked


def prefetching() -> None:
    for prefetch in (False, True):
        asked, waited, upstream = asyncio.run(popular_name(prefetch, 31.0, 0.05))
        print(f"prefetch {'on ' if prefetch else 'off'}: {asked} queries in 31 s for one name "
              f"(TTL 10 s); {waited} waited for the upstream, which was asked {upstream} times")


def dead() -> None:
    for silent in (True, False):
        seconds = asyncio.run(time_to_stale(silent, 200))
        rest = sorted(seconds[1:])
        print(f"upstream {'silent' if silent else 'refusing'}: first stale answer "
              f"{seconds[0] * 1000:.1f} ms; the next {len(rest)}: median "
              f"{statistics.median(rest) * 1e6:.0f} µs, slowest {rest[-1] * 1e6:.0f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--dead", action="store_true")
    parser.add_argument("--prefetch", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", type=int, default=50_000)
    args = parser.parse_args()
    if args.worker:
        import resolver
        print(json.dumps({"resolver": resolver.__file__, **hot_paths(args.queries)}))
    elif args.dead:
        dead()
    elif args.prefetch:
        prefetching()
    elif args.baseline is not None:
        compare(args.baseline, args.runs, args.queries)
    else:
        parser.error("give --baseline DIR, --dead or --prefetch")


if __name__ == "__main__":
    main()
