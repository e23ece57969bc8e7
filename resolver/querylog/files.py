"""The query log's files: the live file, its rotated copies, and the lock that orders them.

Every worker appends to the same live file `<path>`; rotated copies are `<path>.1`
(newest) to `<path>.<keep>` (oldest). Rotating is renaming, done under an exclusive flock
on `<path>.lock`, so two workers never rotate at once; a worker that still holds the old
live file open notices by its inode and reopens (its last lines land whole in `.1`).
Old data goes in two ways, both under the lock: rotated files last written more than
`retention_days` ago are deleted, and the live file is rotated once its first record is
that old, so a quiet log does not keep its oldest lines for ever.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DAY = 86_400.0
_FIRST_LINE_MAX = 65_536
"""Bytes read looking for the live file's first line."""


@dataclass(frozen=True, slots=True)
class LogFiles:
    """Where one query log lives and how much of it is kept."""

    path: Path
    keep: int
    retention_days: float

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def rotated(self, index: int) -> Path:
        """`<path>.<index>`: 1 is the newest rotated file."""
        return self.path.with_name(f"{self.path.name}.{index}")

    def rotated_indexes(self) -> list[int]:
        """The indexes of the rotated files there are, in ascending order."""
        pattern = re.compile(re.escape(self.path.name) + r"\.([1-9][0-9]*)")
        try:
            names = os.listdir(self.path.parent)
        except FileNotFoundError:
            return []
        return sorted(int(m.group(1)) for m in map(pattern.fullmatch, names) if m)

    def all_paths(self) -> list[Path]:
        """Every file of the log, oldest first: what a reader reads, in order."""
        live = [self.path] if self.path.exists() else []
        return [self.rotated(i) for i in reversed(self.rotated_indexes())] + live

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock that orders rotations between workers."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def rotate(self) -> None:
        """Live file -> `.1`, `.1` -> `.2` ...; files beyond `keep` deleted. Hold `locked`."""
        for index in reversed(self.rotated_indexes()):
            if index >= self.keep:
                _unlink(self.rotated(index))
            else:
                os.replace(self.rotated(index), self.rotated(index + 1))
        if self.keep > 0:
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.path, self.rotated(1))
        else:
            _unlink(self.path)

    def expire(self, now: float) -> bool:
        """Apply retention at `now`: delete old rotated files, rotate the live file when its
        first record is older than allowed. Hold `locked`. True if the live file rotated."""
        limit = now - self.retention_days * DAY
        for index in self.rotated_indexes():
            path = self.rotated(index)
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < limit:
                    _unlink(path)
        first = first_record_time(self.path)
        if first is not None and first < limit:
            self.rotate()
            return True
        return False


def first_record_time(path: Path) -> float | None:
    """The `ts` of the file's first line as a POSIX time; None when it has none to read."""
    try:
        with path.open("rb") as stream:
            line = stream.readline(_FIRST_LINE_MAX)
        stamp = json.loads(line)["ts"]
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
