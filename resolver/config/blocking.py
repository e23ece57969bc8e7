"""`blocking:`: how blocked answers look to clients."""

from __future__ import annotations

from dataclasses import dataclass

from resolver.config.setting import Setting, boolean, number

SETTINGS = (
    Setting("blocking", "negative_ttl", 60,
            "TTL and SOA MINIMUM of blocked answers: how long clients cache the block.",
            number(int, 0, 86_400)),
    Setting("blocking", "cname", True,
            "Block an upstream answer whose CNAME or DNAME chain passes through a blocked name.",
            boolean),
)


@dataclass(frozen=True, slots=True)
class BlockingConfig:
    negative_ttl: int
    cname: bool
