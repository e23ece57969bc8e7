"""Fitting a stored or forwarded upstream answer to the client that asked.

Upstream answers are kept without their OPT record and with our own ID; each
client gets its own ID, its own question bytes (0x20 case kept), its RD bit,
an OPT of ours if it spoke EDNS, and truncation to the size it can take.
"""

from __future__ import annotations

from resolver.dns.wire import Query, truncate, with_opt

_AA = 0x0400
_AD = 0x0020
_RD = 0x0100
_TCP_LIMIT = 65_535


def client_limit(query: Query, our_udp_size: int, tcp: bool) -> int:
    """Largest answer the client can take over this transport (RFC 6891 6.2.5)."""
    if tcp:
        return _TCP_LIMIT
    if query.edns is None:
        return 512
    return max(512, min(query.edns.udp_size, our_udp_size))


def for_client(message: bytes, query: Query, our_udp_size: int, tcp: bool) -> bytes:
    flags = int.from_bytes(message[2:4], "big")
    # A forwarder is not authoritative for what it relays (Unbound clears AA too).
    flags = (flags & ~(_RD | _AA)) | (query.flags & _RD)
    if not (query.flags & _AD or query.do):
        flags &= ~_AD  # RFC 6840 5.8: AD only for clients that asked for it
    qlen = len(query.question)
    body = (query.id.to_bytes(2, "big") + flags.to_bytes(2, "big") + message[4:12]
            + query.question + message[12 + qlen:])
    limit = client_limit(query, our_udp_size, tcp)
    if query.edns is not None:
        body = with_opt(body, our_udp_size, query.do)
    return truncate(body, limit)  # keeps our OPT on a truncated answer (RFC 6891 7)
