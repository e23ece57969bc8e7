"""What every worker reports, so `dnsfence status` and `/metrics` show totals whichever
process answers.

Each worker keeps its counters as plain integers on its stages (nothing shared on the
query path) and copies them once a second, with its labelled series and its policy and
reload state, into its own slot of a shared memory mapping made before the fork. A
reader adds a worker's live counters (when it is one) to the other workers' last copies:
totals are at most a second behind.

A slot is a JSON document behind a sequence number that is odd while it is written, so
a reader never takes a half-written copy (a seqlock: the writer never waits).
"""

from __future__ import annotations

import json
import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PUBLISH_INTERVAL = 1.0  # seconds between two copies of a worker's counters
SLOT_BYTES = 1 << 20
"""Room for one worker's copy. Pages are only touched when written, so an unused megabyte
costs nothing; it holds thousands of labelled series (lists, upstreams)."""

_HEADER = struct.Struct("<QqdI")  # sequence, pid, published at, document length
_READ_ATTEMPTS = 100

Series = dict[tuple[str, ...], float]


@dataclass(frozen=True, slots=True)
class WorkerCounters:
    pid: int
    published_at: float
    counters: dict[str, int]
    series: dict[str, Series] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    """The worker's policy and reload state, as it reported them (JSON values)."""


class SharedCounters:
    """One slot per worker in an anonymous shared mapping; make it before forking.

    `names` are the counters a slot always holds (the pipeline's `counter_names()`);
    missing ones read as 0.
    """

    def __init__(self, workers: int, names: Sequence[str], slot_bytes: int = SLOT_BYTES
                 ) -> None:
        if workers < 1:
            raise ValueError("at least one worker")
        self.workers = workers
        self.names = tuple(names)
        self._slot_bytes = slot_bytes
        self._map = mmap.mmap(-1, slot_bytes * workers)  # MAP_SHARED: seen across fork

    def publish(self, index: int, pid: int, now: float, counters: dict[str, int],
                series: dict[str, Series] | None = None,
                state: dict[str, Any] | None = None) -> None:
        """Copy one worker's report into its slot. Raises ValueError when it does not fit."""
        document = json.dumps({
            "counters": {name: int(counters.get(name, 0)) for name in self.names},
            "series": {family: [[*labels, value] for labels, value in values.items()]
                       for family, values in (series or {}).items()},
            "state": state or {},
        }, separators=(",", ":")).encode()
        if _HEADER.size + len(document) > self._slot_bytes:
            raise ValueError(f"a worker's report of {len(document)} bytes does not fit")
        base = index * self._slot_bytes
        sequence = _HEADER.unpack_from(self._map, base)[0]
        _HEADER.pack_into(self._map, base, sequence + 1, pid, now, 0)  # odd: being written
        self._map[base + _HEADER.size:base + _HEADER.size + len(document)] = document
        _HEADER.pack_into(self._map, base, sequence + 2, pid, now, len(document))

    def read(self) -> list[WorkerCounters]:
        """Every slot a worker has published to, in worker order."""
        out = []
        for index in range(self.workers):
            found = self._read_slot(index * self._slot_bytes)
            if found is not None:
                out.append(found)
        return out

    def _read_slot(self, base: int) -> WorkerCounters | None:
        for _ in range(_READ_ATTEMPTS):
            sequence, pid, published_at, length = _HEADER.unpack_from(self._map, base)
            if sequence == 0:
                return None  # never published
            if sequence % 2:
                continue  # being written just now
            start = base + _HEADER.size
            document = bytes(self._map[start:start + length])
            if _HEADER.unpack_from(self._map, base)[0] != sequence:
                continue  # rewritten while read
            report = json.loads(document)
            series = {family: {tuple(row[:-1]): float(row[-1]) for row in rows}
                      for family, rows in report["series"].items()}
            return WorkerCounters(pid, published_at, report["counters"], series,
                                  report["state"])
        return None


def totals(own_pid: int, own: dict[str, int], others: list[WorkerCounters],
           names: Sequence[str]) -> dict[str, int]:
    """This worker's live counters plus the other workers' last published ones."""
    summed = {name: int(own.get(name, 0)) for name in names}
    for worker in others:
        if worker.pid == own_pid:
            continue
        for name, value in worker.counters.items():
            if name in summed:
                summed[name] += value
    return summed


def series_totals(workers: Sequence[WorkerCounters]) -> dict[str, Series]:
    """Each labelled series added up over `workers`."""
    summed: dict[str, Series] = {}
    for worker in workers:
        for family, values in worker.series.items():
            into = summed.setdefault(family, {})
            for labels, value in values.items():
                into[labels] = into.get(labels, 0.0) + value
    return summed
