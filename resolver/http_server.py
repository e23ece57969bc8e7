"""The HTTP listener: `/metrics` (Prometheus), `/healthz` and the read-only dashboard
(`/`, `/api/dashboard`, `/api/check`), served by a thread.

HTTP is not on the query path, so the standard library's WSGI server in a thread is
enough (prometheus-client serves its own endpoint the same way): a scrape takes the
GIL for a few milliseconds, never a query's place in line. Read-only: GET and HEAD.

With an access token (required off loopback, see `resolver.config.http`) everything but
`/healthz` asks for it: `Authorization: Bearer TOKEN`, or basic auth with the token as
password, which a browser asks for by itself. `/healthz` stays open, for orchestrators'
probes: it says ok or why not, nothing more. `/metrics` may be left open
(`http.open_metrics`) for a scraper that cannot send a token.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from resolver.config.endpoints import Endpoint
from resolver.dashboard.app import Dashboard
from resolver.dashboard.page import POLICY
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


@dataclass(frozen=True, slots=True)
class Access:
    """Who may read what: `token` (None: anyone who reaches the listener) guards everything
    but /healthz, and /metrics too unless `open_metrics`."""

    token: str | None = None
    open_metrics: bool = False

    def allows(self, path: str, authorization: str) -> bool:
        if self.token is None or path == "/healthz" or (path == "/metrics"
                                                         and self.open_metrics):
            return True
        scheme, _, credentials = authorization.strip().partition(" ")
        given = credentials.strip()
        if scheme.lower() == "basic":  # user:token; the user name is not checked
            try:
                given = base64.b64decode(given, validate=True).decode().partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                return False
        elif scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.encode(), self.token.encode())


class HttpListener:
    """Bound at start-up; `start` serves `/metrics`, `/healthz` and the dashboard from a
    daemon thread."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._server = _bound_server(endpoint)
        host, port = self._server.server_address[:2]
        self.endpoint = Endpoint(str(host), int(port))
        self._thread: threading.Thread | None = None
        self._dashboard: Dashboard | None = None

    def start(self, metrics: CollectorRegistry, health: HealthCheck,
              dashboard: Dashboard | None = None, access: Access = Access()) -> None:
        self._dashboard = dashboard
        self._server.set_app(_application(metrics, health, dashboard, access))
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
        if self._dashboard is not None:
            self._dashboard.close()


def _application(metrics: CollectorRegistry, health: HealthCheck,
                 dashboard: Dashboard | None, access: Access
                 ) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            return _reply(start_response, "405 Method Not Allowed", b"read-only: GET\n",
                          extra=[("Allow", "GET, HEAD")])
        if not access.allows(path, environ.get("HTTP_AUTHORIZATION", "")):
            return _reply(start_response, "401 Unauthorized", UNAUTHORIZED, head=head,
                          extra=[("WWW-Authenticate", 'Basic realm="dnsfence", charset="UTF-8"')])
        if path == "/metrics":
            # the format the scraper asks for (Prometheus text or OpenMetrics)
            encode, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
            try:
                body = encode(metrics)
            except Exception:
                log.exception("dnsfence: /metrics failed")
                return _reply(start_response, "500 Internal Server Error",
                              b"metrics failed; see the server log\n")
            return _reply(start_response, "200 OK", body, content_type, head=head)
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
            return _reply(start_response, status, verdict.reason.encode() + b"\n", head=head)
        if dashboard is not None and path in DASHBOARD_PATHS:
            try:
                return _dashboard(dashboard, path, environ.get("QUERY_STRING", ""),
                                  start_response, head)
            except LookupError:  # no worker has reported yet: the server is starting
                return _reply(start_response, "503 Service Unavailable",
                              b"starting: no worker has reported yet\n", head=head,
                              extra=[("Retry-After", "1")])
            except Exception:
                log.exception("dnsfence: %s failed", path)
                return _reply(start_response, "500 Internal Server Error",
                              b"the dashboard failed; see the server log\n")
        where = "/, /metrics or /healthz" if dashboard is not None else "/metrics or /healthz"
        return _reply(start_response, "404 Not Found", f"not found: try {where}\n".encode())
    return app


UNAUTHORIZED = (b"an access token is required: Authorization: Bearer TOKEN, or basic auth "
                b"with the token as password (http.token_file, DNSFENCE_HTTP_TOKEN)\n")
DASHBOARD_PATHS = frozenset({"/", "/api/dashboard", "/api/check"})
_PAGE_HEADERS = [("Content-Security-Policy", POLICY), ("X-Content-Type-Options", "nosniff"),
                 ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY")]
_JSON = "application/json"


def _dashboard(dashboard: Dashboard, path: str, query_string: str,
               start_response: StartResponse, head: bool) -> list[bytes]:
    query = {key: values[-1] for key, values in parse_qs(query_string).items()}
    if path == "/api/check":
        status, answer, _ = dashboard.check(query.get("name", ""), query.get("client", ""))
        return _reply(start_response, "200 OK" if status == 200 else "400 Bad Request",
                      _json(answer), _JSON, head=head, extra=_PAGE_HEADERS)
    if path == "/api/dashboard":
        document = dashboard.document()
        if query.get("html") != "1":
            document = {key: value for key, value in document.items() if key != "html"}
        return _reply(start_response, "200 OK", _json(document), _JSON, head=head,
                      extra=_PAGE_HEADERS)
    body = dashboard.page(query.get("name", ""), query.get("client", "")).encode()
    return _reply(start_response, "200 OK", body, "text/html; charset=utf-8", head=head,
                  extra=_PAGE_HEADERS)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _reply(start_response: StartResponse, status: str, body: bytes,
           content_type: str = "text/plain; charset=utf-8", *, head: bool = False,
           extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               ("Cache-Control", "no-store"), *(extra or [])]
    start_response(status, headers)
    return [] if head else [body]
