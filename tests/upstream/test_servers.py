"""Tests for resolver.upstream.servers: what an upstream server may be, and its address."""

from __future__ import annotations

import socket

import pytest

from resolver.upstream.forwarder import Forwarder
from resolver.upstream.servers import UpstreamServer

from .fake_upstream import (
    LOOPBACK,
    FakeUpstream,
    answering,
    assert_answer,
    run,
)


def test_upstream_must_be_an_address_literal() -> None:
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        UpstreamServer("dns.example")
    with pytest.raises(ValueError, match="port"):
        UpstreamServer(LOOPBACK, 0)


def test_ipv6_loopback_upstream() -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")

    async def scenario() -> None:
        async with FakeUpstream(answering("192.0.2.6"), host="::1") as fake:
            assert_answer(
                await Forwarder([fake.server]).resolve("a.example.", 1, 1, do=False, cd=False),
                "192.0.2.6",
            )

    run(scenario())
