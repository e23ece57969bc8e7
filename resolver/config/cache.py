"""`cache:`: how many answers are kept, and the bounds on their TTLs."""

from __future__ import annotations

from dataclasses import dataclass

from resolver.config.setting import Setting, boolean, duration, number

SETTINGS = (
    Setting("cache", "max_entries", 100_000,
            "Answers kept at most (least recently used are dropped); 0 disables the cache.",
            number(int, 0, 100_000_000)),
    Setting("cache", "min_ttl", 0, "Lower bound on cached TTLs, seconds.",
            number(int, 0, 86_400)),
    Setting("cache", "max_ttl", 86_400, "Upper bound on cached TTLs, seconds.",
            number(int, 0, 604_800)),
    Setting("cache", "max_negative_ttl", 3_600,
            "Upper bound on cached NXDOMAIN/NODATA TTLs, seconds (RFC 2308).",
            number(int, 0, 86_400)),
    Setting("cache", "serve_stale", 86_400,
            "How long after expiry an answer is kept to be served stale (TTL 30, EDE 3) when "
            "no upstream answers (RFC 8767): seconds, or 30m, 12h, 1d; 0 turns it off.",
            duration(7 * 86_400), "1d"),
    Setting("cache", "prefetch", True,
            "Ask again for an answer asked for in the last tenth of its TTL, before it "
            "expires, so popular names never wait for the upstream (as Unbound's prefetch).",
            boolean),
)

# (smaller, larger, why): keys whose values must be in this order.
ORDERED = (
    (("cache", "min_ttl"), ("cache", "max_ttl"), "the lower bound cannot exceed the upper"),
)


@dataclass(frozen=True, slots=True)
class CacheConfig:
    max_entries: int
    min_ttl: int
    max_ttl: int
    max_negative_ttl: int
    serve_stale: int = 86_400
    """Seconds after expiry that an answer may still be served stale; 0: never."""
    prefetch: bool = True
