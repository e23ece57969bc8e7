"""One HTTP download: redirects, timeouts, size caps and what counts as a text list, against a
real HTTP server on 127.0.0.1."""

from __future__ import annotations

import email.utils
import gzip
import time
from typing import Literal

import pytest

from resolver.fetch.http_download import Download, FetchPolicy, Refused, download, retry_after
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
    get,
    names,
    seeded,
)


def test_redirects_between_http_urls_are_followed(server: LocalServer,
                                                  cache: RemoteCache) -> None:
    server.routes["/old.txt"] = Reply(301, headers={"Location": server.url("/list.txt")})
    server.routes["/list.txt"] = Reply(200, LIST.encode())

    result = get(server, "/old.txt", cache)

    assert result.status == "downloaded"
    assert result.text == LIST
    assert [path for path, _ in server.seen] == ["/old.txt", "/list.txt"]


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


def test_gzip_is_asked_for_and_a_gzip_encoded_list_is_taken(server: LocalServer,
                                                            cache: RemoteCache) -> None:
    body = names(2000)
    packed = gzip.compress(body.encode())
    assert len(packed) < len(body) // 3  # it really is compressed on the wire
    server.routes["/list.txt"] = Reply(200, packed, {"Content-Type": "text/plain",
                                                     "Content-Encoding": "gzip"})

    result = get(server, "/list.txt", cache)

    assert server.headers_of_last()["accept-encoding"] == "gzip"
    assert result.status == "downloaded", result.message
    assert result.text == body
    assert_cache_holds(cache, server.url("/list.txt"), body, fetched_at=T0)


def test_a_gzip_file_of_several_members_is_read_whole(server: LocalServer,
                                                      cache: RemoteCache) -> None:
    first, second = names(3, "a"), names(4, "b")
    server.routes["/list.txt"] = Reply(200, gzip.compress(first.encode())
                                       + gzip.compress(second.encode()),
                                       {"Content-Encoding": "x-gzip"})

    result = get(server, "/list.txt", cache)

    assert result.status == "downloaded", result.message
    assert result.text == first + second


@pytest.mark.parametrize(("body", "encoding", "why"), [
    (b"\x1f\x8b\x08\x00", "br", "the server sent br-encoded content; only gzip was asked for"),
    (gzip.compress(LIST.encode())[:-12], "gzip", "the gzip-encoded download is cut off"),
    (b"not gzip at all, just text\n", "gzip", "is not valid gzip data"),
    (gzip.compress(b"a.example\n" * 200_000), "gzip",
     "the download decompresses to more than the limit of 1 MiB"),
], ids=["other-encoding", "cut-off", "not-gzip", "bomb"])
def test_bad_compressed_content_keeps_the_last_good_copy(server: LocalServer, cache: RemoteCache,
                                                         body: bytes, encoding: str,
                                                         why: str) -> None:
    seeded(server, cache)
    assert len(body) < 1024 * 1024  # what is sent is under the limit; what it becomes is not
    server.routes["/list.txt"] = Reply(200, body, {"Content-Encoding": encoding})

    result = get(server, "/list.txt", cache, now=T0 + HOUR,
                 policy=FetchPolicy(timeout=2.0, deadline=4.0, max_bytes=1024 * 1024))

    assert_kept(result, why)


@pytest.mark.parametrize(("status", "header", "wait"), [
    (503, "120", 120.0),
    (429, "in an hour", 3600.0),  # an HTTP date an hour from now
    (503, "soon", None),
    (500, None, None),
])
def test_retry_after_of_an_error_answer_is_passed_on(server: LocalServer, cache: RemoteCache,
                                                     status: int, header: str | None,
                                                     wait: float | None) -> None:
    if header == "in an hour":
        header = email.utils.formatdate(time.time() + 3600, usegmt=True)
    headers = {"Content-Type": "text/plain"} | ({"Retry-After": header} if header else {})
    server.routes["/list.txt"] = Reply(status, b"busy", headers)

    result = get(server, "/list.txt", cache)

    assert result.status == "failed"
    if wait is None:
        assert result.retry_after is None
        assert "retry after" not in result.message
    else:
        assert result.retry_after is not None
        assert wait - 5 <= result.retry_after <= wait  # HTTP dates have whole seconds
        assert f"the server asks to retry after {result.retry_after:.0f} s" in result.message


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC
    assert retry_after("120", now) == 120.0
    assert retry_after(" 0 ", now) == 0.0
    assert retry_after("Wed, 18 Nov 2026 12:06:40 GMT", now) == 3600.0
    assert retry_after("Wed, 18 Nov 2026 10:06:40 GMT", now) == 0.0  # past: at once
    for bad in (None, "", "soon", "-5", "1.5", "Wed, 18 Nov 2026 12:06:40"):
        assert retry_after(bad, now) is None, bad


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


@pytest.mark.parametrize("arguments", [
    {"timeout": 0.0}, {"deadline": -1.0}, {"max_bytes": 0}, {"min_keep_ratio": 1.5},
])
def test_a_nonsensical_fetch_policy_is_rejected(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="FetchPolicy"):
        FetchPolicy(**arguments)  # type: ignore[arg-type]


def test_download_sends_the_validators_and_returns_what_the_server_said(
        server: LocalServer, cache: RemoteCache) -> None:
    server.routes["/list.txt"] = Reply(200, LIST.encode(), {
        "Content-Type": "text/plain; charset=utf-8", "ETag": '"v1"',
        "Last-Modified": "Wed, 18 Nov 2026 11:00:00 GMT"})
    first = download(server.url("/list.txt"), None, FAST)
    assert first == Download(LIST, '"v1"', "Wed, 18 Nov 2026 11:00:00 GMT")
    sent = server.headers_of_last()
    assert sent["user-agent"] == "dnsfence (blocklist updater)"
    assert "if-none-match" not in sent and "if-modified-since" not in sent
    seeded(server, cache, headers={"ETag": '"v1"'})
    copy = cache.cached(server.url("/list.txt"))
    server.routes["/list.txt"] = Reply(304, headers={"ETag": '"v1"'})
    assert download(server.url("/list.txt"), copy, FAST) == Download(None, '"v1"', None)
    assert server.headers_of_last()["if-none-match"] == '"v1"'


def test_download_refuses_anything_but_a_good_200_or_a_304(server: LocalServer) -> None:
    server.routes["/gone.txt"] = Reply(410, b"gone")
    with pytest.raises(Refused) as refused:
        download(server.url("/gone.txt"), None, FAST)
    assert refused.value.reason == "HTTP 410 Gone"
    with pytest.raises(Refused, match="expected 200"):
        server.routes["/partial.txt"] = Reply(206, LIST.encode())
        download(server.url("/partial.txt"), None, FAST)
