"""The thread that keeps the dashboard's attempts current: it reads what the query log
gained every few seconds (a bounded number of bytes each time) and counts it.

DNS comes first: nothing here runs per query nor per request. The thread starts when the
dashboard is first looked at and stops reading when nobody has looked for a while (it
catches up when someone looks again). A request only takes the last snapshot, made by
this thread.

Reading costs some 7 µs of CPU a record, so a flood of blocked queries (tens of thousands
a second, each one logged) cannot be followed for free. With one worker the reading also
shares the GIL with the DNS thread, which gives it up at every send and receive: a
thread that kept it busy for its 5 ms switch interval would make each packet wait (the
"convoy effect" of `resolver.reload`). So the log is read in slices of some 2 ms of CPU,
each followed by a rest long enough to keep the reading under `DUTY` of one core; during
a flood the charts lag behind, and the page says by how many bytes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from resolver.dashboard.attempts import Attempts, AttemptWindow
from resolver.querylog.follow import LogFollower, Progress
from resolver.querylog.reader import LINE_LIMIT

log = logging.getLogger("dnsfence")

INTERVAL = 5.0
"""Seconds between two reads of the log (the attempts are at most this old)."""
CATCH_UP = 1.0
"""Seconds at least between two reads while the log has more to read than one budget."""
BUDGET = 1 << 20
"""Bytes read at most per read (the snapshot is made after each): about 5,000 records."""
SLICE = LINE_LIMIT
"""Bytes parsed at once: some 300 records, 2 ms of CPU (the longest line it must be able
to skip whole is `LINE_LIMIT`)."""
DUTY = 0.01
"""Share of one core the reading may take: a slice that took t seconds of CPU is followed
by a rest of t / DUTY."""
IDLE_AFTER = 300.0
"""Seconds after the last look at the dashboard when reading stops."""
FIRST_WAIT = 1.0
"""Seconds the first look waits for the first read (so a page served with scripts off
shows attempts at once); later looks take what there is."""


@dataclass(frozen=True, slots=True)
class LogState:
    """How far the log was read, for the page to say how current its charts are."""

    path: str
    files: int
    read_bytes: int
    behind_bytes: int
    records: int        # in the window, read so far
    skipped: int        # lines that were not records
    read_at: float | None
    error: str | None = None


class LogWatch:
    """Follows the query log at `path` for the attempts of the last 30 days."""

    def __init__(self, path: Path, timezone: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.timezone = timezone
        self._clock = clock
        self._window = AttemptWindow(timezone)
        now = datetime.fromtimestamp(clock(), UTC)
        self._follower = LogFollower(path, self._window.start(now))
        self._looked_at = 0.0
        self._idle = False
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one starter
        self._first = threading.Event()
        self.attempts: Attempts = self._window.snapshot(now)
        self.state = LogState(str(path), 0, 0, 0, 0, 0, None)

    def looked_at(self) -> None:
        """A request wants the attempts: start (or wake) the reading thread."""
        self._looked_at = self._clock()
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopped:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="dnsfence-dashboard-log")
                    self._thread.start()
            self._first.wait(FIRST_WAIT)
        elif self._idle:
            self._wake.set()

    def step(self, pace: bool = True) -> None:
        """One read of up to `BUDGET` bytes, a slice at a time (resting between slices when
        `pace`), then a new snapshot (the thread's work; tests call it directly)."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        progress: Progress | None = None
        error = None
        try:
            self._follower.forget_before(self._window.start(now))
            self._window.drop_before(now)
            start = self._follower.bytes_read
            while not self._stopped:
                spent = time.thread_time()
                records, progress = self._follower.read(SLICE)
                self._window.add(records)
                if not progress.behind or progress.read - start >= BUDGET:
                    break
                if pace:
                    time.sleep((time.thread_time() - spent) / DUTY)
        except OSError as exc:  # the log's directory unreadable: say so, try again later
            error = f"cannot read {self.path}: {exc.strerror or exc}"
        self.attempts = self._window.snapshot(now)
        reader = self._follower.reader
        self.state = LogState(
            str(self.path), self._follower.files,
            progress.read if progress else self.state.read_bytes,
            progress.behind if progress else self.state.behind_bytes,
            reader.records, reader.skipped, now.timestamp(), error)

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stopped:
            if self._clock() - self._looked_at > IDLE_AFTER:
                self._idle = True  # until someone looks again (a look wakes it at once)
                self._wake.wait(INTERVAL)
                self._wake.clear()
                continue
            self._idle = False
            try:
                self.step()
            except Exception:  # never let the dashboard take the server down
                log.exception("dnsfence: the dashboard could not read the query log")
            self._first.set()
            rest = CATCH_UP if self.state.behind_bytes else INTERVAL
            self._wake.wait(rest)  # set early only by stop()
            self._wake.clear()
