"""Repeats: a UDP query whose bytes, all but the ID, were answered moments ago gets the
same answer bytes again under its own ID.

An office asks the same few hundred names over and over; for those, parsing, the policy
walk and rebuilding the answer give, within the same second, the same bytes every time.
This stage keeps those bytes, keyed by the query from its flags on, so a repeat costs one
dict lookup. It keeps only answers the stage that made them marked as the same until some
instant (`Request.same_until`), and only within the policy period they were made in: a
transition or a reload starts a new period, and a config change clears the stage. It
decides client access itself, so a refused client never gets a repeat, and when client
groups are configured it keeps the answers of each set of groups apart (a list may apply
to one group and not another: one group's answer must never reach another).
"""

from __future__ import annotations

from resolver.config.settings import Config
from resolver.dns.query import Query
from resolver.policy.audience import Groups
from resolver.policy.index import Found
from resolver.policy.period import PolicyPeriod
from resolver.stages.access import REFUSED_CLIENT, ClientNetworks
from resolver.stages.contract import BLOCKED, Request, ResponseKind, Stage, StageSetup

_LIMIT = 20_000
"""Entries at most; when full the stage starts again empty (a flood of distinct names
cannot grow it, and the hot set is back within a second)."""

class Entry:
    """A remembered answer: its bytes from byte 2 on, valid until, its kind, the policy
    period it belongs to, the counter of that kind's repeats (a list cell, since an
    enum-keyed dict costs a Python-level hash per query); then the parsed query, the
    deciding rule and the rule of a warning period (`Request.observed`), for those who
    observe answers: the query log and the metrics.

    A class rather than a tuple: compiled, reading one field of a tuple held in a dict
    unpacks all eight (a reference count each) and boxes the time, where a native
    object's field is one read."""

    __slots__ = ("answer", "found", "kind", "observed", "period", "query", "repeats", "until")

    def __init__(self, answer: bytes, until: float, kind: ResponseKind, period: PolicyPeriod,
                 repeats: list[int], query: Query, found: Found | None,
                 observed: Found | None) -> None:
        self.answer = answer
        self.until = until
        self.kind = kind
        self.period = period
        self.repeats = repeats
        self.query = query
        self.found = found
        self.observed = observed


class RepeatStage(Stage):
    """Answer bytes of recent UDP queries, keyed by the query without its ID."""

    __slots__ = ("_classify", "_entries", "_grouped", "_known", "_of_groups", "_repeats")

    COUNTERS = ("repeats",)  # and each repeated kind's own counter, declared by its stage

    def __init__(self, setup: StageSetup) -> None:
        self._entries: dict[bytes, Entry] = {}  # of clients in no group
        self._of_groups: dict[Groups, dict[bytes, Entry]] = {}  # of the others, by groups
        self._repeats = {kind: [0] for kind in ResponseKind}
        self.reconfigure(setup.config)

    def handle(self, request: Request) -> bytes | None:
        if request.tcp:
            return None
        data = request.data
        if self._grouped:
            groups = self._known(request.client)
            if groups is None:
                groups = self._classify(request.client)
            if groups is REFUSED_CLIENT:
                return None  # the access stage answers it
            entries = self._of_groups.get(groups) if groups else self._entries
            entry = entries.get(data[2:]) if entries is not None else None
            if entry is None or request.now >= entry.until or entry.period is not request.period:
                return None
            request.groups = groups
        else:
            entry = self._entries.get(data[2:])
            if entry is None or request.now >= entry.until or entry.period is not request.period:
                return None
            groups = self._known(request.client)
            if groups is None:
                groups = self._classify(request.client)
            if groups is REFUSED_CLIENT:
                return None
        request.kind = entry.kind
        request.query = entry.query  # the same question; only its ID differs
        request.found = entry.found
        request.observed = entry.observed
        entry.repeats[0] += 1
        return data[:2] + entry.answer

    def remember(self, request: Request, answer: bytes) -> None:
        if request.same_until > request.now and not request.tcp and request.kind is not None:
            groups = request.groups
            if groups and self._grouped:
                entries = self._of_groups.get(groups)
                if entries is None:
                    entries = self._of_groups[groups] = {}
            else:
                entries = self._entries
            if len(entries) >= _LIMIT:
                entries.clear()
            kind = request.kind
            entries[request.data[2:]] = Entry(answer[2:], request.same_until, kind,
                                              request.period, self._repeats[kind],
                                              request.query,
                                              request.found if kind is BLOCKED else None,
                                              request.observed)

    def counters(self) -> dict[str, int]:
        """Repeats in all, and each kind's repeats under that kind's own counter."""
        found = {kind.counter: cell[0] for kind, cell in self._repeats.items() if cell[0]}
        found["repeats"] = sum(cell[0] for cell in self._repeats.values())
        return found

    def reconfigure(self, config: Config) -> None:
        clients = ClientNetworks(config.server.allow_clients, config.groups)
        self._known, self._classify = clients.known, clients.classify
        self._grouped = clients.grouped
        self._entries.clear()  # its answers were made under the old settings
        self._of_groups.clear()

    def __len__(self) -> int:
        return len(self._entries) + sum(map(len, self._of_groups.values()))
