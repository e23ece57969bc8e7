"""`dnsfence healthcheck`: /healthz when HTTP is on, the CHAOS status query when it is off;
one line, exit 0 or 1, every wait bounded. Real sockets on loopback against small stand-in
servers; tests/test_deploy.py runs it against the real server."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from resolver.commands import healthcheck
from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults
from resolver.config.settings import Config
from tests.commands.cli_runner import dnsfence
from tests.commands.test_status import STATUS, StatusServer


class HealthzServer:
    """An HTTP server on 127.0.0.1 answering /healthz with `status` and `body`, after
    `delay` seconds; records the paths asked."""

    def __init__(self, status: int = 200, body: str = "ok: 2 workers answering DNS\n",
                 delay: float = 0.0) -> None:
        self.status, self.body, self.delay = status, body, delay
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.paths.append(self.path)
                time.sleep(owner.delay)
                data = owner.body.encode()
                self.send_response(owner.status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def healthz() -> Iterator[HealthzServer]:
    server = HealthzServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def status_server() -> Iterator[StatusServer]:
    server = StatusServer()
    try:
        yield server
    finally:
        server.stop()


def unused_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def http_config(host: str, port: int) -> Config:
    return healthcheck.with_flags(defaults(), None, Endpoint(host, port))


def dns_config(*ports: int, host: str = "127.0.0.1") -> Config:
    return healthcheck.with_flags(defaults(), [Endpoint(host, p) for p in ports], "")


def run(config: Config, timeout: float = 3.0) -> tuple[int, list[str], float]:
    out = io.StringIO()
    started = time.monotonic()
    status = healthcheck.run(config, timeout=timeout, out=out)
    return status, out.getvalue().splitlines(), time.monotonic() - started


# -- /healthz ---------------------------------------------------------------------------------


def test_healthy_when_healthz_says_200_asked_on_loopback_for_a_wildcard_address(
        healthz: HealthzServer) -> None:
    status, lines, _ = run(http_config("0.0.0.0", healthz.port))
    assert status == EXIT_OK
    assert lines == [f"ok: 2 workers answering DNS (http://127.0.0.1:{healthz.port}/healthz)"]
    assert healthz.paths == ["/healthz"]


def test_unhealthy_with_the_servers_reasons_when_healthz_says_503(
        healthz: HealthzServer) -> None:
    healthz.status = 503
    healthz.body = ("unhealthy: the policy failed to load at 2026-12-04T22:31:05+00:00 "
                    "(SIGHUP): 1 error(s), e.g. blocklists/a.yaml:3: bad\n")
    status, lines, _ = run(http_config("127.0.0.1", healthz.port))
    assert status == EXIT_PROBLEMS
    assert lines == [f"unhealthy: http://127.0.0.1:{healthz.port}/healthz answered 503: "
                     f"{healthz.body.strip()}"]


def test_unhealthy_at_once_when_nothing_listens() -> None:
    port = unused_port()
    status, lines, elapsed = run(http_config("127.0.0.1", port))
    assert status == EXIT_PROBLEMS
    assert lines == [f"unhealthy: no answer from http://127.0.0.1:{port}/healthz: "
                     "Connection refused"]
    assert elapsed < 1.0


def test_a_server_that_does_not_answer_is_unhealthy_within_the_timeout() -> None:
    slow = HealthzServer(delay=3.0)
    try:
        status, lines, elapsed = run(http_config("127.0.0.1", slow.port), timeout=0.5)
    finally:
        slow.stop()
    assert status == EXIT_PROBLEMS
    assert lines == [f"unhealthy: no answer from http://127.0.0.1:{slow.port}/healthz: "
                     "timed out"]
    assert 0.4 < elapsed < 1.5


def test_a_proxy_in_the_environment_is_not_used(healthz: HealthzServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{unused_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert run(http_config("127.0.0.1", healthz.port))[0] == EXIT_OK


def test_healthz_wins_over_dns_when_both_are_configured(
        healthz: HealthzServer, status_server: StatusServer) -> None:
    config = healthcheck.with_flags(defaults(), [status_server.endpoint],
                                    Endpoint("127.0.0.1", healthz.port))
    assert run(config)[0] == EXIT_OK
    assert healthz.paths == ["/healthz"] and status_server.questions == []


# -- CHAOS status, HTTP off -------------------------------------------------------------------


def test_without_http_a_status_answer_is_healthy(status_server: StatusServer) -> None:
    status, lines, _ = run(dns_config(status_server.port, host="0.0.0.0"))
    assert status == EXIT_OK
    assert lines == [f"ok: a worker answers DNS on 127.0.0.1:{status_server.port}; policy of "
                     "2 lists loaded at 1970-01-01T00:01:00+00:00"]


def test_without_http_a_failed_reload_is_unhealthy(status_server: StatusServer) -> None:
    status_server.status = {**STATUS, "last_reload": {
        "ok": False, "at": 120.0, "reason": "SIGHUP", "restart_needed": [],
        "problems": ["blocklists/a.yaml:3: error: not a date"]}}
    status, lines, _ = run(dns_config(status_server.port))
    assert status == EXIT_PROBLEMS
    assert lines == ["unhealthy: the policy failed to load at 1970-01-01T00:02:00+00:00 "
                     "(SIGHUP): 1 error(s), e.g. blocklists/a.yaml:3: error: not a date; still "
                     "enforcing the policy of 2 lists loaded at 1970-01-01T00:01:00+00:00 "
                     f"(DNS 127.0.0.1:{status_server.port})"]


def test_a_refused_status_still_shows_a_serving_worker(status_server: StatusServer) -> None:
    status_server.refuse = True
    status, lines, _ = run(dns_config(status_server.port))
    assert status == EXIT_OK
    assert lines == [f"ok: a worker answers DNS on 127.0.0.1:{status_server.port} (status "
                     "query REFUSED, so no more is known)"]


def test_the_first_listen_address_that_answers_decides(status_server: StatusServer) -> None:
    dead = unused_port(socket.SOCK_DGRAM)
    status, lines, _ = run(dns_config(dead, status_server.port))
    assert status == EXIT_OK
    assert str(status_server.port) in lines[0]


def test_without_http_silence_is_unhealthy_within_the_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        status, lines, elapsed = run(dns_config(port, unused_port(socket.SOCK_DGRAM)),
                                     timeout=0.5)
        assert silent.recv(512)  # it was asked
    assert status == EXIT_PROBLEMS
    assert lines[0].startswith(f"unhealthy: no DNS answer to the status query from "
                               f"127.0.0.1:{port}: timed out; ")
    assert lines[0].endswith("not asked, no time left")
    assert 0.4 < elapsed < 1.5


# -- the command line -------------------------------------------------------------------------


def test_the_command_reads_the_config_file(tmp_path: Path, healthz: HealthzServer) -> None:
    config = tmp_path / "dnsfence.yaml"
    config.write_text(f"http:\n  listen: 0.0.0.0:{healthz.port}\n")
    done = dnsfence("healthcheck", "--config", str(config), cwd=tmp_path)
    assert (done.status, done.err) == (EXIT_OK, "")
    assert done.out.splitlines() == [
        f"ok: 2 workers answering DNS (http://127.0.0.1:{healthz.port}/healthz)"]
    healthz.status = 503
    assert dnsfence("healthcheck", "--config", str(config), cwd=tmp_path).status == \
        EXIT_PROBLEMS


def test_flags_name_what_serve_was_given(tmp_path: Path, status_server: StatusServer) -> None:
    config = tmp_path / "dnsfence.yaml"
    config.write_text(f"http:\n  listen: 127.0.0.1:{unused_port()}\n")
    done = dnsfence("healthcheck", "--config", str(config), "--http-listen", "",
                    "--listen", f"127.0.0.1:{status_server.port}", cwd=tmp_path)
    assert done.status == EXIT_OK, done.out + done.err
    assert len(status_server.questions) == 1


def test_a_stray_or_garbled_datagram_is_not_the_answer(status_server: StatusServer) -> None:
    """A datagram from elsewhere reaches the check's socket before the server's answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as relay:
        relay.bind(("127.0.0.1", 0))
        relay.settimeout(2)
        port = relay.getsockname()[1]
        result: list[tuple[int, list[str], float]] = []
        thread = threading.Thread(target=lambda: result.append(run(dns_config(port))))
        thread.start()
        question, client = relay.recvfrom(512)
        relay.sendto(b"\x00garbage", client)  # not DNS at all
        relay.sendto(b"\xff\xff" + question[2:], client)  # DNS, but another query's id
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as forward:
            forward.settimeout(2)
            forward.sendto(question, ("127.0.0.1", status_server.port))
            relay.sendto(forward.recv(65535), client)  # the server's real answer
        thread.join(5)
    assert result and result[0][0] == EXIT_OK, result
    assert "policy of 2 lists loaded" in result[0][1][0]


def test_the_command_lines_default_timeout_is_the_modules() -> None:
    from resolver.cli import build_parser
    assert build_parser().parse_args(["healthcheck"]).timeout == healthcheck.DEFAULT_TIMEOUT


@pytest.mark.parametrize("timeout", ["0", "-1", "601", "soon"])
def test_a_timeout_out_of_range_is_a_usage_error(tmp_path: Path, timeout: str) -> None:
    done = dnsfence("healthcheck", "--timeout", timeout, cwd=tmp_path)
    assert done.status == EXIT_USAGE
    assert "must be seconds from 0 to 600" in done.err
