"""URL sources: bring the last good copy of a list up to date, and say what happened.

A ban must never vanish because a server was down, answered with an error page,
or sent half a file. So a download replaces the cached copy only when it is a
complete, plausible list; otherwise the last good copy stays in use and the
result says why.

Blocking I/O: call `fetch` off the event loop (reload builds policies off-loop).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from resolver.fetch.http_download import SCHEMES, FetchPolicy, Refused, download, os_error
from resolver.lists.remote_cache import CachedCopy, RemoteCache, entries, is_due, when

Status = Literal["downloaded", "not-modified", "kept", "failed", "cached"]


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What `fetch` did for one URL, and the text the caller should use."""

    url: str
    status: Status
    text: str | None        # new or last good copy; None only with "failed"
    message: str            # one line for the admin: what happened and why
    added: int | None = None    # entries in the used text and not in the last good copy;
    removed: int | None = None  # None when not counted (no entries_of, or failed)
    retry_after: float | None = None  # seconds the server asked us to wait (Retry-After)

    @property
    def failed(self) -> bool:
        """The download did not work (the last good copy, if any, is still in use)."""
        return self.status in ("kept", "failed")


def fetch(url: str, cache: RemoteCache, policy: FetchPolicy, *,
          count_entries: Callable[[str], int], force: bool = False, refresh: float = 86_400.0,
          now: float | None = None, entries_of: Callable[[str], set[str]] | None = None,
          accept_shrink: bool = False) -> FetchResult:
    """Bring the cached copy of `url` up to date if due (or `force`), and say what happened.

    `count_entries` counts a text's entries in the source's format (raising
    ValueError for text that is not such a list); `entries_of`, if given, lists
    them so the result can report +added/-removed. `accept_shrink` takes a
    download even if it lost more than `policy.min_keep_ratio` of the entries.
    """
    now = time.time() if now is None else now
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        shown = f"'{scheme}:'" if scheme else "a URL without a scheme"
        return FetchResult(url, "failed", None, (
            f"only http and https URLs are downloaded, not {shown}; "
            "write `path:` for a file on this machine"))
    copy = cache.cached(url)
    if not force and copy is not None and not is_due(copy, refresh, now):
        return _from_copy(url, copy, "cached", (
            f"using {copy.describe()}; next download after {when(copy.fetched_at + refresh)}"))

    try:
        got = download(url, copy, policy)
    except Refused as refused:
        return replace(_fall_back(url, copy, refused.reason), retry_after=refused.retry_after)

    if got.text is None:  # 304 Not Modified
        if copy is None:
            return _fall_back(url, None, "HTTP 304 Not Modified, but there is no copy to reuse")
        try:
            text = copy.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            return FetchResult(url, "failed", None,
                               f"HTTP 304 Not Modified, but the cached copy is unreadable: {exc}")
        message = f"not modified since {copy.describe()}"
        try:
            cache.confirm(copy, etag=got.etag, last_modified=got.last_modified,
                          fetched_at=now)
        except OSError as exc:
            message += f"; could not record the check in the cache ({os_error(exc)})"
        return FetchResult(url, "not-modified", text, message, 0, 0)

    text = got.text
    try:
        count = count_entries(text)
    except ValueError as exc:
        return _fall_back(url, copy, f"not a list in the expected format: {exc}")
    if (copy is not None and not accept_shrink
            and count < policy.min_keep_ratio * copy.entry_count):
        return _fall_back(url, copy, (
            f"the download has only {entries(count)}, fewer than "
            f"{policy.min_keep_ratio:.0%} of the {copy.entry_count:,} in the last good copy "
            f"(if the source really shrank, delete {cache.sidecar(url)} to accept it)"))

    added, removed, change = _diff(copy, text, count, entries_of)
    message = f"downloaded {entries(count)}{change}"
    try:
        cache.store(url, text, etag=got.etag, last_modified=got.last_modified,
                    fetched_at=now, entry_count=count)
    except OSError as exc:
        fallback = "use the older copy" if copy is not None else "have no copy"
        message += (f"; could not save it to the cache ({os_error(exc)}): "
                    f"the next start will {fallback}")
    return FetchResult(url, "downloaded", text, message, added, removed)


def _fall_back(url: str, copy: CachedCopy | None, reason: str) -> FetchResult:
    if copy is None:
        return FetchResult(url, "failed", None, f"{reason}; there is no earlier copy to use")
    return _from_copy(url, copy, "kept", f"{reason}; keeping {copy.describe()}")


def _from_copy(url: str, copy: CachedCopy, status: Status, message: str) -> FetchResult:
    try:
        text = copy.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        return FetchResult(url, "failed", None, f"{message}, but it cannot be read: {exc}")
    return FetchResult(url, status, text, message, 0, 0)


def _diff(copy: CachedCopy | None, text: str, count: int,
          entries_of: Callable[[str], set[str]] | None) -> tuple[int | None, int | None, str]:
    """(added, removed, ' (+a −r)') of a new text against the last good copy."""
    if copy is None:
        return (count, 0, " (first copy)") if entries_of is None else (
            len(entries_of(text)), 0, " (first copy)")
    if entries_of is None:
        return None, None, f" (the last copy had {copy.entry_count:,})"
    try:
        old = entries_of(copy.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None, None, " (the last copy could not be compared)"
    new = entries_of(text)
    added, removed = len(new - old), len(old - new)
    return added, removed, f" (+{added:,} −{removed:,})"
