"""Answer counts: every answer by verdict and transport, and blocked answers by list.

These are the figures an admin is asked for ("how many attempts on TikTok since the
ban?"): the metrics endpoint and `dnsfence status` show them. The stage only observes,
so its place in the chain does not matter; it counts answers repeated by the repeat
stage too, since the query log and the metrics must agree.
"""

from __future__ import annotations

from typing import ClassVar, Final

from resolver.stages.contract import BLOCKED, Request, ResponseKind, Series, Stage, StageSetup

_KINDS = tuple(ResponseKind)
_BLOCKED: Final = BLOCKED
"""Final: the compiled build reads it from a C static, not the module's dict, per answer."""


class AnswerCountsStage(Stage):
    """Counts each answer once, whichever stage made it and whenever it was made."""

    __slots__ = ("_by_list", "_cells", "_observed")

    SERIES: ClassVar[dict[str, tuple[str, ...]]] = {
        "queries": ("verdict", "proto"), "blocked": ("list",), "observed": ("list",)}

    def __init__(self, setup: StageSetup) -> None:
        # UDP cells first, then TCP: cell = kind.index + len(kinds) * tcp
        self._cells = [0] * (2 * len(_KINDS))
        self._by_list: dict[str, int] = {}
        self._observed: dict[str, int] = {}  # answers of a warning period, by list

    def observe(self, request: Request, answer: bytes) -> None:
        kind = request.kind
        if kind is _BLOCKED:  # the usual answer first, by its index 0: no attribute read
            self._cells[9 * request.tcp] += 1
            found = request.found
            if found is not None:
                name = found[0].list_name
                by_list = self._by_list
                by_list[name] = by_list.get(name, 0) + 1
            return
        if kind is None:
            return
        self._cells[kind.index + 9 * request.tcp] += 1
        if request.observed is not None:
            name = request.observed[0].list_name
            observed = self._observed
            observed[name] = observed.get(name, 0) + 1

    def series(self) -> dict[str, Series]:
        cells = self._cells
        count = len(_KINDS)
        queries: Series = {}
        for kind in _KINDS:
            queries[(kind.verdict, "udp")] = float(cells[kind.index])
            queries[(kind.verdict, "tcp")] = float(cells[kind.index + count])
        return {"queries": queries,
                "blocked": {(name, ): float(n) for name, n in self._by_list.items()},
                "observed": {(name, ): float(n) for name, n in self._observed.items()}}

    def blocked_by_list(self) -> dict[str, int]:
        """Blocked answers per list, for `dnsfence status`."""
        return dict(self._by_list)


if len(_KINDS) != 9:  # the 9 in `observe`: a literal, not a global lookup per query
    raise AssertionError("AnswerCountsStage.observe assumes 9 response kinds")
if BLOCKED.index != 0:  # `observe` counts a block in cell 0 (UDP) or 9 (TCP)
    raise AssertionError("AnswerCountsStage.observe assumes BLOCKED is the first kind")
