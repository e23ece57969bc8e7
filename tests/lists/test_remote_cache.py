"""The last good copy of each `url:` source on disk: due or not, atomic, readable, robust."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resolver.lists.remote_cache import CachedCopy, RemoteCache, entries, is_due, when
from tests.fetch.local_http import (
    HOUR,
    LIST,
    T0,
    LocalServer,
    Reply,
    assert_cache_holds,
    get,
    names,
    seeded,
)


def test_due_honours_the_refresh_interval(server: LocalServer, cache: RemoteCache) -> None:
    url = server.url("/list.txt")
    assert cache.due(url, HOUR, T0)  # no copy yet
    seeded(server, cache)

    assert not cache.due(url, HOUR, T0)
    assert not cache.due(url, HOUR, T0 + HOUR - 1)
    assert cache.due(url, HOUR, T0 + HOUR)
    assert cache.due(url, HOUR, T0 - 60)  # the clock went back: do not wait forever
    assert cache.due(server.url("/other.txt"), HOUR, T0)


def test_a_crash_between_the_text_and_its_sidecar_keeps_the_old_copy(
        server: LocalServer, cache: RemoteCache, monkeypatch: pytest.MonkeyPatch) -> None:
    url = seeded(server, cache)
    server.routes["/list.txt"] = Reply(200, names(3).encode())
    real_replace = os.replace

    def crash_on_sidecar(source: str, target: str) -> None:
        if str(target).endswith(".json"):
            raise OSError(5, "Input/output error")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", crash_on_sidecar)
    get(server, "/list.txt", cache, now=T0 + HOUR)
    monkeypatch.undo()

    assert_cache_holds(cache, url, LIST, fetched_at=T0)  # the sidecar still names the old text
    assert get(server, "/list.txt", cache, now=T0 + 2 * HOUR).status == "downloaded"
    assert_cache_holds(cache, url, names(3), fetched_at=T0 + 2 * HOUR)
    assert len(list(cache.directory.glob("*.txt"))) == 1  # the orphan was cleaned up


def test_cached_files_are_readable_by_other_users(server: LocalServer,
                                                 cache: RemoteCache) -> None:
    seeded(server, cache)

    assert {path.stat().st_mode & 0o777 for path in cache.directory.iterdir()} == {0o644}


def test_an_unreadable_sidecar_counts_as_no_copy(server: LocalServer,
                                                 cache: RemoteCache) -> None:
    url = seeded(server, cache)
    cache.sidecar(url).write_text('{"url": "half a fi', encoding="utf-8")

    assert cache.cached(url) is None
    assert cache.due(url, HOUR, T0)


def test_store_then_cached_reads_it_back_from_disk_alone(cache: RemoteCache) -> None:
    url = "https://lists.example/ads.txt"
    stored = cache.store(url, "a.example\n", etag='"v1"', last_modified=None,
                         fetched_at=T0, entry_count=1)
    copy = RemoteCache(cache.directory).cached(url)
    assert copy == stored
    assert copy is not None and copy.read_text() == "a.example\n"
    assert copy.describe() == f"the copy from {when(T0)} (1 entry)"
    assert cache.cached("https://lists.example/other.txt") is None


def test_a_new_copy_replaces_the_old_file_and_confirm_keeps_the_text(
        cache: RemoteCache) -> None:
    url = "https://lists.example/ads.txt"
    first = cache.store(url, "a.example\n", etag='"v1"', last_modified="Mon",
                        fetched_at=T0, entry_count=1)
    second = cache.store(url, "b.example\nc.example\n", etag=None, last_modified=None,
                         fetched_at=T0 + 1, entry_count=2)
    assert not first.path.exists() and second.path.exists()
    confirmed = cache.confirm(second, etag='"v2"', last_modified=None, fetched_at=T0 + 2)
    assert cache.cached(url) == confirmed == CachedCopy(url, second.path, '"v2"', None,
                                                         T0 + 2, 2)


def test_a_sidecar_for_another_url_or_a_missing_text_is_no_copy(cache: RemoteCache) -> None:
    url = "https://lists.example/ads.txt"
    copy = cache.store(url, "a.example\n", etag=None, last_modified=None, fetched_at=T0,
                       entry_count=1)
    os.unlink(copy.path)
    assert cache.cached(url) is None


def test_is_due_and_the_message_pieces() -> None:
    copy = CachedCopy("u", Path("x"), None, None, T0, 3)
    assert is_due(None, HOUR, T0)
    assert not is_due(copy, HOUR, T0 + HOUR - 1) and is_due(copy, HOUR, T0 + HOUR)
    assert when(T0) == "2026-11-18 11:06 UTC"
    assert (entries(1), entries(12_345)) == ("1 entry", "12,345 entries")
