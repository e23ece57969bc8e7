"""What refreshing the `url:` sources needs to know, and nothing more of the config.

The config builds one (`Config.fetch_settings`); the fetch layer stays below the
config and never sees the rest of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class FetchSettings:
    blocklists: Path          # the list files, which name the URL sources
    timezone: str             # the lists' default time zone, to read them
    cache_dir: Path           # where the last good copies are kept
    download_timeout: float   # seconds a download may stall
    max_download_mb: int      # largest download accepted, MiB
    min_keep_ratio: float     # a download keeping less of the last copy is refused
    retry_initial: float      # seconds before a failed download is tried again (doubling)
    retry_max: float          # longest wait between two tries
