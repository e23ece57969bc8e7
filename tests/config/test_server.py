"""`server:`: listen addresses, client networks, EDNS size, workers, TCP limits."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from resolver.config import server
from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, write_config


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ("server:\n  listen: dns.example:53\n", "dnsfence.yaml:2:11",
         ["`server.listen`", "not an IP address"]),
        ("server:\n  listen: '127.0.0.1:99999'\n", "dnsfence.yaml:2:11",
         ["`server.listen`", "port must be a number from 0 to 65535"]),
        ("server:\n  allow_clients: [10.0.0.0/33]\n", "dnsfence.yaml:2:18",
         ["`server.allow_clients`", "not a network"]),
        ("server:\n  edns_udp_size: 65535\n", "dnsfence.yaml:2:18",
         ["`server.edns_udp_size`", "between 512 and 4096"]),
        ("server:\n  workers: 2.5\n", "dnsfence.yaml:2:12", ["`server.workers`", "whole number"]),
        ("server:\n  workers: many\n", "dnsfence.yaml:2:12",
         ["`server.workers`", "from 1 to 256, or auto"]),
        ("server:\n  tcp_idle_timeout: soon\n", "dnsfence.yaml:2:21",
         ["`server.tcp_idle_timeout`", "must be a number"]),
        ("server:\n  tcp_max_connections: true\n", "dnsfence.yaml:2:24",
         ["`server.tcp_max_connections`", "must be a number"]),
    ],
    ids=["listen-host-name", "listen-port", "allow-clients", "edns-size", "workers",
         "workers-word", "tcp-idle-timeout", "tcp-max-connections"],
)
def test_every_setting_is_validated_with_file_line_and_column(
    tmp_path: Path, text: str, at: str, words: list[str]
) -> None:
    assert_config_error(write_config(tmp_path, text), at, *words)


def test_every_row_is_a_field_of_the_section() -> None:
    assert [s.key for s in server.SETTINGS] == list(server.ServerConfig.__dataclass_fields__)
    assert {s.section for s in server.SETTINGS} == {"server"}


def test_defaults_listen_on_loopback_and_answer_private_networks_only() -> None:
    config = defaults().server
    assert config.listen == (Endpoint("127.0.0.1", 5353),)
    assert config.allow_clients == tuple(ipaddress.ip_network(n) for n in server.DEFAULT_CLIENTS)
    assert ipaddress.ip_network("0.0.0.0/0") not in config.allow_clients
    assert (config.edns_udp_size, config.tcp_idle_timeout, config.tcp_max_connections) == \
        (1232, 10.0, 512)


@pytest.mark.parametrize("value", [True, 0, 257, "4", 2.0])
def test_workers_outside_1_to_256_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="from 1 to 256, or auto"):
        server.parse_workers(value)


def test_workers_are_a_count_or_auto() -> None:
    assert server.parse_workers("auto") == "auto"
    assert server.parse_workers(1) == 1 and server.parse_workers(256) == 256


def test_worker_count_is_the_given_count_or_one_per_usable_cpu(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "server:\n  workers: 3\n")).server
    assert config.worker_count == 3
    assert defaults().server.worker_count == len(os.sched_getaffinity(0))


def test_networks_take_one_or_many_and_are_not_strict_about_host_bits() -> None:
    assert server.networks("10.1.2.3/8") == (ipaddress.ip_network("10.0.0.0/8"),)
    assert server.networks(["fd00::/8", "192.0.2.1"]) == (
        ipaddress.ip_network("fd00::/8"), ipaddress.ip_network("192.0.2.1/32"))
    with pytest.raises(ValueError, match="not a network"):
        server.networks(["10.0.0.0/8", "everyone"])
