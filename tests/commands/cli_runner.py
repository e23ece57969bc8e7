"""The real `dnsfence` command run in a subprocess, and a small staged blocklist directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


def dnsfence(*args: str, cwd: Path, program: list[str] | None = None) -> Run:
    """`dnsfence ARGS` as an admin would run it, from `cwd`."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([*(program or [sys.executable, "-m", "resolver"]), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=30, check=False)
    return Run(done.returncode, done.stdout, done.stderr)


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


STAGED = """
    name: social
    reference: Board decision 2023-07
    effective: 2023-03-20
    timezone: Europe/Brussels
    domains:
      - tiktok.com
      - domain: later.example
        effective: 2023-04-01
    allow:
      - domain: newsroom.tiktok.com
        expires: 2023-06-01
"""


def stage_site(root: Path) -> Path:
    """A working directory with ./blocklists holding one clean list."""
    return write_tree(root, {"blocklists/social.yaml": STAGED})
