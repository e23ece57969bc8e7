"""Keeping a running server's policy current: transitions on time, edits within seconds.

A reload builds and validates the whole new policy in a thread, off the event loop,
then swaps it in with one assignment; if anything is invalid the server keeps the
last good policy and says why (log lines with file:line, and `dnsfence status`).

Changes are found by polling file metadata (stat) rather than inotify: a handful
of stats per interval is cheap, and it also works where inotify does not (network
filesystems, some container bind mounts, editors that replace files).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from resolver.config.load import ConfigError
from resolver.config.settings import Config
from resolver.fetch.attempts import log_download, missing_state
from resolver.fetch.backoff import RetrySchedule
from resolver.fetch.updates import update_sources
from resolver.lists.load import LoadResult, list_files, load_policy
from resolver.policy.loaded import Policy
from resolver.policy.period import PolicyHolder

log = logging.getLogger("dnsfence")

_RELOAD_SWITCH_INTERVAL = 0.0002
_SETTLE = 0.2  # seconds a change must stay still before it is read (editors write in steps)
_NEEDS_RESTART = ("server.listen", "server.workers", "server.batch_io")
_DOWNLOAD_GAP = 0.25  # seconds at least between a download pass and a retry pass
SIGHUP = "SIGHUP"
"""The reason of a reload asked for with SIGHUP (`ReloadReport.reason`)."""
DOWNLOAD_CHECK = 60.0
"""Seconds between checks for due `url:` sources, unless a source asks for less."""

Fingerprint = tuple[tuple[str, int, int, int], ...]


@dataclass(frozen=True, slots=True)
class ReloadReport:
    """The outcome of one reload attempt, for logs and `dnsfence status`."""

    at: float
    ok: bool
    reason: str
    problems: tuple[str, ...] = ()
    restart_needed: tuple[str, ...] = ()


def fingerprint(paths: list[Path]) -> Fingerprint:
    """What changes when any of `paths` is edited, replaced, created or removed."""
    found = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            found.append((str(path), -1, -1, -1))
            continue
        found.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(found)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@dataclass(slots=True)
class PolicyReloader:
    """Watches the config and blocklists, wakes at transitions, and swaps policies."""

    config: Config
    active: PolicyHolder
    read_config: Callable[[], Config]
    """Reads the config file again with the same command-line overrides; ConfigError if bad."""
    apply_config: Callable[[Config, Config], None]
    """Applies a changed config (old, new) to the running pipeline."""
    loaded_at: float = field(default_factory=time.time)
    last: ReloadReport | None = None
    reloads: int = 0
    failed_reloads: int = 0
    refresh_every: float = DOWNLOAD_CHECK
    """Seconds between checks for `url:` sources whose refresh interval has passed
    (`download_check_interval`; shortened after a check when a source asks for less)."""
    downloads: bool = True
    """Whether this process fetches `url:` sources: the only worker of a single-process
    server, or the supervisor of several (which reloads for all of them)."""
    retries: RetrySchedule = field(default_factory=RetrySchedule)
    """When each failing `url:` download may be tried again (backoff; the downloader's)."""
    on_change: Callable[[], None] | None = None
    """Called (in this reloader's thread) after a transition and after every reload
    attempt: a supervisor publishes the new state, and starts workers on a new policy."""
    _refreshed_at: float = field(default_factory=time.time)
    _downloaded_at: float = 0.0
    seen: Fingerprint | None = None
    """The files as they were when the running policy was read (changes after it count)."""
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _reload_requested: bool = False

    def state(self) -> dict[str, Any]:
        """The policy and reload state as JSON values, for the metrics and /healthz."""
        policy = self.active.policy
        period = self.active.period
        last = self.last
        return {
            "policy": {
                "loaded_at": self.loaded_at,
                "lists": {blocklist.name: blocklist.size for blocklist in policy.lists},
                "entries": policy.size,
                "active_entries": period.active,
                "next_change": None if math.isinf(period.until) else period.until,
                "missing_sources": missing_state(
                    policy.missing_sources, self.retries if self.downloads else None),
            },
            "reload": {
                "ok": self.reloads,
                "failed": self.failed_reloads,
                # the first load counts: the policy in force was loaded then
                "last_success": self.loaded_at,
                "last": None if last is None else {
                    "at": last.at, "ok": last.ok, "reason": last.reason,
                    "problems": list(last.problems[:50]),
                    "restart_needed": list(last.restart_needed)},
            },
        }

    def request_reload(self) -> None:
        """Called from the SIGHUP handler."""
        self._reload_requested = True
        self._wake.set()

    @property
    def reload_pending(self) -> bool:
        """A SIGHUP has come that no reload has begun to answer yet."""
        return self._reload_requested

    def watched(self) -> list[Path]:
        return watched_paths(self.config, self.active.policy)

    def _download_at(self) -> float:
        """When to look at the `url:` sources next: the refresh tick, or sooner when a
        failed or missing one may be tried again."""
        retry = self.retries.next_due()
        tick = self._refreshed_at + self.refresh_every
        if retry is None:
            return tick
        return min(tick, max(retry, self._downloaded_at + _DOWNLOAD_GAP))

    async def run(self) -> None:
        """Forever: sleep until the next transition, poll tick or reload request."""
        seen = self.seen if self.seen is not None else fingerprint(self.watched())
        if self.downloads:
            self._schedule_missing(time.time())
        missing_seen: Fingerprint = ()  # the first look checks whether one came already
        while True:
            now = time.time()
            wait = self.active.period.until - now
            if self.config.reload.watch or self.active.policy.missing_sources:
                wait = min(wait, self.config.reload.poll_interval)
            if self.downloads:  # URL sources refresh even when files are not watched
                wait = min(wait, self._download_at() - now)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(None if math.isinf(wait) else max(wait, 0.0)):
                    await self._wake.wait()
            self._wake.clear()
            now = time.time()
            if now >= self.active.period.until:
                self._transition(now)
            if self._reload_requested:
                self._reload_requested = False
                await self.reload(SIGHUP)
                seen = fingerprint(self.watched())
                continue
            if self.downloads and now >= self._download_at():
                if now - self._refreshed_at >= self.refresh_every:
                    self._refreshed_at = now
                if await self._download_due():
                    await self.reload("sources downloaded")
                    seen = fingerprint(self.watched())
                    continue
            if not self.config.reload.watch and self.active.policy.missing_sources:
                # a missing source's arrival (saved by the downloading worker or by
                # `dnsfence lists update`) is picked up even when files are not watched;
                # looked at once per change, so a failing reload is not retried in a loop
                current = fingerprint(self._missing_sidecars())
                if current != missing_seen:
                    missing_seen = current
                    if any(size != -1 for _, _, size, _ in current):
                        await self.reload("sources downloaded")
                        continue
            if self.config.reload.watch:
                current = fingerprint(self.watched())
                if current != seen:
                    current = await self._settled(current)
                    await self.reload("files changed")
                    seen = fingerprint(self.watched()) if self.last and self.last.ok \
                        else current

    def _missing_sidecars(self) -> list[Path]:
        return [Path(m.sidecar) for m in self.active.policy.missing_sources if m.sidecar]

    def _schedule_missing(self, now: float) -> None:
        """Sources the policy lacks and nobody tried yet are tried at once."""
        for source in self.active.policy.missing_sources:
            self.retries.soon(source.url, now)

    async def _download_due(self) -> bool:
        """Fetch URL sources that are due (refresh interval passed, or their retry time
        come) in a thread; any new copy?"""
        loop = asyncio.get_running_loop()
        settings = self.config.fetch_settings()
        updates = await loop.run_in_executor(
            None, lambda: update_sources(settings, retries=self.retries))
        self._downloaded_at = time.time()
        if updates:
            self.refresh_every = download_check_interval(item.spec.refresh for item in updates)
        missing = {m.url for m in self.active.policy.missing_sources}
        for item in updates:
            log_download(item, item.spec.url in missing)
        return any(item.changed for item in updates)

    async def _settled(self, current: Fingerprint) -> Fingerprint:
        for _ in range(25):  # at most 5 s of continuous writing
            await asyncio.sleep(_SETTLE)
            again = fingerprint(self.watched())
            if again == current:
                return again
            current = again
        return current

    def _transition(self, now: float) -> None:
        before = self.active.period
        after = self.active.current(now)
        if after is not before:
            log.info("dnsfence: policy changed at %s: %d of %d entries active; next change %s",
                     _iso(before.until), after.active, self.active.policy.size,
                     "never" if math.isinf(after.until) else _iso(after.until),
                     extra={"event": "policy_changed", "active_entries": after.active,
                            "next_change": None if math.isinf(after.until)
                            else _iso(after.until)})
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    async def reload(self, reason: str) -> ReloadReport:
        """Read everything again; swap on success, keep the last good policy on failure."""
        started = time.time()
        try:
            config = self.read_config()
        except ConfigError as exc:
            return self._failed(started, reason, [str(p) for p in exc.problems])
        restart = _restart_needed(self.config, config)
        loop = asyncio.get_running_loop()
        # While the loader thread runs, the serving thread gives up the GIL at every
        # sendto/recvfrom and must win it back; at the default 5 ms switch interval that
        # costs ~10 ms a packet (the "convoy effect") and queues queries for hundreds of
        # ms. A short interval for the length of the reload keeps answers in ~1 ms.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(_RELOAD_SWITCH_INTERVAL)
        try:
            result: LoadResult = await loop.run_in_executor(
                None, functools.partial(load_policy, config.blocklists, config.timezone,
                                        config.lists.cache_dir, groups=config.group_names,
                                        allow_missing=config.lists.allow_missing))
        finally:
            sys.setswitchinterval(interval)
        if result.policy is None:
            return self._failed(started, reason, [str(p) for p in result.errors])
        self._swap(result.policy, config)
        self.reloads += 1
        self.loaded_at = time.time()
        period = self.active.period
        log.info("dnsfence: reloaded (%s) in %.2fs: %d lists, %d of %d entries active",
                 reason, self.loaded_at - started, len(result.policy.lists), period.active,
                 result.policy.size,
                 extra={"event": "reloaded", "reason": reason,
                        "seconds": round(self.loaded_at - started, 3),
                        "lists": len(result.policy.lists), "active_entries": period.active,
                        "entries": result.policy.size})
        for problem in result.warnings:
            log.warning("%s", problem)
        if self.downloads:  # a `url:` source added since is fetched now, not in a minute
            self._schedule_missing(time.time())
        for key in restart:
            log.warning("dnsfence: %s changed in %s; it takes effect after a restart",
                        key, config.source)
        self.last = ReloadReport(started, True, reason, (), tuple(restart))
        self._changed()
        return self.last

    def _swap(self, policy: Policy, config: Config) -> None:
        self.active.replace(policy, time.time())
        if config != self.config:
            # settings that need a restart keep their running values
            config = config.with_overrides(**{
                "server.listen": self.config.server.listen,
                "server.workers": self.config.server.workers})
            self.apply_config(self.config, config)
            self.config = config

    def _failed(self, started: float, reason: str, problems: list[str]) -> ReloadReport:
        self.failed_reloads += 1
        for problem in problems:
            log.error("%s", problem)
        log.error("dnsfence: reload (%s) failed with %d error(s); still serving the policy "
                  "loaded at %s", reason, len(problems), _iso(self.loaded_at),
                  extra={"event": "reload_failed", "reason": reason, "errors": len(problems),
                         "problems": problems[:20], "serving_since": _iso(self.loaded_at)})
        self.last = ReloadReport(started, False, reason, tuple(problems))
        self._changed()
        return self.last


def download_check_interval(refreshes: Iterable[float]) -> float:
    """How often to look for due `url:` sources: every minute, or as often as the most
    eager source wants a new copy (a check downloads only what is due)."""
    return max(1.0, min(DOWNLOAD_CHECK, *refreshes, DOWNLOAD_CHECK))


def watched_paths(config: Config, policy: Policy) -> list[Path]:
    """The config file, the blocklist directory and its list files, and local sources."""
    paths: list[Path] = []
    if config.source is not None:
        paths.append(config.source)
    paths.append(config.blocklists)  # its mtime changes when files are added or removed
    with contextlib.suppress(OSError):
        paths.extend(list_files(config.blocklists))
    paths.extend(_source_files(policy))
    return paths


def _source_files(policy: Policy) -> list[Path]:
    """Local source files referenced by lists (watched like the lists themselves)."""
    paths = getattr(policy, "source_paths", ())
    return [Path(p) for p in paths]


def _restart_needed(old: Config, new: Config) -> list[str]:
    changed = []
    for key in _NEEDS_RESTART:
        section, name = key.split(".")
        if getattr(getattr(old, section), name) != getattr(getattr(new, section), name):
            changed.append(key)
    return changed
