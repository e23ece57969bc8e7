"""The settings table (every key, declared once, in the order the example config shows
them) and the whole config: one frozen section object per section."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resolver.config import (
    blocking,
    cache,
    forward_zones,
    groups,
    http,
    lists,
    local,
    log,
    querylog,
    reload,
    server,
    upstream,
)
from resolver.config.blocking import BlockingConfig
from resolver.config.cache import CacheConfig
from resolver.config.forward_zones import ForwardZone
from resolver.config.groups import ClientGroup
from resolver.config.http import HttpConfig
from resolver.config.lists import ListsConfig
from resolver.config.local import LocalConfig
from resolver.config.log import LogConfig
from resolver.config.querylog import QueryLogConfig
from resolver.config.reload import ReloadConfig
from resolver.config.server import ServerConfig
from resolver.config.setting import Setting, directory_path, timezone_name
from resolver.config.upstream import UpstreamConfig
from resolver.fetch.settings import FetchSettings

SETTINGS: tuple[Setting, ...] = (
    Setting("", "blocklists", Path("blocklists"),
            "Directory of blocklist files (*.yaml, *.yml); relative to the config file.",
            directory_path, "/etc/dnsfence/blocklists"),
    Setting("", "timezone", "UTC",
            "Organisation's IANA time zone: dates without a zone are local midnight here.",
            timezone_name, "Europe/Brussels"),
    Setting("", "state_dir", Path(".dnsfence-state"),
            "Directory for what the server writes and keeps: the query log and its hash key; "
            "relative to the config file.", directory_path, "/var/lib/dnsfence"),
    *groups.SETTINGS,
    *forward_zones.SETTINGS,
    *server.SETTINGS,
    *upstream.SETTINGS,
    *cache.SETTINGS,
    *blocking.SETTINGS,
    *local.SETTINGS,
    *lists.SETTINGS,
    *reload.SETTINGS,
    *querylog.SETTINGS,
    *http.SETTINGS,
    *log.SETTINGS,
)

SECTIONS: dict[str, type] = {
    "server": ServerConfig, "upstream": UpstreamConfig,
    "cache": CacheConfig, "blocking": BlockingConfig, "local": LocalConfig,
    "lists": ListsConfig, "reload": ReloadConfig, "querylog": QueryLogConfig,
    "http": HttpConfig, "log": LogConfig,
}

# (smaller, larger, why): keys of one section whose values must be in this order.
ORDERED = (*cache.ORDERED, *upstream.ORDERED, *lists.ORDERED)


@dataclass(frozen=True, slots=True)
class Config:
    blocklists: Path
    timezone: str
    server: ServerConfig
    upstream: UpstreamConfig
    cache: CacheConfig
    blocking: BlockingConfig
    local: LocalConfig
    lists: ListsConfig
    reload: ReloadConfig
    querylog: QueryLogConfig
    http: HttpConfig
    log: LogConfig
    state_dir: Path = Path(".dnsfence-state")
    groups: tuple[ClientGroup, ...] = ()
    forward_zones: tuple[ForwardZone, ...] = ()
    source: Path | None = field(default=None, compare=False)

    def with_overrides(self, **changes: Any) -> Config:
        """A copy with command-line values (None = not given) applied."""
        top = {k: v for k, v in changes.items() if v is not None and "." not in k}
        result = replace(self, **top)
        for dotted, value in changes.items():
            if value is None or "." not in dotted:
                continue
            section, key = dotted.split(".")
            result = replace(result, **{section: replace(getattr(result, section),
                                                         **{key: value})})
        return result

    @property
    def group_names(self) -> tuple[str, ...]:
        """The client groups lists may name in `clients:` and `except_clients:`."""
        return tuple(group.name for group in self.groups)

    def fetch_settings(self) -> FetchSettings:
        """What refreshing the `url:` sources needs, and nothing else of the config."""
        return FetchSettings(self.blocklists, self.timezone, self.lists.cache_dir,
                             self.lists.download_timeout, self.lists.max_download_mb,
                             self.lists.min_keep_ratio, self.lists.retry_initial,
                             self.lists.retry_max)
