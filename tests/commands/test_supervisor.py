"""The supervisor, run for real in a child of this test: it keeps its workers serving,
starts a dead one again, replaces them all after a reload, stops them on SIGTERM, and
gives up (status 1) on a crash loop. Everything is watched through the shared reports,
as `/metrics` sees them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from resolver import server_log
from resolver.commands.reload_thread import ReloadThread
from resolver.commands.restarts import RestartSchedule
from resolver.commands.service_notices import ServiceNotices
from resolver.commands.supervisor import SIGNALS, Supervisor, doorbell
from resolver.commands.supervisor_report import SupervisorReport
from resolver.commands.worker_process import WorkerSeat
from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults
from resolver.counters import SharedCounters, WorkerCounters
from resolver.lists.load import load_policy
from resolver.pipeline import counter_names, level_names
from resolver.policy.period import PolicyHolder
from resolver.reload import PolicyReloader
from resolver.server import Listener, bind, bind_again
from resolver.service_manager import ServiceManager
from tests.commands.cli_runner import STAGED, write_tree

WORKERS = 2


@dataclass
class Supervised:
    pid: int
    shared: SharedCounters
    list_file: Path
    port: int
    exit_code: int | None = None

    def exited(self) -> bool:
        """Whether the supervisor has exited (then reaped, its code kept)."""
        if self.exit_code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_code = os.waitstatus_to_exitcode(status)
        return self.exit_code is not None

    def workers(self) -> set[int]:
        return {report.pid for report in self.shared.read() if report.serving}

    def supervisor(self) -> WorkerCounters:
        [found] = [report for report in self.shared.read() if not report.serving]
        return found

    def wait(self, check: Callable[[], bool], what: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)


def _supervise(root: Path, shared: SharedCounters, schedule: RestartSchedule,
               sets: list[list[Listener]], notify: str | None) -> int:
    """The child's whole life: what `dnsfence serve --workers 2` does after start-up."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    server_log.configure(sys.stderr)
    config = defaults().with_overrides(
        blocklists=root / "blocklists", state_dir=root / "state",
        **{"upstream.servers": (Endpoint("192.0.2.1", 53),)})
    loaded = load_policy(config.blocklists, config.timezone)
    assert loaded.policy is not None
    report = SupervisorReport(shared, 2 * WORKERS, level_names())
    live = PolicyReloader(config, PolicyHolder(loaded.policy), lambda: config,
                          lambda _old, _new: None, downloads=False)
    del loaded
    main = threading.get_ident()
    reloader = ReloadThread(live, report, lambda: doorbell(main))
    notices = ServiceNotices(ServiceManager(notify), "serving")
    supervisor = Supervisor(WorkerSeat(WORKERS, sets, shared, None), reloader, report,
                            schedule, notices)
    reloader.start()
    return supervisor.run()


def start(root: Path, schedule: RestartSchedule, notify: str | None = None) -> Supervised:
    write_tree(root, {"blocklists/social.yaml": STAGED})
    shared = SharedCounters(WORKERS, counter_names(), slots=2 * WORKERS + 1)
    first = bind(Endpoint("127.0.0.1", 0), reuseport=True)
    sets = [[first], [bind_again(first)]]
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = _supervise(root, shared, schedule, sets, notify)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    for listeners in sets:  # the supervisor's now
        for item in listeners:
            item.udp.close()
            item.tcp.close()
    return Supervised(pid, shared, root / "blocklists" / "social.yaml", first.endpoint.port)


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Supervised]:
    running = start(tmp_path, RestartSchedule())
    try:
        running.wait(lambda: len(running.workers()) == WORKERS, "two workers")
        yield running
    finally:
        _end(running)


def _end(running: Supervised) -> None:
    workers = running.workers()
    if not running.exited():
        os.kill(running.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while not running.exited():
            if time.monotonic() > deadline:
                os.kill(running.pid, signal.SIGKILL)
            time.sleep(0.05)
    for pid in workers:  # never leave a worker behind, whatever happened
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_dead_worker_is_started_again_and_counted(supervised: Supervised) -> None:
    before = supervised.workers()
    state = supervised.supervisor().state["supervisor"]
    assert (state["generation"], state["restarts"], state["workers"]) == (1, 0, WORKERS)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    supervised.wait(lambda: len(supervised.workers() - before) == 1
                    and len(supervised.workers()) == WORKERS, "a new worker", timeout=3)
    state = supervised.supervisor().state["supervisor"]
    assert state["restarts"] == 1
    assert state["last_death"]["pid"] == victim
    assert state["last_death"]["status"] == "was killed by signal 9 (SIGKILL)"


def test_a_reload_replaces_every_worker_with_one_serving_the_new_policy(
        supervised: Supervised) -> None:
    before = supervised.workers()
    supervised.list_file.write_text(supervised.list_file.read_text().replace(
        "  - tiktok.com\n", "  - tiktok.com\n  - example.org\n"))
    os.kill(supervised.pid, signal.SIGHUP)
    supervised.wait(lambda: supervised.supervisor().state["supervisor"]["generation"] == 2,
                    "generation 2")
    supervised.wait(lambda: len(supervised.workers()) == WORKERS
                    and not supervised.workers() & before, "the old workers to leave")
    state = supervised.supervisor().state
    assert state["policy"]["entries"] == 4 and state["reload"]["ok"] == 1
    assert state["supervisor"]["restarts"] == 0  # a reload's workers are no restarts


def test_sigterm_stops_every_worker_and_exits_0(supervised: Supervised) -> None:
    workers = supervised.workers()
    os.kill(supervised.pid, signal.SIGTERM)
    supervised.wait(supervised.exited, "the supervisor to exit")
    assert supervised.exit_code == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists()


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie that its new parent has not reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_workers_do_not_outlive_a_killed_supervisor(supervised: Supervised) -> None:
    workers = supervised.workers()
    os.kill(supervised.pid, signal.SIGKILL)  # as the OOM killer would
    supervised.wait(supervised.exited, "the supervisor's end")
    supervised.wait(lambda: all(gone(pid) for pid in workers), "its workers to stop")


def test_a_crash_loop_exits_1(tmp_path: Path) -> None:
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    directory = tempfile.mkdtemp(prefix="notify.")  # short: 108-byte paths
    notify = os.path.join(directory, "notify")
    manager.bind(notify)
    running = start(tmp_path, RestartSchedule(first=0.01, most=0.01, loop_deaths=3), notify)
    try:
        running.wait(lambda: len(running.workers()) == WORKERS, "two workers")
        killed: set[int] = set()
        deadline = time.monotonic() + 10
        while not running.exited():
            assert time.monotonic() < deadline, "no crash loop found"
            for pid in running.workers() - killed:
                with contextlib.suppress(ProcessLookupError):  # reaped since it was read
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.01)
        assert running.exit_code == 1
        assert len(killed) >= 3
        manager.setblocking(False)
        said = []
        with contextlib.suppress(BlockingIOError):
            while True:
                said.append(manager.recv(4096).decode())
        # (READY=1 may or may not come first: the workers are killed as soon as they report)
        assert any("was killed by signal 9 (SIGKILL); starting it again in" in message
                   for message in said)
        assert said[-1] == ("STOPPING=1\nSTATUS=stopping: 3 worker deaths within 60s are a "
                            "crash loop (see the log)")
    finally:
        _end(running)
        manager.close()
        os.unlink(notify)
        os.rmdir(directory)


def answered_from_fresh_ports(port: int, count: int) -> int:
    """How many of `count` queries, each from a new source port, get an answer in 0.5 s."""
    answered = 0
    query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" \
        b"\x03www\x06tiktok\x03com\x00\x00\x01\x00\x01"
    for _ in range(count):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.5)
            sock.sendto(query, ("127.0.0.1", port))
            try:
                sock.recv(512)
                answered += 1
            except TimeoutError:
                pass
    return answered


def test_during_a_long_restart_delay_the_other_worker_answers_everyone(
        tmp_path: Path) -> None:
    running = start(tmp_path, RestartSchedule(first=30.0))
    try:
        running.wait(lambda: len(running.workers()) == WORKERS, "two workers")
        assert answered_from_fresh_ports(running.port, 10) == 10
        os.kill(min(running.workers()), signal.SIGKILL)
        running.wait(lambda: len(running.workers()) == 1, "the death seen")
        # its sockets are closed: the kernel no longer sends it a share of the clients
        assert answered_from_fresh_ports(running.port, 20) == 20
    finally:
        _end(running)
