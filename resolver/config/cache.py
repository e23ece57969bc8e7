"""`cache:`: how many answers are kept, and the bounds on their TTLs."""

from __future__ import annotations

from dataclasses import dataclass

from resolver.config.setting import Setting, number

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
