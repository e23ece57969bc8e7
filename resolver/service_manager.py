"""Telling the service manager how the server is doing: sd_notify(3) over $NOTIFY_SOCKET.

Under systemd's `Type=notify` the unit counts as started only when the server says
READY=1, so whatever is ordered after it (and `systemctl start` itself) waits until DNS is
answered; RELOADING=1 and STOPPING=1 show a reload or a stop under way, and STATUS= is the
line `systemctl status` prints. The protocol is one datagram of `KEY=VALUE` lines to a unix
socket (a path, or an abstract name written `@name`), so the standard library is enough.

Without NOTIFY_SOCKET (not started by systemd, or another Type=) every call does nothing,
and a send that fails is logged, never raised: telling the manager must not stop DNS.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import MutableMapping
from dataclasses import dataclass

log = logging.getLogger("dnsfence")

NOTIFY_SOCKET = "NOTIFY_SOCKET"
SEND_TIMEOUT = 1.0
"""Seconds a notification may wait for room in the manager's socket before it is dropped."""


def socket_address(value: str) -> str | None:
    """NOTIFY_SOCKET as an AF_UNIX address: a path as is, `@name` as the abstract name
    (a leading NUL byte); None for what cannot be a unix socket here (empty, or systemd's
    `vsock:` form for virtual machines)."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    return None


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, as systemd reads MONOTONIC_USEC= with RELOADING=1."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class ServiceManager:
    """Where notifications go (None: nowhere, every call is a no-op)."""

    address: str | None

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str] | None = None
                         ) -> ServiceManager:
        """The manager named by NOTIFY_SOCKET, which is taken out of the environment (as
        sd_notify's unset_environment does): workers and anything they start are not the
        main process, and under NotifyAccess=main what they sent would be dropped."""
        found = (os.environ if environ is None else environ).pop(NOTIFY_SOCKET, "")
        address = socket_address(found)
        if found and address is None:
            log.warning("dnsfence: NOTIFY_SOCKET=%s is not a unix socket path or @name; "
                        "the service manager will not be told when dnsfence is ready", found)
        return cls(address)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send `KEY=VALUE` fields as one datagram; whether it was sent."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.settimeout(SEND_TIMEOUT)
                sock.sendto("\n".join(fields).encode(), self.address)
        except OSError as exc:
            log.warning("dnsfence: could not notify the service manager (%s): %s",
                        fields[0] if fields else "", exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        """Serving: every worker answers DNS (at start, and after a reload)."""
        return self.notify("READY=1", f"STATUS={_one_line(status)}", f"MAINPID={os.getpid()}")

    def reloading(self, status: str) -> bool:
        """A reload has begun; READY=1 follows once it is applied (or has failed)."""
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}",
                           f"STATUS={_one_line(status)}")

    def stopping(self, status: str) -> bool:
        return self.notify("STOPPING=1", f"STATUS={_one_line(status)}")

    def status(self, status: str) -> bool:
        """A line for `systemctl status`, changing nothing else."""
        return self.notify(f"STATUS={_one_line(status)}")
