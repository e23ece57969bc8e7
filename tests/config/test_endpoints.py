"""Endpoints: IP and port in every written form, never a host name."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config.endpoints import (
    Endpoint,
    endpoints,
    parse_endpoint,
    parse_server,
    resolv_conf_servers,
    servers,
)
from resolver.config.setting import KeyedValueError


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


@pytest.mark.parametrize(
    ("text", "endpoint", "shown"),
    [
        ("192.0.2.1", Endpoint("192.0.2.1", 53), "192.0.2.1:53"),
        ("[2001:db8::1]:5353", Endpoint("2001:db8::1", 5353), "[2001:db8::1]:5353"),
        ("tls://9.9.9.9#dns.quad9.net", Endpoint("9.9.9.9", 853, "dns.quad9.net"),
         "tls://9.9.9.9:853#dns.quad9.net"),
        ("TLS://9.9.9.9:8853#DNS.Quad9.NET.", Endpoint("9.9.9.9", 8853, "dns.quad9.net"),
         "tls://9.9.9.9:8853#dns.quad9.net"),
        ("tls://[2620:fe::fe]#dns.quad9.net", Endpoint("2620:fe::fe", 853, "dns.quad9.net"),
         "tls://[2620:fe::fe]:853#dns.quad9.net"),
        ("tls://2620:fe::fe", Endpoint("2620:fe::fe", 853, "2620:fe::fe"),
         "tls://[2620:fe::fe]:853"),
        ("tls://1.1.1.1", Endpoint("1.1.1.1", 853, "1.1.1.1"), "tls://1.1.1.1:853"),
        ("tls://1.1.1.1#1.1.1.1", Endpoint("1.1.1.1", 853, "1.1.1.1"), "tls://1.1.1.1:853"),
        ("tls://192.0.2.9#bücher.example", Endpoint("192.0.2.9", 853, "xn--bcher-kva.example"),
         "tls://192.0.2.9:853#xn--bcher-kva.example"),
    ],
)
def test_servers_plain_or_over_tls(text: str, endpoint: Endpoint, shown: str) -> None:
    assert parse_server(text) == endpoint
    assert str(endpoint) == shown
    assert parse_server(shown) == endpoint  # what is shown reads back the same


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("tls://dns.quad9.net", "must be an IP address, its certificate's name after '#' "
                                "(e.g. tls://192.0.2.53#dns.quad9.net)"),
        ("tls://9.9.9.9#", "'' is not a host name"),
        ("tls://9.9.9.9#*.quad9.net", "wildcards"),
        ("tls://9.9.9.9#dns_quad9.net", "no certificate can carry it"),
        ("tls://9.9.9.9:x#dns.quad9.net", "port must be a number"),
        ("tls://9.9.9.9:0#dns.quad9.net", "port 0"),
        ("192.0.2.1:0", "port 0"),
        ("9.9.9.9#dns.quad9.net", "tls://HOST[:PORT]#AUTH-NAME"),
        ("https://9.9.9.9/dns-query", "tls://HOST[:PORT]#AUTH-NAME"),
    ],
)
def test_bad_servers_say_why(text: str, words: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_server(text)
    assert words in str(raised.value)


def test_a_bad_server_in_a_list_is_reported_by_its_index() -> None:
    assert servers("tls://192.0.2.1#a.test") == (Endpoint("192.0.2.1", 853, "a.test"),)
    with pytest.raises(KeyedValueError) as raised:
        servers(["192.0.2.1", "tls://dns.test"])
    assert raised.value.key == 1
