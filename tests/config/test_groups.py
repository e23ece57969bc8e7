"""`groups:`: named client networks, read with file:line errors, and a client's groups."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from resolver.config.groups import ClientGroup, client_groups, client_ip, groups_of
from resolver.config.load import defaults, load_config
from resolver.policy.audience import NO_GROUPS
from tests.config.config_files import assert_config_error, write_config


def test_groups_are_read_in_the_order_written(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, """
        groups:
          press-office: 10.1.20.0/24
          guests: [10.9.0.0/16, "2001:db8:9::/48"]
    """))
    assert config.groups == (
        ClientGroup("press-office", (ipaddress.ip_network("10.1.20.0/24"),)),
        ClientGroup("guests", (ipaddress.ip_network("10.9.0.0/16"),
                               ipaddress.ip_network("2001:db8:9::/48"))))
    assert config.group_names == ("press-office", "guests")


def test_no_groups_by_default() -> None:
    assert defaults().groups == ()
    assert defaults().group_names == ()


@pytest.mark.parametrize(("text", "at", "words"), [
    ("groups:\n  press: [10.0.0.0/8]\n  guests: [10.9.0.0/33]\n", "dnsfence.yaml:3:11",
     ["`groups`", "group 'guests'", "not a network"]),
    ("groups:\n  press: [10.0.0.0/8]\n  guests:\n", "dnsfence.yaml:3:3",
     ["group 'guests' has no networks"]),
    ("groups:\n  press office: [10.0.0.0/8]\n", "dnsfence.yaml:2:17",
     ["'press office' is not a group name"]),
    ("groups: [10.0.0.0/8]\n", "dnsfence.yaml:1:9", ["must be a mapping of group names"]),
])
def test_a_bad_group_is_reported_at_its_line(tmp_path: Path, text: str, at: str,
                                             words: list[str]) -> None:
    assert_config_error(write_config(tmp_path, text), at, *words)


def test_a_client_is_in_every_group_whose_network_holds_it() -> None:
    groups = client_groups({"press": ["10.1.20.0/24"], "staff": ["10.0.0.0/8", "fd00::/8"],
                            "guests": "10.9.0.0/16"})
    assert groups_of(groups, ipaddress.ip_address("10.1.20.5")) == {"press", "staff"}
    assert groups_of(groups, ipaddress.ip_address("10.9.1.1")) == {"staff", "guests"}
    assert groups_of(groups, ipaddress.ip_address("fd00::5")) == {"staff"}
    assert groups_of(groups, ipaddress.ip_address("192.0.2.1")) is NO_GROUPS
    assert groups_of(groups, None) is NO_GROUPS
    assert groups_of((), ipaddress.ip_address("10.1.20.5")) is NO_GROUPS


def test_client_ip_drops_the_zone_and_unmaps_ipv4() -> None:
    assert client_ip("fe80::1%eth0") == ipaddress.IPv6Address("fe80::1")
    assert client_ip("::ffff:10.1.2.3") == ipaddress.IPv4Address("10.1.2.3")
    assert client_ip("192.0.2.7") == ipaddress.IPv4Address("192.0.2.7")
    assert client_ip("nonsense") is None
