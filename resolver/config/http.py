"""`http:`: where `/metrics` and `/healthz` are served (loopback unless the admin says so)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolver.config.endpoints import Endpoint, parse_endpoint
from resolver.config.setting import Setting

DEFAULT_PORT = 9153  # CoreDNS's metrics port


def http_endpoint(value: Any) -> Endpoint | None:
    """HOST:PORT, or empty (or null) for no HTTP listener at all."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be HOST:PORT or empty, not {value!r}")
    return parse_endpoint(value, DEFAULT_PORT)


SETTINGS = (
    Setting("http", "listen", Endpoint("127.0.0.1", DEFAULT_PORT),
            "Address of the HTTP listener for /metrics (Prometheus) and /healthz; empty "
            "disables it. Anything but loopback exposes counters: firewall it.",
            http_endpoint, "127.0.0.1:9153"),
)


@dataclass(frozen=True, slots=True)
class HttpConfig:
    listen: Endpoint | None
