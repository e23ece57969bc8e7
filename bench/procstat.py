"""What a server process tree costs, read from /proc: CPU seconds and memory.

CPU is utime+stime of the process and every live descendant (dnsfence's workers, dnsmasq's
TCP children), read before and after a case; the difference is the server's CPU for that
case. Memory is VmHWM (peak RSS) and, for forked workers, Pss, which splits shared
copy-on-write pages fairly so the sum is the real total.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may hold spaces: split after the last ')'
    return text[text.rindex(")") + 2:].split()


def descendants(root: int) -> list[int]:
    """`root` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def cpu_seconds(pid: int) -> float:
    """utime+stime of one process (all its threads), in seconds."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # fields[0] is state (field 3 of stat); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu(root: int) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in descendants(root)}


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass(frozen=True, slots=True)
class Memory:
    pid: int
    hwm_mb: float    # peak RSS since the process started
    rss_mb: float    # RSS now
    pss_mb: float    # proportional share: shared pages divided among their users


def tree_memory(root: int) -> list[Memory]:
    return [Memory(pid, status_kb(pid, "VmHWM") / 1024, status_kb(pid, "VmRSS") / 1024,
                   pss_kb(pid) / 1024) for pid in descendants(root)]


def cpu_busy() -> dict[str, float]:
    """Busy seconds per CPU since boot (everything but idle and iowait), and steal."""
    out: dict[str, float] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *values = line.split()
        ticks = [int(v) for v in values]
        # user nice system idle iowait irq softirq steal guest guest_nice
        busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]
        out[name] = busy / _TICK
        out[name + "_steal"] = ticks[7] / _TICK
    return out
