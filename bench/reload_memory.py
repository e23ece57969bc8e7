"""Memory of a server with several workers across reloads: Pss after start-up, then after
each SIGHUP, with the 600k list.

Run: .venv/bin/python bench/reload_memory.py [--workers 2] [--reloads 5] [--tree DIR]
Starts unbound (local zones only) and `dnsfence serve --workers N` on 127.0.0.1 with the
600k list, sends a little traffic from several source ports (so every worker has looked
names up), and sums Pss (/proc/PID/smaps_rollup: shared pages split among the processes
that map them, so the sum is the real total) over the server's processes after start-up
and after each reload, once the reload has settled. `--tree DIR` runs the dnsfence of
another checkout (e.g. `git archive <commit> | tar -x -C DIR`) for a before/after figure.
Prints Markdown for docs/BENCHMARKS.md. Traffic goes to 127.0.0.1 only; every wait is
bounded.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dns.message

from bench.corpus import LARGE_LIST, read_domains_file
from bench.procstat import descendants, pss_kb
from bench.workloads import write_large_blocklist

REPO = Path(__file__).resolve().parent.parent
SETTLE = 1.0  # seconds after a reload settles before measuring


@dataclass(frozen=True, slots=True)
class Phase:
    label: str
    pss_mb: float
    processes: tuple[tuple[int, float], ...]  # (pid, Pss MB), the main process first


class Server:
    """`dnsfence serve` from `tree`, its stderr collected by a thread."""

    def __init__(self, tree: Path, workdir: Path, blocklists: Path, upstream: str,
                 workers: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(tree), PYTHONUNBUFFERED="1")
        self.workers = workers
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "resolver", "serve", "--workers", str(workers),
             "--listen", "127.0.0.1:0", "--upstream", upstream, "--blocklists",
             str(blocklists), "--http-listen", "", "--state-dir", str(workdir / "state")],
            cwd=tree, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.lines: list[str] = []
        self.supervised: bool | None = None
        """Whether a reload starts new workers (this tree) or each reloads (older ones)."""
        assert self.proc.stderr is not None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        found = self.wait_for(r"serving on 127\.0\.0\.1:(\d+)", 180)
        self.port = int(found[1])

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float, start: int = 0) -> re.Match[str]:
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[start:]:
                found = compiled.search(line)
                if found:
                    return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"no line matching {pattern!r}:\n" + "\n".join(self.lines[-20:]))

    def children(self) -> set[int]:
        text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return {int(pid) for pid in text.split()}

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what}:\n" + "\n".join(self.lines[-20:]))

    def reload(self, number: int) -> None:
        """SIGHUP number `number` (1, 2, ...), then wait until it has settled: with
        supervised workers, the new generation serves and the old one has gone; with
        workers that reload for themselves, each has logged its reload."""
        before = self.children()
        self.proc.send_signal(signal.SIGHUP)
        if self.supervised is None:
            self.supervised = self._supervised_tree()
        if self.supervised:
            self.wait_for(rf"\(generation {number + 1}\)", 120)
            self.wait_until(lambda: len(self.children()) == self.workers
                            and not self.children() & before, "the old workers to leave")
        else:
            self.wait_until(lambda: sum("reloaded (SIGHUP)" in line for line in self.lines)
                            >= number * self.workers, "every worker's reload")

    def _supervised_tree(self) -> bool:
        """After the first SIGHUP: whichever line comes first tells."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for line in self.lines:
                if "generation" in line:
                    return True
                if "[worker" in line and "reloaded (SIGHUP)" in line:
                    return False
            time.sleep(0.05)
        raise RuntimeError("no sign of a reload")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            for pid in self.children():
                os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait(5)


def traffic(port: int, names: list[str], sockets: int = 16, each: int = 200) -> int:
    """Queries from `sockets` source ports (so every worker gets some); answers received."""
    answered = 0
    for number in range(sockets):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2.0)
            for qid in range(each):
                name = names[(number * each + qid) * 7919 % len(names)]
                query = dns.message.make_query(f"x.{name}" if qid % 2 else name, "A")
                query.id = qid
                sock.sendto(query.to_wire(), ("127.0.0.1", port))
                try:
                    sock.recv(4096)
                    answered += 1
                except TimeoutError:
                    pass
    return answered


def snapshot(label: str, root: int) -> Phase:
    pids = descendants(root)
    found = tuple((pid, pss_kb(pid) / 1024) for pid in pids)
    return Phase(label, sum(mb for _, mb in found), found)


def measure(workdir: Path, upstream: str, *, workers: int = 2, reloads: int = 5,
            tree: Path = REPO) -> list[Phase]:
    """Pss after start-up and after each of `reloads` SIGHUPs (see the module's text);
    `upstream` is a resolver on loopback (host:port) serving the allowed names."""
    names = read_domains_file(LARGE_LIST)
    blocklists = write_large_blocklist(workdir / "blocklists", LARGE_LIST, names)
    server = Server(tree, workdir, blocklists, upstream, workers)
    try:
        server.wait_until(lambda: len(server.children()) == workers, "the workers")
        traffic(server.port, names)
        time.sleep(SETTLE)
        phases = [snapshot("after start-up", server.proc.pid)]
        for number in range(1, reloads + 1):
            server.reload(number)
            traffic(server.port, names)
            time.sleep(SETTLE)
            phases.append(snapshot(f"after SIGHUP {number}", server.proc.pid))
        return phases
    finally:
        server.stop()


def table(phases: list[Phase]) -> str:
    start = phases[0].pss_mb
    rows = ["| when | processes | Pss total MB | ÷ start-up | per process MB (main first) |",
            "| --- | --- | --- | --- | --- |"]
    for phase in phases:
        rows.append(f"| {phase.label} | {len(phase.processes)} | {phase.pss_mb:.1f} | "
                    f"{phase.pss_mb / start:.2f} | "
                    f"{' / '.join(f'{mb:.1f}' for _, mb in phase.processes)} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reloads", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=REPO,
                        help="the checkout whose dnsfence runs (default: this one)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from integration.harness import Unbound  # the test suite's local-only unbound

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        upstream = Unbound(Path(tmp) / "unbound", ready_timeout=10).start()
        try:
            phases = measure(Path(tmp), upstream.address, workers=args.workers,
                             reloads=args.reloads, tree=args.tree.resolve())
        finally:
            upstream.stop()
    print(table(phases))


if __name__ == "__main__":
    main()
