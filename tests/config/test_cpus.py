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


@pytest.mark.parametrize(("files", "own", "quota"), [
    # Docker with the host's cgroup namespace: /proc/self/cgroup names the host's path, but
    # the container's own group is what is mounted at the root
    ({"cpu.max": "150000 100000\n"}, "0::/system.slice/docker-abc.scope\n", 1.5),
    # a limit on the parent slice caps the service inside it
    ({"office.slice/cpu.max": "100000 100000\n",
      "office.slice/dnsfence.service/cpu.max": "max 100000\n"},
     "0::/office.slice/dnsfence.service\n", 1.0),
    # the tightest of several limits on the way up
    ({"a/cpu.max": "300000 100000\n", "a/b/cpu.max": "250000 100000\n"}, "0::/a/b\n", 2.5),
    ({"a/cpu.max": "50000 100000\n", "a/b/cpu.max": "250000 100000\n"}, "0::/a/b\n", 0.5),
    # v1 seen from the host: our own group's quota, not the root's "-1"
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n",
      "cpu/system.slice/x.service/cpu.cfs_quota_us": "300000\n",
      "cpu/system.slice/x.service/cpu.cfs_period_us": "100000\n"},
     "5:cpuacct,cpu:/system.slice/x.service\n1:name=systemd:/system.slice/x.service\n", 3.0),
    # a hybrid host (v1 controllers, an empty unified tree): v1 decides
    ({"unified/cgroup.procs": "", "cpu/cpu.cfs_quota_us": "150000\n",
      "cpu/cpu.cfs_period_us": "100000\n"}, "1:cpu:/\n0::/\n", 1.5),
    ({"cpu.max": "100000 0\n"}, "0::/\n", None),  # nonsense: no limit rather than a crash
])
def test_cpu_quota_up_the_hierarchy(tmp_path: Path, files: dict[str, str], own: str,
                                    quota: float | None) -> None:
    root = _cgroup_files(tmp_path / "cgroup", files)
    (tmp_path / "self").write_text(own)
    assert cpu_quota(root, tmp_path / "self") == quota


def test_auto_workers_follow_docker_cpus_in_a_container(tmp_path: Path) -> None:
    """`docker run --cpus 1.5` on cgroup v2 with a private cgroup namespace: the container
    sees "0::/" and its own cpu.max at the root; two workers at most."""
    root = _cgroup_files(tmp_path / "cgroup", {"cpu.max": "150000 100000\n"})
    (tmp_path / "self").write_text("0::/\n")
    assert usable_cpus(root, tmp_path / "self") == min(2, len(os.sched_getaffinity(0)))
