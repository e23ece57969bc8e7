"""Reading the shipped container files as Docker and Compose read them, without Docker:
Dockerfile instructions, the compose service, `.dockerignore` patterns, and the shipped
config with the container's paths and ports moved into a test directory."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERIGNORE = REPO / ".dockerignore"
DEPLOY_CONFIG = REPO / "deploy" / "dnsfence.yaml"
SERVICE = "dnsfence"

# -- Dockerfile -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    args: str
    line: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined; comments and blank lines dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored by Docker
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        keyword, _, args = " ".join(part for part in pending if part).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        pending = []
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def dockerfile() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


def command_argv(args: str) -> list[str]:
    """Exec form (JSON array) as is; shell form as Docker runs it."""
    if args.startswith("["):
        value = json.loads(args)
        assert isinstance(value, list) and all(isinstance(item, str) for item in value)
        return value
    return ["/bin/sh", "-c", args]


def only(instructions: list[Instruction], keyword: str) -> Instruction:
    """The instruction that takes effect (Docker uses the last of ENTRYPOINT, CMD, ...)."""
    found = [i for i in instructions if i.keyword == keyword]
    assert found, f"Dockerfile has no {keyword}"
    return found[-1]


@dataclass(frozen=True, slots=True)
class Healthcheck:
    argv: list[str]
    options: dict[str, str]


def dockerfile_healthcheck(instructions: list[Instruction]) -> Healthcheck:
    args = only(instructions, "HEALTHCHECK").args
    options: dict[str, str] = {}
    while args.startswith("--"):
        option, _, args = args.partition(" ")
        key, _, value = option[2:].partition("=")
        options[key] = value
        args = args.lstrip()
    kind, _, rest = args.partition(" ")
    assert kind == "CMD", f"HEALTHCHECK must be CMD ..., got {kind!r}"
    return Healthcheck(command_argv(rest.strip()), options)


def seconds(duration: str) -> float:
    """A Docker/Compose duration (`1m30s`, `5s`, `250ms`) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(number) * scale[unit] for number, unit in parts)


# -- docker-compose.yml -----------------------------------------------------------------------


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR-default}` substitution."""
    def value(match: re.Match[str]) -> str:
        name, dash, default = match["name"], match["dash"], match["default"] or ""
        if dash == ":-":
            return env.get(name) or default
        if dash == "-":
            return env.get(name, default)
        return env.get(name, "")
    return re.sub(r"\$\{(?P<name>\w+)(?:(?P<dash>:?-)(?P<default>[^}]*))?\}", value, text)


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    text = interpolate(COMPOSE_FILE.read_text(), {} if env is None else env)
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


def compose_service(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    service = compose(env)["services"][SERVICE]
    assert isinstance(service, dict)
    return service


def compose_healthcheck(service: dict[str, Any]) -> Healthcheck:
    check = service["healthcheck"]
    test = check["test"]
    if isinstance(test, str):
        argv = ["/bin/sh", "-c", test]
    elif test[0] == "CMD-SHELL":
        argv = ["/bin/sh", "-c", test[1]]
    else:
        assert test[0] == "CMD", f"healthcheck.test must start with CMD, got {test[0]!r}"
        argv = list(test[1:])
    keys = {"interval": "interval", "timeout": "timeout", "start_period": "start-period",
            "start_interval": "start-interval"}
    options = {flag: str(check[key]) for key, flag in keys.items() if key in check}
    if "retries" in check:
        options["retries"] = str(check["retries"])
    return Healthcheck(argv, options)


@dataclass(frozen=True, slots=True)
class Mount:
    source: str
    target: str
    read_only: bool


def compose_mounts(service: dict[str, Any]) -> list[Mount]:
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            mounts.append(Mount(source, target, "ro" in ",".join(mode).split(",")))
        else:
            mounts.append(Mount(volume["source"], volume["target"], bool(volume.get("read_only"))))
    return mounts


def compose_ports(service: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """(host address, published, target, protocol) for each published port."""
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.add((port.get("host_ip", ""), str(port["published"]), str(port["target"]),
                       port.get("protocol", "tcp")))
            continue
        mapping, _, protocol = str(port).partition("/")
        *host, published, target = mapping.rsplit(":", 2)
        ports.add((host[0] if host else "", published, target, protocol or "tcp"))
    return ports


def effective_argv(service: dict[str, Any], instructions: list[Instruction]) -> list[str]:
    """The argv the container runs: compose entrypoint/command over the image's.

    As in Docker, setting `entrypoint` in compose also drops the image's CMD.
    """

    def as_list(value: str | list[str]) -> list[str]:
        return shlex.split(value) if isinstance(value, str) else list(value)

    if "entrypoint" in service:
        entrypoint = as_list(service["entrypoint"])
        command = as_list(service.get("command", []))
    else:
        entrypoint = command_argv(only(instructions, "ENTRYPOINT").args)
        if "command" in service:
            command = as_list(service["command"])
        else:
            command = command_argv(only(instructions, "CMD").args)
    return entrypoint + command


def config_mount(service: dict[str, Any]) -> Mount:
    found = [m for m in compose_mounts(service) if m.source.endswith("deploy/dnsfence.yaml")]
    assert len(found) == 1, "docker-compose.yml must mount ./deploy/dnsfence.yaml once"
    return found[0]


def blocklists_mount(service: dict[str, Any]) -> Mount:
    found = [m for m in compose_mounts(service) if m.source.rstrip("/").endswith("blocklists")]
    assert len(found) == 1, "docker-compose.yml must mount ./blocklists once"
    return found[0]


# -- .dockerignore ----------------------------------------------------------------------------


def dockerignore_rules(text: str) -> list[tuple[bool, str]]:
    """(exclude?, pattern) in order; `!` re-includes. Patterns are cleaned as Docker does
    (leading `/` and `./` dropped)."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((exclude, pattern))
    return rules


def _matches(pattern: str, path: str) -> bool:
    """Go's filepath.Match (`*`, `?`, `[...]`, `[^...]`) as Docker uses it, plus `**` (any
    number of directories); a pattern that matches a directory matches all inside it."""
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex, index = regex + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            regex, index = regex + ".*", index + 2
        elif pattern[index] == "*":
            regex, index = regex + "[^/]*", index + 1
        elif pattern[index] == "?":
            regex, index = regex + "[^/]", index + 1
        elif pattern[index] == "[":
            end = pattern.index("]", index + 2)
            members = pattern[index + 1:end]
            negate = members.startswith("^")
            members = re.escape(members[1:] if negate else members).replace("\\-", "-")
            regex, index = regex + f"[{'^' if negate else ''}{members}]", end + 1
        else:
            regex, index = regex + re.escape(pattern[index]), index + 1
    return re.fullmatch(regex + "(?:/.*)?", path) is not None


def excluded(rules: list[tuple[bool, str]], path: str) -> bool:
    """Whether `path` (relative, with `/`) stays out of the build context: the last rule
    that matches decides, as in Docker."""
    verdict = False
    for exclude, pattern in rules:
        if _matches(pattern, path):
            verdict = exclude
    return verdict


def _may_hold_included(rules: list[tuple[bool, str]], directory: str) -> bool:
    """Whether a later `!` rule could let in something inside an excluded directory (so
    Docker has to look inside it, as it does)."""
    return any(not exclude and (pattern.startswith(directory + "/")
                                or any(c in pattern for c in "*?["))
               for exclude, pattern in rules)


def build_context(destination: Path) -> list[str]:
    """Copy the files Docker sends as the build context (every file under the repository,
    filtered by `.dockerignore`) to `destination`; their paths."""
    rules = dockerignore_rules(DOCKERIGNORE.read_text())
    kept = []
    for directory, subdirectories, names in os.walk(REPO):
        relative = Path(directory).relative_to(REPO).as_posix()
        prefix = "" if relative == "." else relative + "/"
        subdirectories[:] = [d for d in subdirectories
                             if not excluded(rules, prefix + d)
                             or _may_hold_included(rules, prefix + d)]
        kept += [prefix + name for name in names if not excluded(rules, prefix + name)]
    for path in kept:
        (destination / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, destination / path)
    return sorted(kept)


# -- the shipped config, moved into a test directory ------------------------------------------


@dataclass(frozen=True, slots=True)
class ContainerFiles:
    """Where the container's paths are, here: the config file and each mount's source."""

    config: Path
    paths: dict[str, Path]  # container path -> directory here

    def __getitem__(self, container_path: str) -> Path:
        return self.paths[container_path]


def container_config(root: Path, *, dns_port: int, http_port: int | None,
                     upstream: str, changes: Mapping[str, Mapping[str, Any]] = {}
                     ) -> ContainerFiles:
    """deploy/dnsfence.yaml as the container sees it, with each compose mount target
    moved under `root`, DNS on 127.0.0.1:`dns_port` (the container's loopback is this
    host's here), /healthz on 127.0.0.1:`http_port` (None: HTTP off), `upstream` as the
    upstream, and `changes` ({section: {key: value}}) applied; all else as shipped."""
    service = compose_service()
    paths = {}
    for mount in compose_mounts(service):
        if mount.target != config_mount(service).target:
            paths[mount.target] = root / mount.target.strip("/").replace("/", "_")
            paths[mount.target].mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(DEPLOY_CONFIG.read_text())
    config["blocklists"] = str(paths[config["blocklists"]])
    config["state_dir"] = str(paths[config["state_dir"]])
    config["lists"]["cache_dir"] = str(paths[config["lists"]["cache_dir"]])
    config["server"]["listen"] = [f"127.0.0.1:{dns_port}"]
    config["upstream"]["servers"] = [upstream]
    config["http"]["listen"] = "" if http_port is None else f"127.0.0.1:{http_port}"
    for section, values in changes.items():
        config.setdefault(section, {}).update(values)
    path = root / "dnsfence.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return ContainerFiles(path, paths)


def healthcheck_argv(files: ContainerFiles, program: list[str]) -> list[str]:
    """The Dockerfile's HEALTHCHECK command, `dnsfence` being `program` and the mounted
    config file being `files.config`."""
    argv = dockerfile_healthcheck(dockerfile()).argv
    target = config_mount(compose_service()).target
    assert argv[0] == "dnsfence", argv
    return [*program, *(str(files.config) if arg == target else arg for arg in argv[1:])]
