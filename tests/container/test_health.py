"""The Dockerfile's HEALTHCHECK command, exactly, against the real server run on the shipped
config: healthy whatever the lists say (none at all, dated in the future, expired),
unhealthy when the lists on disk fail to load or the server is gone or hung, always within
Docker's timeout; and with HTTP off, through the CHAOS status query."""

from __future__ import annotations

import os
import signal

from tests.container.conftest import (
    DOCKER_TIMEOUT,
    ContainerServer,
    run_healthcheck,
    wait_for_health,
)
from tests.container.dockerfiles import ContainerFiles
from tests.integration.harness import BlocklistDir

BLOCKLISTS = "/etc/dnsfence/blocklists"


def lists_of(files: ContainerFiles) -> BlocklistDir:
    return BlocklistDir(files[BLOCKLISTS])


def test_healthy_with_no_blocklists_at_all(container_server: ContainerServer) -> None:
    server, files = container_server()
    assert not any(files[BLOCKLISTS].iterdir())
    checked = wait_for_health(files, 0)
    assert checked.line.startswith("ok: 2 workers answering DNS; policy of 0 lists loaded")
    assert server.http_address is not None
    assert checked.line.endswith(f"(http://127.0.0.1:{server.http_address[1]}/healthz)")


def future_and_expired(files: ContainerFiles) -> None:
    lists = lists_of(files)
    lists.write("future", domains=["tiktok.com"], effective="2999-01-01")
    lists.write("expired", domains=["example.com"], effective="2020-01-01",
                expires="2021-01-01")


def test_healthy_when_no_list_is_in_force_and_unhealthy_when_the_lists_fail_to_load(
        container_server: ContainerServer) -> None:
    """tiktok.com resolves (forwarded, not blocked) and the server is healthy all the
    same; a broken edit is what makes it unhealthy, with the file and line, until fixed."""
    server, files = container_server(prepare=future_and_expired)
    healthy = wait_for_health(files, 0)
    assert "policy of 2 lists loaded" in healthy.line
    lists_of(files).write_text("broken", "name: broken\nreference: x\neffective: not-a-date\n"
                               "domains: [a.example]\n")
    server.send_signal(signal.SIGHUP)
    broken = wait_for_health(files, 1)
    assert broken.line.startswith("unhealthy: ")
    assert "/healthz answered 503: unhealthy: the policy failed to load" in broken.line
    assert "broken.yaml:3" in broken.line
    lists_of(files).remove("broken")
    server.send_signal(signal.SIGHUP)
    wait_for_health(files, 0)


def test_unhealthy_within_dockers_timeout_when_the_server_hangs_or_stops(
        container_server: ContainerServer) -> None:
    server, files = container_server()
    wait_for_health(files, 0)
    os.killpg(server.pid, signal.SIGSTOP)  # the supervisor and its workers: hung
    try:
        hung = run_healthcheck(files)
    finally:
        os.killpg(server.pid, signal.SIGCONT)
    assert hung.status == 1 and hung.line.endswith("/healthz: timed out"), hung
    assert hung.seconds < DOCKER_TIMEOUT
    wait_for_health(files, 0)  # it answers again once it runs again
    server.stop()
    stopped = run_healthcheck(files)
    assert stopped.status == 1 and stopped.line.endswith("/healthz: Connection refused")
    assert stopped.seconds < DOCKER_TIMEOUT


def test_with_http_off_the_status_query_decides(container_server: ContainerServer) -> None:
    server, files = container_server(http=False, prepare=future_and_expired)
    assert server.http_address is None
    healthy = wait_for_health(files, 0)
    assert healthy.line.startswith(f"ok: a worker answers DNS on 127.0.0.1:{server.port}; "
                                   "policy of 2 lists loaded at ")
    server.stop()
    stopped = run_healthcheck(files)
    assert stopped.status == 1
    assert stopped.line == ("unhealthy: no DNS answer to the status query from "
                            f"127.0.0.1:{server.port}: Connection refused")
    assert stopped.seconds < DOCKER_TIMEOUT
