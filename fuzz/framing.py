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
    return Framing("more than one OPT" if opts > 1 else None, tuple(ttls))


def as_relayed(upstream: bytes, answer: bytes) -> bytes:
    """The upstream's message with the bytes a forwarder may rewrite (ID and flags, every
    TTL and SOA MINIMUM) taken from `answer`, which relays it.

    A name whose compression pointer lands in those bytes reads differently once they are
    rewritten: dnspython may have read such a message and refuse its relayed copy, and that
    is the upstream's doing, not ours (every cache counts TTLs down).
    """
    if len(answer) < len(upstream):
        return upstream
    out = bytearray(upstream)
    out[:4] = answer[:4]
    for offset in framing(upstream).ttl_offsets:
        out[offset:offset + 4] = answer[offset:offset + 4]
    return bytes(out)
