"""`server.rate_limit`: a token bucket per client over UDP (off unless configured).

    server:
      rate_limit: {qps: 50, burst: 200}            # per client address
      rate_limit: {qps: 50, burst: 200, ipv6_prefix: 56, exempt: [10.0.0.53/32]}

A client is an IPv4 address (`ipv4_prefix`, default 32) or an IPv6 network
(`ipv6_prefix`, default 56: one home or office site). `exempt` networks are never
limited: an office resolver that forwards everyone's queries to dnsfence must be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolver.config.networks import IPNetwork, networks

KEYS = ("qps", "burst", "ipv4_prefix", "ipv6_prefix", "exempt")


@dataclass(frozen=True, slots=True)
class RateLimit:
    qps: float
    burst: float
    ipv4_prefix: int = 32
    ipv6_prefix: int = 56
    exempt: tuple[IPNetwork, ...] = ()


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"`{name}` must be a number from {low:g} to {high:g}, not {value!r}")
    return float(value)


def _prefix(name: str, value: Any, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 8 <= value <= high:
        raise ValueError(f"`{name}` must be a whole number from 8 to {high}, not {value!r}")
    return value


def rate_limit(value: Any) -> RateLimit | None:
    """Off (empty, null, false or `off`) or {qps, burst, ipv4_prefix, ipv6_prefix, exempt}."""
    if value in (None, False, "off", {}):
        return None
    if not isinstance(value, dict):
        raise ValueError("must be a mapping like {qps: 50, burst: 200}, or off")
    unknown = [key for key in value if key not in KEYS]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    if "qps" not in value:
        raise ValueError("needs `qps`, the queries per second a client may send")
    qps = _number("qps", value["qps"], 0.1, 1_000_000)
    burst = _number("burst", value.get("burst", qps), 1, 10_000_000)
    return RateLimit(qps, max(burst, 1.0),
                     _prefix("ipv4_prefix", value.get("ipv4_prefix", 32), 32),
                     _prefix("ipv6_prefix", value.get("ipv6_prefix", 56), 128),
                     networks(value.get("exempt", [])) if value.get("exempt") else ())
