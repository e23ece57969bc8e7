"""URL sources: downloads against a real HTTP server on 127.0.0.1, and the on-disk cache.

Every test talks only to a server it starts on 127.0.0.1 (ephemeral port), or
to nothing at all; every wait is bounded so that the file runs in seconds.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

import pytest

from resolver.fetch.http_download import FetchPolicy
from resolver.fetch.remote import FetchResult, fetch
from resolver.lists.remote_cache import RemoteCache

T0 = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC
HOUR = 3600.0
FAST = FetchPolicy(timeout=2.0, deadline=4.0)
LIST = "# trackers\nads.example\ntrack.example\nspy.example\n"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                   "ALL_PROXY", "no_proxy", "NO_PROXY")


# --- a scripted HTTP server on 127.0.0.1 ---------------------------------------

@dataclass(frozen=True)
class Reply:
    """What the test server answers on one path."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/plain"})
    length: int | Literal["actual"] | None = "actual"  # None: no Content-Length (close ends it)
    stall: float = 0.0                 # seconds before answering (bounded; released at stop)
    pause: float = 0.0                 # seconds between 16-byte pieces of the body


Route = Reply | Callable[[dict[str, str]], Reply]


class LocalServer:
    """ThreadingHTTPServer on 127.0.0.1:0 whose answers the test scripts per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()
        self.httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.stopped = False

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        assert host == "127.0.0.1"
        return f"http://127.0.0.1:{port}{path}"

    def headers_of_last(self) -> dict[str, str]:
        return self.seen[-1][1]

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (timeouts, size caps) are the point of some tests


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            server.seen.append((self.path, headers))
            route = server.routes.get(self.path, Reply(404, b"no such list"))
            reply = route if isinstance(route, Reply) else route(headers)
            if reply.stall:
                server.release.wait(reply.stall)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.length is not None:
                length = len(reply.body) if reply.length == "actual" else reply.length
                self.send_header("Content-Length", str(length))
            self.end_headers()
            if not reply.pause:
                self.wfile.write(reply.body)
                return
            for start in range(0, len(reply.body), 16):
                self.wfile.write(reply.body[start:start + 16])
                self.wfile.flush()
                if server.release.wait(reply.pause):
                    return

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    for variable in PROXY_VARIABLES:  # requests must go straight to 127.0.0.1
        monkeypatch.delenv(variable, raising=False)
    local = LocalServer()
    yield local
    local.stop()


@pytest.fixture
def cache(tmp_path: Path) -> RemoteCache:
    return RemoteCache(tmp_path / "cache")


# --- helpers -----------------------------------------------------------------

def entries(text: str) -> set[str]:
    """The test's own list format: one name per line, '#' comments."""
    return {line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")}


def count(text: str) -> int:
    return len(entries(text))


def names(n: int, prefix: str = "host") -> str:
    return "".join(f"{prefix}{i}.example\n" for i in range(n))


def get(server: LocalServer, path: str, cache: RemoteCache, *, now: float = T0,
        policy: FetchPolicy = FAST, **options: object) -> FetchResult:
    """Fetch `path` from the test server now (forced unless told otherwise)."""
    options.setdefault("force", True)
    return fetch(server.url(path), cache, policy, count_entries=count, now=now,
                 entries_of=entries, **options)  # type: ignore[arg-type]


def when(epoch: float) -> str:
    """The admin's view of an instant, computed independently of remote.py."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def seeded(server: LocalServer, cache: RemoteCache, text: str = LIST,
           headers: dict[str, str] | None = None, path: str = "/list.txt") -> str:
    """Download `text` once at T0 so that the cache holds a last good copy; return its URL."""
    server.routes[path] = Reply(200, text.encode(),
                                {"Content-Type": "text/plain", **(headers or {})})
    first = get(server, path, cache)
    assert first.status == "downloaded", first.message
    return server.url(path)


def assert_kept(result: FetchResult, why: str, old_text: str = LIST,
                fetched_at: float = T0) -> None:
    """The last good copy is what the caller gets, and the message says why and which copy."""
    assert result.status == "kept", result.message
    assert result.text == old_text
    assert why in result.message, result.message
    assert f"keeping the copy from {when(fetched_at)} ({count(old_text):,} entr" in result.message


def assert_cache_holds(cache: RemoteCache, url: str, text: str, *, fetched_at: float) -> None:
    copy = RemoteCache(cache.directory).cached(url)  # a fresh object reads only the disk
    assert copy is not None
    assert copy.read_text() == text
    assert copy.entry_count == count(text)
    assert copy.fetched_at == fetched_at


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


def test_redirects_between_http_urls_are_followed(server: LocalServer,
                                                  cache: RemoteCache) -> None:
    server.routes["/old.txt"] = Reply(301, headers={"Location": server.url("/list.txt")})
    server.routes["/list.txt"] = Reply(200, LIST.encode())

    result = get(server, "/old.txt", cache)

    assert result.status == "downloaded"
    assert result.text == LIST
    assert [path for path, _ in server.seen] == ["/old.txt", "/list.txt"]


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


def test_a_server_that_does_not_answer_times_out(server: LocalServer,
                                                 cache: RemoteCache) -> None:
    seeded(server, cache)
    server.routes["/list.txt"] = Reply(200, b"late.example\n", stall=5.0)

    started = time.monotonic()
    result = get(server, "/list.txt", cache, now=T0 + HOUR,
                 policy=FetchPolicy(timeout=0.3, deadline=1.0))

    assert time.monotonic() - started < 2.0
    assert_kept(result, "no response within 0.3 s")


def test_a_server_that_drips_bytes_is_cut_off_at_the_deadline(server: LocalServer,
                                                              cache: RemoteCache) -> None:
    seeded(server, cache)
    server.routes["/list.txt"] = Reply(200, names(100).encode(), pause=0.05)

    started = time.monotonic()
    result = get(server, "/list.txt", cache, now=T0 + HOUR,
                 policy=FetchPolicy(timeout=1.0, deadline=0.4))

    assert time.monotonic() - started < 2.0
    assert_kept(result, "the download took longer than 0.4 s")


def test_a_refused_connection_keeps_the_copy(server: LocalServer, cache: RemoteCache) -> None:
    seeded(server, cache)
    server.stop()

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert_kept(result, "cannot download: ")
    assert "refused" in result.message.lower()


@pytest.mark.parametrize("declared", ["actual", None], ids=["content-length", "no-content-length"])
def test_a_download_over_the_size_cap_is_refused(server: LocalServer, cache: RemoteCache,
                                                 declared: Literal["actual"] | None) -> None:
    seeded(server, cache)
    server.routes["/list.txt"] = Reply(200, names(200).encode(), length=declared)

    result = get(server, "/list.txt", cache, now=T0 + HOUR,
                 policy=FetchPolicy(timeout=2.0, max_bytes=1000))

    assert_kept(result, "more than the limit of 1,000 bytes")


def test_a_download_of_exactly_the_size_cap_is_accepted(server: LocalServer,
                                                        cache: RemoteCache) -> None:
    body = names(100).encode()
    server.routes["/list.txt"] = Reply(200, body, length=None)

    result = get(server, "/list.txt", cache, policy=FetchPolicy(max_bytes=len(body)))

    assert result.status == "downloaded"


def test_a_truncated_download_is_refused(server: LocalServer, cache: RemoteCache) -> None:
    seeded(server, cache)
    body = names(100).encode()
    server.routes["/list.txt"] = Reply(200, body[:1000], length=len(body))

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert result.status == "kept", result.message
    assert result.text == LIST
    assert "closed" in result.message and "keeping the copy" in result.message


PAGE = (b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
        b"<body><p>example.com</p></body></html>\n")


@pytest.mark.parametrize(("content_type", "body"), [
    ("text/html; charset=utf-8", PAGE),
    ("text/plain", PAGE),                                       # mislabelled page
    ("text/plain", b"\xef\xbb\xbf\n\n  <html lang=en>\n<body>ads.example</body></html>"),
    ("text/plain", b"<!-- generated -->\n<HTML>\n<BODY>Moved</BODY></HTML>\n"),
], ids=["labelled-html", "labelled-text", "bom-and-blank-lines", "comment-first"])
def test_an_html_page_instead_of_a_list_is_refused(server: LocalServer, cache: RemoteCache,
                                                   content_type: str, body: bytes) -> None:
    seeded(server, cache)
    server.routes["/list.txt"] = Reply(200, body, {"Content-Type": content_type})

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert_kept(result, "the server sent an HTML page, not a list")


def test_a_list_labelled_text_html_is_judged_by_its_content(server: LocalServer,
                                                            cache: RemoteCache) -> None:
    server.routes["/list.txt"] = Reply(200, LIST.encode(), {"Content-Type": "text/html"})

    result = get(server, "/list.txt", cache)

    assert result.status == "downloaded"
    assert result.text == LIST


@pytest.mark.parametrize(("content_type", "body", "why"), [
    ("image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "not text: the server says it is image/png"),
    ("application/zip", b"PK\x03\x04rest", "not text: the server says it is application/zip"),
    ("text/plain", b"ads.example\n\0\0\0\0", "not text: the download contains NUL bytes"),
    ("application/octet-stream", b"ads.example\n\xff\xfe\xfa", "not UTF-8 text (byte 0xff"),
    ("text/plain", b"ads.example\n\xc3\x28\n", "not UTF-8 text (byte 0xc3 at offset 12)"),
    ("text/plain", b"\x01\x02\x03\x04ads.example\n", "full of control characters"),
], ids=["png", "zip", "nul-bytes", "octet-stream-not-utf8", "text-not-utf8", "control-chars"])
def test_binary_content_is_refused(server: LocalServer, cache: RemoteCache,
                                   content_type: str, body: bytes, why: str) -> None:
    seeded(server, cache)
    server.routes["/list.txt"] = Reply(200, body, {"Content-Type": content_type})

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert_kept(result, why)


@pytest.mark.parametrize(("headers", "body", "expected"), [
    ({"Content-Type": "application/octet-stream"}, LIST.encode(), LIST),
    ({}, LIST.encode(), LIST),                                     # no Content-Type at all
    ({"Content-Type": "text/plain"}, b"\xef\xbb\xbf" + LIST.encode(), LIST),  # BOM dropped
    ({"Content-Type": "text/plain; charset=iso-8859-1"},
     "# © Ümlaut\nads.example\n".encode("latin-1"), "# © Ümlaut\nads.example\n"),
], ids=["octet-stream-utf8", "no-content-type", "utf8-bom", "declared-latin1"])
def test_text_is_accepted_when_it_decodes(server: LocalServer, cache: RemoteCache,
                                          headers: dict[str, str], body: bytes,
                                          expected: str) -> None:
    server.routes["/list.txt"] = Reply(200, body, headers)

    result = get(server, "/list.txt", cache)

    assert result.status == "downloaded", result.message
    assert result.text == expected


def test_compressed_content_that_was_not_asked_for_is_refused(server: LocalServer,
                                                              cache: RemoteCache) -> None:
    seeded(server, cache)
    server.routes["/list.txt"] = Reply(200, b"\x1f\x8b\x08\x00", {"Content-Encoding": "gzip"})

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert "accept-encoding" not in server.headers_of_last() or \
        server.headers_of_last()["accept-encoding"] == "identity"
    assert_kept(result, "the server sent gzip-encoded content although none was asked for")


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


def test_due_honours_the_refresh_interval(server: LocalServer, cache: RemoteCache) -> None:
    url = server.url("/list.txt")
    assert cache.due(url, HOUR, T0)  # no copy yet
    seeded(server, cache)

    assert not cache.due(url, HOUR, T0)
    assert not cache.due(url, HOUR, T0 + HOUR - 1)
    assert cache.due(url, HOUR, T0 + HOUR)
    assert cache.due(url, HOUR, T0 - 60)  # the clock went back: do not wait forever
    assert cache.due(server.url("/other.txt"), HOUR, T0)


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


@pytest.mark.parametrize(("target", "why"), [
    ("file:///etc/passwd", "Redirection to url 'file:///etc/passwd' is not allowed"),  # urllib's
    ("ftp://127.0.0.1/list.txt",
     "HTTP 302 redirects to ftp://127.0.0.1/list.txt, which is not an http(s) URL"),
])
def test_a_redirect_to_another_scheme_is_refused(server: LocalServer, cache: RemoteCache,
                                                 target: str, why: str) -> None:
    seeded(server, cache)
    server.routes["/list.txt"] = Reply(302, headers={"Location": target})

    result = get(server, "/list.txt", cache, now=T0 + HOUR)

    assert_kept(result, why)
    assert len(server.seen) == 2  # nothing was fetched from the redirect target


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:notaport/list.txt", "not a valid URL: nonnumeric port: 'notaport'"),
    ("http:///list.txt", "cannot download: no host given"),
])
def test_a_malformed_url_fails_with_a_sentence(cache: RemoteCache, url: str, why: str) -> None:
    result = fetch(url, cache, FAST, count_entries=count, now=T0)

    assert (result.status, result.message) == ("failed", f"{why}; there is no earlier copy to use")


@pytest.mark.parametrize("arguments", [
    {"timeout": 0.0}, {"deadline": -1.0}, {"max_bytes": 0}, {"min_keep_ratio": 1.5},
])
def test_a_nonsensical_fetch_policy_is_rejected(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="FetchPolicy"):
        FetchPolicy(**arguments)  # type: ignore[arg-type]
