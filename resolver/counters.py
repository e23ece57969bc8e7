"""What every worker reports, so `dnsfence status` and `/metrics` show totals whichever
process answers.

Each worker keeps its counters as plain integers on its stages (nothing shared on the
query path) and copies them once a second, with its labelled series and its policy and
reload state, into its own slot of a shared memory mapping made before the fork. A
reader adds a worker's live counters (when it is one) to the other workers' last copies:
totals are at most a second behind.

A slot is a JSON document behind a sequence number that is odd while it is written, so
a reader never takes a half-written copy (a seqlock: the writer never waits).

Workers come and go (a restart, a reload's new generation), and Prometheus counters must
never go backwards: when a worker has exited, the supervisor adds its last copy to the
counters of departed workers, which it publishes in a slot of its own (the last one, with
`serving` false), and only then clears the worker's slot. Its document names the copies it
has absorbed (slot and sequence), and a reader reads the slots in order, so the
supervisor's slot last: whenever it reads, each copy is counted once.
"""

from __future__ import annotations

import json
import mmap
import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PUBLISH_INTERVAL = 1.0  # seconds between two copies of a worker's counters
SLOT_BYTES = 1 << 20
"""Room for one worker's copy. Pages are only touched when written, so an unused megabyte
costs nothing; it holds thousands of labelled series (lists, upstreams)."""

_HEADER = struct.Struct("<QqdI")  # sequence, pid, published at, document length
_SEQUENCE = struct.Struct("<Q")
_FIELDS = struct.Struct("<qdI")  # the header after its sequence
# The sequence is stored on its own, first when a write starts and last when it ends: a
# header packed in one go is copied in whatever order memcpy likes (glibc may store its end
# first), so a reader could see the old even sequence beside the new length.
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
    serving: bool = True
    """False for the supervisor's report: it answers no query; its counters are those of
    workers that have exited, and its state is the reload state every worker serves."""


@dataclass(slots=True)
class Departed:
    """What the workers that have exited counted, kept by the supervisor."""

    counters: dict[str, int] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    absorbed: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=64))
    """(slot, sequence) of the copies added here: a reader skips them while they are still
    in their slot. Sequences only grow, so an old pair never matches a later copy."""

    def add(self, slot: int, sequence: int, report: WorkerCounters,
            levels: frozenset[str] = frozenset()) -> None:
        """Keep the totals of an exited worker's last copy; its `levels` go with it."""
        for name, count in report.counters.items():
            if name not in levels:
                self.counters[name] = self.counters.get(name, 0) + count
        for family, values in report.series.items():
            into = self.series.setdefault(family, {})
            for labels, value in values.items():
                into[labels] = into.get(labels, 0.0) + value
        self.absorbed.append((slot, sequence))


@dataclass(frozen=True, slots=True)
class SlotCopy:
    """One slot as read: the copy's sequence number, the report, and the copies it absorbed."""

    sequence: int
    report: WorkerCounters
    absorbed: tuple[tuple[int, int], ...] = ()


class SharedCounters:
    """Slots in an anonymous shared mapping; make it before forking.

    `workers` is how many workers should be serving; `slots` (default: as many) is how many
    reports there is room for, more when workers overlap (a reload's old and new ones) and
    a supervisor reports too. `names` are the counters a slot always holds (the pipeline's
    `counter_names()`); missing ones read as 0.
    """

    def __init__(self, workers: int, names: Sequence[str], slot_bytes: int = SLOT_BYTES,
                 slots: int | None = None) -> None:
        if workers < 1:
            raise ValueError("at least one worker")
        self.workers = workers
        self.slots = workers if slots is None else slots
        if self.slots < workers:
            raise ValueError("fewer slots than workers")
        self.names = tuple(names)
        self._slot_bytes = slot_bytes
        self._map = mmap.mmap(-1, slot_bytes * self.slots)  # MAP_SHARED: seen across fork

    def publish(self, index: int, pid: int, now: float, counters: dict[str, int],
                series: dict[str, Series] | None = None,
                state: dict[str, Any] | None = None, *, serving: bool = True,
                absorbed: Sequence[tuple[int, int]] = ()) -> None:
        """Copy one report into slot `index`. Raises ValueError when it does not fit."""
        document = json.dumps({
            "counters": {name: int(counters.get(name, 0)) for name in self.names},
            "series": {family: [[*labels, value] for labels, value in values.items()]
                       for family, values in (series or {}).items()},
            "state": state or {},
            "serving": serving,
            "absorbed": [list(pair) for pair in absorbed],
        }, separators=(",", ":")).encode()
        if _HEADER.size + len(document) > self._slot_bytes:
            raise ValueError(f"a worker's report of {len(document)} bytes does not fit")
        base = index * self._slot_bytes
        sequence = _SEQUENCE.unpack_from(self._map, base)[0]
        _SEQUENCE.pack_into(self._map, base, sequence + 1)  # odd: being written
        _FIELDS.pack_into(self._map, base + _SEQUENCE.size, pid, now, len(document))
        self._map[base + _HEADER.size:base + _HEADER.size + len(document)] = document
        _SEQUENCE.pack_into(self._map, base, sequence + 2)

    def clear(self, index: int) -> None:
        """Empty slot `index` (its worker has exited and its copy was absorbed)."""
        base = index * self._slot_bytes
        sequence = _SEQUENCE.unpack_from(self._map, base)[0]
        writing = sequence | 1  # odd: being written (already odd if a writer died mid-way)
        _SEQUENCE.pack_into(self._map, base, writing)
        _FIELDS.pack_into(self._map, base + _SEQUENCE.size, 0, 0.0, 0)
        _SEQUENCE.pack_into(self._map, base, writing + 1)

    def read(self) -> list[WorkerCounters]:
        """Every report in its slot, in slot order, each copy counted once (see above)."""
        copies = [(index, self.read_slot(index)) for index in range(self.slots)]
        absorbed = {pair for _, copy in copies if copy is not None for pair in copy.absorbed}
        return [copy.report for index, copy in copies
                if copy is not None and (index, copy.sequence) not in absorbed]

    def read_slot(self, index: int) -> SlotCopy | None:
        """What slot `index` holds; None when empty, or when it stays half-written."""
        base = index * self._slot_bytes
        for _ in range(_READ_ATTEMPTS):
            sequence, pid, published_at, length = _HEADER.unpack_from(self._map, base)
            if sequence == 0 or pid == 0:
                return None  # never published, or cleared
            if sequence % 2:
                continue  # being written just now
            start = base + _HEADER.size
            document = bytes(self._map[start:start + length])
            if _SEQUENCE.unpack_from(self._map, base)[0] != sequence:
                continue  # rewritten while read
            try:
                report = json.loads(document)
            except ValueError:
                continue  # torn all the same (the two processes' stores seen out of order)
            series = {family: {tuple(row[:-1]): float(row[-1]) for row in rows}
                      for family, rows in report["series"].items()}
            return SlotCopy(sequence, WorkerCounters(
                pid, published_at, report["counters"], series, report["state"],
                report.get("serving", True)),
                tuple((int(slot), int(seq)) for slot, seq in report.get("absorbed", ())))
        return None


def totals(own_pid: int, own: dict[str, int], others: list[WorkerCounters],
           names: Sequence[str]) -> dict[str, int]:
    """This worker's live counters plus the other reports' last published ones."""
    summed = {name: int(own.get(name, 0)) for name in names}
    for worker in others:
        if worker.pid == own_pid and worker.serving:
            continue  # this worker's own copy, older than `own`
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
