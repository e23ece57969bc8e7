"""`http:`: loopback on CoreDNS's metrics port unless the admin says otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config import http
from resolver.config.endpoints import Endpoint
from resolver.config.http import TOKEN_ENV, HttpConfig, TokenError, access_token
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


def test_the_token_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    token = "0123456789abcdef0123"
    loopback = HttpConfig(Endpoint("127.0.0.1", 9153))
    assert access_token(loopback, {}) is None  # loopback needs none
    (tmp_path / "token").write_text(token + "\n")
    config = load_config(write_config(tmp_path, "http:\n  token_file: token\n"))
    assert config.http.token_file == tmp_path / "token"  # relative to the config file
    assert access_token(config.http, {}) == token
    assert access_token(config.http, {TOKEN_ENV: "f" * 32}) == "f" * 32  # the env wins
    (tmp_path / "token").write_text("short\n")
    with pytest.raises(TokenError, match="at least 16 characters"):
        access_token(config.http, {})
    missing = HttpConfig(Endpoint("127.0.0.1", 9153), token_file=tmp_path / "none")
    with pytest.raises(TokenError, match="cannot read the HTTP token file"):
        access_token(missing, {})


def test_anything_but_loopback_needs_a_token() -> None:
    for host in ("0.0.0.0", "::", "10.0.0.2"):
        with pytest.raises(TokenError) as raised:
            access_token(HttpConfig(Endpoint(host, 9153)), {})
        assert "not loopback" in str(raised.value) and TOKEN_ENV in str(raised.value)
        assert "http.token_file" in str(raised.value)
    for host in ("127.0.0.2", "::1"):
        assert access_token(HttpConfig(Endpoint(host, 9153)), {}) is None
    assert access_token(HttpConfig(Endpoint("0.0.0.0", 9153)), {TOKEN_ENV: "x" * 20}) == "x" * 20
    # without the dashboard, /metrics and /healthz alone are served off loopback as before
    assert access_token(HttpConfig(Endpoint("0.0.0.0", 9153), dashboard=False), {}) is None
