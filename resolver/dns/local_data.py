"""The office's own names as answers: which names exist, in which zone, with what records.

Built once from the config (and again on a reload), read per query through `names`, a
dict from each local name to the answers already made for it by query type. Semantics
follow Unbound's local-data with `transparent` and `static` local zones:

- a name with records answers the records of the asked type, or NODATA with the SOA of
  its zone when it has records of other types only;
- a CNAME is followed through the local names (8 steps at most, loops cut): the answer
  holds the chain and the last name's records of the asked type;
- a name without records below a `static` zone is NXDOMAIN with the zone's SOA (the zone
  apex and the names between it and a record's name exist: NODATA, RFC 8020);
- below a `transparent` zone, or in no zone, such a name is not ours: the query goes on.

A name's zone is the closest configured zone above it; with none, the highest of its
own ancestors that has records (as Unbound makes a transparent zone of a local-data name).
PTR records for the A/AAAA records are made here unless the reverse name has records of
its own; an address written for several names points back at the first one only (several
PTRs confuse the programs that ask: the first written is the office's main name for it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from resolver.dns.local_answer import QUESTION_NAME, LocalAnswer, record, soa_record
from resolver.dns.message import Rcode
from resolver.dns.names import name_to_wire
from resolver.dns.rdata import TYPE_A, TYPE_AAAA, TYPE_ANY, TYPE_CNAME, TYPE_PTR, reverse_name

MAX_CHAIN = 8
"""CNAME steps followed through local names; a longer chain is answered as far as that."""
_MEMO_MAX = 64
"""Query types remembered per name: a scan of every type cannot grow the memo past it."""


@dataclass(frozen=True, slots=True)
class LocalRR:
    """One record of a local name, its value already in wire form."""

    name: str
    """Lower case, no trailing dot (`Query.qname` form)."""
    rtype: int
    rdata: bytes
    target: str = ""
    """For a CNAME: the name it points to (followed through local names)."""


class LocalData:
    """Local names and zones, and the answers made from them (memoised per name and type)."""

    __slots__ = ("_empty", "_negative_ttl", "_nxdomain", "_records", "_ttl", "_zones",
                 "has_static", "names")

    def __init__(self, records: Iterable[LocalRR], zones: Mapping[str, bool], *, ttl: int,
                 negative_ttl: int, ptr: bool = True) -> None:
        """`zones` maps a zone name to True for `static`, False for `transparent`."""
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._zones = dict(zones)
        self.has_static = any(self._zones.values())
        """Whether some names without records are answered here (NXDOMAIN): only then
        does a name missing from `names` cost a walk up its suffixes."""
        by_name: dict[str, list[LocalRR]] = {}
        for rr in records:
            by_name.setdefault(rr.name, []).append(rr)
        if ptr:
            by_name.update(_generated_ptrs(by_name))
        self._records = by_name
        self._empty = self._existing_without_records()
        self._nxdomain: dict[str, LocalAnswer] = {}
        self.names: dict[str, dict[int, LocalAnswer]] = {
            name: {} for name in (*by_name, *self._empty)}
        """Every name answered here, with its answers made so far by query type."""

    def _existing_without_records(self) -> set[str]:
        """The apex of each static zone, and the names between it and its records (empty
        non-terminals): they exist, so they are NODATA."""
        found = {zone for zone, static in self._zones.items()
                 if static and zone not in self._records}
        for name in self._records:
            zone = self._closest_zone(name)
            if zone is None or not self._zones[zone]:
                continue
            above = name
            while above != zone:
                above = above.partition(".")[2]
                if above not in self._records:
                    found.add(above)
        return found

    def _closest_zone(self, name: str) -> str | None:
        """The closest configured zone at or above `name`."""
        suffix = name
        while True:
            if suffix in self._zones:
                return suffix
            if not suffix:
                return None
            suffix = suffix.partition(".")[2]

    def zone_of(self, name: str) -> str:
        """The zone whose SOA goes with a negative answer about `name`."""
        zone = self._closest_zone(name)
        if zone is not None:
            return zone
        highest = name
        suffix = name.partition(".")[2]
        while suffix:
            if suffix in self._records:
                highest = suffix
            suffix = suffix.partition(".")[2]
        return highest

    def answer(self, name: str, qtype: int, stop_at: str = "") -> LocalAnswer:
        """The answer for a name in `names`; `stop_at` cuts a CNAME chain before that name
        (a blocked one). Answers without a cut are remembered."""
        if stop_at:
            return self._build(name, qtype, stop_at)
        memo = self.names[name]
        found = memo.get(qtype)
        if found is None:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            found = memo[qtype] = self._build(name, qtype, "")
        return found

    def below_static(self, name: str) -> LocalAnswer | None:
        """NXDOMAIN for a name not in `names` whose closest zone is static, else None."""
        zone = self._closest_zone(name)
        if zone is None or not self._zones[zone]:
            return None
        found = self._nxdomain.get(zone)
        if found is None:
            found = self._nxdomain[zone] = LocalAnswer(
                Rcode.NXDOMAIN, 0, 1, soa_record(name_to_wire(zone), self._negative_ttl),
                self._negative_ttl)
        return found

    def _build(self, qname: str, qtype: int, stop_at: str) -> LocalAnswer:
        parts: list[bytes] = []
        targets: list[str] = []
        rcode = Rcode.NOERROR
        negative_zone = None
        current = qname
        while current != stop_at:
            rrs = self._records.get(current)
            if rrs is None:  # a CNAME's target without records
                zone = self._closest_zone(current)
                if current in self._empty:
                    negative_zone = zone
                elif zone is not None and self._zones[zone]:
                    rcode, negative_zone = Rcode.NXDOMAIN, zone
                break  # else not ours: the client follows the CNAME itself
            owner = QUESTION_NAME if current == qname else name_to_wire(current)
            first = rrs[0]
            if first.rtype == TYPE_CNAME and qtype not in (TYPE_CNAME, TYPE_ANY):
                parts.append(record(owner, TYPE_CNAME, self._ttl, first.rdata))
                if first.target == qname or first.target in targets \
                        or len(targets) >= MAX_CHAIN:
                    break
                current = first.target
                targets.append(current)
                continue
            matching = [rr for rr in rrs if qtype in (rr.rtype, TYPE_ANY)]
            parts.extend(record(owner, rr.rtype, self._ttl, rr.rdata) for rr in matching)
            if not matching:
                negative_zone = self.zone_of(current)
            break
        ancount = len(parts)
        ttl = self._ttl if ancount else 0
        if negative_zone is not None:
            owner = QUESTION_NAME if negative_zone == qname else name_to_wire(negative_zone)
            parts.append(soa_record(owner, self._negative_ttl))
            ttl = max(ttl, self._negative_ttl)
        return LocalAnswer(rcode, ancount, len(parts) - ancount, b"".join(parts), ttl,
                           tuple(targets))


def _generated_ptrs(by_name: Mapping[str, list[LocalRR]]) -> dict[str, list[LocalRR]]:
    """A PTR at each address's reverse name pointing at the first name written with it,
    unless the reverse name has records of its own."""
    made: dict[str, list[LocalRR]] = {}
    for name, rrs in by_name.items():
        for rr in rrs:
            if rr.rtype not in (TYPE_A, TYPE_AAAA):
                continue
            reverse = reverse_name(ipaddress.ip_address(rr.rdata))
            if reverse not in by_name and reverse not in made:
                made[reverse] = [LocalRR(reverse, TYPE_PTR, name_to_wire(name))]
    return made
