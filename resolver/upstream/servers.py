"""Upstream servers as configured, and the socket addresses they are reached at.

Servers are address literals only: a forwarder that needs a resolver to find its resolver
would fail exactly when it is needed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

SocketAddress = tuple[str, int] | tuple[str, int, int, int]


@dataclass(frozen=True, slots=True)
class UpstreamServer:
    """An upstream resolver, given as an IPv4 or IPv6 literal (no name lookups here)."""

    host: str
    port: int = 53
    tls_name: str | None = None
    """Set when the resolver is reached over DNS over TLS (RFC 7858): the name its
    certificate must be valid for (an address literal is matched against the certificate's
    IP addresses). None: plain DNS over UDP, TCP after truncation."""
    _hash: int = field(init=False, repr=False, compare=False)
    _text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise ValueError(
                f"upstream {self.host!r} is not an IPv4 or IPv6 address literal"
            ) from None
        if not 0 < self.port < 65_536:
            raise ValueError(f"upstream port {self.port} is outside 1..65535")

        if self.tls_name is not None and not self.tls_name:
            raise ValueError("a DNS-over-TLS upstream needs the name its certificate carries")
        # Both made once: a forwarded query hashes its server three times (health, counts)
        # and names it once (the query log), and a dataclass's own hash and a formatted
        # text are Python code each time.
        object.__setattr__(self, "_hash", hash((self.host, self.port, self.tls_name)))
        address = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        if self.tls_name is not None:
            address = f"tls://{address}" if self.tls_name == self.host \
                else f"tls://{address}#{self.tls_name}"
        object.__setattr__(self, "_text", address)

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        return self._text


def socket_address(server: UpstreamServer) -> SocketAddress:
    """Socket address for a literal, via getaddrinfo so IPv6 scope IDs are honoured."""
    infos = socket.getaddrinfo(
        server.host, server.port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
    )
    address = infos[0][4]
    if len(address) == 4:
        return (str(address[0]), int(address[1]), int(address[2]), int(address[3]))
    return (str(address[0]), int(address[1]))


def address_family(sockaddr: SocketAddress) -> socket.AddressFamily:
    return socket.AF_INET6 if len(sockaddr) == 4 else socket.AF_INET


def same_host(source: str, expected: str) -> bool:
    """Whether two address texts name the same host (IPv6 may be written several ways)."""
    if source == expected:
        return True
    try:
        return ipaddress.ip_address(source) == ipaddress.ip_address(expected)
    except ValueError:
        return False
