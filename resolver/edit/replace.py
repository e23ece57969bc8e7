"""Writing an edited list file: whole, atomically, and only over the text the edit began from."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from resolver.atomic_write import TemporaryFileError, write_atomically
from resolver.edit.checks import read_exactly
from resolver.edit.document import EditError


def replace_file(path: Path, text: str, *, previous: str | None) -> None:
    """Put `text` in `path` so that every reader sees the old file or the new one.

    Written by resolver.atomic_write (a hidden temporary file, which `load_policy`
    skips, renamed over `path`). The file keeps its permission bits (and its owner,
    where allowed); a symbolic link stays one, and the file it points to is replaced.
    `previous` is the text the edit started from (None: the file must not exist); if
    the file changed meanwhile nothing is written.
    """
    path = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        current = os.stat(path)
    except FileNotFoundError:
        current = None
    if previous is None and current is not None:
        raise EditError(f"{path} was created meanwhile; nothing was changed")
    if previous is not None and (current is None or read_exactly(path) != previous):
        raise EditError(f"{path} changed while it was being edited; nothing was changed "
                        "(run the command again)")
    mode = stat.S_IMODE(current.st_mode) if current else 0o666 & ~_umask()
    owner = (current.st_uid, current.st_gid) if current is not None else None
    try:
        write_atomically(path, text.encode("utf-8"), mode=mode, owner=owner)
    except TemporaryFileError as exc:
        raise EditError(f"cannot write in {path.parent}: {exc.strerror}; nothing was changed")\
            from None
    except OSError as exc:
        raise EditError(f"cannot write {path}: {exc.strerror or exc}; nothing was changed")\
            from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

