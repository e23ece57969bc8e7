"""Client networks as the config writes them: one CIDR or a list (IPv4 and IPv6)."""

from __future__ import annotations

import ipaddress
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(value: Any) -> tuple[IPNetwork, ...]:
    items = value if isinstance(value, list) else [value]
    try:
        return tuple(ipaddress.ip_network(str(v), strict=False) for v in items)
    except ValueError as exc:
        raise ValueError(f"not a network: {exc} (write e.g. 10.0.0.0/8 or fd00::/8)") from None
