"""Counters of every worker, so `dnsfence status` shows totals whichever worker answers.

Each worker keeps its counters as plain integers on its stages (nothing shared on the
query path) and copies them once a second into its own slot of a small shared memory
page made before the fork. The worker that answers a status query adds its live
counters to the other workers' last copies: totals are at most a second behind.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass

PUBLISH_INTERVAL = 1.0  # seconds between two copies of a worker's counters


@dataclass(frozen=True, slots=True)
class WorkerCounters:
    pid: int
    published_at: float
    counters: dict[str, int]


class SharedCounters:
    """One slot per worker in an anonymous shared mapping; make it before forking.

    `names` are the counters a slot holds (the pipeline's `counter_names()`), fixed for
    the life of the mapping.
    """

    def __init__(self, workers: int, names: Sequence[str]) -> None:
        if workers < 1:
            raise ValueError("at least one worker")
        self.workers = workers
        self.names = tuple(names)
        self._slot = struct.Struct(f"<qd{len(self.names)}q")  # pid, published at, counters
        self._map = mmap.mmap(-1, self._slot.size * workers)  # MAP_SHARED: seen across fork

    def publish(self, index: int, pid: int, now: float, counters: dict[str, int]) -> None:
        """Copy one worker's counters into its slot (names missing count as 0)."""
        values = [int(counters.get(name, 0)) for name in self.names]
        self._slot.pack_into(self._map, index * self._slot.size, pid, now, *values)

    def read(self) -> list[WorkerCounters]:
        """Every slot a worker has published to, in worker order."""
        out = []
        for index in range(self.workers):
            pid, published_at, *values = self._slot.unpack_from(self._map,
                                                                index * self._slot.size)
            if pid:
                out.append(WorkerCounters(pid, published_at,
                                          dict(zip(self.names, values, strict=True))))
        return out


def totals(own_pid: int, own: dict[str, int], others: list[WorkerCounters],
           names: Sequence[str]) -> dict[str, int]:
    """This worker's live counters plus the other workers' last published ones."""
    summed = {name: int(own.get(name, 0)) for name in names}
    for worker in others:
        if worker.pid == own_pid:
            continue
        for name, value in worker.counters.items():
            summed[name] += value
    return summed
