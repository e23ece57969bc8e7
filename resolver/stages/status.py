"""`dnsfence status` over DNS: a CHAOS-class TXT query for `status.dnsfence`.

Asking the server over its own port (as `version.bind` works for BIND) needs no
extra socket, works inside a container, and reaches whichever worker the kernel
picks. Only loopback clients get an answer; other CHAOS queries are refused. It sits
before access control, so the host can ask even when loopback is not a client network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from dnslib import CLASS, QTYPE, RR, TXT, DNSHeader, DNSQuestion, DNSRecord

from resolver.config.groups import client_ip
from resolver.config.settings import Config
from resolver.dns import answers
from resolver.stages.contract import LOCAL, REFUSED, Request, Stage, StageSetup

# Final: the compiled build reads these as constants, not from the module's dict per query.
STATUS_NAME: Final = "status.dnsfence"
CLASS_CHAOS: Final = 3
_TXT: Final = 16
_CHUNK: Final = 255


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


class StatusStage(Stage):
    """Answers CHAOS queries: the status to loopback clients, REFUSED otherwise.

    Without a status report (a pipeline built by hand) CHAOS queries pass on.
    """

    __slots__ = ("_report", "_udp_size")

    def __init__(self, setup: StageSetup) -> None:
        self._report: Callable[[], dict[str, Any]] | None = setup.status_report
        self.reconfigure(setup.config)

    def handle(self, request: Request) -> bytes | None:
        query = request.query
        if query.qclass != CLASS_CHAOS or self._report is None:
            return None
        if query.qname != STATUS_NAME or query.qtype != _TXT or not _loopback(request.client):
            request.kind = REFUSED
            return answers.refused(query, REFUSED.ede, udp_size=self._udp_size)
        request.kind = LOCAL
        header = DNSHeader(id=query.id, qr=1, aa=1, ra=1, rd=query.rd)
        reply = DNSRecord(header, q=DNSQuestion(STATUS_NAME, QTYPE.TXT, CLASS.CH))
        reply.add_answer(RR(STATUS_NAME, QTYPE.TXT, CLASS.CH, 0,
                            TXT(encode_status(self._report()))))
        return bytes(reply.pack())

    def reconfigure(self, config: Config) -> None:
        self._udp_size = config.server.edns_udp_size
