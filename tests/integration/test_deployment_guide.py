"""docs/DEPLOYMENT.md's commands, run as an admin would run them, in the guide's order.

Every command in a ```sh block is either in a block that begins with `# on a real host`
(machines, networks or service managers the tests do not have) or run here: `dnsfence` is
this checkout's, `dig` is the real one, against the real `dnsfence serve` with the shipped
lists, configured from `deploy/systemd/dnsfence.yaml` with only its addresses and
directories moved into a scratch directory. Two substitutions, nothing else:
`/etc/dnsfence/` becomes the scratch copy of that directory, and `dig @192.0.2.53` asks the
test server's loopback address and port. `# → text` after a command is text its output must
contain; every command must exit 0.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from .harness import REPO_ROOT, DnsfenceFactory, Unbound, free_port, require_tool

GUIDE = REPO_ROOT / "docs" / "DEPLOYMENT.md"
REAL_HOST = "# on a real host"
GUIDE_ADDRESS = "192.0.2.53"
RUNNABLE = ("dnsfence", "dig", "rm")


@dataclass(frozen=True)
class Command:
    line: int
    text: str
    expect: str | None


def guide_blocks(text: str) -> list[tuple[int, list[str]]]:
    """The ```sh blocks: (line number of the first line, the lines)."""
    blocks: list[tuple[int, list[str]]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == "```sh":
            start = index + 1
            end = start
            while lines[end].strip() != "```":
                end += 1
            blocks.append((start + 1, lines[start:end]))
            index = end
        index += 1
    return blocks


def guide_commands(text: str) -> tuple[list[Command], int]:
    """The commands to run, and how many blocks are left to a real host."""
    commands: list[Command] = []
    real_host = 0
    for first_line, block in guide_blocks(text):
        if block and block[0].startswith(REAL_HOST):
            real_host += 1
            continue
        for offset, raw in enumerate(block):
            stripped = raw.strip()
            if not stripped:
                continue
            command, _, comment = stripped.partition("  #")
            expect = None
            if comment.strip().startswith("→"):
                expect = comment.strip().removeprefix("→").strip()
            commands.append(Command(first_line + offset, command.strip(), expect))
    return commands, real_host


def test_every_command_is_run_here_or_marked_for_a_real_host() -> None:
    commands, real_host = guide_commands(GUIDE.read_text())
    assert real_host >= 5  # systemd, Docker, Kubernetes, clients, firewall, stepping back
    assert len(commands) >= 15
    for command in commands:
        program = shlex.split(command.text)[0]
        assert program in RUNNABLE, (
            f"docs/DEPLOYMENT.md:{command.line}: {command.text!r} is neither run by this test "
            f"nor in a block marked {REAL_HOST!r}")


def test_the_parser_sees_markers_and_expectations() -> None:
    text = ("```sh\n# on a real host\nsystemctl start x\n```\n\n```sh\n"
            "dnsfence lint   # → ok\ndig @192.0.2.53 a.example\n```\n")
    commands, real_host = guide_commands(text)
    assert real_host == 1
    assert commands == [Command(7, "dnsfence lint", "ok"),
                        Command(8, "dig @192.0.2.53 a.example", None)]


@pytest.fixture
def site(tmp_path: Path, unbound: Unbound) -> tuple[Path, int]:
    """/etc/dnsfence of the systemd install, moved under tmp_path: the shipped config with
    its listen address, upstream and directories pointed at this test."""
    etc = tmp_path / "etc" / "dnsfence"
    shutil.copytree(REPO_ROOT / "blocklists", etc / "blocklists",
                    ignore=shutil.ignore_patterns("README*"))
    config = yaml.safe_load((REPO_ROOT / "deploy" / "systemd" / "dnsfence.yaml").read_text())
    port = free_port()
    config["blocklists"] = str(etc / "blocklists")
    config["state_dir"] = str(tmp_path / "var" / "lib" / "dnsfence")
    config["lists"]["cache_dir"] = str(tmp_path / "var" / "cache" / "dnsfence")
    config["server"]["listen"] = [f"127.0.0.1:{port}"]
    config["server"]["workers"] = 1
    config["upstream"]["servers"] = [unbound.address]
    config["http"]["listen"] = "127.0.0.1:0"
    (etc / "dnsfence.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return etc, port


def test_the_guide_runs_from_install_check_to_stepping_back(
        site: tuple[Path, int], dnsfence_factory: DnsfenceFactory, tmp_path: Path) -> None:
    etc, port = site
    dig = require_tool("dig")
    dnsfence_factory("--config", str(etc / "dnsfence.yaml"), blocklists=None, upstream=None,
                     listen=f"127.0.0.1:{port}", state_dir=None)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "dnsfence"
    launcher.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m resolver \"$@\"\n")
    launcher.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(REPO_ROOT)}
    commands, _ = guide_commands(GUIDE.read_text())
    for command in commands:
        text = command.text.replace("/etc/dnsfence/", f"{etc}/")
        argv = shlex.split(text)
        if argv[0] == "dig":
            assert argv[1] == f"@{GUIDE_ADDRESS}", command
            argv = [dig, "@127.0.0.1", "-p", str(port), "+time=2", "+tries=1", *argv[2:]]
        run = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=60, check=False)
        where = f"docs/DEPLOYMENT.md:{command.line}: {command.text}"
        assert run.returncode == 0, f"{where}\nexit {run.returncode}\n{run.stdout}{run.stderr}"
        if command.expect is not None:
            output = run.stdout + run.stderr
            assert command.expect in re.sub(r"[ \t]+", " ", output) or \
                command.expect in output, f"{where}\nwanted {command.expect!r} in:\n{output}"
    assert not (etc / "blocklists" / "video-apps.yaml").exists()  # the guide's last step
    assert (tmp_path / "pilot-report.html").stat().st_size > 0
