"""`server:`: where dnsfence listens, whom it answers, and how many workers serve."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from resolver.config.cpus import usable_cpus
from resolver.config.endpoints import Endpoint, endpoints
from resolver.config.networks import IPNetwork, networks
from resolver.config.rate_limit import RateLimit, rate_limit
from resolver.config.setting import Setting, number, one_of
from resolver.udp_batch import BATCH_IO

DEFAULT_CLIENTS = (
    "127.0.0.0/8", "::1/128",  # loopback
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "100.64.0.0/10",  # RFC 6598 shared address space (carrier-grade NAT)
    "fc00::/7", "fe80::/10", "169.254.0.0/16",  # IPv6 ULA, link-local
)


LOCAL_ZONES = ("default", "none")


def parse_workers(value: Any) -> int | str:
    """A worker count, 1..256, or "auto" (one per usable CPU)."""
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
        raise ValueError(f"must be a whole number from 1 to 256, or auto, not {value!r}")
    return value


SETTINGS = (
    Setting("server", "listen", (Endpoint("127.0.0.1", 5353),),
            "Addresses to serve DNS on, UDP and TCP (HOST:PORT; IPv6 as [::1]:53).",
            endpoints(53), ["0.0.0.0:53", "[::]:53"]),
    Setting("server", "allow_clients", tuple(ipaddress.ip_network(n) for n in DEFAULT_CLIENTS),
            "Client networks that may query; others get REFUSED (never an open resolver).",
            networks, ["10.0.0.0/8", "192.168.0.0/16", "127.0.0.0/8", "::1/128"]),
    Setting("server", "edns_udp_size", 1232,
            "EDNS UDP payload size dnsfence advertises (DNS Flag Day 2020: 1232).",
            number(int, 512, 4096)),
    Setting("server", "workers", "auto",
            "Worker processes sharing the port (SO_REUSEPORT), each with its own cache; "
            "auto = one per CPU this process may use (affinity mask, CPU quota).",
            parse_workers),
    Setting("server", "tcp_idle_timeout", 10.0,
            "Seconds an idle TCP connection is kept open (RFC 7766).", number(float, 0.1, 3600)),
    Setting("server", "local_zones", "default",
            "Answer the locally served zones here (reverse zones of private, loopback and "
            "link-local addresses, localhost, invalid, onion, home.arpa, local): default, "
            "or none to forward them like any name.", one_of(LOCAL_ZONES)),
    Setting("server", "tcp_max_connections", 512,
            "Open TCP connections at most; further ones are closed at once.",
            number(int, 1, 100_000)),
    Setting("server", "tcp_max_connections_per_client", 16,
            "Open TCP connections one client (address; IPv6 /56) may hold; further ones are "
            "closed at once, so one client cannot take every slot.", number(int, 1, 100_000)),
    Setting("server", "rate_limit", None,
            "Queries per second a client may send over UDP (token bucket; off by default): "
            "over it, answers are dropped, every second one sent truncated so that a real "
            "client retries over TCP. Exempt forwarding resolvers.",
            rate_limit, {"qps": 50, "burst": 200}),
    Setting("server", "batch_io", "auto",
            "UDP reads and answers: auto = in batches of up to 64 datagrams a system call "
            "(recvmmsg/sendmmsg) where the compiled module is built, else one by one; off "
            "= always one by one (the Python path). Same answers either way; `dnsfence "
            "status` says which is in use. Read at start-up.", one_of(BATCH_IO)),
)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: tuple[Endpoint, ...]
    allow_clients: tuple[IPNetwork, ...]
    edns_udp_size: int
    workers: int | str  # a count, or "auto"
    tcp_idle_timeout: float
    local_zones: str
    tcp_max_connections: int
    tcp_max_connections_per_client: int
    rate_limit: RateLimit | None
    batch_io: str

    @property
    def worker_count(self) -> int:
        return usable_cpus() if self.workers == "auto" else int(self.workers)
