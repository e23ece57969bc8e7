"""The dashboard: its JSON document, its page and the "Why?" answer, from the live server.

Everything is read where the server keeps it: the shared reports (`status`, `/metrics`),
the policy and config its reloader holds, the `/healthz` verdict, and the query log (read
by a thread of its own, `LogWatch`). The document is made at most once a second whoever
asks, and the policy's sections (lists, timeline) at most every few seconds or when the
policy changes; a request never waits for the log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from resolver.config.groups import client_at
from resolver.config.settings import Config
from resolver.counters import WorkerCounters, series_totals
from resolver.dashboard import sections
from resolver.dashboard.attempts_view import (
    Dates,
    attempts_section,
    daily_chart,
    hourly_chart,
)
from resolver.dashboard.log_watch import LogWatch
from resolver.dashboard.now import UpstreamRates, now_section
from resolver.dashboard.page import page, why_html
from resolver.dashboard.policy_view import lists_section, next_change_does, timeline_section
from resolver.health import Health
from resolver.policy.explain import explain, explanation_text
from resolver.policy.instants import iso, show, zone
from resolver.policy.loaded import Policy
from resolver.policy.period import index_of
from resolver.report.chart import colour

FRESH = 1.0
"""Seconds a document is served again to whoever asks (a second poller costs nothing)."""
POLICY_FRESH = 10.0
"""Seconds the lists and timeline are kept (the next change and a reload renew them)."""
REFRESH = 5
"""Seconds between two polls of the page's script."""


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the live server keeps what the dashboard shows (callables: read per build)."""

    reports: Callable[[], Sequence[WorkerCounters]]
    status: Callable[[Sequence[WorkerCounters]], dict[str, Any]]
    """The `dnsfence status` document from those reports."""
    policy: Callable[[], Policy]
    config: Callable[[], Config]
    health: Callable[[], Health] | None = None
    clock: Callable[[], float] = field(default=time.time)


@dataclass(frozen=True, slots=True)
class _PolicyParts:
    key: tuple[int, float]
    made: float
    until: float
    lists: list[dict[str, Any]]
    timeline: dict[str, Any]
    next_does: list[str]
    dates: list[Dates]


class Dashboard:
    def __init__(self, sources: Sources) -> None:
        self._sources = sources
        self._lock = threading.Lock()
        self._document: tuple[float, dict[str, Any]] | None = None
        self._parts: _PolicyParts | None = None
        self._watch: LogWatch | None = None
        self._rates = UpstreamRates()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.stop()

    # --- the JSON document --------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        """The document (with `html`: each section's HTML), made at most once a `FRESH`."""
        with self._lock:  # one builder; the others take its result
            now = self._sources.clock()
            if self._document is not None and 0 <= now - self._document[0] < FRESH:
                return self._document[1]
            built = self._build(now)
            self._document = (now, built)
            return built

    def _build(self, epoch: float) -> dict[str, Any]:
        sources = self._sources
        config = sources.config()
        tz_name = config.timezone
        tz = zone(tz_name)
        now = datetime.fromtimestamp(epoch, UTC)
        reports = sources.reports()
        status = sources.status(reports)
        counters = status["counters"]
        recent = self._rates.add(epoch, counters.get("forwarded", 0),
                                 counters.get("upstream_failures", 0))
        parts = self._policy_parts(status, config, epoch)
        health = sources.health() if sources.health is not None else None
        now_doc = now_section(status, series_totals(reports), health, parts.next_does,
                              recent, tz)
        attempts, unavailable = self._attempts(config, parts, now)
        charts = ("", "")
        if attempts is not None:
            charts = (hourly_chart(attempts, parts.dates, tz),
                      daily_chart(attempts, parts.dates, tz))
        document = {
            "generated": iso(now, tz), "generated_text": show(now, tz),
            "timezone": tz_name, "refresh": REFRESH,
            "now": now_doc, "lists": parts.lists, "timeline": parts.timeline,
            "attempts": attempts, "attempts_unavailable": unavailable,
        }
        document["html"] = {
            "now": sections.now_html(now_doc, tz_name),
            "lists": sections.lists_html(parts.lists),
            "timeline": sections.timeline_html(parts.timeline, parts.lists, tz_name),
            "attempts": sections.attempts_html(attempts, charts, unavailable),
        }
        return document

    def _policy_parts(self, status: dict[str, Any], config: Config, epoch: float
                      ) -> _PolicyParts:
        policy = self._sources.policy()
        key = (id(policy), float(status["policy"]["loaded_at"]))
        parts = self._parts
        if parts is not None and parts.key == key and epoch < parts.until \
                and 0 <= epoch - parts.made < POLICY_FRESH:
            return parts
        now = datetime.fromtimestamp(epoch, UTC)
        next_change = status["policy"]["next_change"]
        timeline = timeline_section(policy, now)
        coming = [datetime.fromisoformat(t["utc"]).timestamp() for t in timeline["coming"]]
        self._parts = parts = _PolicyParts(
            key, epoch, min([*coming[:1], epoch + POLICY_FRESH]),
            lists_section(policy, now, config.lists.cache_dir), timeline,
            next_change_does(policy, next_change),
            [Dates(b.name, b.window.effective, b.window.expires, zone(b.timezone))
             for b in policy.lists])
        return parts

    def _attempts(self, config: Config, parts: _PolicyParts, now: datetime
                  ) -> tuple[dict[str, Any] | None, str | None]:
        path = config.querylog.file(config.state_dir)
        if config.querylog.mode == "off":
            return None, "The query log is off (querylog.mode: off): no attempts to chart."
        if path is None:
            return None, ("The query log goes to standard output (querylog.path: -): "
                          "the charts need a file to read.")
        watch = self._watch_for(Path(path), config.timezone)
        watch.looked_at()
        order = [entry["name"] for entry in parts.lists if entry["blocks"]]
        order += [a.name for a in watch.attempts.lists if a.name not in order]
        colours = {name: colour(i) for i, name in enumerate(order)}
        return attempts_section(watch.attempts, watch.state, colours, zone(config.timezone),
                                config.querylog.clients), None

    def _watch_for(self, path: Path, timezone: str) -> LogWatch:
        watch = self._watch
        if watch is None or watch.path != path or watch.timezone != timezone:
            if watch is not None:
                watch.stop()
            watch = self._watch = LogWatch(path, timezone, self._sources.clock)
        return watch

    # --- the "Why?" box -----------------------------------------------------------------

    def check(self, name: str, client: str = "") -> tuple[int, dict[str, Any], str]:
        """(HTTP status, what `dnsfence check --json` prints, what it prints as text)."""
        config = self._sources.config()
        policy = self._sources.policy()
        who = None
        if client.strip():
            try:
                who = client_at(client, config.server.allow_clients, config.groups)
            except ValueError as exc:
                return 400, {"error": f"client: {exc}"}, f"client: {exc}"
        if not name.strip():
            return 400, {"error": "name: give a name to check"}, "give a name to check"
        now = datetime.fromtimestamp(self._sources.clock(), UTC)
        result = explain(policy, index_of(policy), name, now, who)
        return (400 if "error" in result else 200), result, explanation_text(policy, result)

    # --- the page -----------------------------------------------------------------------

    def page(self, name: str = "", client: str = "") -> str:
        document = self.document()
        answer = text = None
        if name or client:
            _, answer, text = self.check(name, client)
        return page(document, document["html"], why_html(name, client, answer, text))
