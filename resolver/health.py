"""`/healthz`: 200 when the server answers DNS and its policy is loaded, 503 and why
otherwise.

A `url:` source that has never been downloaded (`lists.on_missing: start`) is named in
the detail but keeps 200: the server does what it was told to, and a 503 would make an
orchestrator restart a server that cannot do better until the mirror is back.

"Loaded" means the lists on disk are the ones in force: when the last reload failed
the server still answers with the last good policy, but the files an admin edited are
not what it enforces, and a monitor should say so. Answering is checked for real: a
CHAOS query to the server's own DNS port, which no upstream ever sees.

An orchestrator's probes ask `/healthz?exclude=reload` (named like the Kubernetes API
server's `/readyz?exclude=`): a broken edit reaches every replica at once, and each keeps
enforcing the last good policy, so taking them all out of service, or restarting them into
lists that no longer load, would turn a typo into an outage. The failure is still named.
"""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from resolver.config.endpoints import Endpoint
from resolver.counters import PUBLISH_INTERVAL, WorkerCounters

STALE_AFTER = 5 * PUBLISH_INTERVAL
"""A worker that has not reported for this long is not serving (stuck or dead)."""
PROBE_TIMEOUT = 1.0

EXCLUDABLE = frozenset({"reload"})
"""Checks a caller may leave out of the verdict (they are still named in its text)."""

_CHAOS_STATUS = b"\x06status\x08dnsfence\x00" + struct.pack("!HH", 16, 3)  # TXT CH


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    reason: str

    @property
    def status(self) -> int:
        return 200 if self.ok else 503


def loopback_for(endpoint: Endpoint) -> Endpoint:
    """The address that reaches a server listening on `endpoint` from this host."""
    if endpoint.host == "0.0.0.0":
        return Endpoint("127.0.0.1", endpoint.port)
    if endpoint.host == "::":
        return Endpoint("::1", endpoint.port)
    return endpoint


def probe_dns(endpoint: Endpoint, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when the DNS server at `endpoint` answers a query; otherwise what went wrong."""
    target = loopback_for(endpoint)
    query_id = random.randrange(1 << 16)
    query = struct.pack("!HHHHHH", query_id, 0, 1, 0, 0, 0) + _CHAOS_STATUS
    family = socket.AF_INET6 if target.family_is_v6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.connect((target.host, target.port))
            sock.send(query)
            while True:  # a stray datagram is not the answer
                reply = sock.recv(512)
                if len(reply) >= 2 and int.from_bytes(reply[:2], "big") == query_id:
                    return None
    except TimeoutError:
        return f"no DNS answer from {target} within {timeout:g}s"
    except OSError as exc:
        return f"no DNS answer from {target}: {exc.strerror or exc}"


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def missing_sources(own: dict[str, Any], others: Sequence[dict[str, Any]]
                    ) -> list[dict[str, Any]]:
    """The `url:` sources the policy in `own` (a worker's state) is served without, with
    how their downloads went taken from whichever worker downloads (only one does)."""
    found = [dict(entry) for entry in own.get("policy", {}).get("missing_sources", [])]
    tried = {entry["url"]: entry for state in others
             for entry in state.get("policy", {}).get("missing_sources", [])
             if entry.get("failures") is not None}
    for entry in found:
        if entry.get("failures") is None and entry["url"] in tried:
            for key in ("failures", "last_error", "next_attempt"):
                entry[key] = tried[entry["url"]][key]
    return found


def _missing_detail(missing: list[dict[str, Any]]) -> str:
    count = len(missing)
    shown = ", ".join(f"{m['url']} of list {m['list']} ({m['location']})" for m in missing[:3])
    more = f" and {count - 3} more" if count > 3 else ""
    return (f"; serving without {count} source{'s' * (count != 1)} never downloaded yet: "
            f"{shown}{more}")


def health(workers: Sequence[WorkerCounters], expected: int, now: float,
           probe: Callable[[], str | None], exclude: frozenset[str] = frozenset()) -> Health:
    """The verdict from the workers' reports and a DNS probe; every reason is given.
    `exclude` (a subset of EXCLUDABLE) names checks that are reported but do not count."""
    reasons: list[str] = []
    excluded: list[str] = []
    serving = [worker for worker in workers if worker.serving]  # not the supervisor
    if len(serving) < expected:
        reasons.append(f"{expected - len(serving)} of {expected} workers have not reported")
    for worker in serving:
        if now - worker.published_at > STALE_AFTER:
            reasons.append(f"worker pid {worker.pid} has not reported for "
                           f"{now - worker.published_at:.0f}s")
    states = [worker.state for worker in workers if worker.state]
    if not states and workers:
        reasons.append("no policy loaded")
    for state in states[:1]:  # one reload state, whoever reports it
        last = state["reload"]["last"]
        if last is not None and not last["ok"]:
            problems = last["problems"]
            (excluded if "reload" in exclude else reasons).append(
                f"the policy failed to load at {_when(last['at'])} ({last['reason']}): "
                f"{len(problems)} error(s), e.g. {problems[0] if problems else 'unknown'}; "
                f"still enforcing the policy loaded at "
                f"{_when(state['policy']['loaded_at'])}")
    failed = probe()
    if failed is not None:
        reasons.append(failed)
    newest = max(states, key=lambda s: s["reload"]["last_success"]) if states else None
    missing = missing_sources(newest, states) if newest is not None else []
    without = _missing_detail(missing) if missing else ""
    ignored = "".join(f"; not counted (exclude=reload): {item}" for item in excluded)
    if reasons:
        return Health(False, "unhealthy: " + "; ".join(reasons) + without + ignored)
    lists = 0 if newest is None else len(newest["policy"]["lists"])
    loaded = "" if newest is None else (
        f"; policy of {lists} list{'s' * (lists != 1)} loaded at "
        f"{_when(newest['policy']['loaded_at'])}{without}")
    count = len(serving)
    return Health(True, f"ok: {count} worker{'s' * (count != 1)} answering DNS{loaded}{ignored}")
