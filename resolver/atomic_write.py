"""Replacing a file so that every reader sees the old file or the new one, whole.

A server may reload a list, or read a downloaded copy, at any moment; a crash may
happen at any moment too. So the data goes to a hidden temporary file beside the
target (list loading skips dot files), is fsynced, renamed over the target, and the
directory is fsynced so the rename itself survives a crash. Both the last-good
copies of downloads and `dnsfence block|allow|list` edits write this way.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


class TemporaryFileError(OSError):
    """The temporary file could not be created: nothing was written at all."""


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644,
                     owner: tuple[int, int] | None = None) -> None:
    """Put `data` in `path` with permission bits `mode` (and `owner` as (uid, gid) where
    allowed); raises OSError, TemporaryFileError when not even the temporary file could be
    made. The temporary file never outlives a failure."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    except OSError as exc:
        raise TemporaryFileError(exc.errno, exc.strerror, exc.filename) from None
    try:
        with os.fdopen(handle, "wb") as out:
            # mkstemp's 0600 would hide the file from a server running as another user
            # than the command that wrote it; blocklists are not secret.
            os.fchmod(out.fileno(), mode)
            if owner is not None:
                with contextlib.suppress(PermissionError):
                    os.fchown(out.fileno(), *owner)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (POSIX); harmless where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
