"""The query log's writer: a bounded queue the query path appends to, and a thread that
formats and writes what it finds there every 0.2 s.

Answering never waits for the log: `submit` is one length check and one append, and when
the queue is full the record is dropped and counted. The thread writes whole lines only,
with single `os.write` calls on an O_APPEND descriptor, so several workers' lines never
tear or interleave (at most 4096 bytes, PIPE_BUF, per write on standard output). A log
that cannot be written (no directory, disk full) is reported once, counted, its records
dropped, and tried again at the next batch; the query path never sees the error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import stat
import threading
import time
from pathlib import Path

from resolver.querylog.anonymise import ClientAnonymiser, load_key
from resolver.querylog.files import LogFiles
from resolver.querylog.record import RawRecord, RecordFormatter, RecordQueue, chunk_ends

log = logging.getLogger("dnsfence")

FILE_CHUNK = 65_536
"""Bytes per write to a file at most (whole lines)."""
PIPE_CHUNK = getattr(select, "PIPE_BUF", 4096)
"""Bytes per write to standard output at most: POSIX keeps writes up to PIPE_BUF to a
pipe whole, whoever else writes to it."""
PART = 1024
"""Records formatted and written at a time."""
INTERVAL = 0.2
"""Seconds between batches: records wait at most this long for the disk."""
HOUSEKEEPING = 60.0
"""Seconds between retention checks (deleting old files is a matter of days)."""


class QueryLogWriter:
    """Formats and appends submitted records to one log, from a daemon thread of its own.

    `target` is the live file's path, or an open descriptor (1: standard output) that is
    written as it is, never rotated nor closed. Counters are plain ints: `written`,
    `dropped` (queue full, or the write failed), `errors` (failed attempts to write).
    """

    def __init__(self, target: Path | int, *, clients: str = "truncate",
                 state_dir: Path | None = None, rotate_bytes: int = 100 << 20, keep: int = 10,
                 retention_days: float = 90, queue: int = 65_536,
                 interval: float = INTERVAL, housekeeping: float = HOUSEKEEPING) -> None:
        if clients == "hash" and state_dir is None:
            raise ValueError("clients: hash needs the state directory that keeps its key")
        self.target = target
        self.written = 0
        self.errors = 0
        self._failed = 0  # counted by the writer's thread only
        self.queue = RecordQueue(queue)
        """What the query path submits to (the query log stage calls its `submit`)."""
        self._clients = clients
        self._state_dir = state_dir
        self._files = LogFiles(target, keep, retention_days) if isinstance(target, Path) \
            else None
        self._rotate_bytes = rotate_bytes
        self._interval = interval
        self._housekeeping = housekeeping
        self._next_housekeeping = 0.0
        self._formatter: RecordFormatter | None = None
        self._fd = -1
        self._done = 0  # records of the current batch written so far
        self._failing = False
        self._torn = False  # a failed write left half a line at the end of the log
        self._closing = False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dnsfence-querylog",
                                        daemon=True)
        self._thread.start()

    def submit(self, raw: RawRecord) -> None:
        """Queue one record; when the queue is full it is dropped and counted."""
        self.queue.submit(raw)

    @property
    def dropped(self) -> int:
        return self.queue.overflow + self._failed

    @property
    def queued(self) -> int:
        return len(self.queue)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread (waiting `timeout` s at most)."""
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)

    # --- the writer's thread ----------------------------------------------------------

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait(self._interval)
            self._batch()
        self._batch()
        if self._files is not None and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _batch(self) -> None:
        raws = self.queue.take()
        count = len(raws)
        self._done = 0
        try:
            if raws:
                self._write(raws)
            if self._files is not None and time.monotonic() >= self._next_housekeeping \
                    and self._files.path.parent.is_dir():
                self._expire()
        except Exception as exc:  # an OSError above all; the thread must go on
            self.errors += 1
            self._failed += count - self._done
            self._close_fd()
            if not self._failing:
                self._failing = True
                log.error("dnsfence: query log %s cannot be written (%s): records are "
                          "dropped and counted until it can", self._name(), exc)
            return
        if self._failing and count:
            self._failing = False
            log.warning("dnsfence: query log %s is written again", self._name())

    def _make_formatter(self) -> RecordFormatter:
        key = load_key(self._state_dir) if self._state_dir is not None \
            and self._clients == "hash" else b""
        self._formatter = RecordFormatter(ClientAnonymiser(self._clients, key))
        return self._formatter

    def _write(self, raws: list[RawRecord]) -> None:
        """Format and write `raws` (emptying the list) in chunks of whole lines, counting
        each chunk once written.

        A part of the batch at a time: its records, lines and chunks are still in the
        CPU's cache when they are written and freed, where a batch's (megabytes) are not."""
        formatter = self._formatter or self._make_formatter()
        files = self._files
        # a file's chunk is at most its rotation size: each chunk is followed by a check
        limit = min(FILE_CHUNK, self._rotate_bytes) if files is not None else PIPE_CHUNK
        fd = self._open() if files is not None else self.target
        assert isinstance(fd, int)
        raws.reverse()  # parts taken from the end: nothing after them moves
        while raws:
            part = raws[-PART:]
            del raws[-PART:]
            part.reverse()
            lines = formatter.lines(part)
            del part  # freed here, while still in cache
            start = 0
            for end in chunk_ends(lines, limit):  # each joined just before it is written
                fd = self._write_chunk(fd, "".join(lines[start:end]), end - start)
                start = end

    def _write_chunk(self, fd: int, text: str, count: int) -> int:
        data = text.encode("ascii")  # lines are ASCII: as many bytes as chars
        torn = self._torn
        if torn:  # end the half line a failed write left, so the next ones read whole
            data = b"\n" + data
        left = memoryview(data)
        try:
            while left:
                left = left[os.write(fd, left):]
        except OSError:
            sent = len(data) - len(left)
            if sent:  # the lines before the cut are whole: count them written
                self._torn = data[sent - 1] != 0x0A
                whole = data.count(b"\n", 0, sent) - torn
                self.written += whole
                self._done += whole
            raise
        self._torn = False
        self.written += count
        self._done += count
        if self._files is not None and os.fstat(fd).st_size >= self._rotate_bytes:
            fd = self._rotate()
        return fd

    def _name(self) -> str:
        return "standard output" if self._files is None else str(self.target)

    # --- the live file --------------------------------------------------------------------

    def _open(self) -> int:
        """The live file's descriptor, reopened if another worker rotated it away."""
        assert self._files is not None
        path = self._files.path
        if self._fd >= 0:
            try:
                on_disk = os.stat(path)
                mine = os.fstat(self._fd)
                if (on_disk.st_ino, on_disk.st_dev) == (mine.st_ino, mine.st_dev):
                    return self._fd
            except FileNotFoundError:
                pass
            self._close_fd()
        path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)  # personal data
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(f"{path} is not a regular file")
        self._fd = fd
        return fd

    def _close_fd(self) -> None:
        if self._files is not None and self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = -1

    def _rotate(self) -> int:
        """Rotate the live file if it is still over the size (another worker may have
        done it already); the descriptor to write to next."""
        files = self._files
        assert files is not None
        with files.locked():
            try:
                on_disk = os.stat(files.path)
                mine = os.fstat(self._fd)
                if (on_disk.st_ino, on_disk.st_dev) == (mine.st_ino, mine.st_dev) \
                        and on_disk.st_size >= self._rotate_bytes:
                    files.rotate()
            except FileNotFoundError:
                pass
            return self._open()

    def _expire(self) -> None:
        files = self._files
        assert files is not None
        self._next_housekeeping = time.monotonic() + self._housekeeping
        with files.locked():
            files.expire(time.time())
