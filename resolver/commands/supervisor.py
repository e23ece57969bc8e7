"""The main process of a server with several workers: it starts them, starts a dead one
again, and replaces them all with a new generation after each reload.

Its main thread only waits for signals (SIGCHLD included, all blocked and taken with
sigtimedwait, so no handler ever runs in the middle of a fork) and acts on them; the
reloader runs on a thread of its own (`ReloadThread`) and rings when it has a new policy.

A reload starts one new worker per index from the new policy (forked, so it shares the
policy's pages with its siblings) and retires the old worker of that index once the new
one serves: both read the same sockets meanwhile, so no query waits for nobody. The old
policy is dropped, and its memory given back, before the new workers are forked, so none
of them inherits it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.commands.reload_thread import ReloadThread
from resolver.commands.restarts import RestartSchedule, describe_exit
from resolver.commands.service_notices import ServiceNotices
from resolver.commands.supervisor_report import SupervisorReport
from resolver.commands.worker_process import (
    Generation,
    WorkerSeat,
    release_memory,
    start_worker,
    stop_workers,
)
from resolver.server import CONTROL_SIGNALS, RETIRE_SIGNAL, bind_again
from resolver.service_manager import ServiceManager

log = logging.getLogger("dnsfence")

DOORBELL = signal.SIGUSR1
"""Sent by the reloader's thread to the main thread: a new generation is ready."""
SIGNALS = CONTROL_SIGNALS | {signal.SIGCHLD, DOORBELL}
"""Blocked in every thread of the supervisor (set before any thread starts)."""
READY_TIMEOUT = 10.0  # seconds a new worker has to start answering
RETIRE_TIMEOUT = 15.0  # seconds a retiring worker has to exit (its drain is shorter)
STOP_TIMEOUT = 10.0  # seconds the workers have to exit on SIGTERM before SIGKILL
PUBLISH_EVERY = 1.0
HOLD_SOCKETS = 1.0
"""A dead worker's sockets wait for its successor if it starts within this many seconds:
what the kernel queued in them meanwhile is then answered. For a longer wait they are
closed, and the kernel sends their share of the clients to the other workers."""
_READY_POLL = 0.02


def doorbell(thread: int) -> None:
    """Wake the supervisor's main thread `thread` (called from the reloader's thread)."""
    signal.pthread_kill(thread, DOORBELL)


@dataclass(slots=True)
class Worker:
    pid: int
    index: int
    slot: int
    generation: int
    started: float  # monotonic
    ready: bool = False
    retiring: float | None = None  # when it was told to retire (monotonic)


class Supervisor:
    """Keeps `seat.count` workers serving the newest generation."""

    def __init__(self, seat: WorkerSeat, reloader: ReloadThread, report: SupervisorReport,
                 schedule: RestartSchedule | None = None,
                 notices: ServiceNotices | None = None) -> None:
        self._seat = seat
        self._notices = notices or ServiceNotices(ServiceManager(None), "serving")
        self._reloader = reloader
        self._report = report
        self._schedule = schedule or RestartSchedule()
        self._current = reloader.first()
        self._pending: Generation | None = None
        self._workers: dict[int, Worker] = {}
        self._due: dict[int, float] = {}  # worker index -> when to start it again
        self._free = list(range(seat.shared.slots))
        self._free.remove(report.slot)
        self._last_death: dict[str, Any] | None = None
        self._crash_loop = False
        self._released: set[int] = set()  # worker indexes whose sockets were closed
        self.pids: tuple[int, ...] = (os.getpid(),)
        """This process and its workers (for the process metrics, read by another thread)."""

    def run(self) -> int:
        """Until SIGTERM/SIGINT (EXIT_OK, unless a worker failed on its way out) or a crash
        loop (EXIT_PROBLEMS). Call on the main thread with SIGNALS blocked."""
        try:
            return self._run()
        except Exception:  # never leave workers behind without their supervisor
            log.exception("dnsfence: the supervisor failed; stopping every worker")
            return self._stop(EXIT_PROBLEMS)

    def _run(self) -> int:
        for index in range(self._seat.count):
            self._start(index)
        self._publish()
        next_publish = time.monotonic() + PUBLISH_EVERY
        while True:
            received = self._wait(self._timeout(next_publish))
            if received & {signal.SIGTERM, signal.SIGINT}:
                self._notices.stopping("stopping: finishing the queries in flight")
                return self._stop(EXIT_OK)
            if signal.SIGHUP in received:
                self._notices.sighup()
                self._reloader.request_reload()
            self._reap()
            if not self._reloader.alive:
                log.error("dnsfence: the reloader has stopped; stopping")
                return self._stop(EXIT_PROBLEMS)
            now = time.monotonic()
            self._pending = self._reloader.take() or self._pending
            answer = self._reloader.take_answer()
            if answer is not None:
                self._notices.answered(answer, self._reloader.loaded_at)
            self._watch_starts_and_retirements(now)
            self._roll()  # after the watch: a worker that just got ready may settle things
            self._restart_due(now)
            if self._crash_loop:
                self._notices.stopping(
                    f"stopping: {self._schedule.recent_deaths} worker deaths within "
                    f"{self._schedule.loop_window:g}s are a crash loop (see the log)")
                return self._stop(EXIT_PROBLEMS)
            if self._settled():
                self._notices.settled(self._current.number)
            if now >= next_publish:
                self._report.publish()
                next_publish = now + PUBLISH_EVERY

    def _timeout(self, next_publish: float) -> float:
        now = time.monotonic()
        wake = min([next_publish, *self._due.values()])
        if any(not w.ready for w in self._workers.values()):
            wake = min(wake, now + _READY_POLL)
        return max(0.0, wake - now)

    @staticmethod
    def _wait(timeout: float) -> set[int]:
        found = signal.sigtimedwait(SIGNALS, timeout)
        received: set[int] = set()
        while found is not None:  # everything pending, so SIGTERM is seen with SIGCHLD
            received.add(found.si_signo)
            found = signal.sigtimedwait(SIGNALS, 0)
        return received

    def _start(self, index: int) -> None:
        now = time.monotonic()
        if not self._free:  # cannot happen: a generation waits for the last to leave
            raise RuntimeError("no free slot for a worker's counters")
        slot = min(self._free)
        try:
            if index in self._released:
                sockets = self._seat.sockets[index]
                sockets[:] = [bind_again(item) for item in sockets]
                self._released.discard(index)
            pid = start_worker(self._current, index, slot, self._seat)
        except OSError as exc:
            self._died(index, 0.0, now, f"could not be started ({exc.strerror or exc})")
            return
        self._free.remove(slot)
        self._workers[pid] = Worker(pid, index, slot, self._current.number, now)
        self.pids = (os.getpid(), *self._workers)

    def _reap(self) -> None:
        """Collect exited workers: keep their counters, log and count the deaths."""
        while not self._crash_loop:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self._workers.pop(pid, None)
            if worker is None:
                continue
            self.pids = (os.getpid(), *self._workers)
            self._report.absorb(worker.slot)
            self._free.append(worker.slot)
            how = describe_exit(status)
            if worker.retiring is not None:
                if os.waitstatus_to_exitcode(status) != 0:
                    log.warning("dnsfence: worker %d/%d (pid %d) %s while retiring",
                                worker.index + 1, self._seat.count, pid, how)
                continue
            now = time.monotonic()
            self._died(worker.index, now - worker.started, now, how, pid)

    def _died(self, index: int, lived: float, now: float, how: str, pid: int = 0) -> None:
        """Log a death and plan the restart, or find a crash loop."""
        delay = self._schedule.death(index, lived, now)
        name = f"worker {index + 1}/{self._seat.count}" + (f" (pid {pid})" if pid else "")
        fields = {"event": "worker_died", "worker": index + 1, "pid": pid, "status": how,
                  "lived": round(lived, 3)}
        self._last_death = {"worker": index + 1, "pid": pid, "status": how,
                            "at": time.time(), "lived": round(lived, 3)}
        if delay is None:
            log.error("dnsfence: %s %s after %.1fs: %d deaths within %gs is a crash loop; "
                      "stopping every worker and exiting, for the service manager to restart "
                      "dnsfence", name, how, lived, self._schedule.recent_deaths,
                      self._schedule.loop_window, extra={**fields, "crash_loop": True})
            self._crash_loop = True
            return
        log.error("dnsfence: %s %s after %.1fs; starting it again in %gs", name, how, lived,
                  delay, extra={**fields, "restart_in": delay})
        self._notices.worker_died(f"{name} {how}; starting it again in {delay:g}s")
        self._due[index] = min(self._due.get(index, math.inf), now + delay)
        if delay > HOLD_SOCKETS and not any(w.index == index for w in self._workers.values()):
            self._release_sockets(index)
        self._publish()

    def _release_sockets(self, index: int) -> None:
        if index not in self._released:
            self._released.add(index)
            for item in self._seat.sockets[index]:
                item.udp.close()
                item.tcp.close()

    def _settled(self) -> bool:
        """Only the newest generation answers: each index has a ready worker of it, and
        every older worker has exited (until then it may still read the shared sockets)."""
        current = self._current.number
        return self._pending is None and all(
            w.generation == current and w.ready for w in self._workers.values()) and {
            w.index for w in self._workers.values()} == set(range(self._seat.count))

    def _covered(self, index: int) -> bool:
        return any(w.index == index and w.generation == self._current.number
                   and w.retiring is None for w in self._workers.values())

    def _restart_due(self, now: float) -> None:
        for index, due in sorted(self._due.items()):
            if due <= now:
                del self._due[index]
                if not self._covered(index):
                    self._schedule.restarted()
                    self._start(index)
                    self._publish()

    def _roll(self) -> None:
        """Start a pending generation once the last change has settled."""
        if self._pending is None or any(
                not w.ready or w.retiring is not None for w in self._workers.values()):
            return
        self._current, self._pending = self._pending, None
        release_memory()  # the old policy is gone from here: no new worker inherits it
        log.info("dnsfence: starting %d workers on the new policy (generation %d); the "
                 "others finish what they are answering", self._seat.count,
                 self._current.number,
                 extra={"event": "generation", "generation": self._current.number})
        for index in range(self._seat.count):
            self._due.pop(index, None)
            self._start(index)
        self._publish()

    def _watch_starts_and_retirements(self, now: float) -> None:
        shared = self._seat.shared
        for worker in list(self._workers.values()):
            if worker.retiring is not None:
                if now - worker.retiring > RETIRE_TIMEOUT:
                    self._kill(worker, "did not finish retiring")
                continue
            if worker.ready:
                continue
            copy = shared.read_slot(worker.slot)
            if copy is not None and copy.report.pid == worker.pid:
                worker.ready = True
                self._retire_predecessors(worker, now)
            elif now - worker.started > READY_TIMEOUT:
                self._kill(worker, f"did not start answering within {READY_TIMEOUT:g}s")

    def _retire_predecessors(self, worker: Worker, now: float) -> None:
        for other in self._workers.values():
            if other.index == worker.index and other.generation < worker.generation \
                    and other.retiring is None:
                other.retiring = now
                self._signal(other.pid, RETIRE_SIGNAL)

    def _kill(self, worker: Worker, why: str) -> None:
        log.error("dnsfence: worker %d/%d (pid %d) %s; killing it", worker.index + 1,
                  self._seat.count, worker.pid, why)
        self._signal(worker.pid, signal.SIGKILL)

    @staticmethod
    def _signal(pid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # exited: reaped on the next round
            os.kill(pid, signum)

    def _publish(self) -> None:
        self._report.set_supervisor({
            "pid": os.getpid(), "workers": self._seat.count,
            "generation": self._current.number, "restarts": self._schedule.restarts,
            "last_death": self._last_death})

    def _stop(self, status: int) -> int:
        """Stop every worker (see `stop_workers`), then the reloader."""
        if not stop_workers(list(self._workers), STOP_TIMEOUT):
            status = EXIT_PROBLEMS
        self._workers.clear()
        self._reloader.stop()
        return status
