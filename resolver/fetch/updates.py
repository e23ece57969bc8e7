"""Bringing every `url:` source's cached copy up to date (`dnsfence lists update`, serve).

The loader never downloads: it reads the last good copy. Downloads happen here,
on demand or when a source's refresh interval has passed, each one checked by
fetch.remote.fetch (size, type, shrink) so a bad download never empties a ban.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from resolver.fetch.backoff import Attempts, RetryPolicy, RetrySchedule
from resolver.fetch.http_download import FetchPolicy
from resolver.fetch.remote import FetchResult, fetch
from resolver.fetch.settings import FetchSettings
from resolver.lists.formats import parse_source
from resolver.lists.list_file import parse_list_file
from resolver.lists.load import list_files
from resolver.lists.remote_cache import RemoteCache
from resolver.lists.sources import SourceSpec


@dataclass(frozen=True, slots=True)
class Update:
    spec: SourceSpec
    result: FetchResult
    attempts: Attempts | None = None  # with a retry schedule: the failures in a row so far

    @property
    def changed(self) -> bool:
        return self.result.status == "downloaded"

    def describe(self) -> str:
        line = f"{self.spec.list_name}: {self.spec.url}: {self.result.status}"
        if self.result.added is not None and self.result.removed is not None:
            line += f" (+{self.result.added:,} −{self.result.removed:,})"
        line = f"{line}; {self.result.message}"
        if self.attempts is not None:
            line += f"; {retry_note(self.attempts, time.time())}"
        return line


def retry_note(attempts: Attempts, now: float) -> str:
    """'failed 3 times in a row; next try in 2 min'."""
    times = "once" if attempts.failures == 1 else f"{attempts.failures} times in a row"
    return f"failed {times}; next try in {duration(attempts.next_at - now)}"


def duration(seconds: float) -> str:
    """'45 s', '2 min', '1 h 5 min': a wait as messages show it."""
    seconds = max(round(seconds), 0)
    if seconds < 120:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def url_sources(blocklists: Path, timezone: str) -> list[SourceSpec]:
    """Every `url:` source named by the list files (lists that do not parse are skipped)."""
    specs: list[SourceSpec] = []
    if not blocklists.is_dir():
        return specs
    for path in list_files(blocklists):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        blocklist, sources, _ = parse_list_file(str(path), text, timezone)
        if blocklist is not None:
            specs.extend(s for s in sources if s.url is not None)
    return specs


def fetch_policy(settings: FetchSettings) -> FetchPolicy:
    return FetchPolicy(timeout=settings.download_timeout,
                       max_bytes=settings.max_download_mb * 1024 * 1024,
                       min_keep_ratio=settings.min_keep_ratio)


def retry_policy(settings: FetchSettings) -> RetryPolicy:
    return RetryPolicy(initial=settings.retry_initial, maximum=settings.retry_max)


def update_sources(settings: FetchSettings, *, force: bool = False, only_missing: bool = False,
                   accept_shrink: bool = False, with_diff: bool = False,
                   retries: RetrySchedule | None = None, now: float | None = None,
                   budget: float | None = None) -> list[Update]:
    """Fetch the URL sources that are due (all with `force`, or only those never fetched).

    With `retries`, a source whose last download failed waits for its next try, and each
    outcome is recorded there (a failure pushes the next try back; a success forgets it).
    `budget`: seconds this call may spend; sources not begun by then are left for later
    (each download's stall timeout is cut to fit), so a start-up never waits long on a
    network that is down.
    """
    cache = RemoteCache(settings.cache_dir)
    policy = fetch_policy(settings)
    backoff = retry_policy(settings)
    started = time.monotonic()
    updates = []
    specs = url_sources(settings.blocklists, settings.timezone)
    if retries is not None:
        retries.keep_only({spec.url for spec in specs if spec.url is not None})
    for spec in specs:
        assert spec.url is not None
        if only_missing and cache.cached(spec.url) is not None:
            continue
        at = time.time() if now is None else now
        if retries is not None and not force and not retries.due(spec.url, at):
            continue
        if budget is not None:
            left = budget - (time.monotonic() - started)
            if left <= 0:
                break
            policy = replace(policy, timeout=min(policy.timeout, left),
                             deadline=min(policy.deadline, left))

        def count(text: str, spec: SourceSpec = spec) -> int:
            parsed = parse_source(text, spec.format, match=spec.match)
            if parsed.considered and parsed.invalid_share > spec.max_invalid_share:
                raise ValueError(f"{parsed.invalid_share:.0%} of its lines are not "
                                 f"{parsed.format.value} entries")
            return parsed.taken

        def entries(text: str, spec: SourceSpec = spec) -> set[str]:
            parsed = parse_source(text, spec.format, match=spec.match)
            return {n for names in parsed.names.values() for n in names}

        result = fetch(spec.url, cache, policy, count_entries=count, force=force,
                       refresh=spec.refresh, entries_of=entries if with_diff else None,
                       accept_shrink=accept_shrink, now=at)
        attempts = None
        if retries is not None:
            if result.failed:  # the wait counts from the failure, not from the start
                attempts = retries.failed(spec.url, time.time() if now is None else now,
                                          result.message, backoff, result.retry_after)
            else:
                retries.succeeded(spec.url)
        updates.append(Update(spec, result, attempts))
    return updates
