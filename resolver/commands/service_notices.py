"""What the server tells the service manager, and when (see `resolver.service_manager`).

READY=1 must mean "DNS is answered": at start, once every worker of the first generation
serves; after a SIGHUP, once the reloaded policy serves (a new generation of workers in
full) or the reload has failed and the last good policy stays. SIGHUPs are counted where
the reloader runs, so that a READY=1 answers the last SIGHUP, not an earlier reload that
happened to finish after it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from resolver.reload import SIGHUP, PolicyReloader, ReloadReport
from resolver.service_manager import ServiceManager


@dataclass(frozen=True, slots=True)
class ReloadAnswer:
    """A reload attempt that answers every SIGHUP counted so far."""

    covers: int
    """SIGHUPs received (by the reloader) when it finished."""
    report: ReloadReport
    generation: int | None
    """The generation of workers that serves the reloaded policy; None when the reload
    failed, or when it serves already (a single process swaps the policy in place)."""


class SighupReloads:
    """SIGHUP reloads and the attempts that answer them; used on the reloader's loop only."""

    def __init__(self, live: PolicyReloader) -> None:
        self._live = live
        self._seen = live.last
        self.received = 0

    def request(self) -> None:
        self.received += 1
        self._live.request_reload()

    def answer(self) -> ReloadReport | None:
        """After a reload attempt or a transition: the report of the SIGHUP reload that
        covers every SIGHUP received, if it has just been made (once each)."""
        last = self._live.last
        if last is None or last is self._seen or last.reason != SIGHUP \
                or self._live.reload_pending:
            return None
        self._seen = last
        return last


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def reload_status(report: ReloadReport, loaded_at: float) -> str:
    if report.ok:
        return f"reloaded at {_clock(report.at)}"
    return (f"reload at {_clock(report.at)} failed with {len(report.problems)} error(s) (see "
            f"the log); still serving the policy loaded at {_clock(loaded_at)}")


class ServiceNotices:
    """READY=1, RELOADING=1, STOPPING=1 and STATUS= at the right moments (main process)."""

    def __init__(self, manager: ServiceManager, serving: str) -> None:
        self._manager = manager
        self._serving = serving
        """What is served, e.g. "serving DNS on 192.0.2.10:53 with 2 workers"."""
        self._asked = 0
        self._awaited: int | None = 1
        """READY=1 is due once this generation serves in full (None: nothing is due)."""
        self._ready_sent = False
        self._text = serving
        self._degraded = False

    def sighup(self) -> None:
        self._asked += 1
        self._manager.reloading("reloading the configuration and blocklists (SIGHUP)")

    def answered(self, answer: ReloadAnswer, loaded_at: float) -> None:
        """A reload answered SIGHUPs (`loaded_at`: when the policy in force was loaded)."""
        if answer.covers < self._asked:
            return  # a later SIGHUP is being answered by a later reload
        self._text = f"{self._serving}; {reload_status(answer.report, loaded_at)}"
        if answer.report.ok and answer.generation is not None:
            self._awaited = max(self._awaited or 0, answer.generation)
        if self._awaited is None:
            self._ready()

    def settled(self, generation: int) -> None:
        """Every worker of `generation` (the newest) answers."""
        if self._awaited is not None and generation >= self._awaited:
            self._awaited = None
            self._ready()
        elif self._degraded and self._ready_sent:
            self._degraded = False
            self._manager.status(self._text)

    def worker_died(self, text: str) -> None:
        self._degraded = True
        self._manager.status(text)

    def stopping(self, why: str) -> None:
        self._manager.stopping(why)

    def _ready(self) -> None:
        self._ready_sent = True
        self._degraded = False
        self._manager.ready(self._text)
