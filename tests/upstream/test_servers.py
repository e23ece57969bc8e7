"""Tests for resolver.upstream.servers: what an upstream server may be, and its address."""

from __future__ import annotations

import socket

import pytest

from resolver.upstream.forwarder import Forwarder
from resolver.upstream.servers import UpstreamServer, address_family, same_host, socket_address

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


def test_a_dns_over_tls_upstream_shows_its_scheme_and_name_unless_it_is_the_address() -> None:
    assert str(UpstreamServer("9.9.9.9", 853, "dns.quad9.net")) == "tls://9.9.9.9:853#dns.quad9.net"
    assert str(UpstreamServer("2620:fe::fe", 853, "2620:fe::fe")) == "tls://[2620:fe::fe]:853"
    assert str(UpstreamServer("9.9.9.9")) == "9.9.9.9:53"
    assert UpstreamServer("9.9.9.9", 853, "a.test") != UpstreamServer("9.9.9.9", 853)
    with pytest.raises(ValueError, match="needs the name"):
        UpstreamServer("9.9.9.9", 853, "")


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


def test_socket_addresses_and_families() -> None:
    v4 = socket_address(UpstreamServer("192.0.2.1", 5353))
    assert v4 == ("192.0.2.1", 5353)
    assert address_family(v4) == socket.AF_INET
    v6 = socket_address(UpstreamServer("2001:db8::1"))
    assert v6[:2] == ("2001:db8::1", 53) and len(v6) == 4
    assert address_family(v6) == socket.AF_INET6
    assert str(UpstreamServer("2001:db8::1")) == "[2001:db8::1]:53"
    assert str(UpstreamServer("192.0.2.1", 5353)) == "192.0.2.1:5353"


def test_same_host_compares_addresses_not_spellings() -> None:
    assert same_host("::1", "0:0:0:0:0:0:0:1")
    assert same_host("192.0.2.1", "192.0.2.1")
    assert not same_host("192.0.2.1", "192.0.2.2")
    assert not same_host("not an address", "192.0.2.1")


def test_equal_servers_are_one_key_and_the_text_is_made_once() -> None:
    one, same, other = (UpstreamServer("192.0.2.1", 53), UpstreamServer("192.0.2.1"),
                        UpstreamServer("192.0.2.1", 53, "dns.example"))
    assert one == same and hash(one) == hash(same) and one != other
    counts = {one: 1}
    counts[same] += 1
    assert counts == {UpstreamServer("192.0.2.1"): 2} and other not in counts
    assert str(one) is str(one)  # kept, not formatted per call
    assert repr(one) == "UpstreamServer(host='192.0.2.1', port=53, tls_name=None)"
