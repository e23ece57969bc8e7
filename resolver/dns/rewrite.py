"""Edits of whole messages: adding and removing OPT records, truncation, TTL capping.

Upstream answers are stored without their OPT (dnsfence adds its own for each client),
answers too big for the client are cut to what tells it to retry over TCP, and answers
for names whose policy changes soon have their TTLs capped so that no cache downstream
keeps them past the change. Each edit frames records with `message.records`.
"""

from __future__ import annotations

import struct

from resolver.dns import message
from resolver.dns.message import (
    EDNS_DO,
    SOA_FIXED_LEN,
    TC,
    TYPE_OPT,
    TYPE_SOA,
    Framed,
    MalformedMessage,
    records,
    skip_questions,
)
from resolver.dns.names import labels_wire, read_name

# Bound here, not imported by name: CPython 3.11 compiles a method call on an imported
# name as a module attribute load, which makes a bound method per call (~30 ns).
COUNTS = message.COUNTS
HEADER = message.HEADER
OPT_FIXED = message.OPT_FIXED
TWO_U16 = message.TWO_U16
U16 = message.U16
U32 = message.U32


def edns_option(code: int, data: bytes = b"") -> bytes:
    """One EDNS option (RFC 6891 6.1.2) ready to go into `opt_record` or `with_opt`."""
    return TWO_U16.pack(code, len(data)) + data


def opt_record(udp_size: int, do: bool, options: bytes = b"", ext_rcode: int = 0) -> bytes:
    """An OPT RR, version 0; `ext_rcode` is the upper 8 bits of the 12-bit RCODE (BADVERS: 1)."""
    return (
        OPT_FIXED.pack(0, TYPE_OPT, udp_size, ext_rcode, 0, EDNS_DO if do else 0, len(options))
        + options
    )


def with_opt(
    message: bytes, udp_size: int, do: bool, options: bytes = b"", ext_rcode: int = 0
) -> bytes:
    """Append dnsfence's OPT RR to a message that has none (see `strip_opt`) and count it.

    Raises ValueError if the message has no header or its ARCOUNT is already 65535.
    """
    if len(message) < 12:
        raise MalformedMessage("message shorter than a DNS header")
    arcount = ((message[10] << 8) | message[11]) + 1
    if arcount > 0xFFFF:
        raise MalformedMessage("ARCOUNT would overflow")
    return b"".join(
        (
            message[:10],
            U16.pack(arcount),
            message[12:],
            opt_record(udp_size, do, options, ext_rcode),
        )
    )


def strip_opt(message: bytes, question_end: int = 0) -> tuple[bytes, int]:
    """`strip_opt_framed` without the framing."""
    stripped, extended, _ = strip_opt_framed(message, question_end)
    return stripped, extended


def strip_opt_framed(message: bytes, question_end: int = 0) -> tuple[bytes, int, Framed]:
    """The message without its OPT RR and what follows it, ARCOUNT lowered to match, and the
    OPT's upper 8 extended-RCODE bits (0 without an OPT); the message itself if it has none.

    Only an OPT in the additional section counts. What follows an OPT is rare (a TSIG, or a
    sloppy server) and is dropped unread: cutting bytes from the middle of a message would
    move the targets of later compression pointers, additional data is optional, and a TSIG
    meant for us must not reach a client anyway. `question_end`, when the caller already
    knows where the question ends, saves reading it again. Bytes after the last record are
    dropped too: our own OPT is appended after the last record, where a client must find
    it (and truncation walks every record to it). Raises ValueError if the records up to
    the OPT (or all of them, without one) cannot be framed, or an OPT is in the answer or
    authority section.

    Third, the records of the message returned, as this walk framed them (`Framed`): the
    cache stores the message without walking it again.
    """
    if len(message) < 12:
        raise MalformedMessage("message shorter than a DNS header")
    qdcount, ancount, nscount, arcount = COUNTS.unpack_from(message, 4)
    pos = question_end or skip_questions(message, qdcount)
    before_additional = ancount + nscount
    # One walk to the first additional record: usually the OPT, and the last record. An
    # answer that cannot be framed is refused, and so is an OPT outside the additional
    # section (RFC 6891 6.1.1), which a client would take for a malformed message.
    found = records(message, pos, before_additional + (1 if arcount else 0))
    if TYPE_OPT in [record[1] for record in found[:before_additional]]:
        raise MalformedMessage("an OPT record outside the additional section")
    if not arcount:
        end = found[-1][4] if found else pos
        stripped = message if end == len(message) else message[:end]
        return stripped, 0, (stripped, pos, found)
    start, rtype, ttl, _, end = found[-1]
    while rtype != TYPE_OPT:
        if len(found) - before_additional == arcount:  # every one read, none an OPT
            stripped = message if end == len(message) else message[:end]
            return stripped, 0, (stripped, pos, found)
        record = records(message, end, 1)[0]
        found.append(record)
        start, rtype, ttl, _, end = record
    found.pop()  # the OPT: the records before it are the message's now
    stripped = message[:10] + U16.pack(len(found) - before_additional) + message[12:start]
    return stripped, ttl >> 24, (stripped, pos, found)


def truncate(message: bytes, limit: int) -> bytes:
    """The message if it fits in `limit` octets, else header, question and OPT only, with TC=1.

    Call it on the finished answer, *after* `with_opt`: the OPT then counts towards the
    size, and is kept on the truncated answer as RFC 6891 7 requires, so the client learns
    our payload size before retrying over TCP. `limit` is the client's (`Edns.max_payload`,
    or 512 without EDNS). No partial answer is attempted: a client seeing TC retries over
    TCP anyway. If header, question and OPT alone exceed `limit` they are still returned:
    nothing smaller is a valid answer. Raises ValueError if a message that needs truncating
    cannot be walked.
    """
    if len(message) <= limit:
        return message
    size = len(message)
    if size < 12:
        raise MalformedMessage("message shorter than a DNS header")
    flags = U16.unpack_from(message, 2)[0]
    qdcount, ancount, nscount, arcount = COUNTS.unpack_from(message, 4)
    pos = 12
    questions = []
    for _ in range(qdcount):
        labels, pos = read_name(message, pos)
        if pos + 4 > size:
            raise MalformedMessage("question cut short")
        questions.append(labels_wire(labels) + message[pos : pos + 4])
        pos += 4
    opt = b""
    for _, rtype, _, rdata, end in records(message, pos, ancount + nscount + arcount)[
        ancount + nscount :
    ]:
        if rtype == TYPE_OPT:
            opt = b"\x00" + message[rdata - 10 : end]
            break
    header = HEADER.pack(U16.unpack_from(message)[0], flags | TC, qdcount, 0, 0, 1 if opt else 0)
    return header + b"".join(questions) + opt


def cap_ttls(message: bytes, cap: int) -> bytes:
    """`message` with every record TTL (and every SOA MINIMUM) at most `cap` seconds.

    For names whose policy changes soon (the rare path): before a ban starts at T, no
    client or office resolver may keep an answer past T. The OPT pseudo-record is left
    alone (its TTL field holds flags). A message that cannot be walked is returned
    unchanged: the caller only ever passes messages it already parsed, so this is a
    safety net, not a path.
    """
    if cap < 0:
        cap = 0
    try:
        qdcount, ancount, nscount, arcount = COUNTS.unpack_from(message, 4)
        found = records(message, skip_questions(message, qdcount), ancount + nscount + arcount)
    except (struct.error, MalformedMessage):
        return message
    out = bytearray(message)
    for _, rtype, ttl, rdata, end in found:
        if rtype != TYPE_OPT:
            if ttl > cap:
                U32.pack_into(out, rdata - 6, cap)
            if rtype == TYPE_SOA and end - rdata >= SOA_FIXED_LEN:
                minimum = U32.unpack_from(message, end - 4)[0]
                if minimum > cap:
                    U32.pack_into(out, end - 4, cap)
    return bytes(out)
