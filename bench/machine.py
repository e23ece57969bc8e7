"""What a run was measured on: the machine, the tools' versions and the commit."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from typing import Any

from bench import servers
from bench.corpus import REPO


def _version(command: list[str], pattern: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    found = re.search(pattern, done.stdout + done.stderr)
    return found.group(1) if found else "unknown"


def describe() -> dict[str, Any]:
    model = "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        found = re.search(r"Model name:\s*(.+)", lscpu)
        model = found.group(1).strip() if found else model
        hypervisor = re.search(r"Hypervisor vendor:\s*(.+)", lscpu)
        if hypervisor:
            model += f" ({hypervisor.group(1).strip()} guest)"
    except OSError:
        pass
    commit = _version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], r"(\w+)")
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "resolver"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return {
        "cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "dnsperf": _version(["dnsperf", "-h"], r"Version ([\d.]+)"),
        "dnsmasq": _version([servers.binary("dnsmasq"), "--version"], r"version ([\d.]+)"),
        "unbound": _version([servers.binary("unbound"), "-V"], r"Version ([\d.]+)"),
        "commit": commit,
        "resolver_tree": "modified (uncommitted changes in resolver/)" if dirty else "clean",
    }
