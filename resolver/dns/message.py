"""The DNS message layout, declared once: header bits, record types, struct layouts, one walker.

Everything else in dnsfence that touches message bytes (the query readers, the rewrites,
the cache, the forwarder) takes its constants and structs from here, and walks records
with `records`, so a layout detail is written down in exactly one place.
"""

from __future__ import annotations

import enum
import struct
from typing import Final

# Header flag bits (RFC 1035 4.1.1, RFC 4035 3.2).
QR: Final = 0x8000
OPCODE_MASK: Final = 0x7800
AA: Final = 0x0400
TC: Final = 0x0200
RD: Final = 0x0100
RA: Final = 0x0080
AD: Final = 0x0020
CD: Final = 0x0010
RCODE_MASK: Final = 0x000F
QR_IN_BYTE2: Final = QR >> 8
"""QR as seen in byte 2 of the header alone: a reply check reads one byte, not two."""
TC_IN_BYTE2: Final = TC >> 8

TYPE_CNAME: Final = 5
TYPE_SOA: Final = 6
TYPE_DNAME: Final = 39
TYPE_OPT: Final = 41
CLASS_IN: Final = 1
EDNS_DO: Final = 0x8000
"""The DO bit inside the flags half of the OPT TTL field (RFC 3225)."""

DEFAULT_UDP_SIZE: Final = 1232
"""dnsfence's own advertised payload size: DNS Flag Day 2020's value, safe from fragmentation."""
MAX_UDP_WITHOUT_EDNS: Final = 512
"""RFC 1035 4.2.1; also the floor of any EDNS payload size (RFC 6891 6.2.5)."""
MAX_TCP_MESSAGE: Final = 65_535
"""The two-octet length prefix of DNS over TCP (RFC 7766 8)."""

MAX_NAME_WIRE: Final = 255
MAX_LABEL: Final = 63
MAX_TTL: Final = 0x7FFFFFFF
"""RFC 2181 8: a TTL with the top bit set means zero."""
SOA_FIXED_LEN: Final = 20
"""SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM: the last 20 octets of an SOA's RDATA."""


class Rcode(enum.IntEnum):
    """Response codes dnsfence sends or acts on; BADVERS only exists as an extended code."""

    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5
    YXDOMAIN = 6
    BADVERS = 16


def rcode_name(rcode: int) -> str:
    """The mnemonic of an RCODE (RFC 6895's registry), or RCODE<n> for one not listed."""
    return _RCODE_NAMES.get(rcode) or f"RCODE{rcode}"


_RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
                5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH",
                10: "NOTZONE", 16: "BADVERS"}


class MalformedMessage(ValueError):
    """A message that cannot be read; the text says where it goes wrong."""


HEADER: Final = struct.Struct(">HHHHHH")
"""ID, flags, QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT."""
COUNTS: Final = struct.Struct(">HHHH")
U16: Final = struct.Struct(">H")
TWO_U16: Final = struct.Struct(">HH")
"""ID and flags, or a question's TYPE and CLASS, or an EDNS option's code and length."""
U32: Final = struct.Struct(">I")
RR_FIXED: Final = struct.Struct(">HHIH")
"""TYPE, CLASS, TTL, RDLENGTH: what follows an RR's owner name."""
OPT_FIXED: Final = struct.Struct(">BHHBBHH")
"""Root owner, TYPE, CLASS (= UDP size), extended RCODE, version, flags, RDLENGTH."""
OPT_BEFORE_RDLENGTH: Final = struct.Struct(">BHHBBH")
"""`OPT_FIXED` without RDLENGTH, for answers whose RDLENGTH and RDATA are encoded once."""
SOA_NUMBERS: Final = struct.Struct(">IIIII")
"""SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM."""


def response_rcode(response: bytes) -> int:
    """The 4-bit header RCODE of a wire response (the OPT extension bits are not included)."""
    return response[3] & RCODE_MASK


def skip_name(data: bytes, pos: int) -> int:
    """Offset just past the (possibly compressed) name at `pos`; MalformedMessage if unreadable.

    A pointer ends the name; its target is bounds-checked, not followed.
    """
    size = len(data)
    while True:
        if pos >= size:
            raise MalformedMessage(f"name runs past the end of the message at offset {pos}")
        length = data[pos]
        if length == 0:
            return pos + 1
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= size:
                raise MalformedMessage(f"compression pointer cut short at offset {pos}")
            if (((length & 0x3F) << 8) | data[pos + 1]) >= size:
                raise MalformedMessage(f"compression pointer at offset {pos} points outside")
            return pos + 2
        if kind:
            raise MalformedMessage(f"label type 0x{kind:02x} at offset {pos} is not supported")
        pos += 1 + length


def skip_questions(data: bytes, count: int) -> int:
    """Offset just past the `count` questions that follow the header."""
    pos = 12
    for _ in range(count):
        pos = skip_name(data, pos) + 4
    if pos > len(data):
        raise MalformedMessage("question cut short")
    return pos


Record = tuple[int, int, int, int, int]
"""(offset of the owner name, TYPE, TTL, offset of RDATA, offset after the record).

The TTL field itself sits at RDATA - 6; CLASS (an OPT's UDP size) at RDATA - 8."""

Framed = tuple[bytes, int, list[Record]]
"""A message as one walk found it: (the message, the offset after its question, every one
of its records, framed by `records`). Handed on by the code that walked the message to the
code that reads it next, which takes it only for the very same bytes object, so that a
message coming back from the upstream is walked once, not once per reader."""


def records(data: bytes, pos: int, count: int) -> list[Record]:
    """The next `count` resource records from `pos`; MalformedMessage if one cannot be framed.

    The one record walker: the cache, TTL capping, OPT removal, truncation and the careful
    query reader all frame records with it. It does not look past the last record: what
    follows is for the caller to judge. A list of tuples, not a generator or objects: the
    cache stores every forwarded answer through here, and a tuple per record is cheapest.
    """
    size = len(data)
    unpack = RR_FIXED.unpack_from
    found: list[Record] = []
    append = found.append
    start = pos
    try:
        for _ in range(count):
            start = pos
            if data[pos] >= 0xC0:  # the usual owner: one pointer, no labels
                if ((data[pos] & 0x3F) << 8 | data[pos + 1]) >= size:
                    raise MalformedMessage(f"compression pointer at offset {pos} points outside")
                pos += 2
            else:
                pos = skip_name(data, pos)
            rtype, _, ttl, rdlength = unpack(data, pos)
            rdata = pos + 10
            pos = rdata + rdlength
            if pos > size:
                raise MalformedMessage(f"record data runs past the end of the message at {start}")
            append((start, rtype, ttl, rdata, pos))
    except (IndexError, struct.error):  # cheaper than checking bounds before each read
        raise MalformedMessage(f"record cut short at offset {start}") from None
    return found
