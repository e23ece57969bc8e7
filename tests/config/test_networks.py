"""Client networks as written in the config: one CIDR or a list, IPv4 and IPv6."""

from __future__ import annotations

import ipaddress

import pytest

from resolver.config.networks import networks


def test_one_network_or_a_list_host_bits_allowed() -> None:
    assert networks("10.1.2.3/8") == (ipaddress.ip_network("10.0.0.0/8"),)
    assert networks(["fd00::/8", "127.0.0.1"]) == (ipaddress.ip_network("fd00::/8"),
                                                   ipaddress.ip_network("127.0.0.1/32"))


def test_a_bad_network_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match=r"write e\.g\. 10\.0\.0\.0/8"):
        networks(["10.0.0.0/33"])
