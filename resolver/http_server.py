"""The HTTP listener: `/metrics` (Prometheus) and `/healthz`, served by a thread.

HTTP is not on the query path, so the standard library's WSGI server in a thread is
enough (prometheus-client serves its own endpoint the same way): a scrape takes the
GIL for a few milliseconds, never a query's place in line. Read-only: GET and HEAD.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from resolver.config.endpoints import Endpoint
from resolver.health import EXCLUDABLE, Health

log = logging.getLogger("dnsfence")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
HealthCheck = Callable[[frozenset[str]], Health]
"""The verdict, leaving out the named checks (`/healthz?exclude=reload`)."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow client never holds the process at exit
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    """Requests are not logged: a scrape every 15 s would fill the server log."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _bound_server(endpoint: Endpoint) -> _Server:
    """Bind now (so a taken port stops the start, like DNS); serve later."""
    family = socket.AF_INET6 if endpoint.family_is_v6 else socket.AF_INET
    server_class = type("HttpServer", (_Server,), {"address_family": family})
    server: _Server = server_class((endpoint.host, endpoint.port), _QuietHandler)
    return server


class HttpListener:
    """Bound at start-up; `start` serves `/metrics` and `/healthz` from a daemon thread."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._server = _bound_server(endpoint)
        host, port = self._server.server_address[:2]
        self.endpoint = Endpoint(str(host), int(port))
        self._thread: threading.Thread | None = None

    def start(self, metrics: CollectorRegistry, health: HealthCheck) -> None:
        self._server.set_app(_application(metrics, health))
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},  # how soon close() returns
                                        name="dnsfence-http", daemon=True)
        self._thread.start()

    def close_in_child(self) -> None:
        """In a forked child: close its copy of the listening socket, nothing more (the
        serving thread is the parent's; waiting for it here would wait for ever)."""
        self._server.socket.close()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=2.0)
        self._server.server_close()


def _application(metrics: CollectorRegistry, health: HealthCheck
                 ) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if method not in ("GET", "HEAD"):
            return _reply(start_response, "405 Method Not Allowed", b"read-only: GET\n",
                          extra=[("Allow", "GET, HEAD")])
        if path == "/metrics":
            # the format the scraper asks for (Prometheus text or OpenMetrics)
            encode, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
            try:
                body = encode(metrics)
            except Exception:
                log.exception("dnsfence: /metrics failed")
                return _reply(start_response, "500 Internal Server Error",
                              b"metrics failed; see the server log\n")
            return _reply(start_response, "200 OK", body, content_type, head=method == "HEAD")
        if path == "/healthz":
            exclude = frozenset(name for value in parse_qs(environ.get("QUERY_STRING", ""))
                                .get("exclude", []) for name in value.split(",") if name)
            if not exclude <= EXCLUDABLE:  # a typo in a probe must not pass unnoticed
                return _reply(start_response, "400 Bad Request",
                              f"exclude= takes: {', '.join(sorted(EXCLUDABLE))}\n".encode())
            started = time.monotonic()
            verdict = health(exclude)
            log.debug("dnsfence: /healthz %d in %.3fs: %s", verdict.status,
                      time.monotonic() - started, verdict.reason)
            status = "200 OK" if verdict.ok else "503 Service Unavailable"
            return _reply(start_response, status, verdict.reason.encode() + b"\n",
                          head=method == "HEAD")
        return _reply(start_response, "404 Not Found", b"not found: try /metrics or /healthz\n")
    return app


def _reply(start_response: StartResponse, status: str, body: bytes,
           content_type: str = "text/plain; charset=utf-8", *, head: bool = False,
           extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               ("Cache-Control", "no-store"), *(extra or [])]
    start_response(status, headers)
    return [] if head else [body]
