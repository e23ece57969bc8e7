"""What every fuzzed input must satisfy, checked with a reader that is not ours (dnspython).

A violation raises `Finding`; the fuzzer then stops and keeps the input (libFuzzer writes it
to a `crash-*` file), exactly as for an exception that escaped the code under test.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import dns.exception
import dns.flags
import dns.message

from fuzz.framing import relay_problem
from resolver.dns.query import Query, classify

BUDGET_SECONDS = float(os.environ.get("FUZZ_BUDGET_MS", "10")) / 1000
"""No input may cost the code under test more CPU than this (its own thread's CPU time,
so that other processes on the machine do not count); FUZZ_BUDGET_MS sets it."""
RETRIES = 3
"""An input over budget is run this many times more before it counts: a garbage collection
or a first call that fills a lazy table is not the input's fault; a slow path stays slow."""
MAX_UDP_WITHOUT_EDNS = 512
MAX_TCP = 65_535
OPCODE_IN_BYTE2 = 0x78

T = TypeVar("T")


class Finding(AssertionError):
    """An input broke a property; the message says which and how."""


def read_message(wire: bytes) -> dns.message.Message | None:
    """dnspython's reading of `wire`, or None when it refuses it."""
    try:
        return dns.message.from_wire(wire)
    except (dns.exception.DNSException, ValueError, UnicodeError):
        return None


def read_framing(wire: bytes) -> dns.message.Message | None:
    """`read_message` of `wire` with its opcode taken as QUERY: dnspython reads an UPDATE's
    sections by that opcode's own rules (a SOA zone, say), which are not the framing an
    answer must keep. The opcode is compared from the header bytes instead."""
    if len(wire) > 2 and wire[2] & OPCODE_IN_BYTE2:
        wire = wire[:2] + bytes([wire[2] & ~OPCODE_IN_BYTE2 & 0xFF]) + wire[3:]
    return read_message(wire)


def udp_limit(query: bytes, readable: dns.message.Message | None, our_size: int) -> int:
    """The largest UDP answer `query` may get: 512 without EDNS, else the requestor's size
    capped by ours and never below 512 (RFC 6891 6.2.3, 6.2.5)."""
    if readable is not None:
        if readable.edns < 0:
            return MAX_UDP_WITHOUT_EDNS
        return max(MAX_UDP_WITHOUT_EDNS, min(readable.payload, our_size))
    verdict = classify(query)  # dnspython refused it (a TSIG without its key, say)
    if isinstance(verdict, Query) and verdict.edns is not None:
        return max(MAX_UDP_WITHOUT_EDNS, min(verdict.edns.udp_size, our_size))
    return MAX_UDP_WITHOUT_EDNS


def check_answer(query: bytes, answer: bytes, *, tcp: bool, our_size: int,
                 relayed: Sequence[bytes] = ()) -> None:
    """`answer` is a response to `query` that fits the transport and that dnspython reads.

    `relayed`: the upstream messages the chain was given for this query. An answer
    dnspython refuses passes if it is a faithful relay of one of them (`relay_problem`):
    a forwarder relays records, it does not vouch for their contents.
    """
    if len(query) < 12:
        raise Finding(f"an answer to a packet of {len(query)} bytes, shorter than a header")
    if len(answer) < 12:
        raise Finding(f"an answer of {len(answer)} bytes, shorter than a header")
    if answer[:2] != query[:2]:
        raise Finding(f"answer ID {answer[:2].hex()} for query ID {query[:2].hex()}")
    if not answer[2] & 0x80:
        raise Finding("an answer without QR")
    if (answer[2] ^ query[2]) & OPCODE_IN_BYTE2:
        raise Finding(f"answer opcode {(answer[2] >> 3) & 15}, "
                      f"query opcode {(query[2] >> 3) & 15}")
    readable = read_framing(query)
    limit = MAX_TCP if tcp else udp_limit(query, readable, our_size)
    if len(answer) > limit:
        raise Finding(f"a {len(answer)}-byte answer where {limit} is the most allowed "
                      f"({'TCP' if tcp else 'UDP'})")
    response = read_framing(answer)
    if response is None:
        problems = [relay_problem(message, answer) for message in relayed]
        if None not in problems:  # not a faithful relay of what the upstream sent
            raise Finding(f"dnspython cannot read the answer {answer.hex()}"
                          + "".join(f"; as a relay: {p}" for p in problems))
        return
    if readable is not None and not readable.is_response(response):
        raise Finding(f"not a response to the query: query {readable.question}, "
                      f"answer {response.question}")


def expects_answer(readable: dns.message.Message | None) -> bool:
    """A query dnspython reads as a query (QR clear) must get some answer."""
    return readable is not None and not readable.flags & dns.flags.QR


@dataclass
class Clock:
    """CPU time the code under test spent on the current input, in seconds."""

    spent: float = 0.0

    def timed(self, call: Callable[[], T]) -> T:
        started = time.thread_time()
        try:
            return call()
        finally:
            self.spent += time.thread_time() - started


class ErrorLog(logging.Handler):
    """Keeps every ERROR the server's logger writes: its guards log an internal error and
    answer SERVFAIL, which the client survives but which is a finding here."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def raise_if_any(self) -> None:
        if self.records:
            record = self.records[0]
            self.records.clear()
            detail = logging.Formatter().format(record)
            raise Finding(f"the server logged an internal error:\n{detail}")


def within_budget(run: Callable[[Clock], None], data: bytes,
                  budget: float = BUDGET_SECONDS) -> float:
    """Run `run` on one input; `Finding` if it took more than `budget` seconds of CPU every
    time in `1 + RETRIES` runs. Returns the CPU seconds of the fastest run."""
    best = float("inf")
    for _ in range(1 + RETRIES):
        clock = Clock()
        run(clock)
        best = min(best, clock.spent)
        if best <= budget:
            return best
    raise Finding(f"input of {len(data)} bytes took {best * 1000:.2f} ms of CPU "
                  f"(budget {budget * 1000:g} ms), {1 + RETRIES} runs: {data[:64].hex()}")
