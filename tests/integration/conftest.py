"""Fixtures that boot unbound and ``dnsfence serve`` on loopback; see harness.py for the API.

Every test collected below this directory is marked ``integration``, so
``pytest -m "not integration"`` runs only the in-process tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from .harness import (
    DNSFENCE_PROGRAM,
    UNSET,
    BlocklistDir,
    BlocklistsArg,
    Dnsfence,
    DnsfenceFactory,
    Unbound,
    UnboundFactory,
    Unset,
    UpstreamArg,
)

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.resolve().is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def unbound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unbound]:
    """One unbound for the whole session: compare `query_count` before/after, never absolute."""
    server = Unbound(tmp_path_factory.mktemp("unbound")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def unbound_factory(tmp_path: Path) -> Iterator[UnboundFactory]:
    """Private unbound instances (e.g. to stop the upstream mid-test); stopped at teardown."""
    started: list[Unbound] = []

    def start(*, extra_server_lines: Sequence[str] = ()) -> Unbound:
        server = Unbound(
            tmp_path / f"unbound-{len(started)}", extra_server_lines=extra_server_lines
        )
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def blocklists_dir(tmp_path: Path) -> BlocklistDir:
    """An empty blocklist directory; ``blocklists_dir.write("tiktok", domains=[...],
    effective="2023-03-20")`` adds a list."""
    return BlocklistDir(tmp_path / "blocklists")


@pytest.fixture
def dnsfence_factory(
    request: pytest.FixtureRequest, blocklists_dir: BlocklistDir
) -> Iterator[DnsfenceFactory]:
    """Start ``dnsfence serve`` processes; all are stopped at teardown.

    Defaults: ``--blocklists`` is the test's `blocklists_dir`, ``--upstream`` the session
    `unbound` (booted only when first needed), ``--listen 127.0.0.1:0``. Pass None to omit
    an option. `workers` is 1 unless given (None: the config's, by default one per CPU).
    `program` replaces ``python -m resolver`` (the harness's own tests use a
    stand-in). Each server's stderr is attached to the test report.
    """
    started: list[Dnsfence] = []

    def start(
        *extra: str,
        blocklists: BlocklistsArg = UNSET,
        upstream: UpstreamArg = UNSET,
        listen: str | None = "127.0.0.1:0",
        env: Mapping[str, str] | None = None,
        ready_timeout: float = 10.0,
        program: Sequence[str] = DNSFENCE_PROGRAM,
        workers: str | None = "1",
        http: str | None = "127.0.0.1:0",
        state_dir: str | os.PathLike[str] | Unset | None = UNSET,
    ) -> Dnsfence:
        upstream_address: str | None
        if isinstance(upstream, Unset):
            upstream_address = request.getfixturevalue("unbound").address
        else:
            upstream_address = upstream
        directory = blocklists_dir if isinstance(blocklists, Unset) else blocklists
        server = Dnsfence(
            upstream_address,
            directory,
            extra,
            listen=listen,
            env=env,
            ready_timeout=ready_timeout,
            program=program,
            workers=workers,
            http=http,
            state_dir=state_dir,
        )
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for index, server in enumerate(started):
            server.stop()
            server.remove_state_dir()
            request.node.add_report_section(
                "teardown", f"dnsfence[{index}] stderr", "\n".join(server.stderr_lines())
            )
