"""Running dnsperf (pinned to the client CPU) and reading its report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.servers import CLIENT_CPU, LOOPBACK

CLIENTS = 8        # source sockets: SO_REUSEPORT spreads them over dnsfence's workers
OUTSTANDING = 100  # dnsperf's default; below dnsmasq's 150 concurrent forwards
TIMEOUT = 2        # seconds before dnsperf counts a query lost


@dataclass
class Result:
    command: list[str]
    sent: int = 0
    completed: int = 0
    lost: int = 0
    run_time: float = 0.0
    qps: float = 0.0
    avg_latency_ms: float = 0.0
    rcodes: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    error: str | None = None

    def summary(self) -> dict[str, object]:
        out = asdict(self)
        out.pop("latencies_ms")
        return out


_NUMBER = {
    "sent": re.compile(r"Queries sent:\s+(\d+)"),
    "completed": re.compile(r"Queries completed:\s+(\d+)"),
    "lost": re.compile(r"Queries lost:\s+(\d+)"),
    "run_time": re.compile(r"Run time \(s\):\s+([\d.]+)"),
    "qps": re.compile(r"Queries per second:\s+([\d.]+)"),
    "avg_latency": re.compile(r"Average Latency \(s\):\s+([\d.]+)"),
}
_RCODES = re.compile(r"Response codes:\s+(.*)")
_VERBOSE = re.compile(r"^> (\S+) \S+ \S+ ([\d.]+)$", re.MULTILINE)


def parse(text: str, result: Result) -> Result:
    values = {key: pattern.search(text) for key, pattern in _NUMBER.items()}
    if values["qps"] is None:
        result.error = "no statistics in dnsperf output: " + text[-500:]
        return result
    result.sent = int(values["sent"].group(1)) if values["sent"] else 0
    result.completed = int(values["completed"].group(1)) if values["completed"] else 0
    result.lost = int(values["lost"].group(1)) if values["lost"] else 0
    result.run_time = float(values["run_time"].group(1)) if values["run_time"] else 0.0
    result.qps = float(values["qps"].group(1))
    if values["avg_latency"]:
        result.avg_latency_ms = float(values["avg_latency"].group(1)) * 1000
    codes = _RCODES.search(text)
    if codes:
        for part in codes.group(1).split(","):
            bits = part.split()
            if len(bits) >= 2 and bits[1].isdigit():
                result.rcodes[bits[0]] = int(bits[1])
    result.latencies_ms = [float(m.group(2)) * 1000 for m in _VERBOSE.finditer(text)]
    return result


def run(port: int, queries: Path, *, seconds: float, once: bool = False,
        max_qps: int | None = None, verbose: bool = False, clients: int = CLIENTS,
        outstanding: int = OUTSTANDING) -> Result:
    """One dnsperf run against 127.0.0.1:`port`, at most `seconds` long (plus the timeout)."""
    command = ["taskset", "-c", CLIENT_CPU, "dnsperf", "-s", LOOPBACK, "-p", str(port),
               "-d", str(queries), "-l", f"{seconds:g}", "-c", str(clients),
               "-q", str(outstanding), "-t", str(TIMEOUT)]
    if once:
        command += ["-n", "1"]
    if max_qps is not None:
        command += ["-Q", str(max_qps)]
    if verbose:
        command.append("-v")
    result = Result(command)
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=seconds + TIMEOUT + 20, check=False)
    except subprocess.TimeoutExpired:
        result.error = "dnsperf did not finish in time"
        return result
    return parse(done.stdout + done.stderr, result)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]
