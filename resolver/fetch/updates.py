"""Bringing every `url:` source's cached copy up to date (`dnsfence lists update`, serve).

The loader never downloads: it reads the last good copy. Downloads happen here,
on demand or when a source's refresh interval has passed, each one checked by
fetch.remote.fetch (size, type, shrink) so a bad download never empties a ban.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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

    @property
    def changed(self) -> bool:
        return self.result.status == "downloaded"

    def describe(self) -> str:
        line = f"{self.spec.list_name}: {self.spec.url}: {self.result.status}"
        if self.result.added is not None and self.result.removed is not None:
            line += f" (+{self.result.added:,} −{self.result.removed:,})"
        return f"{line}; {self.result.message}"


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


def update_sources(settings: FetchSettings, *, force: bool = False, only_missing: bool = False,
                   accept_shrink: bool = False, with_diff: bool = False) -> list[Update]:
    """Fetch the URL sources that are due (all with `force`, or only those never fetched)."""
    cache = RemoteCache(settings.cache_dir)
    policy = fetch_policy(settings)
    updates = []
    for spec in url_sources(settings.blocklists, settings.timezone):
        assert spec.url is not None
        if only_missing and cache.cached(spec.url) is not None:
            continue

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
                       accept_shrink=accept_shrink)
        updates.append(Update(spec, result))
    return updates
