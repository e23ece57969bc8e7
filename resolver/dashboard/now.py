"""The "Now" section: what `dnsfence status` reports (the same document, made from the same
shared reports), the `/healthz` verdict, and the upstreams' answers from the series that
`/metrics` exports, with the last minute's share of failures."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from resolver.counters import Series
from resolver.health import Health
from resolver.policy.instants import iso

RECENT = 60.0
"""Seconds of upstream figures the "last minute" compares."""


class UpstreamRates:
    """Samples of (time, forwarded, failed) taken as the dashboard is built, to say how the
    last minute went: totals since start hide an upstream that fails now."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=512)

    def add(self, now: float, forwarded: int, failed: int) -> dict[str, Any] | None:
        """Record a sample; the change over the last minute (None before a second sample)."""
        samples = self._samples
        while samples and (now - samples[0][0] > RECENT or now < samples[0][0]):
            samples.popleft()
        first = samples[0] if samples else None
        samples.append((now, forwarded, failed))
        if first is None or now - first[0] < 1.0:
            return None
        return {"seconds": round(now - first[0], 1), "forwarded": forwarded - first[1],
                "failures": failed - first[2]}


def _when(epoch: float | None, tz: tzinfo) -> str | None:
    return None if epoch is None else iso(datetime.fromtimestamp(epoch, UTC), tz)


def now_section(status: dict[str, Any], series: dict[str, Series], health: Health | None,
                next_does: Sequence[str], recent: dict[str, Any] | None, tz: tzinfo
                ) -> dict[str, Any]:
    """`status` is the `dnsfence status --json` document; `next_does`, what the next
    change does (as `dnsfence schedule` says it)."""
    policy = status["policy"]
    supervisor = status.get("supervisor") or {}
    last = status["last_reload"]
    counters = status["counters"]
    answers: dict[str, int] = {}
    for (verdict, _proto), count in series.get("queries", {}).items():
        answers[verdict] = answers.get(verdict, 0) + int(count)
    upstreams: dict[str, dict[str, int]] = {name: {} for name in status["upstreams"]}
    for (server, rcode), count in sorted(series.get("upstream_responses", {}).items()):
        upstreams.setdefault(server, {})[rcode] = int(count)
    death = supervisor.get("last_death")
    return {
        "version": status["version"],
        "started": _when(status["started"], tz),
        "workers": {"count": len(status["workers"]),
                    "pids": [w["pid"] for w in status["workers"]],
                    "supervisor": supervisor.get("pid"),
                    "generation": supervisor.get("generation"),
                    "restarts": supervisor.get("restarts", 0),
                    "last_death": None if not death else {**death,
                                                          "at": _when(death["at"], tz)}},
        "health": None if health is None else {"ok": health.ok, "reason": health.reason},
        "policy": {"loaded_at": _when(policy["loaded_at"], tz),
                   "lists": len(policy["lists"]), "entries": policy["entries"],
                   "active_entries": policy["active_entries"],
                   "next_change": _when(policy["next_change"], tz),
                   "next_change_does": list(next_does),
                   "missing_sources": policy.get("missing_sources", [])},
        "last_reload": None if last is None else {**last, "at": _when(last["at"], tz)},
        "reloads": status["reloads"], "failed_reloads": status["failed_reloads"],
        "answers": dict(sorted(answers.items())),
        "blocked_by_list": status["blocked_by_list"],
        "upstream": {"forwarded": counters.get("forwarded", 0),
                     "failures": counters.get("upstream_failures", 0),
                     "last_minute": recent,
                     "servers": [{"server": name, "responses": responses,
                                  "answered": sum(responses.values())}
                                 for name, responses in upstreams.items()],
                     "forward_zones": status.get("forward_zones", {})},
        "cache": {"hits": counters.get("cache_hits", 0),
                  "entries": counters.get("cache_entries", 0)},
        "querylog": {"written": counters.get("querylog_written", 0),
                     "dropped": counters.get("querylog_dropped", 0)},
    }
