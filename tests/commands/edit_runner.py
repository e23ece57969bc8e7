"""Edit commands run in this process from a directory holding a copy of the shipped list."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

REPO = Path(__file__).resolve().parent.parent.parent
SHIPPED = REPO / "blocklists" / "tiktok.yaml"


def edit_main(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    """`dnsfence ARGV` in this process, its output captured."""
    from resolver.cli import main

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        return main(list(argv))


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


def shipped_site(root: Path) -> Path:
    """A working directory whose ./blocklists holds the shipped tiktok list."""
    (root / "blocklists").mkdir()
    shutil.copy(SHIPPED, root / "blocklists" / "tiktok.yaml")
    return root


def tiktok(site: Path) -> bytes:
    return (site / "blocklists" / "tiktok.yaml").read_bytes()


def in_process(site: Path, *args: str) -> Run:
    """The same command line run in this process (from `site`): for the many refusals,
    where starting a process each time would only slow the tests down."""
    out, err = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    os.chdir(site)
    try:
        with contextlib.redirect_stderr(err):  # argparse writes usage errors there itself
            status = edit_main(args, out, err)
    except SystemExit as stop:
        status = int(stop.code or 0)
    finally:
        os.chdir(cwd)
    return Run(status, out.getvalue(), err.getvalue())
