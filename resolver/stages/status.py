"""`dnsfence status` over DNS: a CHAOS-class TXT query for `status.dnsfence`.

Asking the server over its own port (as `version.bind` works for BIND) needs no
extra socket, works inside a container, and reaches whichever worker the kernel
picks. Only loopback clients get an answer; other CHAOS queries are refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dnslib import CLASS, QTYPE, RR, TXT, DNSHeader, DNSQuestion, DNSRecord

from resolver.dns import answers
from resolver.dns.query import Query
from resolver.stages.access import client_ip

STATUS_NAME = "status.dnsfence"
CLASS_CHAOS = 3
_TXT = 16
_CHUNK = 255


def _loopback(address: str) -> bool:
    ip = client_ip(address)
    return ip is not None and ip.is_loopback


def encode_status(status: dict[str, Any]) -> list[bytes]:
    """JSON cut into TXT character-strings of at most 255 bytes."""
    data = json.dumps(status, separators=(",", ":"), sort_keys=True).encode()
    return [data[i:i + _CHUNK] for i in range(0, len(data), _CHUNK)] or [b"{}"]


def decode_status(strings: list[bytes]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(b"".join(strings))
    return result


class StatusStage:
    """Answers CHAOS queries: the status to loopback clients, REFUSED otherwise."""

    __slots__ = ("_collect", "_udp_size")

    def __init__(self, collect: Callable[[], dict[str, Any]], udp_size: int) -> None:
        self._collect = collect
        self._udp_size = udp_size

    def answer(self, query: Query, client: str) -> bytes:
        if query.qname != STATUS_NAME or query.qtype != _TXT or not _loopback(client):
            return answers.refused(query, udp_size=self._udp_size)
        header = DNSHeader(id=query.id, qr=1, aa=1, ra=1, rd=query.rd)
        reply = DNSRecord(header, q=DNSQuestion(STATUS_NAME, QTYPE.TXT, CLASS.CH))
        reply.add_answer(RR(STATUS_NAME, QTYPE.TXT, CLASS.CH, 0,
                            TXT(encode_status(self._collect()))))
        return bytes(reply.pack())
