"""Fuzz target: the whole chain in process, from a client's packet to the answer it gets.

The chain is built as a worker builds it (`Pipeline.from_config`), from the example config
(client groups, local records and zones, forward zones, a rate limit) with the shipped
lists and the query log off, and a cache that holds a few answers. The upstream is replaced
by a tail that answers with the input's own upstream message, passed through the same
acceptance checks the real forwarder applies to a datagram (`answers`, `checked`): what
they refuse is an upstream that never answered.

An input is: one control byte, the query's length (2 octets), the query, and the
upstream's message. Control bits: 0 TCP; 1-2 which client asks (`CLIENTS`); 3 the
upstream message is made to answer the question (our ID, QR, the question spliced in after
its header; otherwise it is used as it is and must echo the question itself); 4-7 seconds
between the three asks of the same query (the second and third meet the cache and the
repeat stage).

Properties (`fuzz.checks`): nothing escapes `handle` or `forward`; `forward` replies once;
the server logs no internal error; every answer is a response to its query that fits the
transport and that dnspython reads (or else is a faithful relay of the upstream's message:
`fuzz.framing.relay_problem`); a query dnspython reads gets an answer (but from the
rate-limited client); no input costs more than 10 ms of CPU.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterator

import dns.message
import dns.rcode
import dns.rrset

from fuzz.checks import (
    Clock,
    ErrorLog,
    Finding,
    check_answer,
    expects_answer,
    read_framing,
    within_budget,
)
from fuzz.seeds import (
    REPO,
    answer_to,
    made_queries,
    real_packets,
    regressions,
    upstream_shapes,
)
from resolver.config.load import load_config
from resolver.config.rate_limit import RateLimit
from resolver.config.settings import Config
from resolver.dns.message import MalformedMessage
from resolver.dns.names import read_name
from resolver.dns.query import parse_query
from resolver.lists.load import load_policy
from resolver.pipeline import CHAIN, Pipeline
from resolver.policy.period import PolicyHolder
from resolver.stages.cache import CacheStage
from resolver.stages.contract import Done, Request, Stage, StageSetup
from resolver.stages.repeat import RepeatStage
from resolver.stages.upstream import UpstreamStage
from resolver.upstream.transport import answers, checked

TCP = 0x01
SHAPED = 0x08
CLIENTS = ("127.0.0.1", "10.1.20.5", "10.9.0.5", "192.0.2.7")
"""An office client, one in the press-office group, a guest, and a stranger (refused, and
the only client the rate limit applies to: it may get no answer at all)."""
LIMITED = CLIENTS[3]
FORWARDER_ID = 0x5EED
EXAMPLE_CONFIG = REPO / "dnsfence.example.yaml"
SHIPPED_LISTS = REPO / "blocklists"


def split(data: bytes) -> tuple[int, bytes, bytes]:
    """(control, query, upstream message) of an input."""
    if len(data) < 3:
        return (data[0] if data else 0), b"", b""
    size = (data[1] << 8) | data[2]
    return data[0], data[3:3 + size], data[3 + size:]


def join(control: int, query: bytes, upstream: bytes) -> bytes:
    return bytes([control]) + len(query).to_bytes(2, "big") + query + upstream


def shaped(upstream: bytes, question: bytes) -> bytes:
    """`upstream` made to answer `question`: our ID, QR set, one question, then the rest."""
    head = (upstream[:12] + bytes(12))[:12]
    return b"".join((FORWARDER_ID.to_bytes(2, "big"), bytes([head[2] | 0x80, head[3]]),
                     b"\x00\x01", head[6:12], question, upstream[12:]))


def without_question(response: bytes) -> bytes:
    """A response's header and records, its question left out (a `SHAPED` upstream part)."""
    try:
        _, end = read_name(response, 12)
    except (MalformedMessage, IndexError):
        return response
    return response[:12] + response[end + 4:]


class FuzzedUpstream(Stage):
    """The tail: answers with the input's upstream message, as the forwarder would pass it
    on (or not at all, which the chain answers with SERVFAIL)."""

    def __init__(self, setup: StageSetup) -> None:
        self.next = None
        self.message = b""
        self.shape = True
        self.passed: list[bytes] = []
        """The messages handed to the chain for the current input."""

    def forward(self, request: Request, done: Done) -> None:
        question = request.query.question
        data = shaped(self.message, question) if self.shape else self.message
        if not answers(data, (data[0] << 8 | data[1]) if len(data) > 1 else -1, question):
            done(None)  # a datagram the forwarder ignores: the try times out
            return
        try:
            answer, _ = checked(data, question)
        except MalformedMessage:
            done(None)
            return
        request.upstream = "192.0.2.53"
        self.passed.append(answer)
        done(answer)


def fuzz_config() -> Config:
    """The example config, with the shipped lists, no query log, and a rate limit that only
    `LIMITED` is subject to (one query a second, a burst of two)."""
    config = load_config(EXAMPLE_CONFIG)
    exempt = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "10.0.0.0/8", "::/0"))
    return config.with_overrides(**{
        "blocklists": SHIPPED_LISTS, "querylog.mode": "off",
        "server.rate_limit": RateLimit(1.0, 2.0, exempt=exempt)})


def cached_answers() -> list[tuple[bytes, bytes]]:
    """(query, upstream message) pairs the cache holds at the start of every input."""

    def pair(name: str, rdtype: str, rcode: int, *records: tuple[str, str, str]
             ) -> tuple[bytes, bytes]:
        query = dns.message.make_query(name, rdtype, use_edns=False)
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.Rcode(rcode))
        for owner, kind, text in records:
            section = response.authority if kind == "SOA" else response.answer
            section.append(dns.rrset.from_text(owner, 300, "IN", kind, text))
        return query.to_wire(), response.to_wire()

    big = [f'"cached padding {i:03d} {"y" * 40}"' for i in range(40)]
    return [
        pair("cached.example.net", "A", 0, ("cached.example.net.", "A", "192.0.2.7")),
        pair("cached.example.net", "AAAA", 0, ("cached.example.net.", "AAAA", "2001:db8::7")),
        pair("alias.example.net", "A", 0, ("alias.example.net.", "CNAME", "v16.tiktokcdn.com."),
             ("v16.tiktokcdn.com.", "A", "192.0.2.8")),
        pair("nx.example.net", "A", 3,
             ("example.net.", "SOA", "ns.example.net. h.example.net. 1 3600 600 86400 60")),
        pair("big.example.net", "TXT", 0, *[("big.example.net.", "TXT", text) for text in big]),
    ]


class Chain:
    """One chain, put back in the same state before every input."""

    def __init__(self) -> None:
        config = fuzz_config()
        result = load_policy(config.blocklists, config.timezone, None,
                             groups=config.group_names)
        if result.policy is None:
            raise RuntimeError(f"the shipped lists do not load: {result.problems}")
        holder = PolicyHolder(result.policy)
        chain = tuple(FuzzedUpstream if stage is UpstreamStage else stage for stage in CHAIN)
        self.pipeline = Pipeline.from_config(config, holder, lambda: {"fuzz": True}, chain)
        self.our_size = config.server.edns_udp_size
        self.upstream = self.pipeline.stage(FuzzedUpstream)
        self.cache = self.pipeline.stage(CacheStage)
        self.repeat = self.pipeline.stage(RepeatStage)
        # two configs that differ only in the cache's size: reconfiguring the cache stage
        # with the other one gives it a new, empty cache (counters carry on, as they may)
        cache = config.cache
        self.configs = (config, config.with_overrides(**{
            "cache.max_entries": cache.max_entries + 1}))
        self.flip = 0
        self.cached = [(query, response) for query, response in
                       ((parse_query(q), r) for q, r in cached_answers()) if query is not None]
        self.errors = ErrorLog()
        logger = logging.getLogger("dnsfence")
        logger.addHandler(self.errors)
        logger.propagate = False

    def reset(self, now: float) -> None:
        """An empty repeat stage and a cache with `cached_answers` only."""
        self.flip ^= 1
        config = self.configs[self.flip]
        self.cache.reconfigure(config)
        self.repeat.reconfigure(config)
        for query, response in self.cached:
            self.cache.store(query, response, now)
        self.upstream.passed.clear()

    def ask(self, clock: Clock, query: bytes, client: str, now: float, tcp: bool
            ) -> bytes | None:
        """The chain's answer to one query, forwarded when it must be."""
        result = clock.timed(lambda: self.pipeline.handle(query, client, now, tcp))
        if not isinstance(result, Request):
            return result or None
        request = result
        replies: list[bytes] = []
        clock.timed(lambda: self.pipeline.forward(request, replies.append))
        if len(replies) != 1:
            raise Finding(f"forward replied {len(replies)} times")
        return replies[0]

    def run(self, data: bytes, clock: Clock) -> None:
        control, query, upstream = split(data)
        tcp = bool(control & TCP)
        client = CLIENTS[(control >> 1) & 3]
        self.upstream.message = upstream
        self.upstream.shape = bool(control & SHAPED)
        now = time.time()
        self.reset(now)
        must_answer = client != LIMITED and expects_answer(read_framing(query))
        for index in range(3):
            answer = self.ask(clock, query, client, now + index * (control >> 4), tcp)
            self.errors.raise_if_any()
            if answer is None:
                if must_answer:
                    raise Finding(f"no answer to a query dnspython reads (ask {index + 1}, "
                                  f"client {client}): {query.hex()}")
                continue
            check_answer(query, answer, tcp=tcp, our_size=self.our_size,
                         relayed=self.upstream.passed)


_chain: list[Chain] = []


def prepare() -> Chain:
    """The target's chain, built on first use."""
    if not _chain:
        _chain.append(Chain())
    return _chain[0]


def one(data: bytes) -> float:
    """Check one input; the CPU seconds the code under test took for it."""
    chain = prepare()
    return within_budget(lambda clock: chain.run(data, clock), data)


def seeds() -> Iterator[bytes]:
    """Each real query with a plain answer, each real (query, response) pair, each real
    response as the answer to a made query, and the made queries and upstream shapes; over
    UDP and TCP, and from each client for the made queries."""
    for path in regressions("chain"):
        yield path.read_bytes()
    plain = dns.message.make_query("www.example.com", "A", use_edns=0).to_wire()
    for pair in real_packets():
        response = pair.response or answer_to(pair.query)
        yield join(SHAPED, pair.query, without_question(response) if response else b"")
        yield join(SHAPED | TCP, plain, without_question(pair.query))
    for pair in made_queries():
        response = answer_to(pair.query)
        upstream = without_question(response) if response else b""
        for client in range(len(CLIENTS)):
            yield join(SHAPED | (client << 1) | (0x10 if client else 0), pair.query, upstream)
        yield join(SHAPED | TCP, pair.query, upstream)
    for pair in upstream_shapes():
        assert pair.response is not None
        for control in (SHAPED, SHAPED | TCP, SHAPED | 0x30):
            yield join(control, pair.query, without_question(pair.response))
        yield join(0, pair.query, pair.response)  # as it is: it echoes the question
