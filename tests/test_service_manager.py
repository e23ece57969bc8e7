"""sd_notify over a real unix datagram socket: a path and an abstract name, the fields each
message carries, and silence (never an exception) when there is no manager or it is gone."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from resolver.service_manager import (
    NOTIFY_SOCKET,
    ServiceManager,
    monotonic_usec,
    socket_address,
)


class Receiver:
    """The service manager's end: a bound unix datagram socket."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(2.0)

    def fields(self) -> list[str]:
        return self.sock.recv(4096).decode().split("\n")

    def nothing_waiting(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recv(4096)
        except BlockingIOError:
            return True
        finally:
            self.sock.settimeout(2.0)
        return False


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A unix socket path must fit in 108 bytes: pytest's tmp_path may not."""
    with tempfile.TemporaryDirectory(prefix="notify.") as found:
        yield Path(found)


def test_addresses() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@dnsfence/notify") == "\0dnsfence/notify"
    for unusable in ("", "@", "vsock:2:1234", "relative/path"):
        assert socket_address(unusable) is None


def test_ready_to_a_path_carries_status_and_mainpid(short_dir: Path) -> None:
    receiver = Receiver(str(short_dir / "notify"))
    manager = ServiceManager(str(short_dir / "notify"))
    assert manager.enabled
    assert manager.ready("serving DNS\non 127.0.0.1:53") is True
    # STATUS= is one line: a newline would start another field
    assert receiver.fields() == ["READY=1", "STATUS=serving DNS on 127.0.0.1:53",
                                 f"MAINPID={os.getpid()}"]


def test_an_abstract_name_from_the_environment_is_used_and_taken_out() -> None:
    name = f"dnsfence-test-{secrets.token_hex(8)}"
    receiver = Receiver("\0" + name)
    environ = {NOTIFY_SOCKET: f"@{name}", "PATH": "/usr/bin"}
    manager = ServiceManager.from_environment(environ)
    assert environ == {"PATH": "/usr/bin"}  # children do not inherit it
    assert manager.stopping("stopping") is True
    assert receiver.fields() == ["STOPPING=1", "STATUS=stopping"]
    assert manager.status("worker 1/2 died") is True
    assert receiver.fields() == ["STATUS=worker 1/2 died"]


def test_the_process_environment_loses_notify_socket(monkeypatch: pytest.MonkeyPatch,
                                                     short_dir: Path) -> None:
    monkeypatch.setenv(NOTIFY_SOCKET, str(short_dir / "notify"))
    manager = ServiceManager.from_environment()
    assert manager.address == str(short_dir / "notify")
    assert NOTIFY_SOCKET not in os.environ


def test_reloading_carries_the_monotonic_clock(short_dir: Path) -> None:
    receiver = Receiver(str(short_dir / "notify"))
    before = monotonic_usec()
    assert ServiceManager(str(short_dir / "notify")).reloading("reloading") is True
    after = monotonic_usec()
    first, clock, status = receiver.fields()
    assert (first, status) == ("RELOADING=1", "STATUS=reloading")
    key, _, value = clock.partition("=")
    assert key == "MONOTONIC_USEC" and before <= int(value) <= after
    # the same clock systemd reads: CLOCK_MONOTONIC, in microseconds
    assert abs(int(value) - time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6) < 5e6


def test_without_a_manager_nothing_is_sent() -> None:
    manager = ServiceManager.from_environment({})
    assert not manager.enabled
    assert manager.ready("serving") is False
    assert manager.notify("READY=1") is False


def test_an_unusable_value_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dnsfence"):
        manager = ServiceManager.from_environment({NOTIFY_SOCKET: "vsock:2:1234"})
    assert not manager.enabled
    assert "NOTIFY_SOCKET=vsock:2:1234" in caplog.text


def test_a_manager_that_is_gone_is_logged_not_raised(short_dir: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver(str(short_dir / "notify"))
    receiver.sock.close()
    (short_dir / "notify").unlink()
    with caplog.at_level(logging.WARNING, logger="dnsfence"):
        assert ServiceManager(str(short_dir / "notify")).ready("serving") is False
    assert "could not notify the service manager (READY=1)" in caplog.text


def test_a_full_manager_socket_costs_at_most_the_send_timeout(
        short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("resolver.service_manager.SEND_TIMEOUT", 0.2)
    receiver = Receiver(str(short_dir / "notify"))
    manager = ServiceManager(str(short_dir / "notify"))
    sent = 0
    while manager.status("x" * 1000):  # nobody reads: the queue fills, then sends time out
        sent += 1
        assert sent < 100_000
    started = time.monotonic()
    assert manager.ready("serving") is False
    assert time.monotonic() - started < 1.0
    assert not receiver.nothing_waiting()
