"""How many CPUs this process may use, for `workers: auto`."""

from __future__ import annotations

import math
import os
from pathlib import Path


def usable_cpus(cgroup_root: Path = Path("/sys/fs/cgroup"),
                own_cgroup: Path = Path("/proc/self/cgroup")) -> int:
    """CPUs this process may use: its affinity mask (`taskset`, cpusets), capped by a
    CPU quota (`docker run --cpus`, systemd's CPUQuota=) rounded up."""
    try:
        count = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        count = max(1, os.cpu_count() or 1)
    quota = cpu_quota(cgroup_root, own_cgroup)
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return count


def cpu_quota(cgroup_root: Path, own_cgroup: Path) -> float | None:
    """CPUs' worth of time our cgroup may use per period, or None when unlimited/unknown."""
    try:  # cgroup v2: "0::/system.slice/dnsfence.service" names our group
        lines = own_cgroup.read_text(encoding="ascii").splitlines()
        group = next((line[3:] for line in lines if line.startswith("0::")), None)
    except OSError:
        group = None
    if group is not None:
        try:
            quota, period = (cgroup_root / group.lstrip("/") / "cpu.max").read_text().split()
            return None if quota == "max" else int(quota) / int(period)
        except (OSError, ValueError):
            pass
    try:  # cgroup v1, as a container sees its own group
        quota_us = int((cgroup_root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup_root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None
