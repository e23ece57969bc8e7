"""The HTTP listener: /metrics and /healthz over a real socket, read-only."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from resolver.config.endpoints import Endpoint
from resolver.health import Health
from resolver.http_server import Access, HttpListener
from tests.dashboard.live_site import live_site


@pytest.fixture
def listener() -> Iterator[tuple[HttpListener, list[Health]]]:
    metrics = CollectorRegistry()
    Counter("dnsfence_example", "An example.", registry=metrics).inc(3)
    verdicts = [Health(True, "ok: 1 worker answering DNS")]
    http = HttpListener(Endpoint("127.0.0.1", 0))
    http.start(metrics, lambda _exclude: verdicts[-1])
    yield http, verdicts
    http.close()


def get(http: HttpListener, path: str, method: str = "GET") -> tuple[int, str, str]:
    url = f"http://{http.endpoint.host}:{http.endpoint.port}{path}"
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_port_zero_is_replaced_by_the_bound_port(
        listener: tuple[HttpListener, list[Health]]) -> None:
    http, _ = listener
    assert http.endpoint.host == "127.0.0.1" and http.endpoint.port > 0


def test_metrics_are_in_the_prometheus_text_format(
        listener: tuple[HttpListener, list[Health]]) -> None:
    status, content_type, body = get(listener[0], "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=")
    samples = {s.name: s.value for f in text_string_to_metric_families(body) for s in f.samples}
    assert samples["dnsfence_example_total"] == 3


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(
        listener: tuple[HttpListener, list[Health]]) -> None:
    http = listener[0]
    request = urllib.request.Request(
        f"http://127.0.0.1:{http.endpoint.port}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert response.read().decode().rstrip().endswith("# EOF")


def test_healthz_follows_the_verdict(listener: tuple[HttpListener, list[Health]]) -> None:
    http, verdicts = listener
    assert get(http, "/healthz")[::2] == (200, "ok: 1 worker answering DNS\n")
    verdicts.append(Health(False, "unhealthy: the policy failed to load"))
    assert get(http, "/healthz")[::2] == (503, "unhealthy: the policy failed to load\n")


def test_healthz_passes_on_the_checks_to_leave_out_and_refuses_unknown_ones() -> None:
    asked: list[frozenset[str]] = []

    def verdict(exclude: frozenset[str]) -> Health:
        asked.append(exclude)
        return Health("reload" in exclude, "the verdict")

    http = HttpListener(Endpoint("127.0.0.1", 0))
    http.start(CollectorRegistry(), verdict)
    try:
        assert get(http, "/healthz")[0] == 503
        assert get(http, "/healthz?exclude=reload")[0] == 200
        assert get(http, "/healthz?exclude=reload,")[0] == 200
        assert asked == [frozenset(), frozenset({"reload"}), frozenset({"reload"})]
        status, _, body = get(http, "/healthz?exclude=reloads")  # a typo in a probe
        assert (status, body) == (400, "exclude= takes: reload\n")
        assert get(http, "/healthz?exclude=reload&exclude=dns")[0] == 400
        assert len(asked) == 3
    finally:
        http.close()


def test_anything_else_is_not_found_and_writes_are_refused(
        listener: tuple[HttpListener, list[Health]]) -> None:
    http, _ = listener
    assert get(http, "/")[0] == 404
    assert get(http, "/metrics", method="POST")[0] == 405
    assert get(http, "/healthz", method="HEAD")[0] == 200


def test_a_taken_port_is_an_error_at_bind_time(
        listener: tuple[HttpListener, list[Health]]) -> None:
    with pytest.raises(OSError):
        HttpListener(listener[0].endpoint)


def test_ipv6_loopback_works() -> None:
    http = HttpListener(Endpoint("::1", 0))
    try:
        http.start(CollectorRegistry(), lambda _exclude: Health(True, "ok"))
        url = f"http://[::1]:{http.endpoint.port}/healthz"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
    finally:
        http.close()


def test_a_forked_child_lets_go_of_the_socket_at_once_and_the_parent_serves_on(
        listener: tuple[HttpListener, list[Health]]) -> None:
    http, _ = listener
    pid = os.fork()
    if pid == 0:  # a worker: the serving thread is the parent's; close() would wait for it
        try:
            http.close_in_child()
        finally:
            os._exit(0)
    deadline = time.monotonic() + 5
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        assert time.monotonic() < deadline, "the child hung letting go of the socket"
        time.sleep(0.01)
    assert get(http, "/healthz")[0] == 200


TOKEN = "s3cret-token-0123456789"


def get_with(http: HttpListener, path: str, authorization: str | None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{http.endpoint.port}{path}")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[HttpListener]:
    site = live_site(tmp_path / "site")
    http = HttpListener(Endpoint("127.0.0.1", 0))
    http.start(CollectorRegistry(), lambda _exclude: Health(True, "ok"), site.dashboard,
               Access(TOKEN))
    yield http
    http.close()


def test_a_token_guards_all_but_healthz(guarded: HttpListener) -> None:
    for path in ("/", "/api/dashboard", "/api/check?name=tiktok.com", "/metrics"):
        assert get_with(guarded, path, None) == 401, path
        assert get_with(guarded, path, "Bearer wrong-token-0123456789") == 401, path
        assert get_with(guarded, path, basic("admin", "nope")) == 401, path
        assert get_with(guarded, path, f"Bearer {TOKEN}") == 200, path
        assert get_with(guarded, path, basic("anyone", TOKEN)) == 200, path
    assert get_with(guarded, "/healthz", None) == 200
    assert get_with(guarded, "/", "Basic !!!") == 401
    request = urllib.request.Request(f"http://127.0.0.1:{guarded.endpoint.port}/")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.headers["WWW-Authenticate"] == 'Basic realm="dnsfence", charset="UTF-8"'


def test_open_metrics_leaves_the_scrape_open_and_the_rest_guarded() -> None:
    access = Access(TOKEN, open_metrics=True)
    assert access.allows("/metrics", "") and access.allows("/healthz", "")
    assert not access.allows("/", "") and not access.allows("/api/dashboard", "Bearer x")
    assert Access().allows("/", "")  # no token: loopback, anyone here


def test_the_dashboard_routes(guarded: HttpListener) -> None:
    url = f"http://127.0.0.1:{guarded.endpoint.port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def fetch(path: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(url + path, headers=auth)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    status, headers, body = fetch("/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert b'<section id="attempts">' in body
    status, headers, body = fetch("/api/dashboard")
    document = json.loads(body)
    assert status == 200 and "html" not in document
    assert document["now"]["workers"]["count"] == 1
    assert "html" in json.loads(fetch("/api/dashboard?html=1")[2])
    status, _, body = fetch("/api/check?name=www.tiktok.com")
    assert status == 200 and json.loads(body)["blocked"] is True
    status, _, body = fetch("/api/check?name=a..b")
    assert status == 400 and "error" in json.loads(body)
    status, _, body = fetch("/?name=www.tiktok.com&client=127.0.0.1")
    assert b"BLOCKED for client 127.0.0.1" in body
    assert fetch("/nothing")[0] == 404


def test_before_any_worker_reports_the_dashboard_says_it_is_starting(tmp_path: Path) -> None:
    site = live_site(tmp_path / "site")
    site.shared.clear(0)  # nobody has reported
    http = HttpListener(Endpoint("127.0.0.1", 0))
    http.start(CollectorRegistry(), lambda _exclude: Health(True, "ok"), site.dashboard)
    try:
        status, _, body = get(http, "/api/dashboard")
        assert (status, body) == (503, "starting: no worker has reported yet\n")
    finally:
        http.close()
