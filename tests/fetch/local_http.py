"""A scripted HTTP server on 127.0.0.1 (ephemeral port) for download tests, and the helpers
that fetch from it and check what was kept.

Every wait is bounded so that the tests run in seconds.
"""

from __future__ import annotations

import threading
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
    """ThreadingHTTPServer on 127.0.0.1 whose answers the test scripts per path; on an
    ephemeral port unless `port` is given (a mirror that comes back where it was)."""

    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()
        self.httpd = _QuietServer(("127.0.0.1", port), _handler_for(self))
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


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A local HTTP server on 127.0.0.1, with proxies out of the way."""
    for variable in PROXY_VARIABLES:  # requests must go straight to 127.0.0.1
        monkeypatch.delenv(variable, raising=False)
    local = LocalServer()
    yield local
    local.stop()


@pytest.fixture
def cache(tmp_path: Path) -> RemoteCache:
    """An empty store of last good copies."""
    return RemoteCache(tmp_path / "cache")
