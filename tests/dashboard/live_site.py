"""A live server's view of the ban site (`tests.report.ban_log`), for the dashboard's tests:
its config and policy, a worker's shared report with the reloader's real state, the query
log, and a clock the test moves. `NOW` lies two days after tiktok's ban and half a day
before `ads` expires (the next change); `soon` is in its warning period, `later` is
scheduled and `old` has expired."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from resolver.commands.worker_report import reported_status
from resolver.config.endpoints import Endpoint
from resolver.config.load import load_config
from resolver.config.settings import Config
from resolver.counters import SharedCounters
from resolver.dashboard.app import Dashboard, Sources
from resolver.health import Health
from resolver.lists.load import load_policy
from resolver.pipeline import counter_names
from resolver.policy.loaded import Policy
from resolver.policy.period import PolicyHolder
from resolver.reload import PolicyReloader
from tests.report.ban_log import ZONE, ban_records, stage_ban_site

NOW = datetime(2023, 3, 22, 12, 0, tzinfo=UTC)
STARTED = NOW - timedelta(hours=2)
UPSTREAM = "192.0.2.1:53"

EXTRA_LISTS = {
    "soon.yaml": "name: soon\nreference: Board 2023-09\nobserve_from: 2023-03-21\n"
                 "effective: 2023-04-01\ntimezone: Europe/Brussels\ndomains:\n"
                 "  - soon.example\n",
    "later.yaml": "name: later\nreference: Board 2023-10\neffective: 2023-05-01\n"
                  "timezone: UTC\ndomains:\n  - later.example\n",
    "old.yaml": "name: old\nreference: Old rule\neffective: 2022-01-01\nexpires: 2023-03-01\n"
                "timezone: UTC\ndomains:\n  - old.example\n",
}
# soon.example answered in soon's warning period: (UTC hour, answers)
OBSERVED = ((datetime(2023, 3, 21, 9, tzinfo=UTC), 3), (datetime(2023, 3, 22, 8, tzinfo=UTC), 2))


class Clock:
    def __init__(self, at: datetime = NOW) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def observed_records() -> list[dict[str, Any]]:
    found = []
    for hour, count in OBSERVED:
        for i in range(count):
            moment = hour + timedelta(minutes=7 * i)
            found.append({"ts": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                          "client": "198.51.100.0", "group": "", "name": "soon.example",
                          "type": "A", "verdict": "observed", "rcode": "NOERROR",
                          "list": "soon", "rule": "soon.example", "upstream": UPSTREAM,
                          "ms": 2.5, "proto": "udp"})
    return found


def all_records() -> list[dict[str, Any]]:
    return sorted(ban_records() + observed_records(), key=lambda r: r["ts"])


@dataclass
class LiveSite:
    root: Path
    config: Config
    policy: Policy
    shared: SharedCounters
    clock: Clock
    dashboard: Dashboard

    @property
    def log(self) -> Path:
        return self.root / "state" / "querylog.jsonl"

    def publish(self, counters: dict[str, int], series: dict[str, Any]) -> None:
        """A worker's report, with the reloader's state as a single-process server has it."""
        holder = PolicyHolder(self.policy, clock=self.clock)
        live = PolicyReloader(self.config, holder, lambda: self.config, lambda _o, _n: None,
                              loaded_at=STARTED.timestamp())
        self.shared.publish(0, 4242, self.clock(), counters, series, live.state())


def live_site(root: Path, health: Health | None = None) -> LiveSite:
    stage_ban_site(root)
    for name, text in EXTRA_LISTS.items():
        (root / "blocklists" / name).write_text(text, encoding="utf-8")
    (root / "state" / "querylog.jsonl.3").write_text(
        "".join(json.dumps(r) + "\n" for r in observed_records()), encoding="utf-8")
    config = load_config(root / "dnsfence.yaml").with_overrides(
        **{"upstream.servers": (Endpoint("192.0.2.1", 53),)})
    result = load_policy(config.blocklists, ZONE, config.lists.cache_dir)
    assert result.policy is not None, result.errors
    shared = SharedCounters(1, counter_names())
    clock = Clock()
    policy = result.policy
    dashboard = Dashboard(Sources(
        reports=shared.read,
        status=lambda found: reported_status(found, config, STARTED.timestamp()),
        policy=lambda: policy, config=lambda: config,
        health=(lambda: health) if health is not None else None, clock=clock))
    site = LiveSite(root, config, policy, shared, clock, dashboard)
    site.publish({"blocked": 30, "forwarded": 10, "upstream_failures": 1, "cache_hits": 5},
                 {"queries": {("blocked", "udp"): 28.0, ("blocked", "tcp"): 2.0,
                              ("forwarded", "udp"): 10.0},
                  "upstream_responses": {(UPSTREAM, "NOERROR"): 8.0, (UPSTREAM, "NXDOMAIN"): 1.0},
                  "blocked": {("tiktok",): 20.0, ("ads",): 10.0}})
    return site
