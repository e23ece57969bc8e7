"""Edit commands run in this process or as a program, from a directory holding a copy of the
shipped list."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import textwrap
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


def stand_in(prelude: str = "") -> list[str]:
    """`dnsfence` as a program of its own, after `prelude` (e.g. a sabotaged os.replace)."""
    script = ("from __future__ import annotations\nimport os, signal, sys\n"
              + textwrap.dedent(prelude)
              + "from resolver.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    return [sys.executable, "-c", script]


PROGRAM = [sys.executable, "-m", "resolver"]


def dnsfence(*args: str, cwd: Path, program: Sequence[str] = ()) -> Run:
    """`dnsfence ARGS` in a subprocess, from `cwd`."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([*(program or PROGRAM), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    return Run(done.returncode, done.stdout, done.stderr)


def lint(cwd: Path, *args: str) -> Run:
    """`dnsfence lint --strict` (the real one, in this process: it is not under test here)."""
    from resolver.cli import main

    out, err = io.StringIO(), io.StringIO()
    before = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["lint", "--strict", *args])
    finally:
        os.chdir(before)
    return Run(status, out.getvalue(), err.getvalue())


def new_lines(before: bytes, after: bytes) -> list[str]:
    """The lines `after` adds to `before`, which it must otherwise keep byte for byte."""
    old, new = before.decode().splitlines(True), after.decode().splitlines(True)
    assert new[:len(old)] == old
    return [line.rstrip("\n") for line in new[len(old):]]


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
