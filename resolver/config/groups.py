"""`groups:`: named client networks, which lists may apply to (`clients:`) or exempt
(`except_clients:`).

    groups:
      press-office: [10.1.20.0/24]
      guests: [10.9.0.0/16, "2001:db8:9::/48"]

A client belongs to every group whose network holds its address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resolver.config.networks import IPNetwork, networks
from resolver.config.setting import KeyedValueError, Setting
from resolver.policy.audience import NO_GROUPS, Groups
from resolver.policy.explain import Client

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


@dataclass(frozen=True, slots=True)
class ClientGroup:
    name: str
    networks: tuple[IPNetwork, ...]


def client_groups(value: Any) -> tuple[ClientGroup, ...]:
    """{name: CIDR or [CIDR, ...]} -> the groups, in the order written."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of group names to networks, e.g. "
                         "{press-office: [10.1.20.0/24]}")
    groups = []
    for name, nets in value.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise KeyedValueError(name, f"{name!r} is not a group name (letters, digits, "
                                  "'-', '_' and '.', e.g. press-office)")
        if nets is None or nets == []:
            raise KeyedValueError(name, f"group {name!r} has no networks")
        try:
            groups.append(ClientGroup(name, networks(nets)))
        except ValueError as exc:
            raise KeyedValueError(name, f"group {name!r}: {exc}") from None
    return tuple(groups)


SETTINGS = (
    Setting("", "groups", (),
            "Client groups by network (IPv4/IPv6 CIDRs); a list applies only to some "
            "(`clients: [GROUP]`) or to all but some (`except_clients: [GROUP]`).",
            client_groups, {"press-office": ["10.1.20.0/24"],
                            "guests": ["10.9.0.0/16", "2001:db8:9::/48"]}),
)


def client_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A socket's peer address as an IP (zone dropped, IPv4-mapped IPv6 as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def groups_of(groups: Sequence[ClientGroup], ip: Any) -> Groups:
    """The names of the groups whose networks hold `ip` (an ip_address, IPv4-mapped
    addresses already unwrapped)."""
    if ip is None:
        return NO_GROUPS
    found = frozenset(group.name for group in groups
                      if any(ip.version == net.version and ip in net
                             for net in group.networks))
    return found or NO_GROUPS


def client_at(raw: str, allow: Sequence[IPNetwork], groups: Sequence[ClientGroup]) -> Client:
    """The client at address `raw`, with its groups and whether `allow` (the client
    networks) holds it, for explaining a decision; ValueError when it is not an IP address."""
    ip = client_ip(raw.strip())
    if ip is None:
        raise ValueError(f"{raw!r} is not an IP address (e.g. 10.1.20.5 or fd00::5)")
    allowed = any(ip.version == net.version and ip in net for net in allow)
    return Client(str(ip), groups_of(groups, ip), allowed)
