"""The fuzz targets' properties catch what they are for, and a good answer passes them.

Every check is shown a good answer and a broken variant of it; the chain target is run on
seeds (each must pass) and on a chain whose parts are made to fail the way a bug would.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest

from fuzz import chain as chain_target
from fuzz import parser as parser_target
from fuzz.checks import Clock, ErrorLog, Finding, check_answer, read_message, within_budget
from fuzz.framing import framing, relay_problem
from fuzz.seeds import made_queries, regressions, split_blob, unbound_pairs
from resolver.pipeline import CHAIN
from resolver.stages.contract import DROP, Request, Stage

OUR_SIZE = 1232


def query(name: str = "www.example.com", rdtype: str = "A", edns: int | bool = 0,
          payload: int = 1232) -> bytes:
    message = dns.message.make_query(name, rdtype, use_edns=edns, payload=payload)
    message.id = 4242
    return message.to_wire()


def answer(wire: bytes, records: int = 1) -> bytes:
    message = dns.message.from_wire(wire)
    response = dns.message.make_response(message)
    for index in range(records):
        response.answer.append(dns.rrset.from_text(
            message.question[0].name, 300, "IN", "TXT", f'"record {index} {"z" * 40}"'))
    return response.to_wire(max_size=65535)


def test_a_good_answer_passes_and_each_broken_header_is_a_finding() -> None:
    wire = query()
    good = answer(wire)
    check_answer(wire, good, tcp=False, our_size=OUR_SIZE)
    broken = {
        "answer ID": b"\x00\x01" + good[2:],
        "without QR": good[:2] + bytes([good[2] & 0x7F]) + good[3:],
        "opcode": good[:2] + bytes([good[2] | 0x10]) + good[3:],
        "shorter than a header": good[:11],
        "cannot read": good[:-3],
    }
    for problem, wire_answer in broken.items():
        with pytest.raises(Finding, match=problem):
            check_answer(wire, wire_answer, tcp=False, our_size=OUR_SIZE)


def test_an_answer_to_another_question_is_a_finding() -> None:
    other = answer(query("other.example.com"))
    wire = query()
    with pytest.raises(Finding, match="not a response"):
        check_answer(wire, wire[:2] + other[2:], tcp=False, our_size=OUR_SIZE)


def test_udp_answers_fit_the_size_the_query_allows() -> None:
    big = answer(query(), records=30)  # about 1.6 kB
    assert 1232 < len(big) < 4096
    check_answer(query(), big, tcp=True, our_size=OUR_SIZE)
    for wire in (query(edns=False), query(payload=4096), query(payload=700)):
        with pytest.raises(Finding, match="most allowed"):
            check_answer(wire, big[:2] + answer(wire, records=30)[2:], tcp=False,
                         our_size=OUR_SIZE)
    small = answer(query(payload=700), records=9)
    assert 512 < len(small) <= 700
    check_answer(query(payload=700), small, tcp=False, our_size=OUR_SIZE)
    with pytest.raises(Finding, match="512 is the most"):
        check_answer(query(edns=False), small, tcp=False, our_size=OUR_SIZE)


def test_framing_finds_what_a_client_would_choke_on() -> None:
    good = answer(query(edns=False))
    assert framing(good).problem is None
    assert framing(good + b"\x00").problem == "1 bytes after the last record"
    assert "cut short" in str(framing(good[:-1]).problem)
    ancount_plus_one = good[:6] + struct.pack(">H", 2) + good[8:]
    assert framing(ancount_plus_one).problem == "a name runs past the end"
    opt = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
    as_answer = good[:6] + struct.pack(">H", 2) + good[8:] + opt
    assert "outside the additional section" in str(framing(as_answer).problem)
    two = good[:10] + struct.pack(">H", 2) + good[12:] + opt + opt
    assert framing(two).problem == "more than one OPT"
    assert framing(good[:10] + struct.pack(">H", 1) + good[12:] + opt).problem is None


def test_a_relayed_answer_need_only_be_framed_when_dnspython_refuses_the_upstream() -> None:
    wire = query(edns=False)
    upstream = bytearray(answer(wire))
    upstream[-50] = 200  # the TXT string's length now runs past its RDATA
    upstream = bytes(upstream)
    assert read_message(upstream) is None and framing(upstream).problem is None
    relayed = wire[:2] + upstream[2:]
    with pytest.raises(Finding, match="cannot read"):
        check_answer(wire, relayed, tcp=False, our_size=OUR_SIZE)
    check_answer(wire, relayed, tcp=False, our_size=OUR_SIZE, relayed=[upstream])
    with pytest.raises(Finding, match="not well framed"):
        check_answer(wire, relayed + b"\x00", tcp=False, our_size=OUR_SIZE,
                     relayed=[upstream])


def test_a_faithful_relay_changes_only_header_case_ttls_and_adds_an_opt() -> None:
    upstream = answer(query(edns=False))
    [ttl_at] = framing(upstream).ttl_offsets
    opt = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
    served = bytearray(upstream + opt)
    served[:4] = b"\x12\x34\x81\x80"
    served[10:12] = b"\x00\x01"
    served[13:16] = b"WwW"  # the client's own letter case
    served[ttl_at:ttl_at + 4] = struct.pack(">I", 299)
    assert relay_problem(upstream, bytes(served)) is None
    raised = bytearray(served)
    raised[ttl_at:ttl_at + 4] = struct.pack(">I", 301)
    assert "TTL raised" in str(relay_problem(upstream, bytes(raised)))
    changed = bytearray(served)
    changed[len(upstream) - 1] ^= 1  # the last byte of the TXT string
    assert "changed" in str(relay_problem(upstream, bytes(changed)))
    digit = bytearray(served)
    digit[17] = ord("X")  # 'e' of example -> 'X': not the same letter
    assert "changed" in str(relay_problem(upstream, bytes(digit)))
    counts = bytearray(served)
    counts[7], counts[9] = 0, 1  # the answer record counted as authority
    assert "counts" in str(relay_problem(upstream, bytes(counts)))
    assert "not well framed" in str(relay_problem(upstream, bytes(served) + b"\x00"))


def test_within_budget_retries_a_slow_input_and_then_finds_it() -> None:
    runs: list[float] = []

    def slow_first(clock: Clock) -> None:
        clock.timed(lambda: busy(0.02 if not runs else 0.0))
        runs.append(clock.spent)

    assert within_budget(slow_first, b"x", budget=0.01) < 0.01
    assert len(runs) == 2  # one retry was enough
    runs.clear()
    with pytest.raises(Finding, match="of CPU"):
        within_budget(lambda clock: clock.timed(lambda: busy(0.012)), b"x", budget=0.01)


def busy(seconds: float) -> None:
    """Spend `seconds` of this thread's CPU (a sleep would spend none)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_the_error_log_turns_a_guard_into_a_finding() -> None:
    errors = ErrorLog()
    logger = logging.getLogger("fuzz-test")
    logger.addHandler(errors)
    try:
        errors.raise_if_any()
        logger.warning("only a warning")
        errors.raise_if_any()
        logger.error("an internal error")
        with pytest.raises(Finding, match="an internal error"):
            errors.raise_if_any()
        errors.raise_if_any()  # reported once
    finally:
        logger.removeHandler(errors)


def test_seed_files_are_split_as_their_formats_say() -> None:
    assert list(split_blob(b"\x00\x02ab\x00\x01c\x00")) == [b"ab", b"c"]
    query_hex = query().hex()
    text = f"1\n{query_hex}\n{answer(query()).hex()}\n\n2\n{query_hex}\n"
    pairs = list(unbound_pairs(text))
    assert [p[0] for p in pairs] == [query(), query()]
    assert pairs[0][1] == answer(query()) and pairs[1][1] is None


def test_the_parser_target_passes_its_seeds_and_agrees_with_dnspython() -> None:
    for seed in [*list(parser_target.seeds())[:300], b"", b"\x00" * 11]:
        parser_target.one(seed)
    with pytest.raises(Finding, match="classify rejects"):
        parser_target._compare(query(), parser_target.classify(b"\x00" * 5))


def test_the_chain_target_passes_its_seeds() -> None:
    seeds = list(chain_target.seeds())
    assert len(seeds) > 1000
    most = max(chain_target.one(seed) for seed in seeds[::7])
    assert 0 < most < 0.010


@pytest.mark.parametrize("path", regressions("chain"), ids=lambda path: path.name)
def test_inputs_that_once_broke_the_chain_pass(path: Path) -> None:
    """Each is an input the chain target found (or one made after it), kept with the fix."""
    chain_target.one(path.read_bytes())


def test_there_are_regression_inputs() -> None:
    assert len(regressions("chain")) >= 4


def test_the_chain_answers_each_kind_of_query() -> None:
    """The chain in the target is the real one: blocked, local, cached and forwarded names
    get their own answers."""
    chain = chain_target.Chain()
    rcodes = {}
    for pair in made_queries():
        if pair.name.endswith("/A/0/False"):
            data = chain_target.join(chain_target.SHAPED, pair.query,
                                     chain_target.without_question(answer(pair.query)))
            chain.run(data, Clock())
            got = chain.ask(Clock(), pair.query, "127.0.0.1", time.time(), False)
            assert got is not None
            rcodes[pair.name.split("/")[0].split(":")[1]] = dns.message.from_wire(got).rcode()
    assert rcodes["tiktok.com"] == dns.rcode.NXDOMAIN
    assert rcodes["intranet.corp.example.eu"] == dns.rcode.NOERROR
    assert rcodes["x.lab.corp.example.eu"] == dns.rcode.NXDOMAIN
    assert rcodes["www.example.com"] == dns.rcode.NOERROR


class BrokenCheck(Stage):
    """A bug on the answer path: it raises on every upstream message."""

    def check_forwarded(self, request: Request, response: bytes, period: object,
                        now: float) -> bytes | None:
        raise RuntimeError("a bug in the answer path")


class BrokenReader(Stage):
    """A bug before any answer: it raises on every query."""

    def handle(self, request: Request) -> bytes | None:
        raise RuntimeError("a bug in the reader")


class Dropper(Stage):
    """A chain that answers nothing at all."""

    def handle(self, request: Request) -> bytes | None:
        return DROP


@pytest.fixture
def chain_with(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """The fuzz target's chain, rebuilt with a faulty stage first or last (a stage, not a
    patched function: the compiled hot modules call their functions directly); afterwards
    its error log is taken off the server's logger, and what it logged out of the others."""
    logger = logging.getLogger("dnsfence")
    handlers = list(logger.handlers)
    kept = {id(h): len(h.records) for h in handlers if isinstance(h, ErrorLog)}

    def use(first: tuple[type[Stage], ...] = (), last: tuple[type[Stage], ...] = ()) -> None:
        monkeypatch.setattr(chain_target, "CHAIN", (*first, *CHAIN, *last))
        monkeypatch.setattr(chain_target, "_chain", [])

    yield use
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)
        elif isinstance(handler, ErrorLog):
            del handler.records[kept.get(id(handler), 0):]


def test_an_error_the_pipeline_guards_against_is_a_finding(
        chain_with: Callable[..., None]) -> None:
    chain_with(last=(BrokenCheck,))
    seed = chain_target.join(chain_target.SHAPED, query(),
                             chain_target.without_question(answer(query())))
    with pytest.raises(Finding, match="internal error"):  # the guard answered SERVFAIL
        chain_target.one(seed)


def test_an_exception_from_handle_escapes_the_target(chain_with: Callable[..., None]) -> None:
    chain_with(first=(BrokenReader,))
    with pytest.raises(RuntimeError, match="a bug in the reader"):
        chain_target.one(chain_target.join(0, query(), b""))


def test_a_query_left_unanswered_is_a_finding(chain_with: Callable[..., None]) -> None:
    chain_with(first=(Dropper,))
    with pytest.raises(Finding, match="no answer to a query dnspython reads"):
        chain_target.one(chain_target.join(0, query(), b""))
