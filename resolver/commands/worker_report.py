"""What a worker reports about itself: to its shared slot every second (for the other
workers' `dnsfence status` and for `/metrics`), and to `dnsfence status` when asked."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from resolver import HOT_MODULES, __version__
from resolver.config.settings import Config
from resolver.counters import (
    PUBLISH_INTERVAL,
    SharedCounters,
    WorkerCounters,
    series_totals,
    totals,
)
from resolver.health import missing_sources
from resolver.pipeline import Pipeline, counter_names

FRESH_WAIT = 1.0
"""Seconds a scrape waits for its own worker's fresh copy before taking the last one."""


State = Callable[[], dict[str, Any]]
"""The policy and reload state as JSON values (`PolicyReloader.state`): a single-process
server's own, or the supervisor's, which reloads for every worker."""


def status_report(state: State, config: Callable[[], Config], pipeline: Pipeline,
                  started: float, shared: SharedCounters | None = None,
                  udp_io: str = "") -> dict[str, Any]:
    """What `dnsfence status` shows: policy state, last reload, restarts, counters.

    Counters are this worker's live ones plus every other report's last copy (≤ 1 s old),
    the supervisor's included: it holds what exited workers counted.
    """
    pid = os.getpid()
    own = WorkerCounters(pid, 0.0, pipeline.counters(), pipeline.series())
    others = [w for w in (shared.read() if shared is not None else [])
              if not (w.serving and w.pid == pid)]  # own copy: older than `own`
    return _status(state(), config(), started, own, others, udp_io)


def reported_status(reports: Sequence[WorkerCounters], config: Config, started: float
                    ) -> dict[str, Any]:
    """The same document from the shared reports alone (each ≤ 1 s old), for a reader that
    answers no query itself: the HTTP thread (the dashboard). The policy and reload state
    is the supervisor's report's, else the newest worker's."""
    states = [w for w in reports if w.state]
    if not states:
        raise LookupError("no worker has reported yet")
    found = min(states, key=lambda w: (w.serving, -w.published_at)).state
    return _status(found, config, started, None, list(reports))


def _status(found: dict[str, Any], config: Config, started: float,
            own: WorkerCounters | None, others: list[WorkerCounters],
            udp_io: str = "") -> dict[str, Any]:
    reload, last = found["reload"], found["reload"]["last"]
    pid = os.getpid()
    workers = [{"pid": own.pid, "counters": own.counters}] if own is not None else []
    workers += [{"pid": w.pid, "counters": w.counters, "published_at": w.published_at}
                for w in others if w.serving]
    blocked = {labels[0]: int(value) for labels, value
               in series_totals([*([own] if own else []), *others]).get("blocked", {}).items()}
    policy = found["policy"]  # the figures /metrics reports, named as status has them
    # sources never downloaded: how the downloading process's attempts went, whoever answers
    missing = missing_sources(found, [w.state for w in others])
    return {
        "version": __version__,
        "pid": pid,
        "started": started,
        "policy": {**policy, "lists": list(policy["lists"]), "missing_sources": missing},
        "last_reload": None if last is None else {
            "at": last["at"], "ok": last["ok"], "reason": last["reason"],
            "problems": list(last["problems"]),
            "restart_needed": list(last.get("restart_needed", [])),
        },
        "reloads": reload["ok"],
        "failed_reloads": reload["failed"],
        # without a live copy of its own, every report counts (-1 matches no worker)
        "counters": totals(own.pid if own else -1, own.counters if own else {}, others,
                           counter_names()),
        "blocked_by_list": dict(sorted(blocked.items())),
        "workers": workers,
        "supervisor": found.get("supervisor"),
        "upstreams": [str(e) for e in config.upstream.servers],
        "forward_zones": {zone.name: [str(e) for e in zone.servers]
                          for zone in config.forward_zones},
        # what serves, chosen at start (a reload does not change it); "": not known here
        "udp_io": udp_io,
        "hot_modules": HOT_MODULES.description,  # compiled or source, chosen at import
    }


def supervisor_state(shared: SharedCounters) -> State:
    """The supervisor's state, as a worker of a supervised server reads it (its slot is
    written before the first worker starts and never cleared)."""
    def state() -> dict[str, Any]:
        for report in shared.read():
            if not report.serving:
                return report.state
        raise LookupError("the supervisor has not reported")
    return state


def publisher(pipeline: Pipeline, state: State | None, shared: SharedCounters,
              index: int) -> Callable[[], None]:
    """Copies this worker's counters, series and (unless the supervisor reports it) its
    state to its slot (on the event loop)."""
    pid = os.getpid()

    def publish() -> None:
        shared.publish(index, pid, time.time(), pipeline.counters(), pipeline.series(),
                       state() if state is not None else None)
    return publish


async def publish_every_second(publish: Callable[[], None]) -> None:
    """For the other workers' status and for /metrics, whoever serves it."""
    while True:
        publish()
        await asyncio.sleep(PUBLISH_INTERVAL)


def fresh_reports(loop: asyncio.AbstractEventLoop, publish: Callable[[], None],
                  shared: SharedCounters) -> Callable[[], list[WorkerCounters]]:
    """Reports for a scrape served from a worker's own HTTP thread: that worker copies
    its counters first (on its event loop, where they are written), so a scrape right
    after a query sees it."""
    def reports() -> list[WorkerCounters]:
        copied = threading.Event()

        def copy() -> None:
            try:
                publish()
            finally:
                copied.set()

        try:
            loop.call_soon_threadsafe(copy)
        except RuntimeError:
            return shared.read()  # the loop is closing
        copied.wait(FRESH_WAIT)
        return shared.read()
    return reports
