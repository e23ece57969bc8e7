"""The answers dnsfence makes itself: blocked (NXDOMAIN + SOA + EDE), REFUSED, SERVFAIL, errors.

Every answer to a `Query` has its ID, QR=1, opcode QUERY, RD and CD copied (RFC 6840 5.9),
RA=1, AA=0, the client's question echoed byte for byte, and, when the query had an OPT, an
OPT with dnsfence's own payload size, the DO bit copied (RFC 3225) and any Extended DNS
Error (RFC 8914).

Blocked answers carry an SOA so that resolvers and stubs behind dnsfence cache the NXDOMAIN
for `negative_ttl` (RFC 2308 5: the lower of the SOA's TTL and MINIMUM; both are set to it).
The SOA is owned by the blocking rule's domain, so it is an ancestor of the query name as
caches expect. MNAME and RNAME are `dnsfence.invalid.` and `hostmaster.dnsfence.invalid.`:
AdGuard Home uses a name under its own real domain (fake-for-negative-caching.adguard.com.)
and Blocky sends no SOA at all; a name under `.invalid` (RFC 6761 6.4) says who made the
answer to anyone reading `dig` output, and can never resolve or point at someone's server.

At ~100k blocked queries/s, building each answer from scratch is too slow, so
`BlockedTemplate` encodes everything that depends only on the rule once and `render` just
joins header, question, SOA and OPT; the SOA owner is a compression pointer into the
question, which also keeps the answer to a 255-octet name under 512 octets.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Final

from resolver.dns import message
from resolver.dns.message import (
    AA,
    CD,
    CLASS_IN,
    DEFAULT_UDP_SIZE,
    EDNS_DO,
    MAX_TTL,
    MAX_UDP_WITHOUT_EDNS,
    QR,
    RA,
    RD,
    TYPE_OPT,
    TYPE_SOA,
    Rcode,
)
from resolver.dns.names import name_to_wire
from resolver.dns.query import Query
from resolver.dns.rewrite import opt_record, truncate

# Bound here, not imported by name: CPython 3.11 compiles a method call on an imported
# name as a module attribute load, which makes a bound method per call (~30 ns).
HEADER = message.HEADER
OPT_BEFORE_RDLENGTH = message.OPT_BEFORE_RDLENGTH
RR_FIXED = message.RR_FIXED
SOA_NUMBERS = message.SOA_NUMBERS
TWO_U16 = message.TWO_U16
U16 = message.U16
U32 = message.U32


class EdeCode(enum.IntEnum):
    """Extended DNS Error info-codes dnsfence uses (RFC 8914 4)."""

    OTHER = 0
    STALE_ANSWER = 3
    CACHED_ERROR = 13
    NOT_READY = 14
    BLOCKED = 15
    CENSORED = 16
    FILTERED = 17
    PROHIBITED = 18
    STALE_NXDOMAIN_ANSWER = 19
    NOT_SUPPORTED = 21
    NO_REACHABLE_AUTHORITY = 22
    NETWORK_ERROR = 23


EDE_OPTION_CODE: Final = 15
SOA_MNAME: Final = "dnsfence.invalid"
SOA_RNAME: Final = "hostmaster.dnsfence.invalid"
SOA_SERIAL: Final = 1
SOA_REFRESH: Final = 1800
SOA_RETRY: Final = 900
SOA_EXPIRE: Final = 604800
"""REFRESH, RETRY and EXPIRE only matter to secondaries, which this zone never has."""

_COPIED: Final = RD | CD
_BLOCKED_HEADS: Final = {copied | opt: U16.pack(0x8083 | copied) + bytes((0, 1, 0, 0, 0, 1, 0, opt))
                         for copied in (0, RD, CD, RD | CD) for opt in (0, 1)}
"""A blocked answer's header after the ID, by the query's RD and CD bits and whether it has
an OPT: flags (QR, RA, NXDOMAIN and those two copied), one question, one SOA."""
_POINTERS: Final = tuple(U16.pack(0xC000 | (12 + offset)) for offset in range(256))
"""Compression pointers into the question, by offset in it: packed once, not per answer."""
_OCTETS: Final = tuple(bytes((value,)) for value in range(256))
"""One octet by value: an answer's ID as two of these costs two tuple reads, where
`U16.pack` is a method call compiled code has no primitive for."""
_EDE_OPTION: Final = U16.pack(EDE_OPTION_CODE)
_BLOCKED_CODE: Final = U16.pack(EdeCode.BLOCKED)
"""Packed once: a source-list answer builds its EDE per query, and an enum read costs."""


def ede_option(info_code: int, extra_text: str = "") -> bytes:
    """An Extended DNS Error option: 2-octet info-code, then UTF-8 text, not NUL-terminated
    (RFC 8914 section 2: trailing NULs are dropped, as receivers drop them)."""
    data = U16.pack(info_code) + extra_text.rstrip("\x00").encode("utf-8")
    return U16.pack(EDE_OPTION_CODE) + U16.pack(len(data)) + data


def _reply(
    query: Query,
    rcode: int,
    udp_size: int,
    options: bytes = b"",
    authority: bytes = b"",
    ext_rcode: int = 0,
    answer: bytes = b"",
    ancount: int = 0,
    flags: int = 0,
    recursion: bool = True,
) -> bytes:
    """`flags` adds header bits (AA for the zones dnsfence serves itself); RA is set unless
    `recursion` is False."""
    flags |= QR | (RA if recursion else 0) | (query.flags & _COPIED) | rcode
    nscount = 1 if authority else 0
    if query.edns is None:
        header = HEADER.pack(query.id, flags, 1, ancount, nscount, 0)
        return header + query.question + answer + authority
    header = HEADER.pack(query.id, flags, 1, ancount, nscount, 1)
    opt = opt_record(udp_size, query.edns.do, options, ext_rcode)
    return header + query.question + answer + authority + opt


def _ede_if(ede_code: int | None, ede_text: str) -> bytes:
    return b"" if ede_code is None else ede_option(ede_code, ede_text)


@functools.lru_cache(maxsize=64)
def _soa_after_owner(negative_ttl: int) -> bytes:
    """TYPE, CLASS, TTL, RDLENGTH and RDATA of the blocked answer's SOA: the same for every
    rule with this negative TTL, so a template for a new rule costs little to make."""
    rdata = (
        name_to_wire(SOA_MNAME)
        + name_to_wire(SOA_RNAME)
        + SOA_NUMBERS.pack(SOA_SERIAL, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, negative_ttl)
    )
    return RR_FIXED.pack(TYPE_SOA, CLASS_IN, negative_ttl, len(rdata)) + rdata


def _fit_ede_text(answer: bytes, text_length: int, query: Query, udp_size: int) -> bytes:
    """`answer`, whose last part is an OPT with one EDE option ending in `text_length` bytes
    of text, within the client's UDP size: the text shortened (at a character boundary),
    the option dropped if that is not enough, and header, question and OPT alone (TC set)
    if even that is not. Called only for answers over 512 octets: long names, long texts
    (an alias chain spelled out), which must not make an answer bigger than the client
    takes (RFC 6891 6.2.5)."""
    edns = query.edns
    assert edns is not None
    limit = max(MAX_UDP_WITHOUT_EDNS, min(edns.udp_size, udp_size))
    excess = len(answer) - limit
    if excess <= 0:
        return answer
    text_at = len(answer) - text_length
    rdlength_at = text_at - 8  # then option code, option length, info-code, text
    if excess <= text_length:
        text = answer[text_at:len(answer) - excess].decode("utf-8", "ignore").encode("utf-8")
        return b"".join((answer[:rdlength_at], U16.pack(6 + len(text)),
                         answer[rdlength_at + 2:rdlength_at + 4], U16.pack(2 + len(text)),
                         answer[text_at - 2:text_at], text))
    bare = answer[:rdlength_at] + b"\x00\x00"
    return bare if len(bare) <= limit else truncate(bare, limit)


@dataclass(frozen=True, slots=True)
class BlockedTemplate:
    """A blocked answer for one rule, encoded once; `render` fills in the query's parts."""

    zone: str
    """The rule's domain, in `Query.qname` form: the SOA's owner."""
    negative_ttl: int
    ede_text: str
    udp_size: int = DEFAULT_UDP_SIZE
    """The payload size dnsfence advertises: the OPT record is made once for it (`render`
    is told the size per call, and makes the OPT then if it is another)."""
    _zone_wire: bytes = field(init=False, repr=False, compare=False)
    _zone_length: int = field(init=False, repr=False, compare=False)
    _soa_after_owner: bytes = field(init=False, repr=False, compare=False)
    _opt_rdata: bytes = field(init=False, repr=False, compare=False)
    _opts: tuple[bytes, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.negative_ttl <= MAX_TTL:
            raise ValueError(f"negative_ttl {self.negative_ttl} is outside 0..2147483647")
        soa = _soa_after_owner(self.negative_ttl)
        ede = ede_option(EdeCode.BLOCKED, self.ede_text)
        # Lower case so the suffix test in render() is case-insensitive; lengths are < 64,
        # so lower() cannot touch them.
        zone = name_to_wire(self.zone).lower()
        object.__setattr__(self, "_zone_wire", zone)
        # the root (one octet) is never pointed at: a length no question reaches says so
        object.__setattr__(self, "_zone_length", len(zone) if len(zone) > 2 else 1 << 16)
        object.__setattr__(self, "_soa_after_owner", soa)
        rdata = U16.pack(len(ede)) + ede
        object.__setattr__(self, "_opt_rdata", rdata)
        object.__setattr__(self, "_opts", tuple(
            OPT_BEFORE_RDLENGTH.pack(0, TYPE_OPT, self.udp_size, 0, 0, do) + rdata
            for do in (0, EDNS_DO)))

    def _soa_capped(self, ttl: int) -> bytes:
        """The SOA part with TTL and MINIMUM lowered to `ttl` (RFC 2308 takes the smaller)."""
        soa = bytearray(self._soa_after_owner)
        U32.pack_into(soa, 4, ttl)
        U32.pack_into(soa, len(soa) - 4, ttl)
        return bytes(soa)

    def render(self, query: Query, udp_size: int, ttl_cap: int | None = None) -> bytes:
        """The blocked answer to `query`; with EDNS, `udp_size` is what dnsfence advertises.

        `ttl_cap` lowers the negative TTL when the block ends sooner than negative_ttl.
        """
        question = query.question
        zone = self._zone_wire
        name_end = len(question) - 4
        owner_at = name_end - self._zone_length
        # The zone is normally a suffix of the query name: point the SOA owner at it. Any
        # offset whose bytes read as the zone will do, label boundary or not. The query's
        # own case first (most clients ask in lower case). A slice and ==, not
        # `startswith(zone, owner_at)`: compiled, that is a method call building a tuple.
        owner = zone
        if owner_at >= 0:
            tail = question[owner_at:name_end]
            if tail == zone or tail.lower() == zone:
                owner = _POINTERS[owner_at]
        soa = self._soa_after_owner
        if ttl_cap is not None and ttl_cap < self.negative_ttl:
            soa = self._soa_capped(max(ttl_cap, 0))
        edns = query.edns
        qid = query.id
        if edns is None:
            return b"".join((_OCTETS[qid >> 8], _OCTETS[qid & 0xFF],
                             _BLOCKED_HEADS[query.flags & _COPIED], question, owner, soa))
        answer = b"".join((_OCTETS[qid >> 8], _OCTETS[qid & 0xFF],
                           _BLOCKED_HEADS[query.flags & _COPIED | 1],
                           question, owner, soa,
                           self._opts[edns.do] if udp_size == self.udp_size else
                           OPT_BEFORE_RDLENGTH.pack(0, TYPE_OPT, udp_size, 0, 0,
                                                    EDNS_DO if edns.do else 0)
                           + self._opt_rdata))
        if len(answer) <= MAX_UDP_WITHOUT_EDNS:
            return answer
        return _fit_ede_text(answer, len(self._opt_rdata) - 8, query, udp_size)


@dataclass(frozen=True, slots=True)
class NamedBlockedTemplate:
    """One template for every name a big source blocks: the matched name is filled in.

    A template per name would be built on first use of each of a million names and
    almost never reused; here only the EDE text is assembled per answer.
    The SOA owner is the matched name, which lies at the end of the question.
    """

    negative_ttl: int
    ede_before: str
    ede_after: str
    udp_size: int = DEFAULT_UDP_SIZE
    """As `BlockedTemplate.udp_size`: the OPT record's fixed part is made once for it."""
    _before: bytes = field(init=False, repr=False, compare=False)
    _after: bytes = field(init=False, repr=False, compare=False)
    _soa: bytes = field(init=False, repr=False, compare=False)
    _opt_heads: tuple[bytes, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_before", self.ede_before.encode("utf-8"))
        object.__setattr__(self, "_after", self.ede_after.encode("utf-8"))
        object.__setattr__(self, "_soa", _soa_after_owner(self.negative_ttl))
        object.__setattr__(self, "_opt_heads", tuple(
            OPT_BEFORE_RDLENGTH.pack(0, TYPE_OPT, self.udp_size, 0, 0, do)
            for do in (0, EDNS_DO)))

    def render(self, query: Query, udp_size: int, ttl_cap: int | None, name: str) -> bytes:
        question = query.question
        qname = query.qname
        if name and "\\" not in qname and qname.endswith(name):
            # `name` is the query's own suffix: point at it instead of encoding it again.
            # Without escapes a name's text and wire forms have the same length, so a suffix
            # that starts a label starts at the same offset in both.
            owner_at = len(qname) - len(name)
            if owner_at and qname[owner_at - 1] != ".":  # not a label's start: count
                owner_at = 0
                for _ in range(qname.count(".") - name.count(".")):
                    owner_at += question[owner_at] + 1
            owner = _POINTERS[owner_at]
        else:
            zone = name_to_wire(name)
            owner_at = len(question) - 4 - len(zone)
            if len(zone) > 2 and owner_at >= 0 \
                    and question[owner_at:len(question) - 4].lower() == zone:
                owner = _POINTERS[owner_at]
            else:
                owner = zone
        if ttl_cap is None or ttl_cap >= self.negative_ttl:
            soa = self._soa
        else:
            soa = _soa_after_owner(max(0, ttl_cap))
        edns = query.edns
        qid = query.id
        if edns is None:
            return b"".join((_OCTETS[qid >> 8], _OCTETS[qid & 0xFF],
                             _BLOCKED_HEADS[query.flags & _COPIED], question, owner, soa))
        text = b"".join((self._before, name.encode("ascii"), self._after))
        ede_length = 2 + len(text)
        answer = b"".join((
            _OCTETS[qid >> 8], _OCTETS[qid & 0xFF], _BLOCKED_HEADS[query.flags & _COPIED | 1],
            question, owner,
            soa, self._opt_heads[edns.do] if udp_size == self.udp_size else
            OPT_BEFORE_RDLENGTH.pack(0, TYPE_OPT, udp_size, 0, 0, EDNS_DO if edns.do else 0),
            U16.pack(4 + ede_length), _EDE_OPTION, U16.pack(ede_length), _BLOCKED_CODE, text,
        ))
        if len(answer) <= MAX_UDP_WITHOUT_EDNS:
            return answer
        return _fit_ede_text(answer, len(text), query, udp_size)


def blocked(query: Query, zone: str, negative_ttl: int, ede_text: str, udp_size: int) -> bytes:
    """NXDOMAIN with the rule's SOA and EDE 15 "Blocked"; prefer a cached `BlockedTemplate`."""
    return BlockedTemplate(zone, negative_ttl, ede_text).render(query, udp_size)


def local_negative(query: Query, zone: str, rcode: int, negative_ttl: int,
                   udp_size: int = DEFAULT_UDP_SIZE, *, authoritative: bool = False) -> bytes:
    """NXDOMAIN or NODATA (NOERROR, no answer) from a zone dnsfence answers itself: the
    zone's SOA in the authority section, so the answer is cached as RFC 2308 says; AA set
    for a zone dnsfence serves as its authority (`authoritative`)."""
    authority = name_to_wire(zone) + _soa_after_owner(negative_ttl)
    return _reply(query, rcode, udp_size, authority=authority,
                  flags=AA if authoritative else 0)


def soa_record(zone: str, ttl: int) -> bytes:
    """The SOA of a zone dnsfence serves, as a whole record (owner included)."""
    return name_to_wire(zone) + _soa_after_owner(ttl)


def local_answer(query: Query, records: bytes, count: int,
                 udp_size: int = DEFAULT_UDP_SIZE) -> bytes:
    """NOERROR with `count` whole records (owner, type, class, TTL, data) in the answer
    section, from a zone dnsfence serves as its authority (AA set)."""
    return _reply(query, Rcode.NOERROR, udp_size, answer=records, ancount=count, flags=AA)


def refused(
    query: Query,
    ede_code: int | None = EdeCode.PROHIBITED,
    ede_text: str = "",
    *,
    udp_size: int = DEFAULT_UDP_SIZE,
    recursion: bool = True,
) -> bytes:
    """REFUSED, e.g. for a client outside the access list; EDE 18 "Prohibited" by default.
    `recursion=False` clears RA, as Unbound does when it refuses a zone transfer."""
    return _reply(query, Rcode.REFUSED, udp_size, _ede_if(ede_code, ede_text),
                  recursion=recursion)


def servfail(
    query: Query,
    ede_code: int | None = None,
    ede_text: str = "",
    *,
    udp_size: int = DEFAULT_UDP_SIZE,
) -> bytes:
    """SERVFAIL, e.g. with EDE 22 "No Reachable Authority" when every upstream timed out."""
    return _reply(query, Rcode.SERVFAIL, udp_size, _ede_if(ede_code, ede_text))


def no_data(query: Query, udp_size: int = DEFAULT_UDP_SIZE) -> bytes:
    """NOERROR with nothing in any section: what Unbound answers a question in class ANY
    that it has no data for."""
    return _reply(query, Rcode.NOERROR, udp_size)


def badvers(query: Query, udp_size: int = DEFAULT_UDP_SIZE) -> bytes:
    """BADVERS for an EDNS version above 0: header RCODE 0, OPT extended RCODE 1 (RFC 6891)."""
    return _reply(query, Rcode.NOERROR, udp_size, ext_rcode=Rcode.BADVERS >> 4)
