"""Fitting a stored or forwarded upstream answer to the client that asked.

Upstream answers are kept without their OPT record and with our own ID; each
client gets its own ID, its own question bytes (0x20 case kept), its RD bit,
an OPT of ours if it spoke EDNS, and truncation to the size it can take. This
runs for every cached answer, so it is one join of slices, not a re-encode.
"""

from __future__ import annotations

from resolver.dns import message
from resolver.dns.message import AA, AD, MAX_TCP_MESSAGE, MAX_UDP_WITHOUT_EDNS, RD, TC
from resolver.dns.query import Query
from resolver.dns.rewrite import opt_record

# Bound here, not imported by name: CPython 3.11 compiles a method call on an imported
# name as a module attribute load, which makes a bound method per call (~30 ns).
TWO_U16 = message.TWO_U16
U16 = message.U16

_OPTS: dict[tuple[int, bool], bytes] = {}
_QUESTION_ONLY = b"\x00\x01\x00\x00\x00\x00\x00\x00"
"""QDCOUNT 1, no other record: the counts of a truncated answer without EDNS."""
_QUESTION_AND_OPT = b"\x00\x01\x00\x00\x00\x00\x00\x01"
"""QDCOUNT 1 and ARCOUNT 1, our OPT."""


def _opt(udp_size: int, do: bool) -> bytes:
    key = (udp_size, do)
    opt = _OPTS.get(key)
    if opt is None:
        opt = _OPTS[key] = opt_record(udp_size, do)
    return opt


def for_client(message: bytes, query: Query, our_udp_size: int, tcp: bool,
               options: bytes = b"") -> bytes:
    """A whole upstream message (OPT removed) fitted to `query`."""
    return fit(message[2:12], message[12 + len(query.question):], query, our_udp_size, tcp,
               options)


def fit(flags_counts: bytes, rest: bytes, query: Query, our_udp_size: int, tcp: bool,
        options: bytes = b"") -> bytes:
    """The answer from its parts: header bytes 2..12 and everything after the question.

    `options` go into our OPT if the client spoke EDNS (an Extended DNS Error on a stale
    answer); without EDNS the client cannot be told, and gets the answer alone."""
    flags = (((flags_counts[0] << 8) | flags_counts[1]) & ~(RD | AA)) | (query.flags & RD)
    # A forwarder is not authoritative for what it relays (Unbound clears AA too), and
    # AD goes only to clients that asked for it (RFC 6840 5.8).
    edns = query.edns
    if not (query.flags & AD or (edns is not None and edns.do)):
        flags &= ~AD
    question = query.question
    if edns is None:
        body = b"".join((TWO_U16.pack(query.id, flags), flags_counts[2:], question, rest))
        limit = MAX_TCP_MESSAGE if tcp else MAX_UDP_WITHOUT_EDNS
    else:
        arcount = ((flags_counts[8] << 8) | flags_counts[9]) + 1
        body = b"".join((TWO_U16.pack(query.id, flags), flags_counts[2:8],
                         U16.pack(arcount), question, rest,
                         opt_record(our_udp_size, edns.do, options) if options
                         else _opt(our_udp_size, edns.do)))
        # the client's size capped by ours, never below 512 (RFC 6891 6.2.5)
        limit = MAX_TCP_MESSAGE if tcp else max(MAX_UDP_WITHOUT_EDNS,
                                                 min(edns.udp_size, our_udp_size))
    if len(body) <= limit:
        return body
    # Header, question and our OPT (RFC 6891 7), TC set: made from the parts rather than
    # by walking the relayed records, which are the upstream's and need not be walkable
    # (a compression pointer past the end, say); the same bytes `truncate` would give.
    if edns is None:
        return b"".join((TWO_U16.pack(query.id, flags | TC), _QUESTION_ONLY, question))
    return b"".join((TWO_U16.pack(query.id, flags | TC), _QUESTION_AND_OPT, question,
                     opt_record(our_udp_size, edns.do, options) if options
                     else _opt(our_udp_size, edns.do)))  # the EDE stays: it says why
