"""The parts of `bench.handle_cost`: µs per stage and per step of this checkout
(`--breakdown`), and instructions per query counted by callgrind (`--instructions`).

Per stage: the chain is cut after each stage (a last stage drops the query, so nothing is
answered nor observed) and timed on new names; the difference between two cuts is the
stage's share, its call included. The observers' share is the whole chain less the chain
without them. Per step: the functions a stage calls, timed alone on the same inputs. All
with the thread's CPU clock, the median of several interleaved passes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.handle_cost import CLIENT, Setup
from resolver.compiled_modules import PURE_PYTHON_ENV
from resolver.stages.contract import Stage

PASSES = 15


def _takes_below(lookup: Callable[..., Any]) -> bool:
    """Whether `PolicyIndex.lookup` takes the memo of parents (compiled, it has no signature
    to inspect: then it is this checkout's, which does)."""
    try:
        return "below" in inspect.signature(lookup).parameters
    except ValueError:
        return True


class _Stop(Stage):
    """Drops every query: the end of a cut chain (a Stage: the compiled pipeline holds
    stages)."""

    def __init__(self) -> None:
        pass

    def handle(self, request: Any) -> bytes:
        return b""


def _cut_chains(setup: Setup) -> list[tuple[str, Callable[..., Any]]]:
    """(label, handle) of the chain cut after each stage before the first that answers a
    new blocked name, then the whole chain without and with its observers."""
    from resolver.pipeline import Pipeline
    from resolver.stages.answer_counts import AnswerCountsStage
    from resolver.stages.blocking import BlockingStage
    from resolver.stages.querylog import QueryLogStage

    pipeline = setup.pipeline
    stages = list(pipeline.stages)
    observers = [s for s in stages if isinstance(s, AnswerCountsStage | QueryLogStage)]
    tail = [s for s in stages if hasattr(s, "forward")]
    walk = [s for s in stages if s not in observers and s not in tail
            and getattr(s, "answers_now", True)]
    upto = walk[:[type(s) for s in walk].index(BlockingStage)]
    chains: list[tuple[str, Callable[..., Any]]] = [
        ("(drop at once)", Pipeline(setup.holder, [_Stop(), *tail], setup.config).handle)]
    for number, stage in enumerate(upto, 1):
        cut = Pipeline(setup.holder, [*upto[:number], _Stop(), *tail], setup.config)
        chains.append((type(stage).__name__, cut.handle))
    blocking = walk[len(upto)]
    chains.append((type(blocking).__name__,
                   Pipeline(setup.holder, [*upto, blocking, *tail], setup.config).handle))
    chains.append(("observers: " + ", ".join(type(s).__name__ for s in observers),
                   pipeline.handle))
    return chains


def _steps(setup: Setup) -> list[tuple[str, Callable[[list[bytes]], None]]]:
    """The blocked path's steps, each over the packets of a pass (new names)."""
    from resolver.dns.query import parse_query
    from resolver.stages.blocking import BlockingStage

    period = setup.holder.period
    index = period.index
    blocking = setup.pipeline.stage(BlockingStage)
    udp_size = setup.config.server.edns_udp_size
    now = time.time()
    groups = _client_groups(setup)

    def parse(packets: list[bytes]) -> None:
        for data in packets:
            parse_query(data)

    def lookup(packets: list[bytes]) -> None:
        names = [parse_query(data).qname for data in packets]
        started = time.thread_time()
        for name in names:
            index.lookup(name, now, groups)
        _credit(time.thread_time() - started)

    def lookup_below(packets: list[bytes]) -> None:
        names = [parse_query(data).qname for data in packets]
        below: dict[str, Any] = {}
        started = time.thread_time()
        for name in names:
            index.lookup(name, now, groups, below)
        _credit(time.thread_time() - started)

    def render(packets: list[bytes]) -> None:
        queries = [parse_query(data) for data in packets]
        found = [index.lookup(q.qname, now, groups) for q in queries]
        templates = []
        for query, (rule, pattern) in zip(queries, found, strict=True):
            group = "" if rule.audience is None else rule.audience.group_for(groups)
            templates.append(blocking._template(rule, pattern, query.qname, group))
        started = time.thread_time()
        for query, template in zip(queries, templates, strict=True):
            template.render(query, udp_size, None)
        _credit(time.thread_time() - started)

    def audience(packets: list[bytes]) -> None:
        found = [index.lookup(parse_query(d).qname, now, groups)
                 for d in packets]
        started = time.thread_time()
        for rule, _ in found:
            "" if rule.audience is None else rule.audience.group_for(groups)
        _credit(time.thread_time() - started)

    with_memo = _takes_below(index.lookup)  # not before the memo was made
    return [("parse_query", parse), ("index.lookup", lookup),
            *([("index.lookup, with the blocking stage's memo of parents", lookup_below)]
              if with_memo else []),
            ("template.render (template made)", render),
            ("audience.group_for", audience)]


_CREDITED: list[float] = []


def _credit(seconds: float) -> None:
    """A step that prepares its inputs first reports the time of its loop alone."""
    _CREDITED.append(seconds)


def _client_groups(setup: Setup) -> Any:
    from resolver.stages.access import ClientNetworks

    return ClientNetworks(setup.config.server.allow_clients,
                          setup.config.groups).classify(CLIENT)


def _formatter_cost(setup: Setup, queries: int) -> float:
    """µs per blocked record in the query log writer's thread (formatting, not writing)."""
    from resolver.querylog.anonymise import ClientAnonymiser
    from resolver.querylog.record import RecordFormatter, RecordQueue
    from resolver.stages.querylog import QueryLogStage

    stage = setup.pipeline.stage(QueryLogStage)
    queue = stage._queue = RecordQueue(1 << 30)  # the writer's thread never sees these
    now = time.time()
    for data in setup.packets("blocked-new", PASSES * 16 + 1):
        setup.pipeline.handle(data, CLIENT, now)
    raws = queue.take()  # the tuples the query path hands over
    formatter = RecordFormatter(ClientAnonymiser("truncate", b""))
    passes = []
    for _ in range(PASSES):
        started = time.thread_time()
        formatter.lines(raws)
        passes.append((time.thread_time() - started) / len(raws) * 1e6)
    return min(passes)


def _forwarded_steps(setup: Setup) -> list[tuple[str, Callable[[list[bytes]], None]]]:
    """A forwarded query's way, as a whole and in parts, each over new names."""
    from bench.handle_cost import reply_for
    from resolver.stages.cache import CacheStage, cache_key
    from resolver.stages.contract import Request
    from resolver.upstream import transport
    from resolver.upstream.transport import checked

    framing = getattr(transport, "checked_framed", None)  # absent before one walk per reply

    pipeline = setup.pipeline
    cache = pipeline.stage(CacheStage)._cache
    assert cache is not None
    observers = [s.observe for s in pipeline.stages if hasattr(s, "observe")]
    now = time.time()
    upstream_query = b"\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01"

    def requests(packets: list[bytes]) -> list[Any]:
        made = []
        for data in packets:
            request = pipeline.handle(data, CLIENT, now)
            assert isinstance(request, Request)
            made.append(request)
        return made

    def whole(packets: list[bytes]) -> None:
        for data in packets:
            setup.forward(data, now)

    def down(packets: list[bytes]) -> None:
        handle = pipeline.handle
        for data in packets:
            handle(data, CLIENT, now)

    def fake_reply(packets: list[bytes]) -> None:
        made = [upstream_query + r.query.question + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
                for r in requests(packets)]
        started = time.thread_time()
        for data in made:
            reply_for(data)
        _credit(time.thread_time() - started)

    def replies(packets: list[bytes]) -> list[tuple[Any, bytes]]:
        return [(r, reply_for(upstream_query + r.query.question
                              + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"))
                for r in requests(packets)]

    def strip(packets: list[bytes]) -> None:
        made = replies(packets)
        started = time.thread_time()
        for request, reply in made:
            checked(reply, request.query.question)
        _credit(time.thread_time() - started)

    def store(packets: list[bytes]) -> None:
        made = []
        for request, reply in replies(packets):
            if framing is None:
                made.append((request, checked(reply, request.query.question)[0], None))
            else:
                answer, _, framed = framing(reply, request.query.question)
                made.append((request, answer, framed))
        started = time.thread_time()
        for request, answer, framed in made:
            if framed is None:
                cache.put(cache_key(request.query), answer, now, request.query.qname)
            else:  # as the cache stage stores it: with the forwarder's framing
                cache.put(cache_key(request.query), answer, now, request.query.qname, framed)
        _credit(time.thread_time() - started)

    def fitted(packets: list[bytes]) -> None:
        made = []
        for request, reply in replies(packets):
            answer = checked(reply, request.query.question)[0]
            request.aliases = cache.put(cache_key(request.query), answer, now,
                                        request.query.qname)
            made.append((request, answer))
        for_client = pipeline._for_client
        started = time.thread_time()
        for request, answer in made:
            for_client(request, answer)
        _credit(time.thread_time() - started)

    def observed(packets: list[bytes]) -> None:
        made = []
        for request, reply in replies(packets):
            answer = checked(reply, request.query.question)[0]
            made.append((request, pipeline._for_client(request, answer)))
        started = time.thread_time()
        for request, answer in made:
            for observe in observers:
                observe(request, answer)
        _credit(time.thread_time() - started)

    return [("whole: handle, then forward and the reply back", whole),
            ("handle alone (a miss: the chain down to the upstream)", down),
            ("(the bench's instant reply: made per query)", fake_reply),
            ("forwarder's check: OPT stripped (`checked`)", strip),
            ("cache store (`AnswerCache.put`)", store),
            ("fitted to the client (`_for_client`: TTL cap, CNAME check, fit)", fitted),
            ("observers (counts, query log)", observed)]


def _time_steps(setup: Setup, case: str, steps: list[tuple[str, Callable[..., Any]]],
                fresh: Iterator[int], times: dict[str, list[float]]) -> None:
    """One pass of each step over fresh packets of `case`: µs per query into `times` (the
    time a step credits itself, where it measures only part of its work)."""
    for label, step in steps:
        packets = setup.packets(case, next(fresh))
        _CREDITED.clear()
        started = time.thread_time()
        step(packets)
        elapsed = _CREDITED[0] if _CREDITED else time.thread_time() - started
        times.setdefault(label, []).append(elapsed / len(packets) * 1e6)


def forwarded_breakdown(queries: int) -> int:
    async def run() -> None:
        with tempfile.TemporaryDirectory(prefix="dnsfence-breakdown.") as scratch:
            steps_count = 7
            setup = Setup(Path(scratch), queries, PASSES * steps_count + 2,
                          cases=("forwarded",))
            gc.collect()
            gc.freeze()
            steps = _forwarded_steps(setup)
            times: dict[str, list[float]] = {}
            fresh = iter(range(PASSES * steps_count + 2))
            for _ in range(PASSES):
                _time_steps(setup, "forwarded", steps, fresh, times)
            print(f"A forwarded name, µs per query, best and median of {PASSES} passes of "
                  f"{queries}:")
            for label, _ in steps:
                print(f"  {label:<66} {min(times[label]):6.3f} "
                      f"{statistics.median(times[label]):6.3f}")
            setup.pipeline.close()

    asyncio.run(run())
    return 0


def breakdown(queries: int) -> int:
    forwarded_breakdown(max(1000, queries // 4))

    async def run() -> None:
        with tempfile.TemporaryDirectory(prefix="dnsfence-breakdown.") as scratch:
            setup = Setup(Path(scratch), queries, PASSES * 16, cases=("blocked-new",))
            gc.collect()
            gc.freeze()
            chains = _cut_chains(setup)
            steps = _steps(setup)
            times: dict[str, list[float]] = {}
            fresh = iter(range(PASSES * 16))
            for _ in range(PASSES):
                for label, handle in chains:
                    packets = setup.packets("blocked-new", next(fresh))
                    now = time.time()
                    started = time.thread_time()
                    for data in packets:
                        handle(data, CLIENT, now)
                    elapsed = time.thread_time() - started
                    times.setdefault(label, []).append(elapsed / len(packets) * 1e6)
                _time_steps(setup, "blocked-new", steps, fresh, times)
            print("A new blocked name (no EDNS), µs per query, best and median of "
                  f"{PASSES} passes of {queries}:")
            previous = 0.0
            for label, _ in chains:
                best = min(times[label])
                print(f"  {'chain cut after ' + label:<58} {best:6.3f} "
                      f"{statistics.median(times[label]):6.3f}   (+{best - previous:.3f})")
                previous = best
            print("Steps, alone:")
            for label, _ in steps:
                print(f"  {label:<58} {min(times[label]):6.3f} "
                      f"{statistics.median(times[label]):6.3f}")
            print(f"  {'query log writer thread: formatting one record':<58} "
                  f"{_formatter_cost(setup, queries):6.3f}")
            setup.pipeline.close()

    asyncio.run(run())
    return 0


def _worker_environment(root: Path) -> dict[str, str]:
    """A counted worker's environment: a fixed one (the count must not depend on the shell),
    but the pure-Python switch passed on, so that `DNSFENCE_PURE_PYTHON=1` counts the
    source build rather than silently the compiled one."""
    env = {"PYTHONPATH": str(root), "PYTHONHASHSEED": "17", "PATH": "/usr/bin:/bin"}
    if PURE_PYTHON_ENV in os.environ:
        env[PURE_PYTHON_ENV] = os.environ[PURE_PYTHON_ENV]
    return env


def _count(root: Path, case: str, queries: int) -> int:
    """Instructions callgrind counts for a worker handling `queries` of `case` twice."""
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, str(Path(__file__).resolve().with_name("handle_cost.py")), "--worker",
         "--case", case, "--queries", str(queries), "--rounds", "1", "--pool", "30000"],
        env=_worker_environment(root),
        cwd=root, capture_output=True, text=True, check=True, timeout=3600)
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if found is None:
        raise RuntimeError(out.stderr[-2000:])
    return int(found.group(1).replace(",", ""))


def instructions(args: argparse.Namespace, repo: Path) -> int:
    """Instructions per query: (count at 8,000 queries - count at 1,000) / 2 x 7,000 (each
    worker handles its queries twice: once untimed, once timed)."""
    roots = {"this": repo}
    if args.baseline:
        roots["base"] = args.baseline.resolve()
    cases = args.case or ["blocked-new", "blocked-repeat", "cached", "forwarded"]
    for root in roots.values():  # compiled now, not by the first counted run
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "resolver")],
                       check=True, capture_output=True)
    print(f"{'case':<18}" + "".join(f"{name:>12}" for name in roots))
    for case in cases:
        line = f"{case:<18}"
        for root in roots.values():
            few, many = _count(root, case, 1000), _count(root, case, 8000)
            line += f"{(many - few) / 14_000:>12,.0f}"
        print(line, flush=True)
    return 0
