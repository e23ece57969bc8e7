"""`forward_zones:`: domains whose questions go to servers of their own (conditional
forwarding), e.g. the Active Directory domain and the private reverse zones to the
domain controllers.

    forward_zones:
      corp.example.eu: [10.0.0.10, 10.0.0.11]
      10.in-addr.arpa: 10.0.0.10

Servers are written as in `upstream.servers` and read by the same parser, so every form
it accepts works here too. A question goes to the zone that is the longest suffix of its
name (the zone itself or a name below it); the main upstreams take the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolver.config import upstream
from resolver.config.endpoints import Endpoint
from resolver.config.setting import KeyedValueError, Setting
from resolver.policy.names import InvalidName, normalise_query_name

_SERVERS = next(s.parse for s in upstream.SETTINGS if s.key == "servers")
"""The parser of `upstream.servers`: one way to write a server, wherever it is written."""


@dataclass(frozen=True, slots=True)
class ForwardZone:
    name: str
    """Lower case, A-labels, no trailing dot; never the root."""
    servers: tuple[Endpoint, ...]


def zone_name(text: str) -> str:
    """What an admin wrote as a zone -> its normalised name; ValueError saying why not."""
    if text.strip() in ("", "."):
        raise ValueError("the root cannot be a forward zone (the main upstreams take every "
                         "name no forward zone holds: set upstream.servers)")
    try:
        return normalise_query_name(text)
    except InvalidName as exc:
        raise ValueError(f"{text!r} is not a zone name: {exc}") from None


def forward_zones(value: Any) -> tuple[ForwardZone, ...]:
    """{zone: SERVER or [SERVER, ...]} -> the zones, in the order written."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of zone names to servers, e.g. "
                         "{corp.example.eu: [10.0.0.10, 10.0.0.11]}")
    zones: dict[str, ForwardZone] = {}
    for key, servers in value.items():
        if not isinstance(key, str):
            raise KeyedValueError(str(key), f"{key!r} is not a zone name (write it as text, e.g. "
                                  "corp.example.eu or 10.in-addr.arpa)")
        try:
            name = zone_name(key)
        except ValueError as exc:
            raise KeyedValueError(key, str(exc)) from None
        if name in zones:
            raise KeyedValueError(key, f"zone {name!r} is given twice")
        if servers is None or servers == []:
            raise KeyedValueError(key, f"zone {name!r} has no servers")
        try:
            zones[name] = ForwardZone(name, _SERVERS(servers))
        except ValueError as exc:
            raise KeyedValueError(key, f"zone {name!r}: {exc}") from None
    return tuple(zones.values())


SETTINGS = (
    Setting("", "forward_zones", (),
            "Domains (and the names below them) forwarded to their own servers, not the "
            "upstreams: the Active Directory domain and private reverse zones to the domain "
            "controllers. Servers as in upstream.servers; the longest matching zone wins.",
            forward_zones, {"corp.example.eu": ["10.0.0.10", "10.0.0.11"],
                            "10.in-addr.arpa": ["10.0.0.10", "10.0.0.11"]}),
)
