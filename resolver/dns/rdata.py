"""Record data of the types an office writes for its own names, in wire form.

Only the types `local.records` takes (A, AAAA, CNAME, TXT, MX, SRV, PTR): the values come
already checked and normalised by the config reader (names lower case, without the
trailing dot, "" for the root); this module only lays them out as RFC 1035 3.3, RFC 3596
and RFC 2782 say.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from resolver.dns import message
from resolver.dns.names import name_to_wire

U16 = message.U16

TYPE_A: Final = 1
TYPE_CNAME: Final[int] = message.TYPE_CNAME  # typed: a compiled build analyses this alone
TYPE_PTR: Final = 12
TYPE_MX: Final = 15
TYPE_TXT: Final = 16
TYPE_AAAA: Final = 28
TYPE_SRV: Final = 33
TYPE_ANY: Final = 255

TYPES: Final = {"A": TYPE_A, "AAAA": TYPE_AAAA, "CNAME": TYPE_CNAME, "TXT": TYPE_TXT,
                "MX": TYPE_MX, "SRV": TYPE_SRV, "PTR": TYPE_PTR}
"""The types a local record may have, by the name an admin writes."""
TYPE_NAMES: Final = {number: name for name, number in TYPES.items()}

MAX_STRING: Final = 255
"""A TXT character-string holds at most 255 octets (RFC 1035 3.3)."""


def address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    """A or AAAA RDATA: the address's 4 or 16 octets."""
    return ip.packed


def domain_name(name: str) -> bytes:
    """CNAME or PTR RDATA (never compressed: RFC 3597 4 lets no new reader rely on it)."""
    return name_to_wire(name)


def mx(preference: int, exchange: str) -> bytes:
    """MX RDATA: PREFERENCE, EXCHANGE ("" is the root: a null MX, RFC 7505)."""
    return U16.pack(preference) + name_to_wire(exchange)


def srv(priority: int, weight: int, port: int, target: str) -> bytes:
    """SRV RDATA: PRIORITY, WEIGHT, PORT, TARGET ("" is the root: no such service)."""
    return U16.pack(priority) + U16.pack(weight) + U16.pack(port) + name_to_wire(target)


def txt(text: str) -> bytes:
    """TXT RDATA of one text: UTF-8, cut into character-strings of 255 octets, which
    readers join again (RFC 7208 3.3 for SPF); "" is one empty string."""
    data = text.encode("utf-8")
    if not data:
        return b"\x00"
    return b"".join(bytes((len(chunk),)) + chunk
                    for chunk in (data[i:i + MAX_STRING] for i in range(0, len(data), MAX_STRING)))


def reverse_name(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The PTR owner of an address: d.c.b.a.in-addr.arpa, or nibbles in ip6.arpa."""
    return ip.reverse_pointer
