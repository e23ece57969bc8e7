"""Reading the config file: defaults, paths relative to the file, every problem at its file:line."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, config_errors, write_config


def test_defaults() -> None:
    config = defaults()
    assert config.blocklists == Path("blocklists")
    assert config.timezone == "UTC"
    assert config.server.listen == (Endpoint("127.0.0.1", 5353),)
    assert ipaddress.ip_network("10.0.0.0/8") in config.server.allow_clients
    assert ipaddress.ip_network("::1/128") in config.server.allow_clients
    assert config.server.workers == "auto"
    assert config.server.worker_count == len(os.sched_getaffinity(0))
    assert config.server.edns_udp_size == 1232
    assert config.upstream.servers == ()
    assert (config.upstream.timeout, config.upstream.deadline) == (1.0, 3.0)
    assert config.cache.max_entries == 100_000
    assert config.blocking.negative_ttl == 60
    assert config.source is None


def test_an_empty_file_means_the_defaults_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, ""))
    assert config == defaults().with_overrides(
        blocklists=tmp_path / "blocklists", state_dir=tmp_path / ".dnsfence-state",
        **{"lists.cache_dir": tmp_path / ".dnsfence-cache"})
    assert config.source == tmp_path / "dnsfence.yaml"


def test_a_full_file(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, """
        blocklists: lists
        timezone: Europe/Brussels
        server:
          listen: ["192.0.2.53:53", "[2001:db8::53]:5353", "::1"]
          allow_clients: 10.0.0.0/8
          workers: 4
          tcp_idle_timeout: 2.5
        upstream:
          servers: [9.9.9.9]
          timeout: 0.5
        cache:
          max_entries: 0
        blocking:
          negative_ttl: 300
    """))
    assert config.blocklists == tmp_path / "lists"
    assert config.timezone == "Europe/Brussels"
    assert config.server.listen == (Endpoint("192.0.2.53", 53), Endpoint("2001:db8::53", 5353),
                                    Endpoint("::1", 53))
    assert config.server.allow_clients == (ipaddress.ip_network("10.0.0.0/8"),)
    assert config.server.workers == 4
    assert config.server.tcp_idle_timeout == 2.5
    assert config.upstream.servers == (Endpoint("9.9.9.9", 53),)
    assert config.upstream.timeout == 0.5
    assert config.upstream.deadline == 3.0
    assert config.cache.max_entries == 0
    assert config.blocking.negative_ttl == 300


def test_blocklists_is_relative_to_the_config_file_unless_absolute(tmp_path: Path) -> None:
    nested = tmp_path / "etc"
    nested.mkdir()
    assert load_config(write_config(nested, "blocklists: ../lists\n")).blocklists == \
        nested / "../lists"
    absolute = tmp_path / "abs"
    assert load_config(write_config(nested, f"blocklists: {absolute}\n")).blocklists == absolute


def test_unknown_keys_suggest_the_known_one(tmp_path: Path) -> None:
    path = write_config(tmp_path, """
        blocklist: lists
        server:
          listen: 127.0.0.1:53
          worker: 2
        upstreams:
          servers: [9.9.9.9]
    """)
    assert config_errors(path) == [
        "dnsfence.yaml:1:1: unknown key 'blocklist' in the config; did you mean 'blocklists'?",
        "dnsfence.yaml:4:3: unknown key 'worker' in `server`; did you mean 'workers'?",
        "dnsfence.yaml:5:1: unknown key 'upstreams' in the config; did you mean 'upstream'?",
    ]


def test_duplicate_keys_and_yaml_syntax_errors(tmp_path: Path) -> None:
    assert_config_error(write_config(tmp_path, "timezone: UTC\ntimezone: Europe/Brussels\n"),
                        "dnsfence.yaml:2:1", "given twice", "first on line 1")
    assert_config_error(write_config(tmp_path, "server:\n  listen: [127.0.0.1\n"),
                        "dnsfence.yaml:3:1", "YAML syntax error")
    assert_config_error(write_config(tmp_path, "- a\n- b\n"), "dnsfence.yaml:1:1",
                        "must be a mapping")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write_config(tmp_path, """
        timezone: Nowhere/Special
        server:
          workers: 0
        cache:
          max_ttl: forever
    """)
    assert [e.split(": ")[0] for e in config_errors(path)] == [
        "dnsfence.yaml:1:11", "dnsfence.yaml:3:12", "dnsfence.yaml:5:12"]


def test_a_missing_file(tmp_path: Path) -> None:
    errors = config_errors(tmp_path / "nowhere.yaml")
    assert len(errors) == 1 and "cannot read config file" in errors[0]


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ("server: 53\n", "dnsfence.yaml:1:9", ["`server` must be a mapping"]),
    ],
    ids=["section-not-mapping"],
)
def test_every_setting_is_validated_with_file_line_and_column(
    tmp_path: Path, text: str, at: str, words: list[str]
) -> None:
    assert_config_error(write_config(tmp_path, text), at, *words)
