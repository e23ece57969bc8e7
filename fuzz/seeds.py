"""The packets fuzzing starts from: real captures and other fuzzers' seeds, plus queries made
here for the names the shipped lists and the example config decide on.

Real packets come from two places: a small copy in the repository (`tests/data/fuzz-seeds`,
always there) and the shared corpora next to the checkout (`../shared/corpora/packets`, or
`$DNSFENCE_CORPORA/packets`), used when present. Both hold raw messages, dnsperf TCP-stream
blobs (2-octet length, message, repeated), dnsperf query files ("name TYPE" lines) and
Unbound's capture files (blank-line-separated groups: a query, then its response, in hex).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

REPO = Path(__file__).resolve().parent.parent
IN_REPO = REPO / "tests" / "data" / "fuzz-seeds"
REGRESSIONS = REPO / "tests" / "data" / "fuzz-regressions"
"""Inputs that once broke a property (named `TARGET-what-broke`), kept as seeds and replayed
by the tests."""
CORPORA = Path(os.environ.get("DNSFENCE_CORPORA", REPO.parent / "shared" / "corpora"))
SHARED = CORPORA / "packets"

NAMES = (
    "www.example.com", "tiktok.com", "www.tiktok.com", "v16.tiktokcdn.com",
    "newsroom.tiktok.com", "mask.icloud.com", "use-application-dns.net",
    "intranet.corp.example.eu", "wiki.corp.example.eu", "corp.example.eu",
    "_ldap._tcp.corp.example.eu", "printer.corp.example.eu", "x.lab.corp.example.eu",
    "80.0.0.10.in-addr.arpa", "1.0.0.127.in-addr.arpa", "localhost", "resolver.arpa",
    "_dns.resolver.arpa", "foo.invalid", "cached.example.net", "alias.example.net",
    "big.example.net", "status.dnsfence", "",
)
"""Names the chain answers in different ways: blocked, allowed beside a blocked name, local
records and zones of the example config, special-use names, the cache's own entries."""
TYPES = ("A", "AAAA", "TXT", "MX", "SRV", "PTR", "CNAME", "ANY", "AXFR", "HTTPS", "SOA", "NS",
         "TYPE0", "TYPE65535")


@dataclass(frozen=True, slots=True)
class Pair:
    """A query, and an upstream's message for it (None: the seed has none)."""

    name: str
    query: bytes
    response: bytes | None = None


def split_blob(data: bytes) -> Iterator[bytes]:
    """The messages of a dnsperf TCP-stream blob (a short last one as it is)."""
    pos = 0
    while pos + 2 <= len(data):
        (size,) = struct.unpack_from(">H", data, pos)
        yield data[pos + 2:pos + 2 + size]
        pos += 2 + size


def unbound_pairs(text: str) -> Iterator[tuple[bytes, bytes | None]]:
    """(query, response) of each group of an Unbound capture file."""
    for group in text.split("\n\n"):
        packets = []
        for line in group.split():
            try:
                packets.append(bytes.fromhex(line))
            except ValueError:
                continue
        packets = [p for p in packets if len(p) >= 12]
        if packets:
            yield packets[0], packets[1] if len(packets) > 1 else None


def perf_queries(text: str) -> Iterator[bytes]:
    """Queries for the "name TYPE" lines of a dnsperf query file that dnspython can make."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        try:
            yield dns.message.make_query(parts[0], parts[1], use_edns=0).to_wire()
        except (dns.exception.DNSException, ValueError):
            continue


def _directory(root: Path) -> Iterator[Pair]:
    if not root.is_dir():
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        name = str(path.relative_to(root))
        if path.suffix == ".blob":
            for index, message in enumerate(split_blob(data)):
                yield Pair(f"{name}@{index}", message)
        elif path.name.startswith("test_packets."):
            for index, (query, response) in enumerate(
                    unbound_pairs(data.decode("ascii", "replace"))):
                yield Pair(f"{name}#{index}", query, response)
        elif path.name.startswith(("datafile", "updatefile")):
            for index, query in enumerate(perf_queries(data.decode("utf-8", "replace"))):
                yield Pair(f"{name}:{index}", query)
        else:
            yield Pair(name, data)


MAX_MESSAGE = 65_535
"""No DNS message is longer, over UDP or TCP; longer files are fuzzer seeds of other kinds."""


def real_packets() -> list[Pair]:
    """The repository's copy first, then the shared corpora when they are there."""
    return [pair for pair in (*_directory(IN_REPO), *_directory(SHARED))
            if len(pair.query) <= MAX_MESSAGE]


def regressions(target: str) -> list[Path]:
    """The kept inputs of one target."""
    return sorted(REGRESSIONS.glob(f"{target}-*"))


def answer_to(query: bytes, ttl: int = 300) -> bytes | None:
    """An upstream's plain answer (one A record) to `query`, or None if dnspython cannot
    read the query."""
    try:
        message = dns.message.from_wire(query)
    except dns.exception.DNSException:
        return None
    if len(message.question) != 1 or message.flags & dns.flags.QR:
        return None
    response = dns.message.make_response(message)
    response.use_edns(False)
    question = message.question[0]
    response.answer.append(dns.rrset.from_text(question.name, ttl, "IN", "A", "192.0.2.1"))
    return response.to_wire()


def made_queries() -> Iterator[Pair]:
    """Every name of NAMES with each type of TYPES, with and without EDNS and DO, and in
    the CHAOS class for the status name."""
    qid = 0
    for name in NAMES:
        for rdtype in TYPES:
            for edns, dnssec in ((False, False), (0, False), (0, True)):
                qid += 1
                message = dns.message.make_query(name or ".", rdtype, use_edns=edns,
                                                 want_dnssec=dnssec)
                message.id = qid
                yield Pair(f"made:{name}/{rdtype}/{edns}/{dnssec}", message.to_wire())
    status = dns.message.make_query("status.dnsfence", "TXT", "CH", use_edns=0)
    yield Pair("made:status", status.to_wire())


def upstream_shapes() -> Iterator[Pair]:
    """Upstream messages that take the chain's other paths: a CNAME into a blocked name, a
    DNAME, NXDOMAIN with a SOA, a message too big for UDP, an error RCODE."""
    query = dns.message.make_query("www.example.com", "A", use_edns=0)
    question = query.question[0].name

    def response(rcode: int = 0, *records: tuple[str, str, str]) -> bytes:
        message = dns.message.make_response(query)
        message.use_edns(False)
        message.set_rcode(dns.rcode.Rcode(rcode))
        for owner, rdtype, text in records:
            section = message.authority if rdtype == "SOA" else message.answer
            section.append(dns.rrset.from_text(owner, 300, "IN", rdtype, text))
        return message.to_wire()

    yield Pair("shape:cname", query.to_wire(), response(
        0, ("www.example.com.", "CNAME", "v16.tiktokcdn.com."),
        ("v16.tiktokcdn.com.", "A", "192.0.2.9")))
    yield Pair("shape:dname", query.to_wire(), response(
        0, ("example.com.", "DNAME", "tiktok.com."),
        ("www.example.com.", "CNAME", "www.tiktok.com."), ("www.tiktok.com.", "A", "192.0.2.4")))
    yield Pair("shape:nxdomain", query.to_wire(), response(
        3, ("example.com.", "SOA", "ns.example.com. h.example.com. 1 3600 600 86400 60")))
    yield Pair("shape:refused", query.to_wire(), response(5))
    big = dns.message.make_response(query)
    big.use_edns(False)
    big.answer.append(dns.rrset.from_text_list(
        question, 300, "IN", "TXT", [f'"padding {i:03d} {"x" * 40}"' for i in range(60)]))
    yield Pair("shape:big", query.to_wire(), big.to_wire(max_size=65535))
