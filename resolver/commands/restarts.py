"""When a dead worker is started again, and when dying has become a crash loop.

A worker that dies is restarted after a delay that doubles with each quick death of the
same worker (0.5 s, 1 s, 2 s ... 30 s) and starts again from 0.5 s once one has lived a
minute: a bug that kills a worker on one rare query costs half a second, one that kills
it at start-up does not spin the CPU. Five deaths within a minute, whichever workers,
are a crash loop: restarting here will not help, so the server stops (non-zero) and the
service manager (systemd, Docker) restarts the whole process, where an operator sees it.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from dataclasses import dataclass, field

RESTART_FIRST = 0.5
RESTART_MAX = 30.0
STABLE_AFTER = 60.0
"""Seconds a worker must have lived for its next death to start the backoff again."""
CRASH_LOOP_DEATHS = 5
CRASH_LOOP_WINDOW = 60.0


def describe_exit(status: int) -> str:
    """A wait status in words: 'exited with status 1', 'was killed by signal 9 (SIGKILL)'."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return f"exited with status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"was killed by signal {-code}"
    return f"was killed by signal {-code} ({name})"


@dataclass(slots=True)
class RestartSchedule:
    """Restart delays per worker index, and the deaths of the last CRASH_LOOP_WINDOW."""

    first: float = RESTART_FIRST
    most: float = RESTART_MAX
    stable_after: float = STABLE_AFTER
    loop_deaths: int = CRASH_LOOP_DEATHS
    loop_window: float = CRASH_LOOP_WINDOW
    restarts: int = 0
    """Workers started again after a death (for `status` and /metrics)."""
    _next: dict[int, float] = field(default_factory=dict)
    _deaths: deque[float] = field(default_factory=deque)

    def death(self, index: int, lived: float, now: float) -> float | None:
        """Worker `index` died after `lived` seconds at `now` (monotonic): seconds to wait
        before starting it again, or None when this death makes a crash loop."""
        self._deaths.append(now)
        while self._deaths and self._deaths[0] <= now - self.loop_window:
            self._deaths.popleft()
        if len(self._deaths) >= self.loop_deaths:
            return None
        delay = self.first if lived >= self.stable_after else self._next.get(index, self.first)
        self._next[index] = min(delay * 2, self.most)
        return delay

    def restarted(self) -> None:
        self.restarts += 1

    @property
    def recent_deaths(self) -> int:
        """Deaths counted towards a crash loop (those of the last window, as of the last)."""
        return len(self._deaths)
