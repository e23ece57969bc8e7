"""Per-client limits: a token bucket per client over UDP (`server.rate_limit`), and caps on
TCP connections, in all and per client.

The rate limit sits first in the chain, before the repeat stage: a flood of one query
would otherwise be repeated from memory without limit. Over its limit a client's UDP
queries are dropped, and every second one answered with TC set (BIND's "slip"): a real
client retries over TCP, whose handshake a spoofed source cannot complete, so a victim
of spoofing keeps some service. TCP queries are not rate-limited; their connections are
capped instead (`admit_tcp`, asked by the TCP server), so one client holding hundreds of
idle connections cannot take every slot.

A client is its IPv4 address, or its IPv6 /56 (one site: a single host holds a /64 and
more), as `rate_limit` sets them. Off (no `rate_limit`), the stage costs nothing per query:
it says so in `answers_now` and the pipeline leaves it out.
"""

from __future__ import annotations

import ipaddress

from resolver.config.rate_limit import RateLimit
from resolver.config.settings import Config
from resolver.dns import raw_answers
from resolver.stages.contract import DROP, RATE_LIMITED, Request, Stage, StageSetup

_LIMIT = 65_536
"""Buckets and client keys kept at most; when full the stage starts again empty (a flood
of spoofed sources cannot grow memory; it only hands everyone a fresh burst)."""
EXEMPT = ""
"""The key of a client that is never rate-limited."""


def client_key(address: str, ipv4_prefix: int, ipv6_prefix: int) -> str:
    """The client a source address counts as: the address, or its network."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = ipv4_prefix if ip.version == 4 else ipv6_prefix
    if prefix == ip.max_prefixlen:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


class ClientLimitsStage(Stage):
    """Drops (or slips) UDP queries over a client's rate; admits TCP connections."""

    __slots__ = ("_buckets", "_keys", "_limit", "_limited", "_slips", "_tcp_by_client",
                 "_tcp_client_refused", "_tcp_max", "_tcp_max_per_client", "_tcp_open",
                 "_tcp_refused", "_udp_size")

    COUNTERS = (RATE_LIMITED.counter, "rate_limit_slips", "tcp_refused", "tcp_client_refused")

    def __init__(self, setup: StageSetup) -> None:
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, when last filled]
        self._keys: dict[str, str] = {}  # source address -> client key
        self._limited = self._slips = self._tcp_refused = self._tcp_client_refused = 0
        self._tcp_open = 0
        self._tcp_by_client: dict[str, int] = {}
        self.reconfigure(setup.config)

    @property
    def answers_now(self) -> bool:
        return self._limit is not None

    def handle(self, request: Request) -> bytes | None:
        limit = self._limit
        if limit is None or request.tcp:
            return None
        key = self._keys.get(request.client)
        if key is None:
            key = self._key_of(request.client, limit)
        if key is EXEMPT:
            return None
        now = request.now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _LIMIT:
                self._buckets.clear()
            bucket = self._buckets[key] = [limit.burst, now]
        tokens = bucket[0] + (now - bucket[1]) * limit.qps
        if tokens > limit.burst:
            tokens = limit.burst
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return None
        bucket[0] = tokens
        self._limited += 1
        request.kind = RATE_LIMITED
        if self._limited & 1:
            self._slips += 1
            return raw_answers.truncated(request.data, self._udp_size) or DROP
        return DROP

    def _key_of(self, address: str, limit: RateLimit) -> str:
        key = client_key(address, limit.ipv4_prefix, limit.ipv6_prefix)
        if limit.exempt:
            try:
                ip = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                ip = None
            if ip is not None and any(ip.version == net.version and ip in net
                                      for net in limit.exempt):
                key = EXEMPT
        if len(self._keys) >= _LIMIT:
            self._keys.clear()
        self._keys[address] = key
        return key

    def admit_tcp(self, address: str) -> bool:
        """Whether a new TCP connection from `address` may stay open (then `release_tcp`
        must be called when it closes)."""
        if self._tcp_open >= self._tcp_max:
            self._tcp_refused += 1
            return False
        key = client_key(address, 32, 56)
        held = self._tcp_by_client.get(key, 0)
        if held >= self._tcp_max_per_client:
            self._tcp_client_refused += 1
            return False
        self._tcp_by_client[key] = held + 1
        self._tcp_open += 1
        return True

    def release_tcp(self, address: str) -> None:
        key = client_key(address, 32, 56)
        held = self._tcp_by_client.get(key, 0)
        if held <= 1:
            self._tcp_by_client.pop(key, None)
        else:
            self._tcp_by_client[key] = held - 1
        self._tcp_open = max(0, self._tcp_open - 1)

    def counters(self) -> dict[str, int]:
        return {RATE_LIMITED.counter: self._limited, "rate_limit_slips": self._slips,
                "tcp_refused": self._tcp_refused, "tcp_client_refused": self._tcp_client_refused}

    def reconfigure(self, config: Config) -> None:
        server = config.server
        self._limit = server.rate_limit
        self._buckets.clear()
        self._keys.clear()
        self._tcp_max = server.tcp_max_connections
        self._tcp_max_per_client = server.tcp_max_connections_per_client
        self._udp_size = server.edns_udp_size
