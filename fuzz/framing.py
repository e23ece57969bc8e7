"""A message's framing, read independently of both dnsfence and dnspython.

For the answers that relay an upstream's records: dnspython refuses records whose contents
break a type's rules, which a forwarder relays without vouching for them, yet the framing
(counts, names that end, nothing after the last record, one OPT at most, in the additional
section) must hold whatever the upstream sent, or a client reads our own OPT as garbage.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

TYPE_OPT = 41
TYPE_SOA = 6
SOA_FIXED = 20


@dataclass(frozen=True, slots=True)
class Framing:
    """Where a message's records keep their TTLs (and SOA MINIMUMs), or why it is not well
    framed."""

    problem: str | None
    ttl_offsets: tuple[int, ...] = ()
    question_end: int = 12


def framing(wire: bytes) -> Framing:
    """Walk the header counts' questions and records; names are walked, their pointers
    bounds-checked but not followed."""
    size = len(wire)
    if size < 12:
        return Framing("shorter than a header")
    qdcount, ancount, nscount, arcount = struct.unpack_from(">4H", wire, 4)

    def skip_name(pos: int) -> int:
        while pos < size:
            length = wire[pos]
            if length >= 0xC0:
                if pos + 2 > size:
                    break
                return pos + 2
            if length > 63:
                raise ValueError(f"label type 0x{length & 0xC0:02x} at {pos}")
            if length == 0:
                return pos + 1
            pos += 1 + length
        raise ValueError("a name runs past the end")

    ttls = []
    opts = 0
    try:
        pos = 12
        for _ in range(qdcount):
            pos = skip_name(pos) + 4
        question_end = pos
        for index in range(ancount + nscount + arcount):
            pos = skip_name(pos)
            if pos + 10 > size:
                return Framing(f"record {index} cut short")
            rtype, rdlength = struct.unpack_from(">H6xH", wire, pos)
            if rtype == TYPE_OPT:
                if index < ancount + nscount:
                    return Framing(f"an OPT as record {index}, outside the additional section")
                opts += 1
            else:
                ttls.append(pos + 4)
                if rtype == TYPE_SOA and rdlength >= SOA_FIXED + 2:
                    ttls.append(pos + 10 + rdlength - 4)
            pos += 10 + rdlength
    except ValueError as exc:
        return Framing(str(exc))
    if pos != size:
        return Framing(f"{size - pos} bytes after the last record" if pos < size
                       else "the last record is cut short")
    return Framing("more than one OPT" if opts > 1 else None, tuple(ttls), question_end)


def relay_problem(upstream: bytes, answer: bytes) -> str | None:
    """How `answer` differs from a faithful relay of the upstream's message, or None.

    A forwarder may rewrite the header's ID and flags, add its own OPT (ARCOUNT one more),
    and lower TTLs and SOA MINIMUMs (a cache counts them down); the question keeps its
    bytes but for letter case (the client's own). Everything else must be the upstream's,
    byte for byte. An answer that relays the upstream's records this way carries whatever
    dnspython refused in them (a type's rules broken, or a compression pointer into the
    header or a TTL, whose bytes a forwarder rewrites): that is not the forwarder's doing.
    """
    shape = framing(upstream)
    if shape.problem is not None:
        return f"the upstream's message is not well framed ({shape.problem})"
    problem = framing(answer).problem
    if problem is not None:
        return f"not well framed ({problem})"
    if answer[4:10] != upstream[4:10]:
        return "other question, answer or authority counts"
    extra = struct.unpack_from(">H", answer, 10)[0] - struct.unpack_from(">H", upstream, 10)[0]
    if extra not in (0, 1):
        return f"{extra} additional records more than the upstream's"
    if len(answer) < len(upstream):
        return "shorter than the upstream's message"
    ttls = set(shape.ttl_offsets)
    at = 12
    while at < len(upstream):
        if at in ttls:
            ours, theirs = (struct.unpack_from(">I", m, at)[0] for m in (answer, upstream))
            if ours > theirs:
                return f"a TTL raised from {theirs} to {ours} at {at}"
            at += 4
            continue
        if answer[at] != upstream[at] and (at >= shape.question_end or
                                          answer[at] | 0x20 != upstream[at] | 0x20
                                          or not 0x61 <= answer[at] | 0x20 <= 0x7A):
            return f"byte {at} changed"
        at += 1
    return None
