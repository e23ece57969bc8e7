"""`lists:`: where downloaded `url:` sources are kept, how careful downloads are, and what
the server does while a source has never been downloaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from resolver.config.setting import Setting, directory_path, number, one_of

SETTINGS = (
    Setting("lists", "cache_dir", Path(".dnsfence-cache"),
            "Where downloaded `url:` sources are kept (last good copy); relative to the config.",
            directory_path, "/var/cache/dnsfence"),
    Setting("lists", "download_timeout", 30.0,
            "Seconds a download may stall before it fails (the last good copy is kept).",
            number(float, 1, 600)),
    Setting("lists", "max_download_mb", 64,
            "Largest source download accepted, in MiB.", number(int, 1, 4096)),
    Setting("lists", "min_keep_ratio", 0.5,
            "A download with fewer than this share of the previous copy's entries is refused.",
            number(float, 0, 1)),
    Setting("lists", "on_missing", "start",
            "A `url:` source with no copy yet: start serves the other lists and loads it the "
            "moment it arrives; fail refuses to start.",
            one_of(("start", "fail"))),
    Setting("lists", "retry_initial", 30.0,
            "Seconds before a failed download is tried again; doubles with each failure.",
            number(float, 1, 3600)),
    Setting("lists", "retry_max", 3600.0,
            "Longest wait between two tries of a failing download, seconds (a server's "
            "Retry-After may ask for longer, up to a day).", number(float, 1, 86_400)),
)

# (smaller, larger, why): keys whose values must be in this order.
ORDERED = (
    (("lists", "retry_initial"), ("lists", "retry_max"),
     "the first wait cannot be longer than the longest"),
)


@dataclass(frozen=True, slots=True)
class ListsConfig:
    cache_dir: Path
    download_timeout: float
    max_download_mb: int
    min_keep_ratio: float
    on_missing: str
    retry_initial: float
    retry_max: float

    @property
    def allow_missing(self) -> bool:
        """Whether lists load without a `url:` source that has no copy yet."""
        return self.on_missing == "start"
