"""Access control: only configured client networks may query (never an open resolver),
and each client's groups (`groups:`), which the policy's decision may depend on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from resolver.config.groups import ClientGroup, client_ip, groups_of
from resolver.config.networks import IPNetwork
from resolver.config.settings import Config
from resolver.dns import answers
from resolver.policy.audience import Groups
from resolver.stages.contract import REFUSED, Request, Stage, StageSetup

_MEMO_LIMIT = 65_536
REFUSED_CLIENT: Final[Groups] = frozenset({""})
"""What `ClientNetworks` says of a client that may not query: a set no client's groups
can equal (group names are never empty), compared by identity. Final: the compiled build
reads it from a C static, not the module's dict, per query."""


class ClientNetworks:
    """Classifies per source address, memoised, since an office has few clients: may it
    query, and which groups is it in."""

    __slots__ = ("_groups", "_interned", "_memo", "_networks", "grouped", "known")

    def __init__(self, networks: Sequence[IPNetwork],
                 groups: Sequence[ClientGroup] = ()) -> None:
        self._networks = tuple(networks)
        self._groups = tuple(groups)
        self.grouped = bool(groups)
        """Whether any group is configured (else every client is in none)."""
        self._memo: dict[str, Groups] = {}
        self.known = self._memo.get
        """The client's groups (or `REFUSED_CLIENT`) if classified before, else None: the
        per-query path calls this (a C method, no Python frame) and `classify` only when
        it says None."""
        # one object per distinct set of groups, so that memos keyed by it compare by
        # identity first
        self._interned: dict[Groups, Groups] = {}

    def classify(self, address: str) -> Groups:
        """The client's groups, or `REFUSED_CLIENT` when it may not query at all."""
        known = self._memo.get(address)
        if known is not None:
            return known
        ip = client_ip(address)
        verdict = REFUSED_CLIENT
        if ip is not None and any(ip.version == net.version and ip in net
                                  for net in self._networks):
            groups = groups_of(self._groups, ip)
            verdict = self._interned.setdefault(groups, groups)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()  # bounded: a spoofing flood cannot grow memory
        self._memo[address] = verdict
        return verdict

    def allows(self, address: str) -> bool:
        return self.classify(address) is not REFUSED_CLIENT


class AccessStage(Stage):
    """REFUSED with EDE 18 for clients outside `server.allow_clients`; others pass on, with
    their groups on the request."""

    __slots__ = ("_classify", "_known", "_refused", "_udp_size")

    COUNTERS = (REFUSED.counter,)

    def __init__(self, setup: StageSetup) -> None:
        self._refused = 0
        self.reconfigure(setup.config)

    def handle(self, request: Request) -> bytes | None:
        groups = self._known(request.client)
        if groups is None:
            groups = self._classify(request.client)
        if groups is not REFUSED_CLIENT:
            request.groups = groups
            return None
        self._refused += 1
        request.kind = REFUSED
        return answers.refused(request.query, REFUSED.ede, udp_size=self._udp_size)

    def counters(self) -> dict[str, int]:
        return {REFUSED.counter: self._refused}

    def reconfigure(self, config: Config) -> None:
        clients = ClientNetworks(config.server.allow_clients, config.groups)
        self._known, self._classify = clients.known, clients.classify
        self._udp_size = config.server.edns_udp_size
