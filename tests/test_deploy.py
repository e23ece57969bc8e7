"""The shipped deployment (Dockerfile, docker-compose.yml, deploy/dnsfence.yaml) is consistent,
and the container health check really works: its Python snippet is run here against a fake
DNS server on loopback. No Docker daemon is needed."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from dnslib import RCODE, DNSRecord

from tests.integration.harness import in_ci

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
COMPOSE_FILE = REPO / "docker-compose.yml"
SERVICE = "dnsfence"

# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


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
    keys = {"interval": "interval", "timeout": "timeout", "start_period": "start-period"}
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


def compose_ports(service: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(published, target, protocol) for each published port."""
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.add((str(port["published"]), str(port["target"]), port.get("protocol", "tcp")))
            continue
        mapping, _, protocol = str(port).partition("/")
        *_, published, target = mapping.split(":")
        ports.add((published, target, protocol or "tcp"))
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


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def service(compose: dict[str, Any]) -> dict[str, Any]:
    services = compose["services"]
    assert isinstance(services[SERVICE], dict)
    return services[SERVICE]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


def config_mount(service: dict[str, Any]) -> Mount:
    found = [m for m in compose_mounts(service) if m.source.endswith("deploy/dnsfence.yaml")]
    assert len(found) == 1, "docker-compose.yml must mount ./deploy/dnsfence.yaml once"
    return found[0]


def blocklists_mount(service: dict[str, Any]) -> Mount:
    found = [m for m in compose_mounts(service) if m.source.rstrip("/").endswith("blocklists")]
    assert len(found) == 1, "docker-compose.yml must mount ./blocklists once"
    return found[0]


# --------------------------------------------------------------------------------------------
# docker-compose.yml
# --------------------------------------------------------------------------------------------


def test_compose_has_exactly_the_dnsfence_service(compose: dict[str, Any]) -> None:
    assert list(compose["services"]) == [SERVICE]
    assert compose["services"][SERVICE]["build"] in (".", {"context": "."})
    assert compose["services"][SERVICE]["image"] == "dnsfence:latest"


def test_compose_publishes_dns_on_udp_and_tcp(service: dict[str, Any]) -> None:
    assert {("53", "53", "udp"), ("53", "53", "tcp")} <= compose_ports(service)


def test_compose_mounts_are_read_only(service: dict[str, Any]) -> None:
    """Files from the repository are mounted read-only; the only writable mounts are the
    named volumes for downloaded list sources, at the config's `lists.cache_dir`, and for
    the query log, at its `state_dir`."""
    mounts = compose_mounts(service)
    assert mounts, "docker-compose.yml mounts nothing"
    from_repo = [m for m in mounts if m.source.startswith((".", "/"))]
    assert from_repo and all(m.read_only for m in from_repo)
    writable = [m for m in mounts if not m.read_only]
    config = yaml.safe_load((REPO / config_mount(service).source).read_text())
    assert [(m.source, m.target) for m in writable] == \
        [("dnsfence-cache", config["lists"]["cache_dir"]),
         ("dnsfence-state", config["state_dir"])]


def test_the_image_lets_its_user_write_the_state_and_cache_directories() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    config = yaml.safe_load((REPO / "deploy" / "dnsfence.yaml").read_text())
    for directory in (config["lists"]["cache_dir"], config["state_dir"]):
        assert re.search(rf"chown dnsfence:dnsfence [^\n]*{re.escape(directory)}", dockerfile), \
            directory


def test_compose_blocklists_source_exists(service: dict[str, Any]) -> None:
    source = REPO / blocklists_mount(service).source
    assert source.is_dir(), f"{source} (mounted by docker-compose.yml) is not a directory"


def test_compose_config_source_exists(service: dict[str, Any]) -> None:
    source = REPO / config_mount(service).source
    if not source.exists():
        pytest.skip(f"{source.relative_to(REPO)} is not written yet; compose mounts it")
    assert source.is_file()


def test_compose_restarts_unless_stopped(service: dict[str, Any]) -> None:
    assert service["restart"] == "unless-stopped"


def test_compose_healthcheck_equals_dockerfile_healthcheck(
    service: dict[str, Any], dockerfile: list[Instruction]
) -> None:
    assert "healthcheck" in service
    assert compose_healthcheck(service) == dockerfile_healthcheck(dockerfile)


def test_compose_runs_dnsfence_serve_with_the_mounted_config(
    service: dict[str, Any], dockerfile: list[Instruction]
) -> None:
    target = config_mount(service).target
    assert effective_argv(service, dockerfile) == ["dnsfence", "serve", "--config", target]


def test_compose_keeps_the_capability_that_binds_port_53(service: dict[str, Any]) -> None:
    # The Dockerfile grants it as a file capability; it must stay in the bounding set.
    assert "NET_BIND_SERVICE" in service.get("cap_add", []) or "cap_drop" not in service
    assert not any("no-new-privileges" in opt for opt in service.get("security_opt", []))


def test_docker_compose_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        message = ("docker-compose is not installed (Debian package docker-compose, which "
                   ".ci/run installs)")
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
        pytest.skip(message)
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------
# deploy/dnsfence.yaml against the mounts
# --------------------------------------------------------------------------------------------


def test_deploy_config_matches_the_mounts(service: dict[str, Any]) -> None:
    source = REPO / config_mount(service).source
    if not source.exists():
        pytest.skip(f"{source.relative_to(REPO)} is not written yet")
    config = yaml.safe_load(source.read_text())
    assert config["blocklists"] == blocklists_mount(service).target
    listen = config["server"]["listen"]
    assert listen and all(str(address).rsplit(":", 1)[1] == "53" for address in listen), (
        f"server.listen {listen} must use port 53, the port the image exposes"
    )


# --------------------------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------------------------


def test_dockerfile_runs_as_a_non_root_user(dockerfile: list[Instruction]) -> None:
    user = only(dockerfile, "USER").args.split(":")[0]
    assert user not in {"root", "0", ""}
    entrypoint = only(dockerfile, "ENTRYPOINT")
    assert only(dockerfile, "USER").line < entrypoint.line


def test_dockerfile_exposes_dns_on_udp_and_tcp(dockerfile: list[Instruction]) -> None:
    exposed = {port for i in dockerfile if i.keyword == "EXPOSE" for port in i.args.split()}
    assert {"53/udp", "53/tcp"} <= exposed


def test_dockerfile_serves_the_config_that_compose_mounts(
    dockerfile: list[Instruction], service: dict[str, Any]
) -> None:
    argv = command_argv(only(dockerfile, "ENTRYPOINT").args) + command_argv(
        only(dockerfile, "CMD").args
    )
    assert argv == ["dnsfence", "serve", "--config", config_mount(service).target]


def test_dockerfile_grants_port_53_to_the_real_interpreter(dockerfile: list[Instruction]) -> None:
    runs = " ".join(i.args for i in dockerfile if i.keyword == "RUN")
    assert "setcap cap_net_bind_service=+ep" in runs
    assert "readlink -f" in runs, "setcap must name the real binary, not the python3 symlink"


def test_dockerfile_copy_sources_exist(dockerfile: list[Instruction]) -> None:
    for copy in (i for i in dockerfile if i.keyword == "COPY"):
        *sources, _ = [part for part in copy.args.split() if not part.startswith("--")]
        for source in sources:
            path = REPO / source
            if source == "deploy/dnsfence.yaml" and not path.exists():
                pytest.skip("deploy/dnsfence.yaml is not written yet; the image copies it")
            assert path.exists(), f"Dockerfile line {copy.line} copies missing {source}"


def test_dockerignore_lets_the_build_inputs_in() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    for needed in ("pyproject.toml", "resolver", "deploy/dnsfence.yaml"):
        assert f"!{needed}" in lines, f".dockerignore (an allow-list) must re-include {needed}"


# --------------------------------------------------------------------------------------------
# The health check, run for real
# --------------------------------------------------------------------------------------------


class FakeDns:
    """A UDP DNS server on 127.0.0.1 answering every query with `rcode` (None: never answers)."""

    def __init__(self, rcode: int | None) -> None:
        self.rcode = rcode
        self.queries: list[str] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            request = DNSRecord.parse(data)
            self.queries.append(str(request.q.qname))
            if self.rcode is None:
                continue
            reply = request.reply()
            reply.header.rcode = self.rcode
            self._socket.sendto(reply.pack(), peer)

    def __enter__(self) -> FakeDns:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._socket.close()


def run_healthcheck(port: int, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    """Run the Dockerfile's health-check command with this interpreter against 127.0.0.1:port."""
    argv = dockerfile_healthcheck(parse_dockerfile(DOCKERFILE.read_text())).argv
    assert argv[0] in {"python", "python3"} and argv[1] == "-c", argv
    env = {**os.environ, "DNSFENCE_HEALTH_HOST": "127.0.0.1", "DNSFENCE_HEALTH_PORT": str(port)}
    return subprocess.run(
        [sys.executable, *argv[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def unused_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def nxdomain_server() -> Iterator[FakeDns]:
    with FakeDns(RCODE.NXDOMAIN) as server:
        yield server


def test_healthcheck_passes_when_the_server_answers_nxdomain_for_a_blocked_name(
    nxdomain_server: FakeDns,
) -> None:
    result = run_healthcheck(nxdomain_server.port)
    assert result.returncode == 0, result.stderr
    assert nxdomain_server.queries == ["tiktok.com."]


def test_healthcheck_fails_when_the_blocked_name_resolves() -> None:
    with FakeDns(RCODE.NOERROR) as server:
        result = run_healthcheck(server.port)
    assert result.returncode != 0


def test_healthcheck_fails_within_its_timeout_when_nothing_listens() -> None:
    started = time.monotonic()
    result = run_healthcheck(unused_udp_port())
    assert result.returncode != 0
    assert time.monotonic() - started < 5.0  # the Dockerfile gives it --timeout=5s


def test_healthcheck_fails_within_its_timeout_when_the_server_is_silent() -> None:
    with FakeDns(None) as server:
        started = time.monotonic()
        result = run_healthcheck(server.port)
    assert result.returncode != 0
    assert time.monotonic() - started < 5.0
    assert server.queries == ["tiktok.com."]


def test_healthcheck_timeout_fits_in_the_docker_timeout(dockerfile: list[Instruction]) -> None:
    check = dockerfile_healthcheck(dockerfile)
    assert "timeout=2" in check.argv[-1]
    assert int(check.options["timeout"].rstrip("s")) > 2


# --------------------------------------------------------------------------------------------
# CI entry point
# --------------------------------------------------------------------------------------------


def test_ci_script_is_valid_bash() -> None:
    result = subprocess.run(
        ["bash", "-n", str(REPO / ".ci" / "run")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
