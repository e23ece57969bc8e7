"""Answers to packets that are not usable queries, built from the raw bytes: FORMERR,
NOTIMP, REFUSED for NOTIFY, and the dispatch on `classify`'s verdict.

They follow what Unbound sends, as ISC's EDNS compliance tester sees it: the ID, opcode,
RD and CD copied; every question echoed as sent when the section can be read (uncompressed,
so nothing points outside it); an OPT with our payload size and the DO bit copied when
the query had exactly one readable OPT (a client that speaks EDNS learns our size even
from an error); RA clear on FORMERR and NOTIMP (nothing was recursed) and set on the
REFUSED for NOTIFY (this is a recursive service that takes no zone notifications).
"""

from __future__ import annotations

from resolver.dns import message
from resolver.dns.answers import badvers
from resolver.dns.message import (
    CD,
    DEFAULT_UDP_SIZE,
    EDNS_DO,
    OPCODE_MASK,
    QR,
    RA,
    RD,
    TC,
    TYPE_OPT,
    MalformedMessage,
    Rcode,
    records,
)
from resolver.dns.names import labels_wire, read_name
from resolver.dns.query import Reject, Rejection
from resolver.dns.rewrite import opt_record

HEADER = message.HEADER
U16 = message.U16

_MAX_ECHOED = 8
"""Questions echoed at most: a FORMERR is not worth walking 65,535 of them."""
_MAX_RECORDS = 64
"""Records walked at most to find the OPT (a query has one or two)."""


def _questions(data: bytes, count: int) -> tuple[bytes, int, int]:
    """(the questions, uncompressed; how many; the offset after them), or (b"", 0, -1)
    when the section cannot be read whole."""
    if count > _MAX_ECHOED:
        return b"", 0, -1
    pos = 12
    parts = []
    try:
        for _ in range(count):
            labels, pos = read_name(data, pos)
            if pos + 4 > len(data):
                return b"", 0, -1
            parts.append(labels_wire(labels) + data[pos:pos + 4])
            pos += 4
    except MalformedMessage:
        return b"", 0, -1
    return b"".join(parts), count, pos


def _edns_do(data: bytes, pos: int, counts: tuple[int, int, int]) -> bool | None:
    """The DO bit of the query's only OPT record, or None when it has none, several, or
    the records after the questions cannot be framed."""
    total = sum(counts)
    if pos < 0 or not counts[2] or total > _MAX_RECORDS:
        return None
    try:
        found = records(data, pos, total)
    except MalformedMessage:
        return None
    opts = [r for r in found[counts[0] + counts[1]:] if r[1] == TYPE_OPT]
    if len(opts) != 1:
        return None
    return bool(opts[0][2] & EDNS_DO)


def _from_raw(data: bytes, rcode: int, udp_size: int, *, recursion: bool,
              extra_flags: int = 0) -> bytes | None:
    if len(data) < 12:
        return None
    qid, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
    flags = QR | (RA if recursion else 0) | (flags & (OPCODE_MASK | RD | CD)) | rcode \
        | extra_flags
    questions, echoed, end = _questions(data, qdcount)
    do = _edns_do(data, end, (ancount, nscount, arcount))
    if do is None:
        return HEADER.pack(qid, flags, echoed, 0, 0, 0) + questions
    return HEADER.pack(qid, flags, echoed, 0, 0, 1) + questions + opt_record(udp_size, do)


def formerr(data: bytes, udp_size: int = DEFAULT_UDP_SIZE) -> bytes | None:
    """FORMERR built from the raw packet; None if there is no header to copy."""
    return _from_raw(data, Rcode.FORMERR, udp_size, recursion=False)


def notimp(data: bytes, udp_size: int = DEFAULT_UDP_SIZE) -> bytes | None:
    """NOTIMP for an opcode this server does not implement, built like `formerr`."""
    return _from_raw(data, Rcode.NOTIMP, udp_size, recursion=False)


def refused(data: bytes, udp_size: int = DEFAULT_UDP_SIZE) -> bytes | None:
    """REFUSED for a NOTIFY: the opcode is known, and declined."""
    return _from_raw(data, Rcode.REFUSED, udp_size, recursion=True)


def truncated(data: bytes, udp_size: int = DEFAULT_UDP_SIZE) -> bytes | None:
    """An empty answer with TC set: "ask again over TCP", which a real client does and a
    spoofed flood cannot (the rate limit's slip, as BIND's RRL sends it)."""
    return _from_raw(data, Rcode.NOERROR, udp_size, recursion=True, extra_flags=TC)


def rejection(verdict: Rejection, data: bytes, udp_size: int = DEFAULT_UDP_SIZE) -> bytes | None:
    """The answer `classify`'s verdict calls for, or None when the packet is to be dropped."""
    action = verdict.action
    if action is Reject.FORMERR:
        return formerr(data, udp_size)
    if action is Reject.NOTIMP:
        return notimp(data, udp_size)
    if action is Reject.REFUSED:
        return refused(data, udp_size)
    if action is Reject.BADVERS and verdict.query is not None:
        return badvers(verdict.query, udp_size)
    return None
