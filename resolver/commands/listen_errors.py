"""Why the DNS port could not be bound, in words an admin can act on.

The classic case: `listen: 0.0.0.0:53` on a distribution with systemd-resolved, whose stub
listener holds 127.0.0.53:53 (and 127.0.0.54:53), so a wildcard bind of port 53 fails with
"Address already in use" although nothing seems to serve DNS on the host's addresses.
"""

from __future__ import annotations

import errno
import ipaddress

from resolver.config.endpoints import Endpoint

RESOLVED_STUB = (
    "on many distributions that is systemd-resolved's stub listener on 127.0.0.53:53 (and "
    "127.0.0.54:53), which a wildcard address such as 0.0.0.0:53 or [::]:53 includes: "
    "listen on the host's LAN addresses instead (server.listen: [\"192.0.2.10:53\"]), or set "
    "DNSStubListener=no in /etc/systemd/resolved.conf and restart systemd-resolved")


def _port_text(endpoint: Endpoint) -> str:
    return f"sport = :{endpoint.port}"


def _wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def cannot_listen(endpoint: Endpoint, error: OSError) -> str:
    """The start-up error for a DNS address `endpoint` that failed to bind with `error`."""
    text = f"dnsfence: not started: cannot listen on {endpoint}: {error.strerror or error}"
    if error.errno == errno.EACCES:
        return f"{text} (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{text} (no interface of this host has that address)"
    if error.errno != errno.EADDRINUSE:
        return text
    who = f"`ss -lntup '{_port_text(endpoint)}'` shows which program holds the port"
    if endpoint.port == 53 or _wildcard(endpoint.host):
        return f"{text}; another DNS server holds the port ({who}); {RESOLVED_STUB}"
    return f"{text}; another program holds the port ({who})"
