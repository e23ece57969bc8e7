"""The configuration file: one frozen dataclass per section, each key declared once.

Every key is declared in `SETTINGS` with its default, its help text and its
parser; validation, defaults and the documented example config all come from
that one table (as Pi-hole FTL does), so they cannot drift apart.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from resolver.policy.instants import InstantError, zone
from resolver.policy.load import unknown_key_message
from resolver.policy.model import Location
from resolver.policy.yamlnodes import Problem, YamlSyntaxError, compose, location, mapping_items

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    """An IP address and port; IPv6 shown in brackets."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def family_is_v6(self) -> bool:
        return ":" in self.host


def parse_endpoint(text: str, default_port: int) -> Endpoint:
    """'1.2.3.4', '1.2.3.4:53', '::1', '[::1]:53' -> Endpoint; ValueError otherwise."""
    raw = str(text).strip()
    host, port = raw, default_port
    if raw.startswith("["):
        close = raw.find("]")
        if close < 0:
            raise ValueError(f"{raw!r}: missing ']' after the IPv6 address")
        host, rest = raw[1:close], raw[close + 1:]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{raw!r}: expected ':PORT' after ']'")
            port = _port(rest[1:], raw)
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
        port = _port(port_text, raw)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"{raw!r} is not an IP address (write 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53;"
            " host names are not resolved, to avoid asking DNS where DNS is)"
        ) from None
    return Endpoint(str(address), port)


def _port(text: str, raw: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"{raw!r}: port must be a number from 0 to 65535")
    return int(text)


def _endpoints(default_port: int) -> Callable[[Any], tuple[Endpoint, ...]]:
    def parse(value: Any) -> tuple[Endpoint, ...]:
        items = value if isinstance(value, list) else [value]
        return tuple(parse_endpoint(str(v), default_port) for v in items)
    return parse


def _networks(value: Any) -> tuple[IPNetwork, ...]:
    items = value if isinstance(value, list) else [value]
    try:
        return tuple(ipaddress.ip_network(str(v), strict=False) for v in items)
    except ValueError as exc:
        raise ValueError(f"not a network: {exc} (write e.g. 10.0.0.0/8 or fd00::/8)") from None


def _number(kind: type, low: float, high: float) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, not {value!r}")
        if kind is int and not isinstance(value, int):
            raise ValueError(f"must be a whole number, not {value!r}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}, not {value!r}")
        return kind(value)
    return parse


def parse_workers(value: Any) -> int | str:
    """A worker count, 1..256, or "auto" (one per usable CPU)."""
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
        raise ValueError(f"must be a whole number from 1 to 256, or auto, not {value!r}")
    return value


def usable_cpus(cgroup_root: Path = Path("/sys/fs/cgroup"),
                own_cgroup: Path = Path("/proc/self/cgroup")) -> int:
    """CPUs this process may use: its affinity mask (`taskset`, cpusets), capped by a
    CPU quota (`docker run --cpus`, systemd's CPUQuota=) rounded up."""
    try:
        count = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        count = max(1, os.cpu_count() or 1)
    quota = cpu_quota(cgroup_root, own_cgroup)
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return count


def cpu_quota(cgroup_root: Path, own_cgroup: Path) -> float | None:
    """CPUs' worth of time our cgroup may use per period, or None when unlimited/unknown."""
    try:  # cgroup v2: "0::/system.slice/dnsfence.service" names our group
        lines = own_cgroup.read_text(encoding="ascii").splitlines()
        group = next((line[3:] for line in lines if line.startswith("0::")), None)
    except OSError:
        group = None
    if group is not None:
        try:
            quota, period = (cgroup_root / group.lstrip("/") / "cpu.max").read_text().split()
            return None if quota == "max" else int(quota) / int(period)
        except (OSError, ValueError):
            pass
    try:  # cgroup v1, as a container sees its own group
        quota_us = int((cgroup_root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup_root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def _timezone(value: Any) -> str:
    try:
        zone(str(value))
    except InstantError as exc:
        raise ValueError(str(exc)) from None
    return str(value)


def _path(value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a directory path")
    return Path(value)


DEFAULT_CLIENTS = (
    "127.0.0.0/8", "::1/128",  # loopback
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "100.64.0.0/10",  # RFC 6598 shared address space (carrier-grade NAT)
    "fc00::/7", "fe80::/10", "169.254.0.0/16",  # IPv6 ULA, link-local
)


@dataclass(frozen=True, slots=True)
class Setting:
    """One key: where it lives, its default, what it means, how it is read."""

    section: str
    key: str
    default: Any
    help: str
    parse: Callable[[Any], Any]
    example: Any = None


SETTINGS: tuple[Setting, ...] = (
    Setting("", "blocklists", Path("blocklists"),
            "Directory of blocklist files (*.yaml, *.yml); relative to the config file.", _path,
            "/etc/dnsfence/blocklists"),
    Setting("", "timezone", "UTC",
            "Organisation's IANA time zone: dates without a zone are local midnight here.",
            _timezone, "Europe/Brussels"),
    Setting("server", "listen", (Endpoint("127.0.0.1", 5353),),
            "Addresses to serve DNS on, UDP and TCP (HOST:PORT; IPv6 as [::1]:53).",
            _endpoints(53), ["0.0.0.0:53", "[::]:53"]),
    Setting("server", "allow_clients", tuple(ipaddress.ip_network(n) for n in DEFAULT_CLIENTS),
            "Client networks that may query; others get REFUSED (never an open resolver).",
            _networks, ["10.0.0.0/8", "192.168.0.0/16", "127.0.0.0/8", "::1/128"]),
    Setting("server", "edns_udp_size", 1232,
            "EDNS UDP payload size dnsfence advertises (DNS Flag Day 2020: 1232).",
            _number(int, 512, 4096)),
    Setting("server", "workers", "auto",
            "Worker processes sharing the port (SO_REUSEPORT), each with its own cache; "
            "auto = one per CPU this process may use (affinity mask, CPU quota).",
            parse_workers),
    Setting("server", "tcp_idle_timeout", 10.0,
            "Seconds an idle TCP connection is kept open (RFC 7766).", _number(float, 0.1, 3600)),
    Setting("server", "tcp_max_connections", 512,
            "Open TCP connections at most; further ones are closed at once.",
            _number(int, 1, 100_000)),
    Setting("upstream", "servers", (),
            "Resolvers to forward to, tried in order (default: nameservers in /etc/resolv.conf).",
            _endpoints(53), ["9.9.9.9", "149.112.112.112"]),
    Setting("upstream", "timeout", 1.0,
            "Seconds to wait for one upstream before trying the next.", _number(float, 0.01, 30)),
    Setting("upstream", "deadline", 3.0,
            "Seconds after which the client gets SERVFAIL.", _number(float, 0.05, 60)),
    Setting("cache", "max_entries", 100_000,
            "Answers kept at most (least recently used are dropped); 0 disables the cache.",
            _number(int, 0, 100_000_000)),
    Setting("cache", "min_ttl", 0, "Lower bound on cached TTLs, seconds.",
            _number(int, 0, 86_400)),
    Setting("cache", "max_ttl", 86_400, "Upper bound on cached TTLs, seconds.",
            _number(int, 0, 604_800)),
    Setting("cache", "max_negative_ttl", 3_600,
            "Upper bound on cached NXDOMAIN/NODATA TTLs, seconds (RFC 2308).",
            _number(int, 0, 86_400)),
    Setting("blocking", "negative_ttl", 60,
            "TTL and SOA MINIMUM of blocked answers: how long clients cache the block.",
            _number(int, 0, 86_400)),
    Setting("lists", "cache_dir", Path(".dnsfence-cache"),
            "Where downloaded `url:` sources are kept (last good copy); relative to the config.",
            _path, "/var/cache/dnsfence"),
    Setting("lists", "download_timeout", 30.0,
            "Seconds a download may stall before it fails (the last good copy is kept).",
            _number(float, 1, 600)),
    Setting("lists", "max_download_mb", 64,
            "Largest source download accepted, in MiB.", _number(int, 1, 4096)),
    Setting("lists", "min_keep_ratio", 0.5,
            "A download with fewer than this share of the previous copy's entries is refused.",
            _number(float, 0, 1)),
    Setting("reload", "watch", True,
            "Reload when a blocklist, a source file or this config changes (SIGHUP always works).",
            _boolean),
    Setting("reload", "poll_interval", 0.5,
            "Seconds between checks for changed files (stat only; works on any filesystem).",
            _number(float, 0.05, 60)),
)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: tuple[Endpoint, ...]
    allow_clients: tuple[IPNetwork, ...]
    edns_udp_size: int
    workers: int | str  # a count, or "auto"

    @property
    def worker_count(self) -> int:
        return usable_cpus() if self.workers == "auto" else int(self.workers)
    tcp_idle_timeout: float
    tcp_max_connections: int


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    servers: tuple[Endpoint, ...]
    timeout: float
    deadline: float


@dataclass(frozen=True, slots=True)
class CacheConfig:
    max_entries: int
    min_ttl: int
    max_ttl: int
    max_negative_ttl: int


@dataclass(frozen=True, slots=True)
class BlockingConfig:
    negative_ttl: int


@dataclass(frozen=True, slots=True)
class ListsConfig:
    cache_dir: Path
    download_timeout: float
    max_download_mb: int
    min_keep_ratio: float


@dataclass(frozen=True, slots=True)
class ReloadConfig:
    watch: bool
    poll_interval: float


SECTIONS: dict[str, type] = {
    "server": ServerConfig, "upstream": UpstreamConfig,
    "cache": CacheConfig, "blocking": BlockingConfig, "lists": ListsConfig,
    "reload": ReloadConfig,
}


@dataclass(frozen=True, slots=True)
class Config:
    blocklists: Path
    timezone: str
    server: ServerConfig
    upstream: UpstreamConfig
    cache: CacheConfig
    blocking: BlockingConfig
    lists: ListsConfig
    reload: ReloadConfig
    source: Path | None = field(default=None, compare=False)

    def with_overrides(self, **changes: Any) -> Config:
        """A copy with command-line values (None = not given) applied."""
        top = {k: v for k, v in changes.items() if v is not None and "." not in k}
        result = replace(self, **top)
        for dotted, value in changes.items():
            if value is None or "." not in dotted:
                continue
            section, key = dotted.split(".")
            result = replace(result, **{section: replace(getattr(result, section),
                                                         **{key: value})})
        return result


class ConfigError(Exception):
    """The config file has problems; each names file:line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _build(values: dict[tuple[str, str], Any], source: Path | None) -> Config:
    sections = {}
    for name, cls in SECTIONS.items():
        sections[name] = cls(**{s.key: values.get((name, s.key), s.default)
                                for s in SETTINGS if s.section == name})
    blocklists = values.get(("", "blocklists"), Path("blocklists"))
    if source is not None and not blocklists.is_absolute():
        blocklists = source.parent / blocklists
    cache_dir = sections["lists"].cache_dir
    if source is not None and not cache_dir.is_absolute():
        sections["lists"] = replace(sections["lists"], cache_dir=source.parent / cache_dir)
    return Config(blocklists, values.get(("", "timezone"), "UTC"), source=source, **sections)


def defaults() -> Config:
    return _build({}, None)


def load_config(path: Path) -> Config:
    """Read and validate a config file; ConfigError lists every problem."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(Location(where), f"cannot read config file: {exc.strerror}")])\
            from None
    try:
        root = compose(where, text)
    except YamlSyntaxError as exc:
        raise ConfigError([exc.problem]) from None
    problems: list[Problem] = []
    values: dict[tuple[str, str], Any] = {}
    if root is None:
        return _build(values, path)
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError([Problem(location(where, root), "the config must be a mapping of keys")])
    by_key = {(s.section, s.key): s for s in SETTINGS}
    top_keys = [s.key for s in SETTINGS if not s.section] + list(SECTIONS)
    constructor = SafeConstructor()
    nodes: dict[tuple[str, str], yaml.Node] = {}
    for key, key_node, value_node in mapping_items(where, root, problems):
        if key in SECTIONS:
            if not isinstance(value_node, yaml.MappingNode):
                problems.append(Problem(location(where, value_node),
                                        f"`{key}` must be a mapping of keys"))
                continue
            keys = [s.key for s in SETTINGS if s.section == key]
            for sub, sub_node, sub_value in mapping_items(where, value_node, problems):
                if sub not in keys:
                    problems.append(Problem(location(where, sub_node),
                                            unknown_key_message(sub, keys, f"`{key}`")))
                    continue
                _read(by_key[(key, sub)], sub_value, constructor, where, values, problems)
                nodes[(key, sub)] = sub_value
        elif ("", key) in by_key:
            _read(by_key[("", key)], value_node, constructor, where, values, problems)
        else:
            problems.append(Problem(location(where, key_node),
                                    unknown_key_message(key, top_keys, "the config")))
    problems.extend(_check_pairs(values, nodes, where))
    if problems:
        raise ConfigError(problems)
    return _build(values, path)


# (smaller, larger, why): keys of one section whose values must be in this order.
ORDERED = (
    (("cache", "min_ttl"), ("cache", "max_ttl"), "the lower bound cannot exceed the upper"),
    (("upstream", "timeout"), ("upstream", "deadline"),
     "one upstream's timeout cannot exceed the client's deadline"),
)


def _check_pairs(values: dict[tuple[str, str], Any], nodes: dict[tuple[str, str], yaml.Node],
                 where: str) -> list[Problem]:
    by_key = {(s.section, s.key): s for s in SETTINGS}
    problems = []
    for low, high, why in ORDERED:
        given = [key for key in (low, high) if key in nodes]
        if not given or any(key not in values for key in given):
            continue  # nothing to compare, or the value itself was already reported
        small = values.get(low, by_key[low].default)
        large = values.get(high, by_key[high].default)
        if small > large:
            node = nodes[given[-1]]
            problems.append(Problem(location(where, node), (
                f"`{'.'.join(low)}` ({small}) is larger than `{'.'.join(high)}` ({large}); "
                f"{why}")))
    return problems


def _read(setting: Setting, node: yaml.Node, constructor: SafeConstructor, where: str,
          values: dict[tuple[str, str], Any], problems: list[Problem]) -> None:
    name = f"{setting.section}.{setting.key}" if setting.section else setting.key
    try:
        raw = constructor.construct_object(node, deep=True)
        values[(setting.section, setting.key)] = setting.parse(raw)
    except (ValueError, ConstructorError) as exc:
        problems.append(Problem(location(where, node), f"`{name}`: {exc}"))


def resolv_conf_servers(path: Path = Path("/etc/resolv.conf"),
                        exclude: tuple[Endpoint, ...] = ()) -> tuple[Endpoint, ...]:
    """Nameservers from resolv.conf, minus any that would be dnsfence itself."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                endpoint = parse_endpoint(parts[1].split("%")[0], 53)
            except ValueError:
                continue
            if not any(_is_self(endpoint, own) for own in exclude):
                found.append(endpoint)
    return tuple(found)


def _is_self(candidate: Endpoint, own: Endpoint) -> bool:
    if candidate.port != own.port:
        return False
    if candidate.host == own.host:
        return True
    own_ip = ipaddress.ip_address(own.host)
    return own_ip.is_unspecified and ipaddress.ip_address(candidate.host).is_loopback


def example_config() -> str:
    """The documented example config, generated from SETTINGS."""
    lines = ["# dnsfence configuration. Every key is optional; shown with production values.",
             "# Generated from the SETTINGS table in resolver/config.py."]
    current = None
    for s in SETTINGS:
        if s.section != current:
            current = s.section
            if s.section:
                lines.append(f"\n{s.section}:")
        indent = "  " if s.section else ""
        value = s.example if s.example is not None else _plain(s.default)
        default = _plain(s.default)
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        lines.append(f"{indent}# {s.help} Default: {shown}")
        lines.append(f"{indent}{s.key}: {yaml.safe_dump(value, default_flow_style=True).strip()}"
                     .replace("\n...", ""))
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return value
