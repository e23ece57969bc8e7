"""A message cut at its TTL fields, for a cache that serves it again with other TTLs.

The cache keeps an upstream answer as the pieces between its TTL fields, so that serving it
is a join of those pieces with freshly packed TTLs and never a parse. The same walk finds
what the answer's lifetime depends on and its CNAME/DNAME chain, so it is read once.
"""

from __future__ import annotations

from resolver.dns import message
from resolver.dns.aliases import AliasChain, chain_in
from resolver.dns.message import (
    MAX_TTL,
    SOA_FIXED_LEN,
    TYPE_CNAME,
    TYPE_DNAME,
    TYPE_OPT,
    TYPE_SOA,
    Framed,
    MalformedMessage,
    records,
    skip_questions,
)

# Bound here, not imported by name (see resolver.cache): read once per stored answer.
U32 = message.U32


TtlSplit = tuple[int, list[bytes], list[int], int | None, int | None, AliasChain | None]
"""(question end, segments, TTLs, smallest answer TTL, smallest negative TTL of an
authority SOA, the answer's CNAME/DNAME chain)."""


def split_at_ttls(msg: bytes, qdcount: int, ancount: int, nscount: int, arcount: int,
                  chains: bool, qname: str | None, framed: Framed | None = None) -> TtlSplit:
    """Walk the message once: cut it at each RR TTL field, find the TTLs that set the
    lifetime (the negative TTL of an SOA is min(SOA TTL, SOA MINIMUM)), and read the
    answer's alias chain if it has one (an answer without costs two int comparisons).

    With `framed` for this very message (the forwarder's check walked it), the records
    are taken from there and the message is not walked at all."""
    if framed is not None and framed[0] is msg:
        question_end, found = framed[1], framed[2]
    else:
        question_end = skip_questions(msg, qdcount)
        found = records(msg, question_end, ancount + nscount + arcount)
    if (found[-1][4] if found else question_end) != len(msg):
        raise MalformedMessage("trailing bytes after the last record")
    segments = []
    ttls = []
    answer_min: int | None = None
    negative_ttl: int | None = None
    authority_end = ancount + nscount
    aliased = False
    start = question_end
    for index, (_, rtype, ttl, rdata, end) in enumerate(found):
        if rtype == TYPE_OPT:  # its TTL field holds EDNS flags, not a TTL
            continue
        if ttl > MAX_TTL:
            ttl = 0
        segments.append(msg[start : rdata - 6])
        start = rdata - 2
        ttls.append(ttl)
        if index < ancount:
            if answer_min is None or ttl < answer_min:
                answer_min = ttl
            if rtype in (TYPE_CNAME, TYPE_DNAME):
                aliased = True
        elif index < authority_end and rtype == TYPE_SOA:
            if end - rdata < SOA_FIXED_LEN + 2:
                raise MalformedMessage("SOA RDATA too short")
            (minimum,) = U32.unpack_from(msg, end - 4)
            negative = min(ttl, minimum if minimum <= MAX_TTL else 0)
            if negative_ttl is None or negative < negative_ttl:
                negative_ttl = negative
    segments.append(msg[start:])
    chain = chain_in(msg, found[:ancount], qname) if aliased and chains else None
    return question_end, segments, ttls, answer_min, negative_ttl, chain
