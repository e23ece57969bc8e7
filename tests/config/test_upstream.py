"""`upstream:`: servers, timeout and deadline."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config import upstream
from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, write_config
from tests.upstream.certificates import authority


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ("upstream:\n  servers: [resolver.example]\n", "dnsfence.yaml:2:13",
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


def test_servers_over_tls_and_a_bad_one_at_its_own_line(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, """
        upstream:
          servers:
            - tls://9.9.9.9#dns.quad9.net
            - tls://[2620:fe::fe]:8853
            - 192.0.2.1
    """)).upstream
    assert config.servers == (Endpoint("9.9.9.9", 853, "dns.quad9.net"),
                              Endpoint("2620:fe::fe", 8853, "2620:fe::fe"),
                              Endpoint("192.0.2.1", 53))
    assert config.ca_file is None  # the system's CAs
    assert_config_error(write_config(tmp_path, """
        upstream:
          servers:
            - 192.0.2.1
            - tls://dns.quad9.net
    """), "dnsfence.yaml:4:7", "`upstream.servers`", "must be an IP address",
        "tls://192.0.2.53#dns.quad9.net")


def test_the_ca_file_is_relative_to_the_config_file_and_must_hold_certificates(
        tmp_path: Path) -> None:
    authority().write(tmp_path / "cas.pem")
    config = load_config(write_config(tmp_path, "upstream:\n  ca_file: cas.pem\n"))
    assert config.upstream.ca_file == tmp_path / "cas.pem"
    assert_config_error(write_config(tmp_path, "upstream:\n  ca_file: missing.pem\n"),
                        "dnsfence.yaml:2:12", "`upstream.ca_file`",
                        f"{tmp_path / 'missing.pem'} does not exist")
    (tmp_path / "empty.pem").write_text("not a certificate\n")
    assert_config_error(write_config(tmp_path, "upstream:\n  ca_file: empty.pem\n"),
                        "dnsfence.yaml:2:12", "holds no usable PEM certificate")
    assert_config_error(write_config(tmp_path, "upstream:\n  ca_file: [a.pem]\n"),
                        "dnsfence.yaml:2:12", "must be a file path")
    assert load_config(write_config(tmp_path, "upstream:\n  ca_file: ''\n")).upstream.ca_file \
        is None
