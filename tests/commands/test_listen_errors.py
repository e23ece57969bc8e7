"""The start-up error for a DNS address that cannot be bound: the address, the system's
words, and for port 53 or a wildcard address the systemd-resolved stub listener and what to
configure instead. (The real server's message: tests/integration/test_port_in_use.py.)"""

from __future__ import annotations

import errno
import os
import socket

import pytest

from resolver.commands.listen_errors import RESOLVED_STUB, cannot_listen
from resolver.config.endpoints import Endpoint


def error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


@pytest.mark.parametrize("endpoint", [Endpoint("0.0.0.0", 53), Endpoint("::", 53),
                                      Endpoint("192.0.2.10", 53), Endpoint("0.0.0.0", 5353)],
                         ids=str)
def test_port_53_or_a_wildcard_in_use_names_the_resolved_stub(endpoint: Endpoint) -> None:
    text = cannot_listen(endpoint, error(errno.EADDRINUSE))
    assert text.startswith(f"dnsfence: not started: cannot listen on {endpoint}: "
                           "Address already in use; another DNS server holds the port")
    assert f"ss -lntup 'sport = :{endpoint.port}'" in text
    assert text.endswith(RESOLVED_STUB)
    for advice in ("127.0.0.53:53", "127.0.0.54:53", "host's LAN addresses",
                   'server.listen: ["192.0.2.10:53"]', "DNSStubListener=no",
                   "/etc/systemd/resolved.conf"):
        assert advice in text


def test_another_port_in_use_on_one_address_names_no_resolver() -> None:
    text = cannot_listen(Endpoint("127.0.0.1", 5300), error(errno.EADDRINUSE))
    assert text == ("dnsfence: not started: cannot listen on 127.0.0.1:5300: Address already "
                    "in use; another program holds the port (`ss -lntup 'sport = :5300'` "
                    "shows which program holds the port)")


def test_a_v6_address_is_shown_in_brackets() -> None:
    text = cannot_listen(Endpoint("::1", 5300), error(errno.EADDRINUSE))
    assert "cannot listen on [::1]:5300: " in text and "resolved" not in text


def test_a_low_port_without_the_capability() -> None:
    text = cannot_listen(Endpoint("0.0.0.0", 53), error(errno.EACCES))
    assert text == ("dnsfence: not started: cannot listen on 0.0.0.0:53: Permission denied "
                    "(ports below 1024 need root or CAP_NET_BIND_SERVICE)")


def test_an_address_the_host_does_not_have() -> None:
    text = cannot_listen(Endpoint("192.0.2.1", 53), error(errno.EADDRNOTAVAIL))
    assert text.endswith("(no interface of this host has that address)")
    assert "resolved" not in text


def test_the_kernel_s_own_error_for_a_taken_port() -> None:
    """The errno `cannot_listen` looks for is the one a real bind gives."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second, \
                pytest.raises(OSError) as caught:
            second.bind(("127.0.0.1", port))
    text = cannot_listen(Endpoint("127.0.0.1", port), caught.value)
    assert caught.value.errno == errno.EADDRINUSE
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use; another program" in text
