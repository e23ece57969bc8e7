"""Addresses to listen on and forward to: IP and port, never a host name.

Host names are not resolved, to avoid asking DNS where DNS is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    """An IP address and port; IPv6 shown in brackets."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def family_is_v6(self) -> bool:
        return ":" in self.host


def parse_endpoint(text: str, default_port: int) -> Endpoint:
    """'1.2.3.4', '1.2.3.4:53', '::1', '[::1]:53' -> Endpoint; ValueError otherwise."""
    raw = str(text).strip()
    host, port = raw, default_port
    if raw.startswith("["):
        close = raw.find("]")
        if close < 0:
            raise ValueError(f"{raw!r}: missing ']' after the IPv6 address")
        host, rest = raw[1:close], raw[close + 1:]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{raw!r}: expected ':PORT' after ']'")
            port = _port(rest[1:], raw)
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
        port = _port(port_text, raw)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"{raw!r} is not an IP address (write 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53;"
            " host names are not resolved, to avoid asking DNS where DNS is)"
        ) from None
    return Endpoint(str(address), port)


def _port(text: str, raw: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"{raw!r}: port must be a number from 0 to 65535")
    return int(text)


def endpoints(default_port: int) -> Callable[[Any], tuple[Endpoint, ...]]:
    def parse(value: Any) -> tuple[Endpoint, ...]:
        items = value if isinstance(value, list) else [value]
        return tuple(parse_endpoint(str(v), default_port) for v in items)
    return parse


def resolv_conf_servers(path: Path = Path("/etc/resolv.conf"),
                        exclude: tuple[Endpoint, ...] = ()) -> tuple[Endpoint, ...]:
    """Nameservers from resolv.conf, minus any that would be dnsfence itself."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                endpoint = parse_endpoint(parts[1].split("%")[0], 53)
            except ValueError:
                continue
            if not any(_is_self(endpoint, own) for own in exclude):
                found.append(endpoint)
    return tuple(found)


def _is_self(candidate: Endpoint, own: Endpoint) -> bool:
    if candidate.port != own.port:
        return False
    if candidate.host == own.host:
        return True
    own_ip = ipaddress.ip_address(own.host)
    return own_ip.is_unspecified and ipaddress.ip_address(candidate.host).is_loopback
