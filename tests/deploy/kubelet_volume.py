"""A ConfigMap volume laid out and updated the way the kubelet does it, and git-sync's layout.

The kubelet (pkg/volume/util/atomic_writer.go) never rewrites a file in place: each version of
the ConfigMap is a new hidden directory named after the time, `..data` is a symlink to the
current one, and every visible file is a symlink through it (`tiktok.yaml ->
..data/tiktok.yaml`). An update writes the new directory, points `..data_tmp` at it, renames
that over `..data` (the atomic step), adds links for new files, removes links of dropped ones,
and deletes the old directory. git-sync does the same with one symlink to a worktree.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

DATA = "..data"


class ConfigMapVolume:
    """A directory that holds `files` as a mounted ConfigMap would; `update` swaps them."""

    def __init__(self, path: Path, files: Mapping[str, str]) -> None:
        self.path = path
        self.path.mkdir(parents=True)
        self._version: Path | None = None
        self.update(files)

    def update(self, files: Mapping[str, str]) -> None:
        old = self._version
        new = Path(tempfile.mkdtemp(
            prefix=time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()), dir=self.path))
        for name, text in files.items():
            (new / name).write_text(text, encoding="utf-8")
        scratch = self.path / f"{DATA}_tmp"
        scratch.symlink_to(new.name)
        os.replace(scratch, self.path / DATA)
        for name in files:
            link = self.path / name
            if not link.is_symlink():
                link.symlink_to(f"{DATA}/{name}")
        for link in self.path.iterdir():
            if link.is_symlink() and not link.name.startswith("..") and link.name not in files:
                link.unlink()
        if old is not None:
            shutil.rmtree(old)
        self._version = new

    def names(self) -> list[str]:
        """The visible files, as `ls` in the pod shows them."""
        return sorted(p.name for p in self.path.iterdir() if not p.name.startswith("."))


class GitSyncCheckout:
    """git-sync's `--root` with `--link=current`: `current -> .worktrees/<commit>`, swapped
    by renaming a new symlink over it once the new worktree is complete."""

    def __init__(self, root: Path, files: Mapping[str, str]) -> None:
        self.root = root
        (root / ".worktrees").mkdir(parents=True)
        self.link = root / "current"
        self._commits = 0
        self._worktree: Path | None = None
        self.update(files)

    def update(self, files: Mapping[str, str]) -> None:
        """`files` by their path inside the repository (`blocklists/tiktok.yaml`)."""
        self._commits += 1
        old = self._worktree
        worktree = self.root / ".worktrees" / f"{self._commits:040x}"
        for name, text in files.items():
            (worktree / name).parent.mkdir(parents=True, exist_ok=True)
            (worktree / name).write_text(text, encoding="utf-8")
        scratch = self.root / "tmp-link"
        scratch.symlink_to(os.path.relpath(worktree, self.root))
        os.replace(scratch, self.link)
        if old is not None:
            shutil.rmtree(old)
        self._worktree = worktree
