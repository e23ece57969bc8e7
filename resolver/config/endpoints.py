"""Addresses to listen on and forward to: IP and port, never a host name.

Host names are not resolved, to avoid asking DNS where DNS is. A server to forward to may
be reached over DNS over TLS (RFC 7858), written `tls://ADDRESS[:PORT][#AUTH-NAME]`: the
address is still a literal, and the name is only what its certificate must carry.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resolver.config.setting import KeyedValueError
from resolver.policy.names import InvalidName, normalise_query_name

TLS_SCHEME = "tls://"
DNS_OVER_TLS_PORT = 853
_HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    """An IP address and port; IPv6 shown in brackets."""

    host: str
    port: int
    tls_name: str | None = None
    """Set for a server reached over DNS over TLS: the name its certificate must be valid
    for (the address itself when none was written); None: plain DNS."""

    def __str__(self) -> str:
        address = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        if self.tls_name is None:
            return address
        return f"{TLS_SCHEME}{address}" + ("" if self.tls_name == self.host
                                           else f"#{self.tls_name}")

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


def parse_server(text: str) -> Endpoint:
    """A server to forward to: 'HOST[:PORT]' (plain DNS, port 53) or
    'tls://HOST[:PORT][#AUTH-NAME]' (DNS over TLS, port 853); ValueError otherwise.

    Without an auth name the certificate must carry the address itself (an iPAddress
    subject alternative name, RFC 5280 4.2.1.6), as those of the public DoT resolvers
    do: the connection is always authenticated, never merely encrypted.
    """
    raw = str(text).strip()
    if not raw.lower().startswith(TLS_SCHEME):
        if "#" in raw or "://" in raw:
            raise ValueError(f"{raw!r}: write HOST[:PORT] for plain DNS, or "
                             "tls://HOST[:PORT]#AUTH-NAME for DNS over TLS")
        plain = parse_endpoint(raw, 53)
        if plain.port == 0:
            raise ValueError(f"{raw!r}: port 0 cannot be asked")
        return plain
    address, has_name, name = raw[len(TLS_SCHEME):].partition("#")
    try:
        endpoint = parse_endpoint(address, DNS_OVER_TLS_PORT)
    except ValueError:
        host = address.rpartition(":")[0] if address.count(":") == 1 else address
        if not _HOST_NAME.fullmatch(host.lower()) or host.replace(".", "").isdigit():
            raise
        raise ValueError(
            f"{raw!r}: the server must be an IP address, its certificate's name after '#' "
            f"(e.g. tls://192.0.2.53#{host.lower()}); host names are not resolved, to avoid "
            "asking DNS where DNS is") from None
    if endpoint.port == 0:
        raise ValueError(f"{raw!r}: port 0 cannot be asked")
    if not has_name:
        return Endpoint(endpoint.host, endpoint.port, endpoint.host)
    return Endpoint(endpoint.host, endpoint.port, _auth_name(name, raw))


def _auth_name(text: str, raw: str) -> str:
    """The name a DoT server's certificate must carry: a host name (A-labels, lower case)
    or an address literal."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        pass
    try:
        name = normalise_query_name(text)
    except InvalidName as exc:
        raise ValueError(f"{raw!r}: {text!r} is not a host name: {exc}") from None
    if not _HOST_NAME.fullmatch(name):
        raise ValueError(f"{raw!r}: {text!r} is not a host name (letters, digits and "
                         "hyphens between dots), so no certificate can carry it")
    return name


def servers(value: Any) -> tuple[Endpoint, ...]:
    """One server or a list of them, each as `parse_server` reads it; a bad one is
    reported at its own line."""
    items = value if isinstance(value, list) else [value]
    found = []
    for index, item in enumerate(items):
        try:
            found.append(parse_server(str(item)))
        except ValueError as exc:
            raise KeyedValueError(index, str(exc)) from None
    return tuple(found)


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
