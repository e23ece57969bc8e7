"""Access control: only configured client networks may query (never an open resolver)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from resolver.config.server import IPNetwork
from resolver.config.settings import Config
from resolver.dns import answers
from resolver.stages.contract import REFUSED, Request, Stage, StageSetup

_MEMO_LIMIT = 65_536


class ClientNetworks:
    """Decides per source address, memoised, since an office has few clients."""

    __slots__ = ("_memo", "_networks")

    def __init__(self, networks: Sequence[IPNetwork]) -> None:
        self._networks = tuple(networks)
        self._memo: dict[str, bool] = {}

    def allows(self, address: str) -> bool:
        known = self._memo.get(address)
        if known is not None:
            return known
        verdict = self._decide(address)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()  # bounded: a spoofing flood cannot grow memory
        self._memo[address] = verdict
        return verdict

    def _decide(self, address: str) -> bool:
        ip = client_ip(address)
        if ip is None:
            return False
        return any(ip.version == net.version and ip in net for net in self._networks)


def client_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A socket's peer address as an IP (zone dropped, IPv4-mapped IPv6 as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class AccessStage(Stage):
    """REFUSED with EDE 18 for clients outside `server.allow_clients`; others pass on."""

    __slots__ = ("_clients", "_refused", "_udp_size")

    COUNTERS = (REFUSED.counter,)

    def __init__(self, setup: StageSetup) -> None:
        self._refused = 0
        self.reconfigure(setup.config)

    def handle(self, request: Request) -> bytes | None:
        if self._clients.allows(request.client):
            return None
        self._refused += 1
        request.kind = REFUSED
        return answers.refused(request.query, REFUSED.ede, udp_size=self._udp_size)

    def counters(self) -> dict[str, int]:
        return {REFUSED.counter: self._refused}

    def reconfigure(self, config: Config) -> None:
        self._clients = ClientNetworks(config.server.allow_clients)
        self._udp_size = config.server.edns_udp_size
