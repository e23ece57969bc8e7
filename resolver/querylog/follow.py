"""Following the query log: each call reads only what the files gained since the last one.

A dashboard that re-read a month of log every few seconds would cost more than the DNS it
watches; this keeps, per file (by device and inode, which a rotation's rename keeps), the
offset read up to, and reads at most a budget of bytes per call, so catching up with a
large log is spread over several calls. Only whole lines are taken from a file still being
written (a line being appended is read once it ends); records are checked and counted by
the same code as the whole log's (`QueryLogReader.records_in`).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from resolver.querylog.reader import LINE_LIMIT, QueryLogReader, log_files

FileKey = tuple[int, int]  # (st_dev, st_ino)


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the follower is: bytes read so far, and bytes left for later calls because
    the budget ran out (0: caught up)."""

    read: int
    behind: int


class LogFollower:
    """New records of the log at `path`; `since` drops older ones (and files last written
    before it are skipped whole, unread)."""

    def __init__(self, path: Path, since: datetime | None = None) -> None:
        self.path = path
        self.reader = QueryLogReader(path, since)
        """Its counts (lines, records, skipped, outside) add up over every call."""
        self._since = since.timestamp() if since is not None else None
        self._offsets: dict[FileKey, int] = {}
        self.bytes_read = 0
        self.files = 0
        """How many files the log had at the last read."""

    def forget_before(self, moment: datetime) -> None:
        """Records before `moment` are dropped from now on (a sliding window)."""
        self.reader.since = QueryLogReader(self.path, moment).since
        self._since = moment.timestamp()

    def read(self, budget: int) -> tuple[list[dict[str, Any]], Progress]:
        """The records the log gained, oldest file first, reading `budget` bytes at most."""
        records: list[dict[str, Any]] = []
        offsets: dict[FileKey, int] = {}
        files = log_files(self.path)
        self.files = len(files)
        behind = 0
        # opened together before any is read, as the reader does: a rotation meanwhile
        # renames open files, and none is missed (each is known by its inode)
        handles = [(file, _open(file)) for file in files]
        try:
            for file, handle in handles:
                if handle is None:  # rotated away or expired meanwhile
                    continue
                live = file == self.path
                status = os.fstat(handle.fileno())
                key = (status.st_dev, status.st_ino)
                offset = self._offsets.get(key)
                if offset is None or offset > status.st_size:  # new, or truncated
                    offset = 0
                    if self._since is not None and status.st_mtime < self._since:
                        offset = status.st_size  # nothing in it is recent enough
                left = status.st_size - offset
                take = min(budget, left)
                if take > 0:
                    handle.seek(offset)
                    data = handle.read(take)
                    end = data.rfind(b"\n") + 1
                    if not live and offset + len(data) >= status.st_size:
                        end = len(data)  # a rotated file's torn tail never ends: take it
                    if end == 0 and len(data) >= LINE_LIMIT:
                        end = len(data)  # a "line" that long is garbage (the reader's rule)
                    offset += end
                    budget -= end
                    self.bytes_read += end
                    records.extend(self._records(data[:end]))
                offsets[key] = offset
                if take < left:  # the budget ran out (a line being written is not behind)
                    behind += status.st_size - offset
        finally:
            for _, handle in handles:
                if handle is not None:
                    handle.close()
        self._offsets = offsets  # files that are gone are forgotten
        return records, Progress(self.bytes_read, behind)

    def _records(self, data: bytes) -> list[dict[str, Any]]:
        text = data.decode("utf-8", errors="replace")
        return list(self.reader.records_in(io.StringIO(text, newline="\n")))


def _open(file: Path) -> io.BufferedReader | None:
    try:
        return file.open("rb")
    except OSError:
        return None
