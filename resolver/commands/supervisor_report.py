"""The supervisor's report, in the last shared slot: the reload state every worker serves,
the restarts, and what the workers that have exited counted.

Two threads of the supervising process write it (the reloader's, after a reload or a
transition; the main one, after a worker exits and every second), so it is written under
a lock; readers in any process never wait (see `resolver.counters`).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from resolver.counters import Departed, SharedCounters


class SupervisorReport:
    """The supervisor's slot in `shared`, and the departed workers' totals behind it."""

    def __init__(self, shared: SharedCounters, slot: int, levels: frozenset[str]) -> None:
        self._shared = shared
        self.slot = slot
        self._levels = levels
        self._lock = threading.Lock()
        self._departed = Departed()
        self._state: dict[str, Any] = {}
        self._supervisor: dict[str, Any] = {}

    def set_state(self, state: dict[str, Any]) -> None:
        """The reloader's policy and reload state (`PolicyReloader.state`)."""
        with self._lock:
            self._state = state
            self._publish()

    def set_supervisor(self, info: dict[str, Any]) -> None:
        """Generation, restarts and the last death, as `status` shows them."""
        with self._lock:
            self._supervisor = info
            self._publish()

    def absorb(self, slot: int) -> None:
        """An exited worker's slot: keep its last copy's totals here, then empty the slot
        (in that order, so a reader counts the copy once whenever it reads)."""
        with self._lock:
            copy = self._shared.read_slot(slot)
            if copy is not None and copy.report.serving:
                self._departed.add(slot, copy.sequence, copy.report, self._levels)
                self._publish()
            self._shared.clear(slot)

    def publish(self) -> None:
        with self._lock:
            self._publish()

    def _publish(self) -> None:
        departed = self._departed
        self._shared.publish(self.slot, os.getpid(), time.time(), departed.counters,
                             departed.series, {**self._state, "supervisor": self._supervisor},
                             serving=False, absorbed=tuple(departed.absorbed))
