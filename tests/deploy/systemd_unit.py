"""Reading the shipped systemd unit and asking `systemd-analyze` about it, for the tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.integration.harness import require_tool

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "deploy" / "systemd"
UNIT = SYSTEMD / "dnsfence.service"
CONFIG = SYSTEMD / "dnsfence.yaml"
GUIDE = SYSTEMD / "README.md"
INSTALLED_PROGRAM = "/opt/dnsfence/bin/dnsfence"

EXPOSURE = re.compile(r"Overall exposure level for \S+: (?P<score>\d+\.\d) (?P<label>\w+)")
DOCUMENTED = re.compile(r"exposure level (?P<score>\d+\.\d) \((?P<label>\w+)\)")


def settings(text: str) -> dict[str, list[str]]:
    """Every `Key=value` of a unit, in order (keys may repeat: SystemCallFilter=)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def program() -> Path:
    """The `dnsfence` entry point of the Python running the tests (the venv's)."""
    return Path(sys.executable).parent / "dnsfence"


def verify(unit: Path) -> list[str]:
    """What `systemd-analyze verify` says about `unit`: nothing when it is accepted.

    It exits 0 for unknown keys and unparsable values, which it only warns about, so any
    output counts as a problem too."""
    binary = require_tool("systemd-analyze")
    result = subprocess.run([binary, "verify", str(unit)], capture_output=True, text=True,
                            timeout=60, check=False)
    problems = (result.stdout + result.stderr).splitlines()
    if result.returncode != 0:
        problems.append(f"exit status {result.returncode}")
    return problems


def security(unit: Path, threshold: float | None = None) -> tuple[float, str, int]:
    """`systemd-analyze security --offline=true`: exposure, its label, and the exit status
    (non-zero when the exposure is over `threshold`)."""
    binary = require_tool("systemd-analyze")
    argv = [binary, "security", "--offline=true", "--no-pager"]
    if threshold is not None:  # its scale is ten times the printed one
        argv.append(f"--threshold={round(threshold * 10)}")
    result = subprocess.run([*argv, str(unit)], capture_output=True, text=True, timeout=60,
                            check=False)
    match = EXPOSURE.search(result.stdout)
    assert match is not None, result.stdout + result.stderr
    return float(match["score"]), match["label"], result.returncode


def syscall_groups() -> dict[str, set[str]]:
    """systemd's named groups (@system-service...), members as listed (names or groups)."""
    binary = require_tool("systemd-analyze")
    text = subprocess.run([binary, "syscall-filter", "--no-pager"], capture_output=True,
                          text=True, timeout=60, check=True).stdout
    groups: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in text.splitlines():
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        if not line.startswith(" "):
            current = groups.setdefault(item, set())
        elif current is not None:
            current.add(item)
    return groups


def allowed_syscalls(unit_text: str) -> set[str]:
    """The system calls the unit's SystemCallFilter= lines allow, groups expanded."""
    groups = syscall_groups()

    def expand(name: str) -> set[str]:
        if not name.startswith("@"):
            return {name}
        return set().union(*(expand(member) for member in groups[name]))

    allowed: set[str] | None = None
    for value in settings(unit_text)["SystemCallFilter"]:
        deny = value.startswith("~")
        names = set().union(*(expand(name) for name in value.lstrip("~").split()))
        if deny:
            assert allowed is not None, "a deny list first means another model: not handled"
            allowed -= names
        else:
            allowed = (allowed or set()) | names
    assert allowed is not None
    return allowed
