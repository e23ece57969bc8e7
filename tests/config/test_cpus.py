"""How many CPUs `workers: auto` may use: affinity, capped by a cgroup CPU quota."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resolver.config.cpus import cpu_quota, usable_cpus


def _cgroup_files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(("files", "own", "quota"), [
    ({"system.slice/dnsfence.service/cpu.max": "150000 100000\n"},
     "0::/system.slice/dnsfence.service\n", 1.5),  # systemd CPUQuota=150%
    ({"cpu.max": "max 100000\n"}, "0::/\n", None),  # v2, no limit
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"},
     "4:cpu,cpuacct:/docker/abc\n", 2.0),  # v1 container with --cpus=2
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},
     "4:cpu,cpuacct:/\n", None),  # v1, no limit
    ({}, "", None),  # nothing readable
])
def test_cpu_quota_of_our_cgroup(tmp_path: Path, files: dict[str, str], own: str,
                                 quota: float | None) -> None:
    root = _cgroup_files(tmp_path / "cgroup", files)
    (tmp_path / "self").write_text(own)
    assert cpu_quota(root, tmp_path / "self") == quota


def test_auto_workers_follow_a_cpu_quota(tmp_path: Path) -> None:
    root = _cgroup_files(tmp_path / "cgroup", {"g/cpu.max": "50000 100000\n"})
    (tmp_path / "self").write_text("0::/g\n")
    assert usable_cpus(root, tmp_path / "self") == 1  # half a CPU: one worker
    unlimited = _cgroup_files(tmp_path / "other", {"g/cpu.max": "max 100000\n"})
    assert usable_cpus(unlimited, tmp_path / "self") == len(os.sched_getaffinity(0))
