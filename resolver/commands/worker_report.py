"""What a worker reports about itself: to its shared slot every second (for the other
workers' `dnsfence status` and for `/metrics`), and to `dnsfence status` when asked."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from resolver import __version__
from resolver.counters import (
    PUBLISH_INTERVAL,
    SharedCounters,
    WorkerCounters,
    series_totals,
    totals,
)
from resolver.health import missing_sources
from resolver.pipeline import Pipeline, counter_names
from resolver.reload import PolicyReloader

FRESH_WAIT = 1.0
"""Seconds a scrape waits for its own worker's fresh copy before taking the last one."""


def status_report(live: PolicyReloader, pipeline: Pipeline, started: float,
                  shared: SharedCounters | None = None) -> dict[str, Any]:
    """What `dnsfence status` shows: policy state, last reload, counters.

    Policy and reload state are this worker's (every worker loads the same files);
    counters are the sum over all workers, the others' as of their last copy (≤ 1 s).
    """
    last = live.last
    pid = os.getpid()
    own = pipeline.counters()
    others = [w for w in (shared.read() if shared is not None else []) if w.pid != pid]
    workers = [{"pid": pid, "counters": own}]
    workers += [{"pid": w.pid, "counters": w.counters, "published_at": w.published_at}
                for w in others]
    live_series = WorkerCounters(pid, 0.0, own, pipeline.series())
    blocked = {labels[0]: int(value) for labels, value
               in series_totals([live_series, *others]).get("blocked", {}).items()}
    state = live.state()
    policy = state["policy"]  # the figures /metrics reports, named as status has them
    # sources never downloaded: how the downloading worker's attempts went, whoever answers
    missing = missing_sources(state, [w.state for w in others])
    return {
        "version": __version__,
        "pid": pid,
        "started": started,
        "policy": {**policy, "lists": list(policy["lists"]), "missing_sources": missing},
        "last_reload": None if last is None else {
            "at": last.at, "ok": last.ok, "reason": last.reason,
            "problems": list(last.problems[:50]), "restart_needed": list(last.restart_needed),
        },
        "reloads": live.reloads,
        "failed_reloads": live.failed_reloads,
        "counters": totals(pid, own, others, counter_names()),
        "blocked_by_list": dict(sorted(blocked.items())),
        "workers": workers,
        "upstreams": [str(e) for e in live.config.upstream.servers],
        "forward_zones": {zone.name: [str(e) for e in zone.servers]
                          for zone in live.config.forward_zones},
    }


def publisher(pipeline: Pipeline, live: PolicyReloader, shared: SharedCounters,
              index: int) -> Callable[[], None]:
    """Copies this worker's counters, series and state to its slot (on the event loop)."""
    pid = os.getpid()

    def publish() -> None:
        shared.publish(index, pid, time.time(), pipeline.counters(), pipeline.series(),
                       live.state())
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
