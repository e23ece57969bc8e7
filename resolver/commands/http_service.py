"""The HTTP listener's service in a running server: `/metrics` and `/healthz` from the
workers' reports, and the dashboard from the reloader's policy and config and the shared
reports (never a worker asked to copy its counters: a poll costs the workers nothing)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from resolver.commands.worker_report import reported_status
from resolver.config.endpoints import Endpoint
from resolver.counters import SharedCounters, WorkerCounters
from resolver.dashboard.app import Dashboard, Sources
from resolver.health import Health, health, probe_dns
from resolver.http_server import Access, HttpListener
from resolver.metrics import registry as metrics_registry
from resolver.reload import PolicyReloader


@dataclass(frozen=True, slots=True)
class Served:
    """What the dashboard reads and who may: the reloader (its policy and config), the
    shared reports, when the server started, and the access token."""

    live: PolicyReloader
    shared: SharedCounters
    started: float
    token: str | None


def serve_http(http: HttpListener, reports: Callable[[], list[WorkerCounters]],
               pids: Callable[[], Sequence[int]], workers: int, dns: Endpoint,
               served: Served) -> None:
    """Serve /metrics, /healthz and the dashboard from this process; `dns` is the port the
    probe asks. The dashboard reads the shared reports as they are (≤ 1 s old): it never
    asks a worker for a fresh copy."""

    def healthz(exclude: frozenset[str]) -> Health:
        return health(reports(), workers, time.time(), lambda: probe_dns(dns), exclude)

    live = served.live
    dashboard = None
    if live.config.http.dashboard:
        dashboard = Dashboard(Sources(
            reports=served.shared.read,
            status=lambda found: reported_status(found, live.config, served.started),
            policy=lambda: live.active.policy, config=lambda: live.config,
            health=lambda: health(served.shared.read(), workers, time.time(),
                                  lambda: probe_dns(dns))))
    http.start(metrics_registry(reports, pids), healthz, dashboard,
               Access(served.token, live.config.http.open_metrics))
