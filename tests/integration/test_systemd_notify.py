"""The real `dnsfence serve` tells a service manager (a unix datagram socket given as
NOTIFY_SOCKET, as systemd does for Type=notify) the right things at the right moments:
READY=1 only once DNS is answered by every worker, RELOADING=1 then READY=1 around a SIGHUP
reload (once the new policy answers, or the reload failed), STOPPING=1 on SIGTERM, STATUS=
when a worker dies and again when it serves. With one worker (no supervisor) and with two."""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import dns.rcode
import pytest

from .harness import BlocklistDir, Dnsfence, DnsfenceFactory, addresses_in, wait_until

BROKEN = "name: lab\neffective: not a date\ndomains: [example.test]\n"


class NotifySocket:
    """The manager's end: every datagram received, in order, as a dict of fields."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages: list[dict[str, str]] = []

    def next(self, timeout: float = 10.0) -> dict[str, str]:
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096)
        message = dict(line.split("=", 1) for line in data.decode().split("\n"))
        self.messages.append(message)
        return message

    def until(self, state: str, timeout: float = 15.0) -> tuple[dict[str, str], list[str]]:
        """The first message with `state` (READY, RELOADING...), and the states before it."""
        deadline = time.monotonic() + timeout
        before: list[str] = []
        while True:
            message = self.next(max(0.01, deadline - time.monotonic()))
            if state in message:
                return message, before
            before.append(next(iter(message)))


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    with tempfile.TemporaryDirectory(prefix="notify.") as found:  # short: 108-byte paths
        listener = NotifySocket(Path(found) / "notify")
        try:
            yield listener
        finally:
            listener.sock.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Reloads on SIGHUP only, so each RELOADING=1 is the test's own."""
    path = tmp_path / "dnsfence.yaml"
    path.write_text("reload:\n  watch: false\n")
    return path


def blocked(server: Dnsfence, name: str) -> bool:
    reply = server.query(name, timeout=2.0)
    if dns.rcode.to_text(reply.rcode()) == "NXDOMAIN":
        return True
    assert addresses_in(reply), reply
    return False


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(item) for item in text.split()]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ready_reload_and_stop_are_told_when_they_happen(
        dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir, notify: NotifySocket,
        config: Path, workers: str) -> None:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    server = dnsfence_factory("--config", str(config), workers=workers,
                              env={"NOTIFY_SOCKET": notify.path})
    ready, before = notify.until("READY")
    assert before == []  # READY=1 is the first thing said
    assert ready["MAINPID"] == str(server.pid)  # the process systemd would have started
    assert server.http_address is not None
    http_host, http_port = server.http_address
    assert ready["STATUS"] == (f"serving DNS on {server.address} with {workers} "
                               f"worker{'s' * (workers != '1')}, HTTP on {http_host}:{http_port}")
    # by READY=1 every worker answers: /healthz counts them and asks the DNS port itself
    status, body = server.http_get("/healthz")
    assert status == 200, body
    assert body.startswith(f"ok: {workers} worker{'s' * (workers != '1')} answering DNS")
    assert blocked(server, "www.tiktok.com") and not blocked(server, "www.example.test")

    # a good reload: READY=1 comes once the new policy answers, whichever worker is asked
    blocklists_dir.write("lab", domains=["example.test"], effective="2023-03-20")
    server.send_signal(signal.SIGHUP)
    reloading, before = notify.until("RELOADING")
    assert before == [] and int(reloading["MONOTONIC_USEC"]) > 0
    assert reloading["STATUS"] == "reloading the configuration and blocklists (SIGHUP)"
    ready, before = notify.until("READY")
    assert before == [] and "; reloaded at " in ready["STATUS"]
    assert all(blocked(server, "www.example.test") for _ in range(20))  # 20 source ports

    # a failed reload: READY=1 at once, saying the last good policy is kept
    blocklists_dir.file_for("lab").write_text(BROKEN)
    server.send_signal(signal.SIGHUP)
    notify.until("RELOADING")
    ready, before = notify.until("READY")
    assert before == []
    assert "failed with 1 error(s)" in ready["STATUS"]
    assert "still serving the policy loaded at" in ready["STATUS"]
    assert all(blocked(server, "www.example.test") for _ in range(5))

    server.send_signal(signal.SIGTERM)
    stopping, before = notify.until("STOPPING")
    assert before == [] and stopping["STATUS"].startswith("stopping")
    assert server.wait(15) == 0
    assert server.stderr_lines() and not any(
        "could not notify" in line for line in server.stderr_lines())


def test_a_worker_death_is_a_status_line_until_it_serves_again(
        dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir,
        notify: NotifySocket) -> None:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    server = dnsfence_factory(workers="2", env={"NOTIFY_SOCKET": notify.path})
    ready, _ = notify.until("READY")
    victim = children(server.pid)[0]
    os.kill(victim, signal.SIGKILL)
    died = notify.next()
    assert list(died) == ["STATUS"]
    assert f"(pid {victim}) was killed by signal 9 (SIGKILL); starting it again in" \
        in died["STATUS"]
    back = notify.next()
    assert back == {"STATUS": ready["STATUS"]}
    wait_until(lambda: len(children(server.pid)) == 2, timeout=5, what="two workers")
    status, body = server.http_get("/healthz")
    assert status == 200 and body.startswith("ok: 2 workers answering DNS"), body

