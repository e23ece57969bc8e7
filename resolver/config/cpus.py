"""How many CPUs this process may use, for `workers: auto`."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path


def usable_cpus(cgroup_root: Path = Path("/sys/fs/cgroup"),
                own_cgroup: Path = Path("/proc/self/cgroup")) -> int:
    """CPUs this process may use: its affinity mask (`taskset`, cpusets, `docker run
    --cpuset-cpus`), capped by a CPU quota (`docker run --cpus`, systemd's CPUQuota=)
    rounded up."""
    try:
        count = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        count = max(1, os.cpu_count() or 1)
    quota = cpu_quota(cgroup_root, own_cgroup)
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return count


def cpu_quota(cgroup_root: Path, own_cgroup: Path) -> float | None:
    """CPUs' worth of time our cgroup may use per period, or None when unlimited/unknown.

    The tightest quota from our group up to the root counts: a limit on a parent (a
    systemd slice) caps us too. Walking up also finds a container's own group when the
    container sees the host's cgroup path in /proc/self/cgroup but has its own group
    mounted at the root (Docker without a private cgroup namespace)."""
    try:
        lines = own_cgroup.read_text(encoding="ascii").splitlines()
    except OSError:
        lines = []
    # cgroup v2: "0::/system.slice/dnsfence.service" names our group
    unified = next((line[3:] for line in lines if line.startswith("0::")), "/")
    v2 = [directory / "cpu.max" for directory in _up_from(cgroup_root, unified)]
    quotas = [quota for path in v2 if (quota := _v2_quota(path)) is not None]
    if not any(path.exists() for path in v2):
        # cgroup v1: "4:cpu,cpuacct:/docker/abc", the hierarchy mounted at <root>/cpu
        v1 = next((parts[2] for parts in (line.split(":", 2) for line in lines)
                   if len(parts) == 3 and "cpu" in parts[1].split(",")), "/")
        quotas = [quota for directory in _up_from(cgroup_root / "cpu", v1)
                  if (quota := _v1_quota(directory)) is not None]
    return min(quotas) if quotas else None


def _up_from(root: Path, group: str) -> Iterator[Path]:
    """The group's directory under `root`, then each parent up to `root` itself."""
    parts = [part for part in group.split("/") if part and part not in (".", "..")]
    for depth in range(len(parts), -1, -1):
        yield root.joinpath(*parts[:depth])


def _v2_quota(path: Path) -> float | None:
    try:
        quota, period = path.read_text(encoding="ascii").split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _v1_quota(directory: Path) -> float | None:
    try:
        quota_us = int((directory / "cpu.cfs_quota_us").read_text(encoding="ascii"))
        period_us = int((directory / "cpu.cfs_period_us").read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None
