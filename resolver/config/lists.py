"""`lists:`: where downloaded `url:` sources are kept, and how careful downloads are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from resolver.config.setting import Setting, directory_path, number

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
)


@dataclass(frozen=True, slots=True)
class ListsConfig:
    cache_dir: Path
    download_timeout: float
    max_download_mb: int
    min_keep_ratio: float
