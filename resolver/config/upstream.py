"""`upstream:`: the resolvers dnsfence forwards to, and how long it waits for them."""

from __future__ import annotations

from dataclasses import dataclass

from resolver.config.endpoints import Endpoint, endpoints
from resolver.config.setting import Setting, number

SETTINGS = (
    Setting("upstream", "servers", (),
            "Resolvers to forward to, tried in order (default: nameservers in /etc/resolv.conf).",
            endpoints(53), ["9.9.9.9", "149.112.112.112"]),
    Setting("upstream", "timeout", 1.0,
            "Seconds to wait for one upstream before trying the next.", number(float, 0.01, 30)),
    Setting("upstream", "deadline", 3.0,
            "Seconds after which the client gets SERVFAIL.", number(float, 0.05, 60)),
)

# (smaller, larger, why): keys whose values must be in this order.
ORDERED = (
    (("upstream", "timeout"), ("upstream", "deadline"),
     "one upstream's timeout cannot exceed the client's deadline"),
)


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    servers: tuple[Endpoint, ...]
    timeout: float
    deadline: float
