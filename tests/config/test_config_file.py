"""The config file: defaults, every section's validation with file:line, the example config."""

from __future__ import annotations

import ipaddress
import os
import textwrap
from pathlib import Path

import pytest

from resolver.config.cpus import cpu_quota, usable_cpus
from resolver.config.endpoints import Endpoint, parse_endpoint
from resolver.config.example import example_config
from resolver.config.load import ConfigError, defaults, load_config
from resolver.config.settings import SECTIONS, SETTINGS, Config
from resolver.fetch.settings import FetchSettings


def write_config(tmp_path: Path, text: str, name: str = "dnsfence.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def config_errors(path: Path) -> list[str]:
    """Each problem as 'file:line:col: message' with the file's base name."""
    with pytest.raises(ConfigError) as failed:
        load_config(path)
    return [f"{Path(p.location.file).name}:{p.location.line}:{p.location.column}: {p.message}"
            if p.location.column else f"{Path(p.location.file).name}:{p.location.line}: "
            f"{p.message}" for p in failed.value.problems]


def assert_config_error(path: Path, at: str, *words: str) -> None:
    """Exactly one problem, at `at` ('file:line:col'), holding every word."""
    errors = config_errors(path)
    assert len(errors) == 1, errors
    location, _, message = errors[0].partition(": ")
    assert location == at, errors[0]
    assert all(w in message for w in words), errors[0]


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
        blocklists=tmp_path / "blocklists", **{"lists.cache_dir": tmp_path / ".dnsfence-cache"})
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


def test_overrides_replace_only_what_was_given(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "timezone: Asia/Kolkata\n"))
    changed = config.with_overrides(blocklists=Path("/srv/lists"), **{"server.workers": 3,
                                                                     "upstream.servers": None})
    assert changed.blocklists == Path("/srv/lists")
    assert changed.server.workers == 3
    assert changed.timezone == "Asia/Kolkata"
    assert changed.upstream == config.upstream


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ("blocklists: [a, b]\n", "dnsfence.yaml:1:13", ["`blocklists`", "directory path"]),
        ("timezone: Europe/Brusels\n", "dnsfence.yaml:1:11",
         ["`timezone`", "unknown time zone", "did you mean Europe/Brussels?"]),
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
        ("upstream:\n  servers: [resolver.example]\n", "dnsfence.yaml:2:12",
         ["`upstream.servers`", "host names are not resolved"]),
        ("upstream:\n  timeout: 0\n", "dnsfence.yaml:2:12",
         ["`upstream.timeout`", "between 0.01 and 30"]),
        ("upstream:\n  deadline: -1\n", "dnsfence.yaml:2:13", ["`upstream.deadline`"]),
        ("cache:\n  max_entries: -1\n", "dnsfence.yaml:2:16", ["`cache.max_entries`"]),
        ("cache:\n  min_ttl: 60\n  max_ttl: 30\n", "dnsfence.yaml:3:12",
         ["`cache.min_ttl` (60) is larger than `cache.max_ttl` (30)"]),
        ("cache:\n  max_negative_ttl: 1 hour\n", "dnsfence.yaml:2:21",
         ["`cache.max_negative_ttl`", "must be a number"]),
        ("upstream:\n  timeout: 5\n", "dnsfence.yaml:2:12",
         ["`upstream.timeout` (5.0) is larger than `upstream.deadline` (3.0)"]),
        ("blocking:\n  negative_ttl: '60'\n", "dnsfence.yaml:2:17",
         ["`blocking.negative_ttl`", "must be a number"]),
        ("server: 53\n", "dnsfence.yaml:1:9", ["`server` must be a mapping"]),
    ],
    ids=["blocklists", "timezone", "listen-host-name", "listen-port", "allow-clients",
         "edns-size", "workers", "workers-word", "tcp-idle-timeout", "tcp-max-connections",
         "upstream-name",
         "upstream-timeout", "upstream-deadline", "cache-max-entries", "cache-ttl-order",
         "cache-negative-ttl", "timeout-after-deadline", "negative-ttl", "section-not-mapping"],
)
def test_every_setting_is_validated_with_file_line_and_column(
    tmp_path: Path, text: str, at: str, words: list[str]
) -> None:
    assert_config_error(write_config(tmp_path, text), at, *words)


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


def test_the_example_config_loads_with_the_documented_production_values(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, example_config()))
    assert config.blocklists == Path("/etc/dnsfence/blocklists")
    assert config.timezone == "Europe/Brussels"
    assert config.server.listen == (Endpoint("0.0.0.0", 53), Endpoint("::", 53))
    assert config.server.allow_clients == tuple(ipaddress.ip_network(n) for n in (
        "10.0.0.0/8", "192.168.0.0/16", "127.0.0.0/8", "::1/128"))
    assert config.upstream.servers == (Endpoint("9.9.9.9", 53), Endpoint("149.112.112.112", 53))
    # every key: its example where one is documented, else its default
    for setting in SETTINGS:
        section = getattr(config, setting.section) if setting.section else config
        expected = setting.default if setting.example is None else setting.parse(setting.example)
        assert getattr(section, setting.key) == expected, setting.key
    # and each key is explained in a comment just above it
    lines = example_config().splitlines()
    for setting in SETTINGS:
        (line_no,) = [i for i, line in enumerate(lines)
                      if line.strip().startswith(f"{setting.key}:")]
        assert lines[line_no - 1].strip().startswith(f"# {setting.help}"), setting.key


def test_sections_mirror_the_settings_table() -> None:
    declared = {(s.section, s.key) for s in SETTINGS}
    config = defaults()
    found = {("", "blocklists"), ("", "timezone")}
    for section in SECTIONS:
        found |= {(section, key) for key in getattr(config, section).__dataclass_fields__}
    assert found == declared
    assert isinstance(config, Config)


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


def test_the_shipped_example_file_is_the_generated_one() -> None:
    shipped = Path(__file__).resolve().parents[2] / "dnsfence.example.yaml"
    assert shipped.read_text(encoding="utf-8") == example_config(), (
        "regenerate it: python -c 'from resolver.config.example import example_config; "
        "import sys; sys.stdout.write(example_config())' > dnsfence.example.yaml")


def _cgroup_files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(("files", "own", "quota"), [
    ({"system.slice/dnsfence.service/cpu.max": "150000 100000\n"},
     "0::/system.slice/dnsfence.service\n", 1.5),  # systemd CPUQuota=150%
    ({"cpu.max": "max 100000\n"}, "0::/\n", None),  # v2, no limit
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"},
     "4:cpu,cpuacct:/docker/abc\n", 2.0),  # v1 container with --cpus=2
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},
     "4:cpu,cpuacct:/\n", None),  # v1, no limit
    ({}, "", None),  # nothing readable
])
def test_cpu_quota_of_our_cgroup(tmp_path: Path, files: dict[str, str], own: str,
                                 quota: float | None) -> None:
    root = _cgroup_files(tmp_path / "cgroup", files)
    (tmp_path / "self").write_text(own)
    assert cpu_quota(root, tmp_path / "self") == quota


def test_auto_workers_follow_a_cpu_quota(tmp_path: Path) -> None:
    root = _cgroup_files(tmp_path / "cgroup", {"g/cpu.max": "50000 100000\n"})
    (tmp_path / "self").write_text("0::/g\n")
    assert usable_cpus(root, tmp_path / "self") == 1  # half a CPU: one worker
    unlimited = _cgroup_files(tmp_path / "other", {"g/cpu.max": "max 100000\n"})
    assert usable_cpus(unlimited, tmp_path / "self") == len(os.sched_getaffinity(0))


def test_fetch_settings_carry_what_refreshing_sources_needs(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, """
        blocklists: lists
        timezone: Europe/Brussels
        lists:
          cache_dir: /var/cache/dnsfence
          download_timeout: 12
          max_download_mb: 8
          min_keep_ratio: 0.75
        """))
    assert config.fetch_settings() == FetchSettings(
        tmp_path / "lists", "Europe/Brussels", Path("/var/cache/dnsfence"),
        download_timeout=12.0, max_download_mb=8, min_keep_ratio=0.75)
