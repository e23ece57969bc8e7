"""Locally served zones: names no upstream should be asked about, answered here.

Reverse lookups of private, loopback, link-local and documentation addresses (RFC 6303)
would leak an office's internal addresses to the public resolvers and get nothing useful
back; `localhost.` is the loopback host by definition, and `invalid.`, `onion.`,
`home.arpa.` and `local.` (mDNS) have no public answers (RFC 6761, RFC 7686, RFC 8375,
RFC 6762). Like Unbound's default local zones: each zone's apex has an SOA and NS, other
types NODATA, every name below it NXDOMAIN with the zone's SOA, AA set; names at or below
`localhost.` have A 127.0.0.1 and AAAA ::1. A forward zone that covers a name takes it
(an office forwards its `10.in-addr.arpa` to its domain controllers), and the local
records stage, which sits above this one, answers the names it holds (`printer.home.arpa`).
`server.local_zones: none` turns the whole set off. `.test` is not in the set: RFC 6761
leaves it to the operator.

A query costs one `str.endswith` of a tuple unless its name ends in one of the few
top-level labels these zones sit under.
"""

from __future__ import annotations

from resolver.config.settings import Config
from resolver.dns import answers
from resolver.dns.message import CLASS_IN, RR_FIXED, Rcode
from resolver.dns.names import name_to_wire
from resolver.stages.contract import LOCAL, Request, Stage, StageSetup

TYPE_A, TYPE_NS, TYPE_SOA, TYPE_AAAA = 1, 2, 6, 28

_V4_REVERSE = ("0", "10", "127", "254.169", *(f"{n}.172" for n in range(16, 32)), "168.192",
               *(f"{n}.100" for n in range(64, 128)), "2.0.192", "100.51.198", "113.0.203",
               "255.255.255.255")
"""RFC 6303 4.2 and 4.3 (this host, RFC 1918, loopback, link-local, the three documentation
networks, the limited broadcast address) and RFC 7793 (100.64.0.0/10, shared address
space), as in-addr.arpa labels."""
_V6_REVERSE = (".".join("0" * 32), "1." + ".".join("0" * 31),  # :: and ::1 (RFC 6303 4.4)
               "d.f", "8.e.f", "9.e.f", "a.e.f", "b.e.f",  # fd00::/8, fe80::/10 (4.5, 4.6)
               "8.b.d.0.1.0.0.2")  # 2001:db8::/32, documentation (4.7)
SERVED = (*(f"{labels}.in-addr.arpa" for labels in _V4_REVERSE),
          *(f"{labels}.ip6.arpa" for labels in _V6_REVERSE),
          "invalid", "onion", "home.arpa", "local", "localhost")
"""Every zone served here by default."""
LOCALHOST = "localhost"
_TAILS = ("arpa", "invalid", "onion", "local", "localhost")
"""The last labels of every served zone: a name ending otherwise is never looked at."""
_LOOPBACK = {TYPE_A: bytes((127, 0, 0, 1)), TYPE_AAAA: bytes(15) + b"\x01"}
_QUESTION_NAME = b"\xc0\x0c"  # a compression pointer to the question's name


def closest_zone(qname: str, zones: frozenset[str]) -> str | None:
    """The longest of `zones` that `qname` equals or lies below, walking its suffixes."""
    suffix = qname
    while True:
        if suffix in zones:
            return suffix
        dot = suffix.find(".")
        if dot < 0:
            return None
        suffix = suffix[dot + 1:]


class LocalZonesStage(Stage):
    """Answers names in the locally served zones; passes everything else on."""

    __slots__ = ("_answered", "_forwarded", "_ttl", "_udp_size", "_zones")

    COUNTERS = (LOCAL.counter,)

    def __init__(self, setup: StageSetup) -> None:
        self._answered = 0
        self.reconfigure(setup.config)

    def handle(self, request: Request) -> bytes | None:
        qname = request.query.qname
        if not qname.endswith(_TAILS) or not self._zones:
            return None
        zone = closest_zone(qname, self._zones)
        if zone is None or (self._forwarded and closest_zone(qname, self._forwarded)):
            return None  # not served here, or a forward zone's to answer
        self._answered += 1
        request.kind = LOCAL
        request.same_until = request.period.until  # the answer follows from the question
        return self._answer(request, zone)

    def _answer(self, request: Request, zone: str) -> bytes:
        query = request.query
        qtype, ttl, size = query.qtype, self._ttl, self._udp_size
        if zone == LOCALHOST and qtype in _LOOPBACK:
            address = _LOOPBACK[qtype]
            record = _QUESTION_NAME + RR_FIXED.pack(qtype, CLASS_IN, ttl, len(address)) + address
            return answers.local_answer(query, record, 1, size)
        if query.qname != zone and zone != LOCALHOST:
            return answers.local_negative(query, zone, Rcode.NXDOMAIN, ttl, size,
                                          authoritative=True)
        if query.qname == zone and qtype == TYPE_SOA:
            return answers.local_answer(query, answers.soa_record(zone, ttl), 1, size)
        if query.qname == zone and qtype == TYPE_NS:
            host = name_to_wire(LOCALHOST)
            record = _QUESTION_NAME + RR_FIXED.pack(TYPE_NS, CLASS_IN, ttl, len(host)) + host
            return answers.local_answer(query, record, 1, size)
        return answers.local_negative(query, zone, Rcode.NOERROR, ttl, size,
                                      authoritative=True)

    def counters(self) -> dict[str, int]:
        return {LOCAL.counter: self._answered}

    def reconfigure(self, config: Config) -> None:
        self._zones = frozenset(SERVED) if config.server.local_zones == "default" \
            else frozenset()
        self._forwarded = frozenset(zone.name for zone in config.forward_zones)
        self._ttl = config.blocking.negative_ttl
        self._udp_size = config.server.edns_udp_size
