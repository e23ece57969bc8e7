"""Building DNS messages for the dns tests: with dnspython, or byte by byte for odd ones.

Imported by basename: tests/dns has no __init__.py, since a package named `dns` there would
hide dnspython.
"""

from __future__ import annotations

import struct
import types
from collections.abc import Sequence
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from resolver.dns import query as query_module
from resolver.dns.query import (
    Query,
    Reject,
    Rejection,
    classify,
    parse_query,
)

CORPORA = Path("/work/shared/corpora/packets")


def make_query(
    name: str | dns.name.Name,
    rdtype: int = dns.rdatatype.A,
    rdclass: int = dns.rdataclass.IN,
    *,
    qid: int = 0x1234,
    flags: int = dns.flags.RD,
    edns: int = -1,
    do: bool = False,
    payload: int = 1232,
    options: Sequence[dns.edns.Option] = (),
) -> bytes:
    qname = dns.name.from_text(name) if isinstance(name, str) else name
    msg = dns.message.Message(id=qid)
    msg.flags = flags
    msg.find_rrset(
        msg.question,
        qname,
        dns.rdataclass.RdataClass.make(rdclass),
        dns.rdatatype.RdataType.make(rdtype),
        create=True,
        force_unique=True,
    )
    if edns >= 0:
        msg.use_edns(edns, dns.flags.DO if do else 0, payload, options=list(options))
    return msg.to_wire()


def wire_of(name: dns.name.Name) -> bytes:
    wire = name.to_wire()
    assert wire is not None
    return wire


def fast_reads(data: bytes) -> list[Query | None]:
    """parse_query(data) each way it can read the fixed fields: by struct and by indexing
    when it runs as source (both set by hand here), the build's own way when compiled."""
    if not isinstance(parse_query, types.FunctionType):
        return [parse_query(data)]
    chosen = query_module._NATIVE
    try:
        found = []
        for native in (False, True):
            vars(query_module)["_NATIVE"] = native
            found.append(parse_query(data))
        return found
    finally:
        vars(query_module)["_NATIVE"] = chosen


def read(data: bytes) -> Query | Rejection:
    """classify(data), after checking that the fast path agrees wherever it answers."""
    careful = classify(data)
    for fast in fast_reads(data):
        if fast is not None:
            assert fast == careful
    return careful


def accepted(data: bytes) -> Query:
    result = read(data)
    assert isinstance(result, Query), result
    return result


def rejected(data: bytes, action: Reject) -> Rejection:
    assert not any(fast_reads(data))
    result = classify(data)
    assert isinstance(result, Rejection), result
    assert result.action is action, result
    return result


def expected_qname(name: dns.name.Name) -> str:
    """Query.qname's spelling, written independently of the code under test."""
    allowed = b"abcdefghijklmnopqrstuvwxyz0123456789-_"
    out = []
    for label in name.labels:
        if not label:
            continue
        text = ""
        for byte in label.lower():
            text += chr(byte) if byte in allowed else f"\\{byte:03d}"
        out.append(text)
    return ".".join(out)


def header(
    qid: int = 1, flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0
) -> bytes:
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def opt_rr(
    udp: int = 1232, version: int = 0, flags: int = 0, rdata: bytes = b"", owner: bytes = b"\0"
) -> bytes:
    return owner + struct.pack(">HHBBHH", 41, udp, 0, version, flags, len(rdata)) + rdata


def rr(owner: bytes, rtype: int, rdata: bytes, ttl: int = 300) -> bytes:
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata

WWW_EXAMPLE = b"\x03www\x07example\x03com\x00"

A_IN = b"\x00\x01\x00\x01"


def corpus_messages() -> list[tuple[str, bytes]]:
    """Every packet in the shared corpora: raw files, TCP streams split, hex lines decoded."""
    found: list[tuple[str, bytes]] = []
    for path in sorted(p for p in CORPORA.rglob("*") if p.is_file()):
        data = path.read_bytes()
        name = str(path.relative_to(CORPORA))
        found.append((name, data))
        if path.suffix == ".blob":  # dnsperf: 2-octet length, message, repeated
            pos = 0
            while pos + 2 <= len(data):
                (length,) = struct.unpack_from(">H", data, pos)
                found.append((f"{name}@{pos}", data[pos + 2 : pos + 2 + length]))
                pos += 2 + length
        if path.parent.name == "unbound-test_packets":  # hex text, one packet a line
            for number, line in enumerate(data.decode("ascii", "replace").splitlines()):
                line = line.strip()
                if line and all(c in "0123456789abcdefABCDEF" for c in line) and len(line) % 2 == 0:
                    found.append((f"{name}:{number + 1}", bytes.fromhex(line)))
    return found

needs_corpora = pytest.mark.skipif(not CORPORA.is_dir(), reason=f"{CORPORA} is absent")


def response_with(*, edns: bool, extra: int = 2) -> dns.message.Message:
    query = dns.message.from_wire(make_query("www.example.com", edns=0 if edns else -1))
    response = dns.message.make_response(query)
    response.answer.append(
        dns.rrset.from_text("www.example.com.", 300, "IN", "CNAME", "web.example.net.")
    )
    response.answer.append(
        dns.rrset.from_text("web.example.net.", 60, "IN", "A", "192.0.2.1", "192.0.2.2")
    )
    response.authority.append(
        dns.rrset.from_text("example.net.", 300, "IN", "NS", "ns1.example.net.")
    )
    if extra:
        response.additional.append(
            dns.rrset.from_text(
                "ns1.example.net.", 300, "IN", "A", *[f"192.0.2.{i}" for i in range(extra)]
            )
        )
    return response
