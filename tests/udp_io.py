"""What the UDP I/O tests share: the compiled module (a failure under CI when it is not
built, a skip elsewhere), sockets on loopback, and reading what arrives with a bound."""

from __future__ import annotations

import importlib
import select
import socket
import time
from collections.abc import Callable
from types import ModuleType

import pytest

from tests.integration.harness import in_ci

LOOPBACKS = [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]


def batch_module() -> ModuleType:
    """resolver._udp_batch, built by `make build` (or `make venv` with a compiler)."""
    try:
        return importlib.import_module("resolver._udp_batch")
    except ImportError as exc:
        message = f"resolver._udp_batch is not built ({exc}); run `make build`"
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
        pytest.skip(message)


def udp(family: socket.AddressFamily, host: str, *, blocking: bool = False) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(blocking)
    return sock


def arrived(sock: socket.socket, count: int, timeout: float = 2.0) -> list[bytes]:
    """Datagrams read from `sock` until `count` came or `timeout` passed (then fewer)."""
    found: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            break
        while len(found) < count:
            try:
                found.append(sock.recv(65_535))
            except BlockingIOError:
                break
    return found


def quiet_for(sock: socket.socket, seconds: float = 0.05) -> list[bytes]:
    """Whatever is left to read: datagrams until none comes for `seconds`."""
    found: list[bytes] = []
    while select.select([sock], [], [], seconds)[0]:
        found.append(sock.recv(65_535))
    return found


def until(done: Callable[[], bool], step: Callable[[], object], timeout: float = 2.0) -> bool:
    """Calls `step` until `done()` (True) or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        step()
    return True
