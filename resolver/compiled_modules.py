"""Which build of the hot modules runs: compiled with mypyc, or their Python source.

`make build` (and the container image) compiles the modules a query runs through from the
same source (setup.py, `DNSFENCE_COMPILE=1`); the extensions sit beside the `.py` files and
Python would import them first. This module, run by `import resolver` before any of them is
imported, makes Python import the source instead when:

- `DNSFENCE_PURE_PYTHON=1` is in the environment (the pure-Python path: tests, benchmarks);
- any compiled module's source changed since the build (an editable checkout after an
  edit, before `make build`): compiled modules call each other directly, so one stale module
  makes the whole set stale, and a stale build is never used silently.

It reads `resolver/compiled.json` (written by the build: each module's SHA-256) and only
the standard library, and costs well under a millisecond at start.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

PURE_PYTHON_ENV = "DNSFENCE_PURE_PYTHON"
REBUILD = "make build"
PACKAGE_DIR = Path(__file__).parent
MANIFEST = PACKAGE_DIR / "compiled.json"


@dataclass(frozen=True, slots=True)
class HotModules:
    """What `import resolver` chose, for the start-up log and `dnsfence status`."""

    compiled: bool
    description: str
    stale: tuple[str, ...] = ()
    """Modules whose source differs from the build (a warning names them)."""


def pure_python() -> bool:
    return os.environ.get(PURE_PYTHON_ENV, "").strip().lower() in {"1", "true", "yes"}


class SourceFirst(importlib.abc.MetaPathFinder):
    """Finds the listed modules' `.py` files, ahead of the extensions beside them."""

    def __init__(self, modules: frozenset[str], root: Path) -> None:
        self._modules = modules
        self._root = root

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in self._modules:
            return None
        source = self._root.joinpath(*fullname.split(".")).with_suffix(".py")
        return importlib.util.spec_from_file_location(fullname, source)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _built(shared_library: str, root: Path) -> bool:
    """Whether mypyc's shared library (which every compiled module needs) is there."""
    stem = root.joinpath(*shared_library.split("."))
    name = stem.name + "__mypyc"
    return any(stem.with_name(name + suffix).exists()
               for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def _recorded(manifest: Path) -> tuple[dict[str, str], str] | None:
    """The manifest's modules (name → source SHA-256) and shared library, if built."""
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
        return dict(recorded["modules"]), str(recorded["shared_library"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def choose(manifest: Path = MANIFEST, root: Path = PACKAGE_DIR.parent) -> HotModules:
    """The build to run: compiled only when built, wanted and built from this source."""
    return _choose(_recorded(manifest), root)


def _choose(recorded: tuple[dict[str, str], str] | None, root: Path) -> HotModules:
    if recorded is None or not _built(recorded[1], root):
        return HotModules(False, "python (the hot modules are not compiled)")
    if pure_python():
        return HotModules(False, f"python ({PURE_PYTHON_ENV} is set)")
    modules = recorded[0]
    stale = tuple(sorted(name for name, digest in modules.items()
                         if _digest(root.joinpath(*name.split(".")).with_suffix(".py"))
                         != digest))
    if stale:
        return HotModules(False, "python (the compiled hot modules are older than their "
                                 f"source: {REBUILD})", stale)
    return HotModules(True, f"compiled (mypyc, {len(modules)} hot modules)")


def install(manifest: Path = MANIFEST, root: Path = PACKAGE_DIR.parent) -> HotModules:
    """Choose, and unless the build is chosen, put the source first on the import path."""
    recorded = _recorded(manifest)  # read once: this runs at every `import resolver`
    chosen = _choose(recorded, root)
    if not chosen.compiled and recorded is not None:
        sys.meta_path.insert(0, SourceFirst(frozenset(recorded[0]), root))
    return chosen
