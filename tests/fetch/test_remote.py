"""URL sources: fetching against a real HTTP server on 127.0.0.1, the on-disk copies, refreshing
and shrinking."""

from __future__ import annotations

import json
import os

import pytest

from resolver.fetch.http_download import FetchPolicy
from resolver.fetch.remote import fetch
from resolver.lists.remote_cache import RemoteCache
from tests.fetch.local_http import (
    FAST,
    HOUR,
    LIST,
    T0,
    LocalServer,
    Reply,
    assert_cache_holds,
    assert_kept,
    count,
    get,
    names,
    seeded,
    when,
)

# --- 200 and 304 ---------------------------------------------------------------

def test_first_download_is_used_and_cached_on_disk(server: LocalServer,
                                                   cache: RemoteCache) -> None:
    server.routes["/list.txt"] = Reply(200, LIST.encode(), {
        "Content-Type": "text/plain; charset=utf-8", "ETag": '"v1"',
        "Last-Modified": "Wed, 18 Nov 2026 10:00:00 GMT"})

    result = get(server, "/list.txt", cache)

    assert result.status == "downloaded"
    assert result.text == LIST
    assert (result.added, result.removed) == (3, 0)
    assert result.message == "downloaded 3 entries (first copy)"
    assert "if-none-match" not in server.headers_of_last()
    assert "if-modified-since" not in server.headers_of_last()
    copy = RemoteCache(cache.directory).cached(server.url("/list.txt"))
    assert copy is not None
    assert (copy.etag, copy.last_modified) == ('"v1"', "Wed, 18 Nov 2026 10:00:00 GMT")
    assert_cache_holds(cache, server.url("/list.txt"), LIST, fetched_at=T0)
    sidecars = list(cache.directory.glob("*.json"))
    assert len(sidecars) == 1 and len(list(cache.directory.glob("*.txt"))) == 1
    assert json.loads(sidecars[0].read_text())["url"] == server.url("/list.txt")


def test_etag_is_sent_back_and_304_reuses_the_copy(server: LocalServer,
                                                   cache: RemoteCache) -> None:
    url = seeded(server, cache, headers={"ETag": '"v1"'})
    server.routes["/list.txt"] = lambda headers: (
        Reply(304, headers={"ETag": '"v1"'}, length=None)
        if headers.get("if-none-match") == '"v1"' else Reply(200, b"changed.example\n"))

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert server.headers_of_last()["if-none-match"] == '"v1"'
    assert "if-modified-since" not in server.headers_of_last()
    assert result.status == "not-modified"
    assert result.text == LIST
    assert (result.added, result.removed) == (0, 0)
    assert result.message == f"not modified since the copy from {when(T0)} (3 entries)"
    assert_cache_holds(cache, url, LIST, fetched_at=T0 + HOUR)  # fetch time bumped


def test_last_modified_is_sent_back_verbatim_and_304_reuses_the_copy(
        server: LocalServer, cache: RemoteCache) -> None:
    stamp = "Wed, 18 Nov 2026 10:00:00 GMT"
    url = seeded(server, cache, headers={"Last-Modified": stamp})
    server.routes["/list.txt"] = lambda headers: (
        Reply(304, length=None) if headers.get("if-modified-since") == stamp
        else Reply(200, b"changed.example\n"))

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert server.headers_of_last()["if-modified-since"] == stamp
    assert "if-none-match" not in server.headers_of_last()
    assert result.status == "not-modified"
    assert result.text == LIST
    assert_cache_holds(cache, url, LIST, fetched_at=T0 + HOUR)


def test_a_changed_list_replaces_the_copy_and_reports_the_difference(
        server: LocalServer, cache: RemoteCache) -> None:
    url = seeded(server, cache, headers={"ETag": '"v1"'})
    new = "ads.example\ntrack.example\nnew1.example\nnew2.example\n"
    server.routes["/list.txt"] = Reply(200, new.encode(), {"ETag": '"v2"'})

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert result.status == "downloaded"
    assert (result.added, result.removed) == (2, 1)
    assert result.message == "downloaded 4 entries (+2 −1)"
    assert_cache_holds(cache, url, new, fetched_at=T0 + HOUR)
    assert len(list(cache.directory.glob("*.txt"))) == 1  # the old copy's file is gone


def test_without_entries_of_the_difference_is_not_counted(server: LocalServer,
                                                           cache: RemoteCache) -> None:
    seeded(server, cache)
    server.routes["/list.txt"] = Reply(200, names(5).encode())

    result = fetch(server.url("/list.txt"), cache, FAST, count_entries=count, force=True,
                   now=T0 + HOUR)

    assert result.status == "downloaded"
    assert (result.added, result.removed) == (None, None)
    assert result.message == "downloaded 5 entries (the last copy had 3)"


# --- failures keep the last good copy ------------------------------------------

@pytest.mark.parametrize(("status", "reason"), [(404, "Not Found"), (500, "Internal Server Error"),
                                                (503, "Service Unavailable")])
def test_http_errors_keep_the_last_good_copy(server: LocalServer, cache: RemoteCache,
                                             status: int, reason: str) -> None:
    url = seeded(server, cache)
    server.routes["/list.txt"] = Reply(status, b"oops")

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert_kept(result, f"HTTP {status} {reason}")
    assert result.message == f"HTTP {status} {reason}; keeping the copy from {when(T0)} (3 entries)"
    assert_cache_holds(cache, url, LIST, fetched_at=T0)  # a failure does not count as a check


def test_a_failure_with_no_copy_at_all_fails_clearly(server: LocalServer,
                                                     cache: RemoteCache) -> None:
    result = get(server, "/missing.txt", cache)

    assert result.status == "failed"
    assert result.text is None
    assert result.message == "HTTP 404 Not Found; there is no earlier copy to use"
    assert RemoteCache(cache.directory).cached(server.url("/missing.txt")) is None


def test_text_the_format_cannot_read_is_refused(server: LocalServer, cache: RemoteCache) -> None:
    seeded(server, cache)
    server.routes["/list.txt"] = Reply(200, b"garbage\n")

    def strict(text: str) -> int:
        raise ValueError("line 1: 'garbage' is not a hosts line")

    result = fetch(server.url("/list.txt"), cache, FAST, count_entries=strict, force=True,
                   now=T0 + HOUR)

    assert_kept(result, "not a list in the expected format: line 1: 'garbage' is not a hosts")


# --- shrinking ---------------------------------------------------------------

def test_a_list_that_loses_more_than_half_its_entries_is_refused(server: LocalServer,
                                                                 cache: RemoteCache) -> None:
    old = names(10)
    url = seeded(server, cache, old)
    server.routes["/list.txt"] = Reply(200, names(4).encode())

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert_kept(result, "the download has only 4 entries, fewer than 50% of the 10 in the last "
                        "good copy", old_text=old)
    assert str(cache.sidecar(url)) in result.message  # how to accept a real shrink
    assert_cache_holds(cache, url, old, fetched_at=T0)


def test_a_list_that_loses_half_or_less_is_accepted(server: LocalServer,
                                                    cache: RemoteCache) -> None:
    url = seeded(server, cache, names(10))
    server.routes["/list.txt"] = Reply(200, names(5).encode())

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert result.status == "downloaded", result.message
    assert (result.added, result.removed) == (0, 5)
    assert_cache_holds(cache, url, names(5), fetched_at=T0 + HOUR)


def test_an_empty_download_never_empties_a_ban(server: LocalServer, cache: RemoteCache) -> None:
    seeded(server, cache)
    server.routes["/list.txt"] = Reply(200, b"# nothing here today\n")

    assert_kept(get(server, "/list.txt", cache, now=T0 + HOUR), "only 0 entries")


def test_the_keep_ratio_is_configurable_and_a_shrink_can_be_accepted(
        server: LocalServer, cache: RemoteCache) -> None:
    seeded(server, cache, names(10))
    server.routes["/list.txt"] = Reply(200, names(8).encode())
    strict = FetchPolicy(timeout=2.0, min_keep_ratio=0.9)

    refused = get(server, "/list.txt", cache, now=T0 + HOUR, policy=strict)
    accepted = get(server, "/list.txt", cache, now=T0 + HOUR, policy=strict, accept_shrink=True)

    assert_kept(refused, "fewer than 90% of the 10", old_text=names(10))
    assert accepted.status == "downloaded"
    assert accepted.text == names(8)


# --- restart, refresh, cache ---------------------------------------------------

def test_after_a_restart_only_the_cached_copy_is_needed(server: LocalServer,
                                                        cache: RemoteCache) -> None:
    url = seeded(server, cache)
    server.stop()
    requests = len(server.seen)
    restarted = RemoteCache(cache.directory)

    not_due = fetch(url, restarted, FAST, count_entries=count, refresh=24 * HOUR,
                    now=T0 + HOUR)
    due = fetch(url, restarted, FAST, count_entries=count, refresh=24 * HOUR,
                now=T0 + 25 * HOUR)

    assert not_due.status == "cached"
    assert not_due.text == LIST
    assert not_due.message == (f"using the copy from {when(T0)} (3 entries); "
                               f"next download after {when(T0 + 24 * HOUR)}")
    assert_kept(due, "cannot download: ")
    assert len(server.seen) == requests


def test_fetch_downloads_only_when_due_unless_forced(server: LocalServer,
                                                     cache: RemoteCache) -> None:
    seeded(server, cache)
    requests = len(server.seen)

    early = get(server, "/list.txt", cache, now=T0 + 10, refresh=HOUR, force=False)
    assert early.status == "cached" and early.text == LIST
    assert len(server.seen) == requests

    forced = get(server, "/list.txt", cache, now=T0 + 10, refresh=HOUR, force=True)
    assert forced.status == "downloaded"
    assert len(server.seen) == requests + 1

    later = get(server, "/list.txt", cache, now=T0 + 10 + HOUR, refresh=HOUR, force=False)
    assert later.status == "downloaded"
    assert len(server.seen) == requests + 2


def test_a_failed_save_leaves_the_old_copy_whole(server: LocalServer, cache: RemoteCache,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url = seeded(server, cache, headers={"ETag": '"v1"'})
    server.routes["/list.txt"] = Reply(200, names(3).encode(), {"ETag": '"v2"'})

    def crash(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    result = get(server, "/list.txt", cache, now=T0 + HOUR)
    monkeypatch.undo()

    assert result.status == "downloaded"  # the new text is good: use it now
    assert result.text == names(3)
    assert "could not save it to the cache (No space left on device)" in result.message
    assert_cache_holds(cache, url, LIST, fetched_at=T0)
    copy = RemoteCache(cache.directory).cached(url)
    assert copy is not None and copy.etag == '"v1"'
    assert not list(cache.directory.glob(".*"))  # no temporary files left behind


# --- schemes -------------------------------------------------------------------

@pytest.mark.parametrize(("url", "shown"), [
    ("file:///etc/hosts", "'file:'"),
    ("ftp://127.0.0.1/list.txt", "'ftp:'"),
    ("data:text/plain,ads.example", "'data:'"),
    ("127.0.0.1/list.txt", "a URL without a scheme"),
])
def test_only_http_and_https_urls_are_fetched(cache: RemoteCache, url: str, shown: str) -> None:
    result = fetch(url, cache, FAST, count_entries=count, force=True, now=T0)

    assert result.status == "failed"
    assert result.text is None
    assert result.message == (f"only http and https URLs are downloaded, not {shown}; "
                              "write `path:` for a file on this machine")
    assert not cache.directory.exists()


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:notaport/list.txt", "not a valid URL: nonnumeric port: 'notaport'"),
    ("http:///list.txt", "cannot download: no host given"),
])
def test_a_malformed_url_fails_with_a_sentence(cache: RemoteCache, url: str, why: str) -> None:
    result = fetch(url, cache, FAST, count_entries=count, now=T0)

    assert (result.status, result.message) == ("failed", f"{why}; there is no earlier copy to use")
