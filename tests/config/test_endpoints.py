"""Endpoints: IP and port in every written form, never a host name."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config.endpoints import Endpoint, endpoints, parse_endpoint, resolv_conf_servers


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("192.0.2.1", Endpoint("192.0.2.1", 53)),
        ("192.0.2.1:5353", Endpoint("192.0.2.1", 5353)),
        ("::1", Endpoint("::1", 53)),
        ("[2001:db8::1]:853", Endpoint("2001:db8::1", 853)),
        ("[::]", Endpoint("::", 53)),
    ],
)
def test_endpoints(text: str, endpoint: Endpoint) -> None:
    assert parse_endpoint(text, 53) == endpoint


def test_endpoints_show_ipv6_in_brackets() -> None:
    assert str(Endpoint("::1", 53)) == "[::1]:53"
    assert str(Endpoint("127.0.0.1", 53)) == "127.0.0.1:53"


@pytest.mark.parametrize("text", ["dns.example", "[::1", "[::1]53", "1.2.3.4:x", "1.2.3.4:70000"])
def test_bad_endpoints(text: str) -> None:
    with pytest.raises(ValueError):
        parse_endpoint(text, 53)


def test_endpoints_parse_one_value_or_a_list() -> None:
    parse = endpoints(853)
    assert parse("192.0.2.1") == (Endpoint("192.0.2.1", 853),)
    assert parse(["::1", "192.0.2.1:53"]) == (Endpoint("::1", 853), Endpoint("192.0.2.1", 53))
    assert Endpoint("::1", 53).family_is_v6 and not Endpoint("192.0.2.1", 53).family_is_v6


def test_resolv_conf_nameservers_without_dnsfence_itself(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("# comment\nsearch example\nnameserver 192.0.2.1\nnameserver fe80::1%eth0\n"
                    "nameserver resolver.example\nnameserver 127.0.0.1\nnameserver\n"
                    "nameserver ::1\n")
    assert resolv_conf_servers(path) == (Endpoint("192.0.2.1", 53), Endpoint("fe80::1", 53),
                                         Endpoint("127.0.0.1", 53), Endpoint("::1", 53))
    # listening on 127.0.0.1:53 excludes that one; on 0.0.0.0:53 every loopback address
    assert resolv_conf_servers(path, (Endpoint("127.0.0.1", 53),)) == (
        Endpoint("192.0.2.1", 53), Endpoint("fe80::1", 53), Endpoint("::1", 53))
    assert resolv_conf_servers(path, (Endpoint("::", 53),)) == (
        Endpoint("192.0.2.1", 53), Endpoint("fe80::1", 53))
    assert resolv_conf_servers(path, (Endpoint("0.0.0.0", 5353),)) == \
        resolv_conf_servers(path)  # another port is not us
    assert resolv_conf_servers(tmp_path / "missing") == ()
