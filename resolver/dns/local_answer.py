"""Answers from the office's own records: encoded once per (name, type), rendered per query.

Like `answers.BlockedTemplate`, everything that depends on the name and type alone (the
answer and authority records) is encoded when first asked for; `render` only packs the
header, joins the client's question (case kept) and adds an OPT. The question name's
records are owned by a compression pointer to the question (offset 12), so a client
that mixes case (0x20) sees its own spelling.

Local answers are authoritative (AA=1, as Unbound's local-data): dnsfence is the source
of these names. RA is set as in every answer dnsfence makes, RD and CD are copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from resolver.dns import message
from resolver.dns.answers import (
    SOA_EXPIRE,
    SOA_MNAME,
    SOA_REFRESH,
    SOA_RETRY,
    SOA_RNAME,
    SOA_SERIAL,
)
from resolver.dns.message import (
    AA,
    CD,
    CLASS_IN,
    MAX_TCP_MESSAGE,
    MAX_UDP_WITHOUT_EDNS,
    QR,
    RA,
    RD,
    TYPE_SOA,
)
from resolver.dns.names import name_to_wire
from resolver.dns.query import Query
from resolver.dns.rewrite import opt_record, truncate

# Bound here, not imported by name: a module attribute load per call costs (see answers).
HEADER = message.HEADER
RR_FIXED = message.RR_FIXED
SOA_NUMBERS = message.SOA_NUMBERS

QUESTION_NAME: Final = b"\xc0\x0c"
"""A compression pointer to the question's name, which starts right after the header."""
_COPIED: Final = RD | CD

_OPTS: dict[tuple[int, bool], bytes] = {}


def _opt(udp_size: int, do: bool) -> bytes:
    key = (udp_size, do)
    opt = _OPTS.get(key)
    if opt is None:
        opt = _OPTS[key] = opt_record(udp_size, do)
    return opt


def record(owner: bytes, rtype: int, ttl: int, rdata: bytes) -> bytes:
    """One resource record: `owner` already in wire form (or `QUESTION_NAME`)."""
    return owner + RR_FIXED.pack(rtype, CLASS_IN, ttl, len(rdata)) + rdata


def soa_record(owner: bytes, negative_ttl: int) -> bytes:
    """The SOA of a zone dnsfence answers for: the same made-up MNAME and RNAME as blocked
    answers (`answers.SOA_MNAME`), TTL and MINIMUM the negative TTL (RFC 2308 5)."""
    rdata = (name_to_wire(SOA_MNAME) + name_to_wire(SOA_RNAME)
             + SOA_NUMBERS.pack(SOA_SERIAL, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, negative_ttl))
    return record(owner, TYPE_SOA, negative_ttl, rdata)


@dataclass(frozen=True, slots=True)
class LocalAnswer:
    """One answer to one (name, type): its RCODE and the records after the question."""

    rcode: int
    ancount: int
    nscount: int
    body: bytes
    """The answer section, then the authority section, encoded."""
    ttl: int
    """The largest TTL in it: a `ttl_cap` below it calls for capping."""
    targets: tuple[str, ...] = ()
    """The other names of a CNAME chain whose data the answer holds (the stage checks
    that none of them is blocked)."""
    _flags: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_flags", QR | AA | RA | self.rcode)

    def render(self, query: Query, udp_size: int, tcp: bool) -> bytes:
        """The answer to `query`; with EDNS, `udp_size` is what dnsfence advertises. Too big
        for the client's UDP size: header, question and OPT with TC=1 (it retries on TCP)."""
        flags = self._flags | (query.flags & _COPIED)
        edns = query.edns
        if edns is None:
            answer = b"".join((HEADER.pack(query.id, flags, 1, self.ancount, self.nscount, 0),
                               query.question, self.body))
            limit = MAX_TCP_MESSAGE if tcp else MAX_UDP_WITHOUT_EDNS
        else:
            answer = b"".join((HEADER.pack(query.id, flags, 1, self.ancount, self.nscount, 1),
                               query.question, self.body, _opt(udp_size, edns.do)))
            limit = MAX_TCP_MESSAGE if tcp else max(MAX_UDP_WITHOUT_EDNS,
                                                     min(edns.udp_size, udp_size))
        return answer if len(answer) <= limit else truncate(answer, limit)
