"""The real `dnsfence serve` run as the container runs it: the shipped config (its paths and
ports moved here), the workers it sets, nothing on the command line but `--config`.

Every test here starts real processes on loopback, so each is marked ``integration``. No
upstream is needed: the health checks and the query-log test never forward a query, and
the configured upstream is a loopback port where nothing listens."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.container.dockerfiles import (
    ContainerFiles,
    container_config,
    dockerfile,
    dockerfile_healthcheck,
    healthcheck_argv,
    seconds,
)
from tests.integration.harness import Dnsfence, child_env, free_port, unused_address

_HERE = Path(__file__).resolve().parent
SOURCE_PROGRAM = [sys.executable, "-m", "resolver"]
DOCKER_TIMEOUT = seconds(dockerfile_healthcheck(dockerfile()).options["timeout"])
"""What Docker gives the health check before it counts as failed."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.resolve().is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True, slots=True)
class Checked:
    status: int
    line: str
    seconds: float


def run_healthcheck(files: ContainerFiles, program: Sequence[str] = SOURCE_PROGRAM,
                    env: Mapping[str, str] | None = None) -> Checked:
    """The Dockerfile's HEALTHCHECK command, once; `program` stands for `dnsfence`."""
    started = time.monotonic()
    done = subprocess.run(healthcheck_argv(files, list(program)), capture_output=True,
                          text=True, timeout=DOCKER_TIMEOUT + 10, check=False,
                          env=child_env() if env is None else dict(env),
                          cwd=files.config.parent)
    elapsed = time.monotonic() - started
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and not done.stderr, (done.stdout, done.stderr)
    return Checked(done.returncode, lines[0], elapsed)


def wait_for_health(files: ContainerFiles, status: int, *, within: float = 15.0,
                    program: Sequence[str] = SOURCE_PROGRAM,
                    env: Mapping[str, str] | None = None) -> Checked:
    """Run the check until it exits `status` (as Docker runs it until it passes)."""
    deadline = time.monotonic() + within
    while True:
        checked = run_healthcheck(files, program, env)
        if checked.status == status or time.monotonic() > deadline:
            assert checked.status == status, checked
            return checked
        time.sleep(0.2)


class ContainerServer(Protocol):
    def __call__(self, *, http: bool = True,
                 changes: Mapping[str, Mapping[str, Any]] = ...,
                 prepare: Callable[[ContainerFiles], None] | None = None,
                 program: Sequence[str] = ..., env: Mapping[str, str] | None = None,
                 wrap: Callable[[ContainerFiles], Sequence[str]] | None = None
                 ) -> tuple[Dnsfence, ContainerFiles]: ...


@pytest.fixture
def container_server(tmp_path: Path) -> Iterator[ContainerServer]:
    """Start `serve --config` on the moved shipped config; all stopped at teardown.
    `prepare` fills the mounted directories first; `wrap(files)` is a command line the
    server is run under (e.g. `unshare ...`)."""
    started: list[Dnsfence] = []

    def start(*, http: bool = True, changes: Mapping[str, Mapping[str, Any]] = {},
              prepare: Callable[[ContainerFiles], None] | None = None,
              program: Sequence[str] = SOURCE_PROGRAM, env: Mapping[str, str] | None = None,
              wrap: Callable[[ContainerFiles], Sequence[str]] | None = None
              ) -> tuple[Dnsfence, ContainerFiles]:
        root = tmp_path / f"container-{len(started)}"
        root.mkdir()
        files = container_config(root, dns_port=free_port(),
                                 http_port=free_port() if http else None,
                                 upstream=unused_address(), changes=changes)
        if prepare is not None:
            prepare(files)
        server = Dnsfence(None, None, ["--config", str(files.config)], listen=None,
                          workers=None, http=None, state_dir=None, cwd=root,
                          program=[*(wrap(files) if wrap else ()), *program], env=env,
                          ready_timeout=20.0)
        started.append(server)
        return server.start(), files

    try:
        yield start
    finally:
        for server in started:
            server.stop()
