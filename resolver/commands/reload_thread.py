"""The supervisor's reloader: one `PolicyReloader` for every worker, on a thread of its own.

It does what each worker used to do for itself (watch the files, honour SIGHUP, wake at
transitions, download `url:` sources), once. A reload that succeeds becomes a new
`Generation`, which the supervisor's main thread picks up (rung by a signal) to start
workers on it; one that fails changes only the reported state, and the workers keep the
last good policy. The main thread keeps signals and children; this one keeps the policy.
A reload that answers the SIGHUPs so far is handed over too (`take_answer`), for the
service manager's READY=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable

from resolver.commands.service_notices import ReloadAnswer, SighupReloads
from resolver.commands.supervisor_report import SupervisorReport
from resolver.commands.worker_process import Generation
from resolver.reload import PolicyReloader

log = logging.getLogger("dnsfence")

START_TIMEOUT = 10.0


class ReloadThread:
    """Runs `live` on an event loop in a daemon thread; `take` hands over new generations."""

    def __init__(self, live: PolicyReloader, report: SupervisorReport,
                 doorbell: Callable[[], None]) -> None:
        self._live = live
        self._report = report
        self._doorbell = doorbell
        self._generations: queue.SimpleQueue[Generation] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[ReloadAnswer] = queue.SimpleQueue()
        self._sighups = SighupReloads(live)
        self._latest = live.active.policy  # the policy in force, never an older one
        self._number = 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="dnsfence-reload", daemon=True)
        live.on_change = self._changed

    def first(self) -> Generation:
        """The start-up policy as generation 1 (not kept here: a reload must free it)."""
        return Generation(1, self._live.config, self._live.active.policy)

    def start(self) -> None:
        """Publish the first state, then run; returns once the loop takes requests."""
        self._report.set_state(self._live.state())
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("the reloader did not start")

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def request_reload(self) -> None:
        """SIGHUP, as the main thread received it."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._sighups.request)

    def take(self) -> Generation | None:
        """The newest generation not yet taken (older ones were overtaken: dropped)."""
        newest = None
        while True:
            try:
                newest = self._generations.get_nowait()
            except queue.Empty:
                return newest

    def take_answer(self) -> ReloadAnswer | None:
        """The newest reload that answered SIGHUPs, not yet taken."""
        newest = None
        while True:
            try:
                newest = self._answers.get_nowait()
            except queue.Empty:
                return newest

    @property
    def loaded_at(self) -> float:
        """When the policy in force was loaded."""
        return self._live.loaded_at

    def stop(self) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:
                return  # the loop has already closed
            self._thread.join(START_TIMEOUT)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except Exception:
            log.exception("dnsfence: the reloader failed")

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._ready.set()
        with contextlib.suppress(asyncio.CancelledError):  # stop() cancels it
            await self._live.run()

    def _changed(self) -> None:
        """After a transition or a reload attempt (on this thread)."""
        live = self._live
        self._report.set_state(live.state())
        policy = live.active.policy
        if policy is not self._latest:
            self._latest = policy
            self._number += 1
            self._generations.put(Generation(self._number, live.config, policy))
            generation: int | None = self._number
        else:
            generation = None
        report = self._sighups.answer()
        if report is not None:
            self._answers.put(ReloadAnswer(self._sighups.received, report,
                                           generation if report.ok else None))
        if generation is not None or report is not None:
            self._doorbell()
