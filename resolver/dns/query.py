"""Reading queries: a fast reader for the common shape and a careful one for everything else.

dnslib takes tens of microseconds to parse a query; almost every real query is the plain
case `parse_query` reads, by hand with `struct`, in a fraction of that. Anything unusual
goes to `classify`, which is slower, follows the RFCs closely and says what to answer.
Both never raise on any input.
"""

from __future__ import annotations

import enum
import struct
import types
from dataclasses import dataclass
from typing import Final, NamedTuple

from resolver.dns import message
from resolver.dns.message import (
    CD,
    EDNS_DO,
    MAX_LABEL,
    OPCODE_MASK,
    QR,
    RD,
    TYPE_OPT,
    MalformedMessage,
    records,
)
from resolver.dns.names import HOSTNAME_BYTES, labels_text, labels_wire, read_name

# Bound here, not imported by name: CPython 3.11 compiles a method call on an imported
# name as a module attribute load, which makes a bound method per call (~30 ns). Final, so
# that the compiled build reads each from a C static rather than the module's dict.
HEADER: Final = message.HEADER
OPT_FIXED: Final = message.OPT_FIXED
TWO_U16: Final = message.TWO_U16
U16: Final = message.U16

_MAX_QUERY_RECORDS: Final = 16
"""A query carries an OPT and maybe a TSIG; walking thousands of records would be a CPU sink."""
_DOTTED: Final = bytes(
    b | 0x20 if 65 <= b <= 90 else b if b in HOSTNAME_BYTES else 46 for b in range(256))
"""A wire name (after its first length octet) into `Query.qname` text in one `translate`:
letters lower case, every other byte that is not a hostname byte a dot. So the name is
all hostname bytes exactly when the text has one dot per length octet (one per label
after the first), and it is then exact for the names the fast path takes: no label
length that is itself a hostname byte (45-57: '-' and the digits), which `parse_query`
leaves to `classify`."""
_TUPLE_NEW: Final = tuple.__new__
"""Building a `Query` through this C call skips the NamedTuple's own `__new__`, a Python
function (~0.2 µs a query); the tuple is the same."""


@dataclass(frozen=True, slots=True)
class Edns:
    """The requestor's OPT record, as far as an answer depends on it."""

    udp_size: int
    version: int
    do: bool

    @property
    def max_payload(self) -> int:
        """The largest UDP answer the requestor accepts; below 512 means 512 (RFC 6891 6.2.5)."""
        return max(512, self.udp_size)


class Query(NamedTuple):
    """A usable query: one question, opcode QUERY, at most one well-formed OPT.

    A NamedTuple rather than a frozen dataclass: one is built per packet, and a tuple is
    built in a third of the time.
    """

    id: int
    flags: int
    qname: str
    qtype: int
    qclass: int
    question: bytes
    """The question section as the client sent it (case kept), always uncompressed."""
    edns: Edns | None

    @property
    def rd(self) -> bool:
        return bool(self.flags & RD)

    @property
    def cd(self) -> bool:
        return bool(self.flags & CD)

    @property
    def do(self) -> bool:
        return self.edns is not None and self.edns.do


_QUERY: Final = Query
"""The class as a Final: the compiled build then reads it from a C static, not the dict."""


_NOTIFY: Final = 4


class Reject(enum.Enum):
    """What to do with a packet that is not a usable query."""

    DROP = "drop"
    """No answer: too short for a header, or a response (answering those invites loops)."""
    FORMERR = "formerr"
    NOTIMP = "notimp"
    REFUSED = "refused"
    """A NOTIFY: a known opcode this recursive service declines (as Unbound does)."""
    BADVERS = "badvers"


@dataclass(frozen=True, slots=True)
class Rejection:
    """`classify`'s verdict on an unusable packet; `reason` is for logs and metrics."""

    action: Reject
    reason: str
    query: Query | None = None
    """Set only for BADVERS, whose answer echoes the question and needs an OPT."""


def _options_well_formed(data: bytes, pos: int, end: int) -> bool:
    """True if data[pos:end] is a sequence of complete EDNS options (RFC 6891 6.1.2)."""
    while pos < end:
        if pos + 4 > end:
            return False
        pos += 4 + ((data[pos + 2] << 8) | data[pos + 3])
    return pos == end


_EDNS_SEEN: Final[dict[int, Edns]] = {}
"""Edns values by (UDP size, DO): clients use a handful, and reuse saves building one."""


def _runs_compiled() -> bool:
    """True in the compiled build, where this module's functions are not Python functions."""
    return not isinstance(_runs_compiled, types.FunctionType)


_NATIVE: Final = _runs_compiled()
"""Which way `parse_query` reads fixed fields. Compiled, `data[i]` is a native byte read
and a struct call a generic method call (~1.3 µs less per query by indexing); interpreted,
a dozen subscripts cost more than the one struct call, so each build takes its own way."""


def parse_query(data: bytes) -> Query | None:
    """Read the common query shape quickly, or return None to send the packet to `classify`.

    Accepts only: QR=0, opcode QUERY, QDCOUNT=1, ANCOUNT=NSCOUNT=0, ARCOUNT 0 or 1 (that one
    an OPT owned by the root, version 0, with well-formed options), an uncompressed question
    name of [A-Za-z0-9_-] labels none of which is 45 to 57 octets long, and nothing after
    the last record. Whatever it returns is
    exactly what `classify` returns for the same bytes. Never raises.
    """
    size = len(data)
    if size < 17:
        return None
    if _NATIVE:
        if (data[2] & 0xF8 or data[4] or data[5] != 1 or data[6] or data[7] or data[8]
                or data[9] or data[10] or data[11] > 1):
            return None
        qid = (data[0] << 8) | data[1]
        flags = (data[2] << 8) | data[3]
        arcount = data[11]
    else:
        qid, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
        if flags & 0xF800 or qdcount != 1 or ancount or nscount or arcount > 1:
            return None
    # One walk over the length octets only; the labels are checked and turned into text
    # by one `translate` over the whole name, not one slice and join per label.
    labels = 0
    pos = 12
    length = data[12]
    while length:
        if length > 44 and (length > MAX_LABEL or length < 58):
            return None  # over 63, or a length that reads as a hostname byte: `classify`
        pos += length + 1
        # pos is where the root octet goes: the name may span at most 255 octets (12 + 254).
        if pos >= size or pos > 266:
            return None
        labels += 1
        length = data[pos]
    qend = pos + 5
    if qend > size:
        return None
    if labels:
        # (ASCII whatever the bytes: `_DOTTED` turns each byte over 127 into a dot.)
        qname = data[13:pos].translate(_DOTTED).decode("ascii")
        # the dots must be the labels' own length octets, one per label after the first:
        # any byte in a label that is not a hostname byte makes one more
        if qname.count(".") != labels - 1:
            return None
    else:
        qname = ""
    if _NATIVE:
        qtype = (data[pos + 1] << 8) | data[pos + 2]
        qclass = (data[pos + 3] << 8) | data[pos + 4]
    else:
        qtype, qclass = TWO_U16.unpack_from(data, pos + 1)
    edns = None
    if arcount:
        if size - qend < 11:
            return None
        if _NATIVE:  # owner, TYPE, CLASS (the UDP size), TTL (rcode, version, flags), RDLENGTH
            if (data[qend] or ((data[qend + 1] << 8) | data[qend + 2]) != TYPE_OPT
                    or data[qend + 6]
                    or ((data[qend + 9] << 8) | data[qend + 10]) != size - qend - 11):
                return None
            udp_size = (data[qend + 3] << 8) | data[qend + 4]
            eflags = data[qend + 7] << 8  # (the low octet holds no flag read here)
        else:
            root, rtype, udp_size, _, version, eflags, rdlen = OPT_FIXED.unpack_from(data, qend)
            if root or rtype != TYPE_OPT or version or qend + 11 + rdlen != size:
                return None
        if size > qend + 11 and not _options_well_formed(data, qend + 11, size):
            return None
        key = (udp_size << 1) | (eflags >> 15)
        edns = _EDNS_SEEN.get(key)
        if edns is None:
            edns = Edns(udp_size, 0, bool(eflags & EDNS_DO))
            if len(_EDNS_SEEN) < 1024:
                _EDNS_SEEN[key] = edns
    elif qend != size:
        return None
    return _TUPLE_NEW(_QUERY, (qid, flags, qname, qtype, qclass, data[12:qend], edns))


def classify(data: bytes) -> Query | Rejection:
    """Read any packet carefully and say whether it is a usable query or how to refuse it.

    Rules, in order: under 12 bytes or QR=1 -> DROP; NOTIFY -> REFUSED; another opcode
    other than QUERY -> NOTIMP; QDCOUNT other than 1, or more than 16 other records ->
    FORMERR; any record that cannot be read, an OPT outside the additional section or not
    owned by the root, more than one OPT (RFC 6891 6.1.1), bad option framing, or bytes
    after the last record -> FORMERR;
    EDNS version above 0 -> BADVERS (RFC 6891 6.1.3). Other records (TSIG, SIG(0), stray
    answers) are framed and ignored; pointers in their names are bounds-checked, not
    followed. Never raises.
    """
    size = len(data)
    if size < 12:
        return Rejection(Reject.DROP, "shorter than a DNS header")
    qid, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
    if flags & QR:
        return Rejection(Reject.DROP, "a response, not a query")
    opcode = (flags & OPCODE_MASK) >> 11
    if opcode == _NOTIFY:
        return Rejection(Reject.REFUSED, "NOTIFY is not taken: this is a recursive service")
    if opcode:
        return Rejection(Reject.NOTIMP, f"opcode {opcode} is not supported")
    if qdcount != 1:
        return Rejection(Reject.FORMERR, f"QDCOUNT is {qdcount}, not 1")
    if ancount + nscount + arcount > _MAX_QUERY_RECORDS:
        return Rejection(Reject.FORMERR, f"{ancount + nscount + arcount} records in a query")
    try:
        return _read_query(data, qid, flags, ancount, nscount, arcount)
    except MalformedMessage as exc:
        return Rejection(Reject.FORMERR, str(exc))
    except (IndexError, struct.error) as exc:  # pragma: no cover - bounds are checked above
        return Rejection(Reject.FORMERR, f"unreadable message ({exc})")


def _read_query(
    data: bytes, qid: int, flags: int, ancount: int, nscount: int, arcount: int
) -> Query | Rejection:
    size = len(data)
    labels, pos = read_name(data, 12)
    if pos + 4 > size:
        raise MalformedMessage("question cut short")
    qtype, qclass = TWO_U16.unpack_from(data, pos)
    question = labels_wire(labels) + data[pos : pos + 4]
    pos += 4
    for index, record in enumerate(records(data, pos, ancount + nscount)):
        pos = record[4]
        if record[1] == TYPE_OPT:
            section = "answer" if index < ancount else "authority"
            raise MalformedMessage(f"OPT record in the {section} section")
    edns = None
    for start, rtype, ttl, rdata, end in records(data, pos, arcount):
        pos = end
        if rtype != TYPE_OPT:
            continue
        if edns is not None:
            raise MalformedMessage("more than one OPT record")
        owner, _ = read_name(data, start)
        if owner:
            raise MalformedMessage("OPT record not owned by the root")
        if not _options_well_formed(data, rdata, end):
            raise MalformedMessage("EDNS options overrun the OPT record")
        udp_size = (data[rdata - 8] << 8) | data[rdata - 7]
        edns = Edns(udp_size, (ttl >> 16) & 0xFF, bool(ttl & EDNS_DO))
    if pos != size:
        raise MalformedMessage(f"{size - pos} bytes after the last record")
    query = Query(qid, flags, labels_text(labels), qtype, qclass, question, edns)
    if edns is not None and edns.version > 0:
        return Rejection(Reject.BADVERS, f"EDNS version {edns.version} is not supported", query)
    return query


def read_question(data: bytes) -> bytes | None:
    """The message's only question, uncompressed; None unless there is exactly one, readable.

    For error answers, which echo the question when they can (RFC 1035 4.1.1 leaves it open).
    """
    if len(data) < 12 or U16.unpack_from(data, 4)[0] != 1:
        return None
    try:
        labels, pos = read_name(data, 12)
    except MalformedMessage:
        return None
    if pos + 4 > len(data):
        return None
    return labels_wire(labels) + data[pos : pos + 4]
