"""PolicyReloader's schedule for `url:` sources, without a server: which process fetches them,
when a failed or missing one is tried again, and how its arrival is loaded."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from resolver import reload as reload_module
from resolver.config.load import defaults
from resolver.config.settings import Config
from resolver.fetch.backoff import RetryPolicy, RetrySchedule
from resolver.fetch.remote import FetchResult
from resolver.fetch.settings import FetchSettings
from resolver.fetch.updates import Update
from resolver.lists.load import load_policy
from resolver.lists.remote_cache import RemoteCache
from resolver.lists.sources import SourceSpec
from resolver.policy.model import Location
from resolver.policy.period import PolicyHolder
from resolver.reload import PolicyReloader


def _live(tmp_path: Path, *, watch: bool, downloads: bool) -> PolicyReloader:
    base = defaults()
    config: Config = replace(base, blocklists=tmp_path,
                             reload=replace(base.reload, watch=watch, poll_interval=0.05))
    loaded = load_policy(tmp_path, config.timezone)
    assert loaded.policy is not None
    return PolicyReloader(config, PolicyHolder(loaded.policy), lambda: config,
                      lambda _old, _new: None, refresh_every=0.05, downloads=downloads)


def _checks(live: PolicyReloader, monkeypatch: pytest.MonkeyPatch) -> int:
    calls: list[Config] = []
    monkeypatch.setattr(reload_module, "update_sources",
                        lambda config, **_: calls.append(config) or [])

    async def scenario() -> None:
        task = asyncio.create_task(live.run())
        await asyncio.sleep(0.5)
        task.cancel()

    asyncio.run(scenario())
    return len(calls)


@pytest.mark.parametrize("watch", [True, False], ids=["watching", "not-watching"])
def test_the_downloading_process_checks_url_sources_on_schedule(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, watch: bool) -> None:
    # every 0.05 s for 0.5 s: about ten checks, whether files are watched or not
    assert _checks(_live(tmp_path, watch=watch, downloads=True), monkeypatch) >= 4


def test_other_workers_never_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _checks(_live(tmp_path, watch=True, downloads=False), monkeypatch) == 0


URL = "https://lists.example/ban.txt"
REMOTE_LIST = f"""name: remote
reference: r
effective: 2023-01-01
domains: [own.example]
sources:
  - url: {URL}
    format: domains
"""


def _lacking(tmp_path: Path, *, watch: bool, downloads: bool,
             refresh_every: float = 60.0) -> PolicyReloader:
    """A reloader whose policy lacks one `url:` source (no copy in its cache yet)."""
    lists = tmp_path / "lists"
    lists.mkdir(exist_ok=True)
    (lists / "remote.yaml").write_text(REMOTE_LIST)
    base = defaults()
    config: Config = replace(
        base, blocklists=lists, lists=replace(base.lists, cache_dir=tmp_path / "cache"),
        reload=replace(base.reload, watch=watch, poll_interval=0.05))
    loaded = load_policy(lists, config.timezone, config.lists.cache_dir, allow_missing=True)
    assert loaded.policy is not None and len(loaded.policy.missing_sources) == 1
    return PolicyReloader(config, PolicyHolder(loaded.policy), lambda: config,
                          lambda _old, _new: None, refresh_every=refresh_every,
                          downloads=downloads)


def _run_until(live: PolicyReloader, done: Callable[[], bool], limit: float = 5.0,
               meanwhile: tuple[float, Callable[[], None]] | None = None) -> float:
    """Run the reloader until `done()` (polled), at most `limit` seconds; the time taken.
    `meanwhile`: (after seconds, what happens then)."""
    pending = [meanwhile] if meanwhile is not None else []

    async def scenario() -> float:
        task = asyncio.create_task(live.run())
        started = time.monotonic()
        while not done() and time.monotonic() - started < limit:
            await asyncio.sleep(0.02)
            if pending and time.monotonic() - started >= pending[0][0]:
                pending.pop()[1]()
        task.cancel()
        assert not task.done() or task.cancelled(), task.exception()
        return time.monotonic() - started
    return asyncio.run(scenario())


def _store(cache: Path, text: str = "ban-a.example\nban-b.example\n") -> None:
    RemoteCache(cache).store(URL, text, etag=None, last_modified=None, fetched_at=time.time(),
                             entry_count=len(text.split()))


def test_a_missing_source_is_tried_at_once_and_loaded_the_moment_it_arrives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    live = _lacking(tmp_path, watch=False, downloads=True)  # a minute between refresh ticks
    calls: list[float] = []

    def arrives(settings: FetchSettings, *, retries: RetrySchedule, **_: object
                ) -> list[Update]:
        calls.append(time.monotonic())
        _store(settings.cache_dir)
        retries.succeeded(URL)
        spec = SourceSpec("remote", Location("remote.yaml", 6, 5), None, URL)
        return [Update(spec, FetchResult(URL, "downloaded", "", "downloaded 2 entries"))]

    monkeypatch.setattr(reload_module, "update_sources", arrives)
    took = _run_until(live, lambda: live.reloads > 0)
    assert len(calls) == 1 and took < 2.0  # not after the minute's tick
    assert live.last is not None and (live.last.ok, live.last.reason) == (
        True, "sources downloaded")
    assert live.active.policy.missing_sources == ()
    assert live.active.policy.size == 3  # own.example and the source's two names
    assert live.state()["policy"]["missing_sources"] == []


def test_a_failed_try_waits_for_its_backoff_not_for_the_refresh_tick(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    live = _lacking(tmp_path, watch=False, downloads=True)
    calls: list[float] = []
    policy = RetryPolicy(initial=0.3, maximum=0.3, jitter=0)

    def down(settings: FetchSettings, *, retries: RetrySchedule, **_: object) -> list[Update]:
        calls.append(time.monotonic())
        retries.failed(URL, time.time(), "cannot download: Connection refused", policy)
        return []

    monkeypatch.setattr(reload_module, "update_sources", down)
    _run_until(live, lambda: len(calls) >= 3)
    assert len(calls) >= 3  # at once, then every 0.3 s: not once a minute
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(0.25 <= gap < 1.0 for gap in gaps), gaps
    [entry] = live.state()["policy"]["missing_sources"]
    assert entry["failures"] >= 3 and entry["last_error"] == "cannot download: Connection refused"


def test_a_worker_that_does_not_download_or_watch_still_loads_a_source_when_it_arrives(
        tmp_path: Path) -> None:
    live = _lacking(tmp_path, watch=False, downloads=False)
    arrived: list[float] = []

    def download() -> None:  # as the downloading worker (or `lists update`) would
        assert live.reloads == 0  # nothing to load before
        _store(tmp_path / "cache")
        arrived.append(time.monotonic())

    _run_until(live, lambda: live.reloads > 0, meanwhile=(0.3, download))
    assert arrived and time.monotonic() - arrived[0] < 2.0
    assert live.last is not None and live.last.ok and live.last.reason == "sources downloaded"
    assert live.active.policy.missing_sources == () and live.active.policy.size == 3


def test_a_broken_list_keeps_the_last_good_policy_and_is_not_reloaded_in_a_loop(
        tmp_path: Path) -> None:
    live = _lacking(tmp_path, watch=False, downloads=False)
    (tmp_path / "lists" / "broken.yaml").write_text("reference: r\neffective: [2023\n")
    _store(tmp_path / "cache")
    _run_until(live, lambda: False, limit=1.0)
    assert (live.reloads, live.failed_reloads) == (0, 1)  # once, not every poll
    assert len(live.active.policy.missing_sources) == 1  # the last good policy is kept
