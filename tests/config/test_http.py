"""`http:`: loopback on CoreDNS's metrics port unless the admin says otherwise."""

from __future__ import annotations

from pathlib import Path

from resolver.config import http
from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, write_config


def test_every_row_is_a_field_of_the_section() -> None:
    assert [s.key for s in http.SETTINGS] == list(http.HttpConfig.__dataclass_fields__)


def test_the_default_is_loopback_9153() -> None:
    assert defaults().http.listen == Endpoint("127.0.0.1", 9153)


def test_empty_or_null_turns_it_off(tmp_path: Path) -> None:
    assert load_config(write_config(tmp_path, "http:\n  listen: ''\n")).http.listen is None
    assert load_config(write_config(tmp_path, "http:\n  listen:\n")).http.listen is None


def test_an_address_without_a_port_takes_9153(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "http:\n  listen: '::1'\n"))
    assert config.http.listen == Endpoint("::1", 9153)
    config = load_config(write_config(tmp_path, "http:\n  listen: 10.0.0.2:8080\n"))
    assert config.http.listen == Endpoint("10.0.0.2", 8080)


def test_a_host_name_or_a_list_is_refused(tmp_path: Path) -> None:
    assert_config_error(write_config(tmp_path, "http:\n  listen: localhost\n"),
                        "dnsfence.yaml:2:11", "`http.listen`", "not an IP address")
    assert_config_error(write_config(tmp_path, "http:\n  listen: [127.0.0.1]\n"),
                        "dnsfence.yaml:2:11", "`http.listen`", "HOST:PORT or empty")
