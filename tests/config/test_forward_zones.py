"""`forward_zones:`: zone names normalised, servers read as `upstream.servers` reads them,
every mistake reported at its own file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config.endpoints import Endpoint
from resolver.config.forward_zones import ForwardZone, forward_zones, zone_name
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, write_config


def test_zones_are_read_in_the_order_written_with_their_servers(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, """
        upstream:
          servers: [192.0.2.53]
        forward_zones:
          corp.example.eu: [10.0.0.10, "10.0.0.11:5353"]
          10.in-addr.arpa: 10.0.0.10
          "2.1.10.in-addr.arpa.": ["[fd00::53]:53"]
    """))
    assert config.forward_zones == (
        ForwardZone("corp.example.eu", (Endpoint("10.0.0.10", 53), Endpoint("10.0.0.11", 5353))),
        ForwardZone("10.in-addr.arpa", (Endpoint("10.0.0.10", 53),)),
        ForwardZone("2.1.10.in-addr.arpa", (Endpoint("fd00::53", 53),)),
    )
    assert config.upstream.servers == (Endpoint("192.0.2.53", 53),), "the upstreams stay"


def test_no_forward_zones_by_default(tmp_path: Path) -> None:
    assert defaults().forward_zones == ()
    assert load_config(write_config(tmp_path, "forward_zones:\n")).forward_zones == ()


@pytest.mark.parametrize(("written", "name"), [
    ("Corp.Example.EU", "corp.example.eu"),
    ("corp.example.eu.", "corp.example.eu"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("_msdcs.corp.example.eu", "_msdcs.corp.example.eu"),
    ("lan", "lan"),
])
def test_zone_names_are_lower_case_a_labels_without_the_trailing_dot(written: str,
                                                                     name: str) -> None:
    assert zone_name(written) == name
    assert forward_zones({written: "10.0.0.10"})[0].name == name


def test_servers_are_read_by_the_parser_of_upstream_servers() -> None:
    """Whatever `upstream.servers` accepts (a form added there later too), a zone accepts."""
    from resolver.config.upstream import SETTINGS
    parse = next(s.parse for s in SETTINGS if s.key == "servers")
    written = ["10.0.0.10", "10.0.0.11:5353", "[fd00::53]:5300", "fd00::54"]
    assert forward_zones({"corp.example.eu": written})[0].servers == parse(written)


@pytest.mark.parametrize(("text", "at", "words"), [
    ("forward_zones:\n  corp.example.eu: [10.0.0.10]\n  lan: [dc1.corp.example.eu]\n",
     "dnsfence.yaml:3:8", ["`forward_zones`", "zone 'lan'", "not an IP address"]),
    ("forward_zones:\n  corp.example.eu: [10.0.0.10]\n  lan: ['10.0.0.10:99999']\n",
     "dnsfence.yaml:3:8", ["zone 'lan'", "port must be a number"]),
    ("forward_zones:\n  corp.example.eu: [10.0.0.10]\n  lan:\n",
     "dnsfence.yaml:3:3", ["zone 'lan' has no servers"]),
    ("forward_zones:\n  corp.example.eu: []\n",
     "dnsfence.yaml:2:3", ["zone 'corp.example.eu' has no servers"]),
    ("forward_zones:\n  corp.example.eu: [10.0.0.10]\n  '.': [10.0.0.10]\n",
     "dnsfence.yaml:3:8", ["the root cannot be a forward zone", "upstream.servers"]),
    ("forward_zones:\n  corp.example.eu: [10.0.0.10]\n  'corp..eu': [10.0.0.10]\n",
     "dnsfence.yaml:3:15", ["'corp..eu' is not a zone name", "empty label"]),
    ("forward_zones:\n  corp.example.eu: [10.0.0.10]\n  http://corp.eu: [10.0.0.10]\n",
     "dnsfence.yaml:3:19", ["looks like a URL"]),
    ("forward_zones:\n  corp.example.eu: [10.0.0.10]\n  Corp.Example.EU.: [10.0.0.11]\n",
     "dnsfence.yaml:3:21", ["zone 'corp.example.eu' is given twice"]),
    ("forward_zones:\n  corp.example.eu: [10.0.0.10]\n  10: [10.0.0.10]\n",
     "dnsfence.yaml:3:7", ["10 is not a zone name", "as text"]),
    ("forward_zones: [corp.example.eu]\n", "dnsfence.yaml:1:16",
     ["must be a mapping of zone names to servers"]),
])
def test_a_bad_zone_is_reported_at_its_line(tmp_path: Path, text: str, at: str,
                                            words: list[str]) -> None:
    assert_config_error(write_config(tmp_path, text), at, *words)


def test_a_zones_servers_may_be_dns_over_tls() -> None:
    (zone,) = forward_zones({"corp.example.eu": ["tls://10.0.0.10#dc1.corp.example.eu",
                                                 "tls://10.0.0.11:8853#dc2.corp.example.eu"]})
    assert zone.servers == (Endpoint("10.0.0.10", 853, "dc1.corp.example.eu"),
                            Endpoint("10.0.0.11", 8853, "dc2.corp.example.eu"))
