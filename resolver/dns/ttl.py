"""Capping every TTL in a message, so downstream caches forget an answer on time.

Used only for names whose policy changes soon (the rare path): before a ban starts
at T, no client or office resolver may keep an answer past T.
"""

from __future__ import annotations

import struct
from typing import Final

from resolver.dns.wire import TYPE_OPT, MalformedMessage, skip_name

_HEADER: Final = struct.Struct(">HHHHHH")
_RR_FIXED: Final = struct.Struct(">HHIH")
_U32: Final = struct.Struct(">I")
_TYPE_SOA: Final = 6


def cap_ttls(message: bytes, cap: int) -> bytes:
    """`message` with every record TTL (and every SOA MINIMUM) at most `cap` seconds.

    The OPT pseudo-record is left alone (its TTL field holds flags). A message that
    cannot be walked is returned unchanged: the caller only ever passes messages it
    already parsed, so this is a safety net, not a path.
    """
    if cap < 0:
        cap = 0
    try:
        _id, _flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(message)
        out = bytearray(message)
        pos = 12
        for _ in range(qdcount):
            pos = skip_name(message, pos) + 4
        for _ in range(ancount + nscount + arcount):
            pos = skip_name(message, pos)
            rtype, _rclass, ttl, rdlength = _RR_FIXED.unpack_from(message, pos)
            rdata = pos + 10
            end = rdata + rdlength
            if end > len(message):
                raise MalformedMessage("record data runs past the end")
            if rtype != TYPE_OPT:
                if ttl > cap:
                    _U32.pack_into(out, pos + 4, cap)
                if rtype == _TYPE_SOA and rdlength >= 20:
                    minimum = _U32.unpack_from(message, end - 4)[0]
                    if minimum > cap:
                        _U32.pack_into(out, end - 4, cap)
            pos = end
    except (struct.error, MalformedMessage):
        return message
    return bytes(out)
