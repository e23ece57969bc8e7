"""The last good copy of each `url:` source, on disk, with what the server said about it.

A ban must never vanish because a server was down or sent half a file, and the
server must start without the network: so lists are read from these copies, and
only a download that passed every check replaces one (see resolver/fetch/).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from resolver.atomic_write import write_atomically

SIDECAR_VERSION = 1


@dataclass(frozen=True, slots=True)
class CachedCopy:
    """The last good copy of a URL and what the server said about it."""

    url: str
    path: Path                  # the text, UTF-8
    etag: str | None
    last_modified: str | None   # the server's Last-Modified, verbatim (sent back as-is)
    fetched_at: float           # epoch seconds of the last download or 304 confirmation
    entry_count: int

    def read_text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def describe(self) -> str:
        """'the copy from 2026-11-27 10:00 UTC (12,345 entries)'."""
        return f"the copy from {when(self.fetched_at)} ({entries(self.entry_count)})"


class RemoteCache:
    """On-disk cache of the last good copy of each URL, with its validators and fetch time.

    Layout, per URL (key = a hash of the URL):
      <key>.json            sidecar: url, text file, etag, last_modified, fetched_at, entry_count
      <key>.<sha256:16>.txt the copy, named by its content hash
    The sidecar is the commit point: a new copy is written under its own name
    first, then the sidecar is replaced. Each write is temp file + fsync +
    os.replace, so a crash at any moment leaves either the old copy or the new
    one, never half a file or a sidecar that describes other text.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _key(self, url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]

    def sidecar(self, url: str) -> Path:
        return self.directory / f"{self._key(url)}.json"

    def cached(self, url: str) -> CachedCopy | None:
        """The last good copy, or None if there is none (or it is unreadable)."""
        try:
            raw = json.loads(self.sidecar(url).read_text(encoding="utf-8"))
            copy = _copy_from(raw, self.directory)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if copy.url != url or not copy.path.is_file():
            return None
        return copy

    def due(self, url: str, refresh: float, now: float) -> bool:
        """Whether `url` should be downloaded: no copy, or one at least `refresh` old.

        A copy stamped in the future (the clock went back) is due too, so a
        wrong clock cannot stop refreshes.
        """
        return is_due(self.cached(url), refresh, now)

    def store(self, url: str, text: str, *, etag: str | None, last_modified: str | None,
              fetched_at: float, entry_count: int) -> CachedCopy:
        """Save a new good copy atomically; raises OSError if it cannot."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        name = f"{self._key(url)}.{hashlib.sha256(data).hexdigest()[:16]}.txt"
        write_atomically(self.directory / name, data)
        copy = CachedCopy(url, self.directory / name, etag, last_modified, fetched_at, entry_count)
        self._commit(copy)
        for stale in self.directory.glob(f"{self._key(url)}.*.txt"):
            if stale.name != name:
                with contextlib.suppress(OSError):
                    stale.unlink()
        return copy

    def confirm(self, copy: CachedCopy, *, etag: str | None, last_modified: str | None,
                fetched_at: float) -> CachedCopy:
        """Record a 304: same text, new fetch time, validators refreshed if the server sent any."""
        confirmed = CachedCopy(copy.url, copy.path, etag or copy.etag,
                               last_modified or copy.last_modified, fetched_at, copy.entry_count)
        self._commit(confirmed)
        return confirmed

    def _commit(self, copy: CachedCopy) -> None:
        sidecar = {
            "version": SIDECAR_VERSION, "url": copy.url, "text_file": copy.path.name,
            "etag": copy.etag, "last_modified": copy.last_modified,
            "fetched_at": copy.fetched_at, "entry_count": copy.entry_count,
        }
        write_atomically(self.sidecar(copy.url),
                          (json.dumps(sidecar, indent=1) + "\n").encode("utf-8"))


def is_due(copy: CachedCopy | None, refresh: float, now: float) -> bool:
    return copy is None or not 0.0 <= now - copy.fetched_at < refresh


def _copy_from(raw: Any, directory: Path) -> CachedCopy:
    if not isinstance(raw, dict) or raw.get("version") != SIDECAR_VERSION:
        raise ValueError("not a dnsfence cache sidecar")
    name = raw["text_file"]
    if not isinstance(name, str) or "/" in name or name.startswith("."):
        raise ValueError("bad text_file")
    etag, modified = raw["etag"], raw["last_modified"]
    if not all(v is None or isinstance(v, str) for v in (etag, modified)):
        raise ValueError("bad validators")
    return CachedCopy(str(raw["url"]), directory / name, etag, modified,
                      float(raw["fetched_at"]), int(raw["entry_count"]))


def when(epoch: float) -> str:
    """'2026-11-27 10:00 UTC': a fetch time as messages show it."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def entries(count: int) -> str:
    """'1 entry', '12,345 entries'."""
    return f"{count:,} entr{'y' if count == 1 else 'ies'}"
