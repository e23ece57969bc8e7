"""`upstream:`: servers, timeout and deadline."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config import upstream
from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, write_config


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ("upstream:\n  servers: [resolver.example]\n", "dnsfence.yaml:2:12",
         ["`upstream.servers`", "host names are not resolved"]),
        ("upstream:\n  timeout: 0\n", "dnsfence.yaml:2:12",
         ["`upstream.timeout`", "between 0.01 and 30"]),
        ("upstream:\n  deadline: -1\n", "dnsfence.yaml:2:13", ["`upstream.deadline`"]),
        ("upstream:\n  timeout: 5\n", "dnsfence.yaml:2:12",
         ["`upstream.timeout` (5.0) is larger than `upstream.deadline` (3.0)"]),
    ],
    ids=["upstream-name", "upstream-timeout", "upstream-deadline", "timeout-after-deadline"],
)
def test_every_setting_is_validated_with_file_line_and_column(
    tmp_path: Path, text: str, at: str, words: list[str]
) -> None:
    assert_config_error(write_config(tmp_path, text), at, *words)


def test_every_row_is_a_field_of_the_section() -> None:
    assert [s.key for s in upstream.SETTINGS] == list(upstream.UpstreamConfig.__dataclass_fields__)


def test_defaults_leave_the_servers_to_resolv_conf() -> None:
    assert defaults().upstream == upstream.UpstreamConfig((), 1.0, 3.0)


def test_servers_take_ports_and_ipv6(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, """
        upstream:
          servers: ["192.0.2.1:5353", "[2001:db8::1]:53", "2001:db8::2"]
          timeout: 2
          deadline: 2
    """)).upstream
    assert config.servers == (Endpoint("192.0.2.1", 5353), Endpoint("2001:db8::1", 53),
                              Endpoint("2001:db8::2", 53))
    assert (config.timeout, config.deadline) == (2.0, 2.0)  # equal is allowed


def test_the_deadline_is_ordered_after_the_timeout() -> None:
    ((low, high, why),) = upstream.ORDERED
    assert (low, high) == (("upstream", "timeout"), ("upstream", "deadline"))
    assert "deadline" in why
