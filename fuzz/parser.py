"""Fuzz target: the packet reader (`parse_query`, `classify`, `read_question`).

Each input is one packet. Properties: nothing raises; the fast reader returns None or exactly
what the careful one returns; and where dnspython reads the packet as a usable query (QR
clear, opcode QUERY, one question, at most 16 other records, EDNS version 0 or none), the
careful reader accepts it with the same question and EDNS values. Packets dnspython refuses
may still be accepted here (records other than OPT are framed, not read), so there the
comparison is one-sided. No input may cost more than `checks.BUDGET_SECONDS` of CPU.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.flags
import dns.message
import dns.opcode

from fuzz.checks import Clock, Finding, read_message, within_budget
from fuzz.seeds import made_queries, real_packets, regressions
from resolver.dns.query import Query, Rejection, classify, parse_query, read_question

_MAX_OTHER_RECORDS = 16


def seeds() -> Iterator[bytes]:
    for path in regressions("parser"):
        yield path.read_bytes()
    for pair in real_packets():
        yield pair.query
        if pair.response is not None:
            yield pair.response
    for pair in made_queries():
        yield pair.query


def _usable_to_dnspython(message: dns.message.Message, wire: bytes) -> bool:
    counts = [int.from_bytes(wire[at:at + 2], "big") for at in (6, 8, 10)]
    return (not message.flags & dns.flags.QR and message.opcode() == dns.opcode.QUERY
            and len(message.question) == 1 and sum(counts) <= _MAX_OTHER_RECORDS
            and message.edns <= 0)


def _compare(data: bytes, verdict: Query | Rejection) -> None:
    message = read_message(data)
    if message is None or not _usable_to_dnspython(message, data):
        return
    if not isinstance(verdict, Query):
        raise Finding(f"dnspython reads a usable query that classify rejects "
                      f"({verdict.action.name}: {verdict.reason}): {data.hex()}")
    question = message.question[0]
    theirs = ((question.name.to_wire() or b"").lower(), int(question.rdtype), int(question.rdclass))
    ours = (verdict.question[:-4].lower(), verdict.qtype, verdict.qclass)
    if theirs != ours:
        raise Finding(f"question {ours} where dnspython reads {theirs}: {data.hex()}")
    edns = None if message.edns < 0 else (message.payload,
                                           bool(message.ednsflags & dns.flags.DO))
    mine = None if verdict.edns is None else (verdict.edns.udp_size, verdict.edns.do)
    if edns != mine:
        raise Finding(f"EDNS {mine} where dnspython reads {edns}: {data.hex()}")


def prepare() -> None:
    """Nothing is kept between inputs."""


def one(data: bytes) -> float:
    """Check one input; the CPU seconds the code under test took for it."""
    verdicts: list[Query | Rejection] = []
    fast: list[Query | None] = []

    def run(clock: Clock) -> None:
        verdicts.clear()
        fast.clear()
        fast.append(clock.timed(lambda: parse_query(data)))
        verdicts.append(clock.timed(lambda: classify(data)))
        clock.timed(lambda: read_question(data))

    spent = within_budget(run, data)
    if fast[0] is not None and fast[0] != verdicts[0]:
        raise Finding(f"parse_query says {fast[0]}, classify {verdicts[0]}: {data.hex()}")
    _compare(data, verdicts[0])
    return spent
